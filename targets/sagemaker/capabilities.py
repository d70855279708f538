"""SageMaker's verdict for every IR feature (mlspec.compiler.features.FEATURES).

Pure data, read by the front end's capability check *before* lowering: an `unsupported`
verdict becomes an E5xx diagnostic naming the alternatives; `emulated` verdicts are echoed in
the compile report with their note. Each verdict cites the vendor documentation it relies on.
docs/targets/sagemaker.md is generated from this table (tests/targets/sagemaker/test_docs.py
fails when it is stale).
"""
from __future__ import annotations

from mlspec.targets.base import Verdict, emulated, native, unsupported

DG = "https://docs.aws.amazon.com/sagemaker/latest/dg/"
STEPS = DG + "build-and-manage-steps-types.html"
GUARDRAILS = DG + "deployment-guardrails-blue-green.html"
ECR_PATHS = "https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html"
CW_EP = DG + "monitoring-cloudwatch.html"

#: feature -> (construct as written in a spec, what it becomes on SageMaker) for the docs table
CAPABILITIES: dict[str, Verdict] = {
    # --- pipeline steps (SageMaker Pipelines, definition Version 2020-12-01) ---
    "step.validate": emulated(
        "Processing step running mlspec's data-check script (null fraction, row count, duplicates, "
        "staleness, schema ranges) on the dataset; the job fails on a violated check", STEPS),
    "step.process": native("Processing step (CreateProcessingJob) running the script", STEPS),
    "step.train": native("Training step (CreateTrainingJob) with the framework image; `spot = true`: "
                         "managed spot training (EnableManagedSpotTraining, MaxWaitTimeInSeconds = 2 x "
                         "MaxRuntimeInSeconds, at most 28 days) with a CheckpointConfig synced to the step's "
                         "S3 prefix of the execution, passed to the script as `--checkpoints`", STEPS),
    "step.tune": native("Tuning step (CreateHyperParameterTuningJob), best model from the "
                        "top training job; `spot = true`: every trial on managed spot training (wait at "
                        "most `max_total_runtime`), each trial checkpointing in its own folder", STEPS),
    "step.evaluate": native("Processing step with a PropertyFile `evaluation.json` read by "
                            "Condition steps through Std:JsonGet", DG + "build-and-manage-propertyfile.html"),
    "step.bias_check": native("ClarifyCheck step with the Clarify image: DATA_BIAS for pre-training "
                              "metrics (DPL, CI, KL, ...), MODEL_BIAS for post-training ones; the report "
                              "is the model package's pre- or post-training Bias report", STEPS),
    "step.explain": native("ClarifyCheck step (MODEL_EXPLAINABILITY, SHAP)", STEPS),
    "step.register": native("RegisterModel step (CreateModelPackage) into the model package group, "
                            "PendingManualApproval unless the environment's approval is none",
                            DG + "model-registry-models.html"),
    "step.batch_transform": native("Model step (CreateModel) followed by a Transform step "
                                   "(CreateTransformJob)", STEPS),
    # --- frameworks: images from sagemaker-core's image URI configuration ---
    **{f"framework.{fw}": native(f"SageMaker-managed `{fw}` image for the region", ECR_PATHS)
       for fw in ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface")},
    "framework.custom": native("the step's own `image` (must live in the stack's ECR repository)",
                               DG + "docker-containers.html"),
    # --- data ---
    "data.format.parquet": native("S3 prefix channel, content type application/x-parquet",
                                  DG + "model-access-training-data.html"),
    "data.format.csv": native("S3 prefix channel, content type text/csv", DG + "model-access-training-data.html"),
    "data.format.jsonl": native("S3 prefix channel, content type application/jsonlines",
                                DG + "model-access-training-data.html"),
    "data.format.tfrecord": native("S3 prefix channel, content type application/x-tfrecord "
                                   "(validate steps cannot read it)", DG + "model-access-training-data.html"),
    "data.format.delta": emulated("the table folder is passed as an S3 prefix of Parquet files; the "
                                  "Delta log is not replayed by data checks", DG + "model-access-training-data.html"),
    "data.checks": emulated("checked by the validate step's Processing job (mlspec script)", STEPS),
    # --- orchestration ---
    "pipeline.schedule": native("EventBridge Scheduler schedule (KMS-encrypted) targeting "
                                "StartPipelineExecution", "https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html"),
    "pipeline.retrain_on": emulated(
        "EventBridge rule on the monitor's processing jobs finishing `CompletedWithViolations` "
        "starts the pipeline (SageMaker pipeline target)", DG + "automating-sagemaker-with-eventbridge.html"),
    "gate.threshold": native("Condition step (JsonGet on the evaluation PropertyFile) with a Fail "
                             "step naming the gate", STEPS),
    "gate.champion": emulated(
        "a Processing step reads the champion record (the metrics of the last Approved model "
        "package, written by the deploy path) and computes each requirement's sides; a Condition "
        "step compares them and a Fail step names the gate", DG + "model-registry-approve.html"),
    "approval.manual": native("model package registered PendingManualApproval; the deploy path "
                              "runs only on the `Approved` state change (EventBridge); approvers "
                              "are recorded on the package and the model card; a count above 1 is "
                              "emulated: earlier approvals are package metadata the deploy path checks",
                              DG + "model-registry-approve.html"),
    "approval.none": native("model package registered Approved, which triggers the deploy path",
                            DG + "model-registry-approve.html"),
    "model_card": native("SageMaker ModelCard (KMS) with description, intended use, limitations, "
                         "metrics, gates and approvers", DG + "model-cards.html"),
    "explain.shap": native("SageMaker Clarify SHAP (ClarifyCheck step; explainability monitor)",
                           DG + "clarify-model-explainability.html"),
    "lineage": native("model package CustomerMetadataProperties + MetadataProperties "
                      "(spec hash, code version, data versions, hyperparameters)",
                      DG + "model-registry-details.html"),
    # --- rollouts (deployment guardrails) ---
    "rollout.all_at_once": native("blue/green ALL_AT_ONCE traffic routing", GUARDRAILS),
    "rollout.canary": emulated(
        "blue/green CANARY: canary size = initial percent, then the rest after the interval "
        "(SageMaker shifts the remainder in one step; `step` is reported, not applied)",
        DG + "deployment-guardrails-blue-green-canary.html"),
    "rollout.linear": native("blue/green LINEAR traffic routing (step size, interval)",
                             DG + "deployment-guardrails-blue-green-linear.html"),
    "rollout.blue_green": native("blue/green ALL_AT_ONCE with the bake time as wait interval and "
                                 "termination wait", GUARDRAILS),
    "rollout.shadow": native("shadow production variant receiving the sample percent of requests "
                             "(captured); the deploy state machine promotes after the duration",
                             DG + "model-shadow-deployment.html"),
    "rollout.ab_test": native("one production variant per model with its traffic weight",
                              DG + "model-ab-testing.html"),
    "rollout.auto_rollback": native("auto-rollback configuration on the named CloudWatch alarms",
                                    DG + "deployment-guardrails-configuration.html"),
    # --- serving ---
    "endpoint.autoscale": native("Application Auto Scaling target on the variant's instance count",
                                 DG + "endpoint-auto-scaling.html"),
    "endpoint.autoscale.rps": native("target tracking on SageMakerVariantInvocationsPerInstance "
                                     "(target rps x 60 per instance-minute)", DG + "endpoint-auto-scaling-add-policy.html"),
    "endpoint.autoscale.cpu": native("target tracking on the variant's CPUUtilization",
                                     DG + "endpoint-auto-scaling-add-policy.html"),
    "endpoint.capture": native("endpoint configuration data capture (KMS, capture bucket)",
                               DG + "model-monitor-data-capture.html"),
    "endpoint.auth.iam": native("SigV4-signed InvokeEndpoint (IAM)", DG + "api-permissions-reference.html"),
    "endpoint.auth.key": unsupported(
        "auth = iam (SigV4-signed InvokeEndpoint)",
        "front the endpoint with API Gateway API keys outside mlspec",
        note="SageMaker real-time endpoints accept only IAM-signed requests",
        doc=DG + "api-permissions-reference.html"),
    "endpoint.gpu": native("GPU instance types (ml.g5.*) for the production variants", DG + "instance-types.html"),
    "batch": emulated(
        "EventBridge Scheduler starts a Step Functions state machine that creates a model from the "
        "latest Approved package and runs a Transform job (VPC, KMS, network isolation)",
        DG + "batch-transform.html"),
    # --- monitoring (Model Monitor) ---
    "monitor.data_drift": native("Model Monitor DataQuality job definition + hourly/daily schedule "
                                 "(baseline drift distance per feature); the baseline is computed in the pipeline "
                                 "that trains the served model from what the endpoint receives: the training "
                                 "step's input in its declared format (csv, parquet, jsonl; else E505) without "
                                 "the label and `role = id` columns", DG + "model-monitor-data-quality.html"),
    "monitor.prediction_drift": emulated(
        "DataQuality job whose record preprocessor analyses the endpoint output instead of the input",
        DG + "model-monitor-pre-and-post-processing.html"),
    "monitor.model_quality": native("ModelQuality job definition with the ground-truth S3 input",
                                    DG + "model-monitor-model-quality.html"),
    "monitor.bias_drift": native("ModelBias job definition (Clarify)", DG + "clarify-model-monitor-bias-drift.html"),
    "monitor.feature_attribution_drift": native(
        "ModelExplainability job definition (Clarify SHAP); the analysis config's predictor names the model the "
        "endpoint serves (written by the program at deploy time) and the job runs without container network "
        "isolation, because Clarify creates and queries a shadow endpoint `sm-clarify-*` of that model",
        DG + "clarify-model-monitor-feature-attribution-drift.html"),
    # --- operational alerts (CloudWatch) ---
    "alert.latency_p50": native("CloudWatch alarm on ModelLatency p50 (microseconds)", CW_EP),
    "alert.latency_p99": native("CloudWatch alarm on ModelLatency p99 (microseconds)", CW_EP),
    "alert.error_rate": native("CloudWatch metric-math alarm 100 * Invocation5XXErrors / Invocations", CW_EP),
    "alert.throughput": native("CloudWatch metric-math alarm Invocations per second", CW_EP),
    "alert.cpu": native("CloudWatch alarm on the variant's CPUUtilization", CW_EP),
    "alert.memory": native("CloudWatch alarm on the variant's MemoryUtilization", CW_EP),
    # --- channels (SNS, KMS-encrypted topics) ---
    "channel.email": native("SNS topic with an email subscription", "https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html"),
    "channel.slack": emulated(
        "SNS topic delivered to Slack by an AWS Chatbot channel configuration; the secret names "
        "the Pulumi config secret holding `<team id>/<channel id>`",
        "https://docs.aws.amazon.com/chatbot/latest/adminguide/slack-setup.html"),
    "channel.webhook": native("SNS topic with an HTTPS subscription; the URL is a Pulumi config "
                              "secret or Secrets Manager reference", "https://docs.aws.amazon.com/sns/latest/dg/sns-http-https-endpoint-as-subscriber.html"),
    "channel.pagerduty": native("SNS topic with an HTTPS subscription to the PagerDuty CloudWatch "
                                "integration URL (secret)", "https://support.pagerduty.com/main/docs/amazon-cloudwatch-integration-guide"),
    # --- tracking and dashboards ---
    "tracking.native": native("SageMaker Experiments through the pipeline's PipelineExperimentConfig",
                              DG + "pipelines-experiments.html"),
    "tracking.mlflow": emulated(
        "SageMaker managed MLflow tracking server (or the spec's `uri`); a pipeline Lambda step per trained "
        "model (private subnets, KMS) logs parameters, lineage and evaluation metrics over SigV4 through the "
        "MLflow VPC endpoint, so every SageMaker job stays network-isolated; SageMaker Experiments stays on",
        DG + "mlflow.html"),
    "dashboard": native("CloudWatch dashboard: latency, invocations, errors, monitor metrics, KPIs",
                        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Dashboards.html"),
    # --- security ---
    "security.customer_managed_key": native("one KMS key per environment (rotation on)",
                                            "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html"),
    "security.existing_key": native("the given KMS key ARN is used instead of creating one",
                                    DG + "encryption-at-rest.html"),
    "security.private_network": native("jobs, models and monitors in private subnets with VPC endpoints",
                                       DG + "infrastructure-give-access.html"),
    "security.allowed_egress": emulated(
        "each allowed destination becomes an HTTPS egress rule (CIDR) on the jobs' security group",
        DG + "infrastructure-give-access.html"),
}


def verdict(feature: str) -> Verdict:
    return CAPABILITIES[feature]
