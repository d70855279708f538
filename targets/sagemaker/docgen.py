"""Renders docs/targets/sagemaker.md from the capability table (tests fail when it is stale).

Input: CAPABILITIES plus RESOURCES (what each construct becomes). Output: Markdown text.
Regenerate with `python -m mlspec.targets.sagemaker.docgen > docs/targets/sagemaker.md`.
"""
from __future__ import annotations

from mlspec.compiler.features import FEATURES
from mlspec.targets.sagemaker.capabilities import CAPABILITIES

P = "pipeline step"
#: feature -> AWS resources (pulumi-aws / pulumi-aws-native classes) and pipeline steps it becomes
RESOURCES: dict[str, str] = {
    "step.validate": f"Processing {P} (`_mlspec/validate_data.py`, scikit-learn image)",
    "step.process": f"Processing {P} through `_mlspec/launch.py` (contract command line)",
    "step.train": f"Training {P}; `_mlspec/launch.py` as `sagemaker_program`, the code tree as channel `mlspec_code`",
    "step.tune": f"Tuning {P} (Bayesian; MetricDefinitions match the launcher's `mlspec-metric` lines)",
    "step.evaluate": f"Processing {P} (model extracted by the launcher) + PropertyFile `evaluation.json`",
    "step.bias_check": f"ClarifyCheck (DATA_BIAS for pre-training metrics; Model {P} + MODEL_BIAS for "
                       "post-training ones) + Processing `bias_limits.py` + Condition/Fail (Register sits in its "
                       "IfSteps); the analysis config reads the data in its declared format",
    "step.explain": f"Model {P} + ClarifyCheck (MODEL_EXPLAINABILITY)",
    "step.register": f"RegisterModel {P}; `aws.sagemaker.ModelPackageGroup`",
    "step.batch_transform": f"Model {P} + Transform {P}",
    "data.checks": "validate step arguments (`config/<env>/<pipeline>/<step>/spec.json`)",
    "pipeline.schedule": "`aws.scheduler.Schedule` -> `aws.sagemaker.Pipeline`",
    "pipeline.retrain_on": "`aws.cloudwatch.EventRule` (Processing Job State Change, CompletedWithViolations) + "
                           "`EventTarget` (SageMaker pipeline target)",
    "gate.threshold": f"Condition {P} (Std:JsonGet) + Fail {P}",
    "gate.champion": f"Processing {P} `gate_values.py` reading `s3://<artifacts>/champion/<group>/` + Condition + Fail",
    "approval.manual": "RegisterModel with the literal `PendingManualApproval` (IAM denies registering or "
                       "approving to every automation role); `aws.cloudwatch.EventRule` on the Approved state "
                       "change -> `aws.sfn.StateMachine` (deploy path, re-checks the package is Approved); "
                       "`aws.iam.Policy` `approver` for the humans",
    "approval.none": "RegisterModel `Approved` -> same deploy path",
    "model_card": "`aws.sagemaker.ModelCard` (KMS)",
    "explain.shap": "ClarifyCheck step; ModelExplainability monitor",
    "lineage": "RegisterModel CustomerMetadataProperties (values fit the API's pattern: plain, `b32:` or "
               "`sha256:`) / MetadataProperties; model card",
    "rollout.all_at_once": "`aws.sagemaker.Endpoint.deployment_config` ALL_AT_ONCE; deploy state machine UpdateEndpoint",
    "rollout.canary": "`deployment_config` CANARY (canary size, wait interval)",
    "rollout.linear": "`deployment_config` LINEAR (step size, wait interval)",
    "rollout.blue_green": "`deployment_config` ALL_AT_ONCE + termination wait",
    "rollout.shadow": "`EndpointConfiguration.shadow_production_variants`; deploy state machine Wait + promote",
    "rollout.ab_test": "`EndpointConfiguration.production_variants` with weights; deploy state machine replaces "
                       "the approved model's variants",
    "rollout.auto_rollback": "`deployment_config.auto_rollback_configuration.alarms`",
    "endpoint.autoscale": "`aws.appautoscaling.Target` per variant",
    "endpoint.autoscale.rps": "`aws.appautoscaling.Policy` (SageMakerVariantInvocationsPerInstance)",
    "endpoint.autoscale.cpu": "`aws.appautoscaling.Policy` (customized CPUUtilization)",
    "endpoint.capture": "`EndpointConfiguration.data_capture_config` (KMS, capture bucket)",
    "endpoint.auth.iam": "IAM (SigV4) on InvokeEndpoint",
    "endpoint.auth.key": "refused",
    "endpoint.gpu": "ml.g5.* production variants",
    "batch": "`aws.scheduler.Schedule` -> `aws.sfn.StateMachine` (ListModelPackages, CreateModel, "
             "createTransformJob.sync)",
    "monitor.data_drift": "`aws.sagemaker.DataQualityJobDefinition` + `aws.sagemaker.MonitoringSchedule`",
    "monitor.prediction_drift": "`aws.sagemaker.DataQualityJobDefinition` (record preprocessor "
                                "`prediction_record.py`) + `MonitoringSchedule`",
    "monitor.model_quality": "`aws_native.sagemaker.ModelQualityJobDefinition` + `MonitoringSchedule`; problem "
                             "type from the model's `task` (BinaryClassification, MulticlassClassification, "
                             "Regression; other tasks E505), `prediction = probability` read as ProbabilityAttribute "
                             "with the model's `threshold`, else InferenceAttribute; a metric Model Monitor lacks "
                             "for the problem type is E505; ground truth is merged on each request's inference id, "
                             "not on `join_on`'s column (W505: callers send the column's value as `InferenceId`, "
                             "and `ground_truth` holds Model Monitor's ground-truth records)",
    "monitor.bias_drift": "`aws_native.sagemaker.ModelBiasJobDefinition` + `MonitoringSchedule`; its ConfigUri "
                          "is the analysis config the pipeline that trains the served model writes "
                          "(`baseline_features.py`: `headers` = the columns the endpoint receives, i.e. the "
                          "training input without label and id columns, then the label; a facet outside them "
                          "fails that step) to `baselines/<monitor>/` of the monitoring bucket; no such "
                          "pipeline: E505; `prediction = probability` read as ProbabilityAttribute with the "
                          "model's `threshold`, else InferenceAttribute",
    "monitor.feature_attribution_drift": "`aws_native.sagemaker.ModelExplainabilityJobDefinition` + "
                                         "`MonitoringSchedule`",
    "dashboard": "`aws.cloudwatch.Dashboard`",
    "tracking.native": "pipeline `PipelineExperimentConfig`",
    "tracking.mlflow": "`aws.sagemaker.MlflowTrackingServer` + `aws.lambda_.Function` (`track_mlflow.py`, VPC, KMS) "
                       "called by a Lambda pipeline step + `aws.sagemaker.<region>.experiments` VPC endpoint",
    "security.customer_managed_key": "`aws.kms.Key` (rotation) + `aws.kms.Alias`",
    "security.existing_key": "the key ARN as `${kms_key_arn}`",
    "security.private_network": "`aws.ec2.Vpc`, private `Subnet`s, `SecurityGroup` (HTTPS egress to the VPC and "
                                "to the S3 gateway endpoint's prefix list), `VpcEndpoint`s (no IGW/NAT) "
                                "unless vpc_id/subnet_ids/security_group_ids are given",
    "security.allowed_egress": "extra HTTPS egress rules on the compute security group",
}
for _k in ("alert.latency_p50", "alert.latency_p99", "alert.error_rate", "alert.throughput", "alert.cpu",
           "alert.memory"):
    RESOURCES[_k] = "`aws.cloudwatch.MetricAlarm` -> SNS topics"
for _k in ("email", "slack", "webhook", "pagerduty"):
    RESOURCES[f"channel.{_k}"] = "`aws.sns.Topic` (KMS) + " + {
        "email": "`TopicSubscription` (email)", "slack": "`aws.chatbot.SlackChannelConfiguration`",
        "webhook": "`TopicSubscription` (https, secret URL)", "pagerduty": "`TopicSubscription` (https, secret URL)"}[_k]
for _k in FEATURES:
    if _k.startswith("framework."):
        RESOURCES[_k] = "image URI from sagemaker-core's image_uri_config" if _k != "framework.custom" else "the step's image"
    if _k.startswith("data.format."):
        RESOURCES[_k] = "S3 prefix input / channel"

INTRO = """# AWS SageMaker target

<!-- generated by `python -m mlspec.targets.sagemaker.docgen`; do not edit by hand -->

`mlspec compile SPEC --target sagemaker --out DIR` writes `DIR/sagemaker/`:

| path | kind | what |
| --- | --- | --- |
| `pulumi/Pulumi.yaml`, `pulumi/__main__.py`, `pulumi/requirements.txt` | pulumi-project, pulumi-program, pulumi-requirements | a fixed program (the same for every spec) and pinned `pulumi`, `pulumi-aws`, `pulumi-aws-native` |
| `pulumi/Pulumi.<env>.yaml` | pulumi-stack-config | `aws:region`; the secret keys to set are listed as comments |
| `pulumi/stacks/<env>.json` | pulumi-stack-data | the lowered resource model the program reads |
| `pipelines/<env>/<pipeline>.json` | sagemaker-pipeline | SageMaker Pipelines definition, Version 2020-12-01 |
| `iam/<env>/<role>.json`, `iam/<env>/<role>-<n>.json` | iam-policy | the customer-managed policies of each component role (split by statement so each stays under 4,500 of IAM's 6,144 characters with deploy-time names at their longest; at most 10 per role, else E505), plus the KMS key and approver policies |
| `statemachines/<env>/*.json` | stepfunctions-definition | deploy path per endpoint, batch inference |
| `model-cards/<env>/<model>.json`, `dashboards/<env>.json` | sagemaker-model-card, cloudwatch-dashboard | |
| `config/...` | step-config, clarify-analysis-config | inputs of helper steps, Clarify analysis configs (uploaded to S3) |
| `code/_mlspec/*.py` | support-script | mlspec's helper scripts (uploaded to S3 with the spec's scripts; the MLflow tracker is a Lambda) |

Deploy-time values (account, region, KMS key, bucket names, role ARNs, subnets, security
groups) appear as `${token}` strings; the program resolves them. In pipeline definitions they
are pipeline *parameters* (`ArtifactsBucket`, `KmsKeyId`, `JobRoleArn`, `Subnet<i>`,
`SecurityGroup<i>`, ...) whose defaults the program fills, so the deployed definition is the
compiled one.

**Contracts for spec scripts.** Every process, train, tune and evaluate script gets exactly
the portable contract's command line (`mlspec.compiler.contract.script_argv`: the declared
input and output names, `--model`, `--metrics`, then the parameters sorted by key) from
mlspec's launcher `code/_mlspec/launch.py`. The build's whole code tree ships (processing input
`code`, training channel `mlspec_code`); the script runs with its code folder as working
directory and on `sys.path`. Processing jobs pass the launcher the rendered command line
(`/opt/ml/processing/input/<name>`, `/opt/ml/processing/output/<name>`); an evaluate step's
`model.tar.gz` is extracted and `--model` names the extracted directory. Training and tuning
jobs run the launcher as `sagemaker_program`; it reads `hyperparameters.json` (`mlspec_script`,
`mlspec_code_dir`, `mlspec_inputs`, and the parameters, a trial's sampled values included),
passes channels `/opt/ml/input/data/<name>`, `--model /opt/ml/model` and `--metrics
/opt/ml/output/data/metrics`, and prints `mlspec-metric <name>=<value>` from `evaluation.json`
(a tuning job's MetricDefinitions match those lines).

**Step settings.** `retries = N` becomes the step's `RetryPolicies` (`MaxAttempts` N: service
faults and throttling, and for jobs SageMaker's internal errors, missing capacity and resource
limits) and, for a script step, the launcher's reruns of a script that exits non-zero (a fresh
process, its output folders emptied, checkpoints kept, up to N more times in the same job).
ClarifyCheck and QualityCheck steps take no retry policy: `retries` there is W505. A tune
step's `max_total_runtime` is the tuning job's `ResourceLimits.MaxRuntimeInSeconds` (at least
SageMaker's 120 s, else W505); `max_runtime` stays each trial's `StoppingCondition`. A
pipeline's `on_failure = [channel.x]` is an EventBridge rule on "SageMaker Model Building
Pipeline Execution Status Change" to `Failed` for that pipeline, targeting the channel's SNS
topic when a step failed after its retries. A gate or bias limit that does not pass ends a
SageMaker run with a Fail step, whose status is also `Failed`, so it notifies too (the language
says it is not a failure; the compile report states this for each such pipeline);
each topic's policy lets EventBridge publish only from the stack's rules that notify it.

**Compute.** A compute class is its instance type (docs/language.md "Compute classes":
`gpu.small` ml.g4dn.xlarge (T4), `gpu.medium` ml.g5.2xlarge (A10G), `gpu.large`
ml.g6e.2xlarge (L40S)). `accelerators = N` (N > 1) on a gpu class picks the smallest instance
type with N GPUs of the class's GPU model and at least N times the class's vCPUs and memory that
the API accepts (training and tuning jobs, processing jobs, transform jobs, endpoint variants):
T4 1 or 4 (ml.g4dn.12xlarge), A10G 1, 4 or 8 (ml.g5.12xlarge, ml.g5.48xlarge), L40S 1, 4 or 8
(ml.g6e.12xlarge, ml.g6e.48xlarge). The facts come from `instance_storage.json`, generated from
EC2's DescribeInstanceTypes GPU, vCPU and memory data and botocore's SageMaker instance-type
enums. Another count is refused (`E505`, listing the counts SageMaker sells for the GPU model).

**Distribution.** A train or tune step with `distribution = data_parallel` on N > 1
instances is one training job with `InstanceCount` N (inter-container traffic encrypted).
mlspec's launcher runs the script once on every host and sets the torch.distributed variables
from SageMaker's `/opt/ml/input/config/resourceconfig.json`: `WORLD_SIZE` = the number of
`hosts`, `RANK` = the current host's place in that list (the first host is rank 0),
`LOCAL_RANK` 0, `MASTER_ADDR` = the first host, `MASTER_PORT` 29500 (variables already set are
kept), the same shape the Vertex runtime wrapper derives from `CLUSTER_SPEC`. Only rank 0's
`--model` and `--metrics` are the step's: the other ranks get scratch folders and report no
metrics. mlspec does not use the SageMaker SDK's `torch_distributed` (torchrun) option: it
exists only for the PyTorch containers and starts one process per GPU, while the contract
promises the same one-process-per-instance world on every framework container and cloud.

**Requirements.** A step's (or the system's) `requirements` file is pip-installed by the
launcher before the script runs (`pip install -r FILE --index-url <pip_index_url>`; a failed
install fails the job). The network is always private, so the package index is the mirror
named by `target sagemaker { pip_index_url = "..." }` (a PyPI repository reachable from the
VPC, e.g. through `security { allowed_egress }`), and the step must set `network_isolation =
false`: a network-isolated SageMaker container reaches no network at all. Without a mirror, or
on an isolated step, `requirements` is refused (`E505`); installing the packages in the step's
`image` is the alternative. CodeArtifact's token login is not automated.

**Serving (`format`, `serve`).** A registered model (and the model a Clarify shadow endpoint
or Transform step runs) is packaged by a Processing step `<Train>Package` that runs
`_mlspec/package_model.py` in the model's serving image (the framework's inference image). It
writes a new `model.tar.gz`: the training script's model directory unchanged, plus `code/`
with mlspec's handler `mlspec_serve.py` (`model_fn`, `input_fn`, `predict_fn`, `output_fn`),
`mlspec_serve.json` (format, task, prediction, threshold, and the columns the endpoint
receives: the training input without label and `role = id` columns) and, with a `serve`
block, its code folder (`code/handler/`). The package's container (and the CreateModel of the
pipeline's Model steps) sets `SAGEMAKER_PROGRAM=mlspec_serve.py` and
`SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code`, as the SageMaker SDK does when it repacks a
model: the container loads the handler from the archive, since models run network-isolated.
Without `serve`, the handler loads `model.bst` with XGBoost (`format = xgboost`, on the XGBoost
container; its own algorithm-mode server would load the first file of the directory, such as a
`features.json` next to the model) or `model.joblib` with joblib (`format = sklearn`, on the
scikit-learn container, which has no default `model_fn`); it returns the label (probabilities
thresholded at `threshold`, arg-max for multiclass) or the probability, as `prediction` says.
A served, batch-scored or Clarify-explained model in another format, or on another
framework's container, is refused (`E505`, naming the formats SageMaker serves); with `serve`,
the handler calls the module's `load(model_dir)` once and `predict(model, rows)` with rows as
objects (csv rows are named by the columns the endpoint receives). The TensorFlow Serving
container runs no Python handler: `serve` on a tensorflow model is `E505`. Requests are
`text/csv` (no header; a header row equal to those columns is skipped), `application/json`
(`{"instances": [...]}`) or `application/jsonlines`; responses `text/csv` or
`application/json` (`{"predictions": [...]}`). `serve.requirements` are installed the way the
containers do (`code/requirements.txt`, at start-up) but offline: the package step downloads the
wheels from `pip_index_url` into `code/wheels/` (that step runs without container network
isolation, VPC only; the served model stays isolated) and writes a `requirements.txt` that
installs only from them (`--no-index --find-links wheels`); without a mirror, `E505`. Before
uploading, the package step loads the archive through the handler, exactly as the container
will, and scores a few training rows, so a model the server could not load fails the pipeline
run (and `mlspec run`), not the deployment.

**Checked at the vendor boundary.** `mlspec plan` fails (blocking program checks) when a
pipeline step's request breaks botocore's SageMaker model (patterns, enums, lengths and sizes
botocore's own validator skips: `aws-request-rejected`), when moto's Step Functions parser
refuses a state machine (`invalid-state-machine`), or when the compute security group cannot
reach S3 (`s3-unreachable`). Instance types with local NVMe storage (ml.g5, ml.p4d, ml.m5d, ...,
from `instance_storage.json`, generated from botocore's instance-type enums and EC2's
DescribeInstanceTypes data) get no `VolumeKmsKeyId` (the API refuses one; the hardware encrypts
them) and the pipeline role's volume-key denies spare them.

**Deploy path.** Registering a model version never deploys it. The EventBridge rule on
"SageMaker Model Package State Change" to `Approved` starts the endpoint's Step Functions
state machine: it re-reads the package and stops unless it is `Approved` (a multi-approval
model with too few recorded approvals is set back to `PendingManualApproval`), records the
package's evaluation as the champion (a failure fails the deploy)
(`s3://<artifacts>/champion/<group>/evaluation.json`, read by champion gates), creates a model
(VPC, network isolation) and an endpoint configuration (KMS, data capture) and creates the
endpoint or updates it with the rollout's blue/green policy and auto-rollback alarms. Set
`mlspec:approved_package.<model>` in a stack's config to have Pulumi create the endpoints (and
their autoscaling and monitors) from an already approved version instead; Pulumi ignores later
changes of the endpoint configuration, which belong to the deploy path. If the deploy path created
an endpoint first, import it before setting that key
(`pulumi import aws:sagemaker/endpoint:Endpoint endpoint-<name> <endpoint name>`): autoscaling and
monitors attach to Pulumi-managed endpoints only.

**Secrets.** Slack, webhook and PagerDuty channels name a secret: a Pulumi config secret
`mlspec:<name>` (`pulumi config set --secret`), or a Secrets Manager ARN. A Slack channel's
secret is `<team id>/<channel id>`: AWS Chatbot posts to a channel id, never to a `#name`, so a
channel's `slack_channel` is not used on SageMaker (`W505`, printed by `check` and `compile`).

**Security.** Every AWS row of docs/security.md holds unless the spec waives it (the waivers
appear in the compile report). Known deviations, stated in the compile report when they apply:
ClarifyCheck steps that query a shadow endpoint (`explain`, post-training bias metrics) run
without container network isolation (VPC-only, with the deny guardrail on
`sagemaker:NetworkIsolation` lifted for processing jobs when a pipeline has one); a pre-training
bias check (DATA_BIAS: DPL, CI, KL, ...) reads only its data and stays isolated; images are the SageMaker framework images by tag (MLS-G-06 digest pinning is
not applied); the pipeline role may invoke the MLflow tracker Lambda (tracking.mlflow only).

## Construct mapping
"""


def render() -> str:
    lines = [INTRO, "| feature | meaning | verdict | AWS resources / pipeline steps | how | vendor doc |",
             "| --- | --- | --- | --- | --- | --- |"]
    for feature in FEATURES:
        v = CAPABILITIES[feature]
        how = v.note + (" Alternatives: " + "; ".join(f"`{a}`" for a in v.alternatives) if v.alternatives else "")
        lines.append(f"| `{feature}` | {FEATURES[feature]} | {v.level} | {RESOURCES.get(feature, '')} | "
                     f"{how.replace('|', '/')} | <{v.doc}> |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())
