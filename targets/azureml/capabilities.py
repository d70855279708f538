"""Azure ML capabilities: a verdict for every IR feature (mlspec.compiler.features.FEATURES).

Input: nothing. Output: ``CAPABILITIES`` (feature -> Verdict), read by the front end's capability
check before lowering and rendered into docs/targets/azureml.md. Pure data; imports no SDK.

Every verdict cites the Azure documentation it relies on. "emulated" notes say which real
mechanism mlspec generates; "unsupported" verdicts list what the spec can say instead.
"""
from __future__ import annotations

from mlspec.targets.base import Verdict, emulated, native, unsupported

_D = "https://learn.microsoft.com/en-us/azure/machine-learning/"
_CLI = _D + "reference-yaml-"
DOC_PIPELINE = _CLI + "job-pipeline"
DOC_COMMAND = _CLI + "component-command"
DOC_SWEEP = _CLI + "job-sweep"
DOC_DATA = _D + "how-to-read-write-data-v2"
DOC_ENDPOINT = _D + "how-to-safely-rollout-online-endpoints"
DOC_MIRROR = DOC_ENDPOINT + "#test-the-deployment-with-mirrored-traffic"
DOC_AUTOSCALE = _D + "how-to-autoscale-endpoints"
DOC_AUTH = _D + "concept-endpoints-online-auth"
DOC_COLLECT = _D + "how-to-collect-production-data"
DOC_MONITOR = _D + "how-to-monitor-model-performance"
DOC_MONITOR_EVENTS = _D + "how-to-monitor-model-performance#integrate-azure-machine-learning-model-monitoring-with-azure-event-grid"
DOC_SCHEDULE = _D + "how-to-schedule-pipeline-job"
DOC_REGISTRY = _D + "how-to-manage-models"
DOC_MLFLOW = _D + "how-to-use-mlflow-configure-tracking"
DOC_CMK = _D + "concept-customer-managed-keys"
DOC_NETWORK = _D + "how-to-managed-network"
DOC_METRICS = _D + "how-to-monitor-online-endpoints#metrics"
DOC_ACTION_GROUP = "https://learn.microsoft.com/en-us/azure/azure-monitor/alerts/action-groups"
DOC_LOGIC_APPS = "https://learn.microsoft.com/en-us/azure/logic-apps/logic-apps-overview"
DOC_WORKBOOK = "https://learn.microsoft.com/en-us/azure/azure-monitor/visualize/workbooks-overview"
DOC_ENVIRONMENT = _D + "how-to-manage-environments-v2"
DOC_RAI = _D + "how-to-responsible-ai-insights-sdk-cli"
DOC_LOW_PRIORITY = _D + "how-to-create-attach-compute-cluster#lower-your-compute-cluster-cost-with-low-priority-vms"
DOC_BATCH = _D + "how-to-use-batch-model-deployments"

_ROLLBACK_NOTE = ("Azure ML has no automatic rollback: each alert in `rollback_on` is an Azure Monitor "
                  "metric or log alert whose action group calls a generated Logic App (managed identity with a "
                  "custom role scoped to the one endpoint) that sets endpoint traffic back to 100% on the "
                  "previous deployment, clears mirror traffic and tags the endpoint `mlspec-rolled-back`")
_STEPPER_NOTE = ("endpoint traffic starts at the initial split; a generated Logic App (recurrence = "
                 "`interval`) raises the new deployment's share by `step` until 100%, stopping when the "
                 "rollback workflow has tagged the endpoint")


def _frameworks() -> dict[str, Verdict]:
    env = "a pinned Azure ML environment (curated base image + generated conda file with the framework version)"
    out = {f"framework.{n}": native(f"{n} training in {env}", DOC_ENVIRONMENT)
           for n in ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface")}
    out["framework.custom"] = native("the step's `image` is the component environment image", DOC_ENVIRONMENT)
    return out


CAPABILITIES: dict[str, Verdict] = {
    "step.validate": emulated("command component running mlspec's data validator (schema, nulls, rows, "
                              "duplicates, staleness); fails the pipeline on a breach", DOC_COMMAND),
    "step.process": native("command component", DOC_COMMAND),
    "step.train": native("command component; the job's MLflow run gets the metrics of evaluation.json; "
                         "`spot = true`: the job runs on the class's low-priority AmlCompute cluster "
                         "(`<class>-lp`, vm priority LowPriority; Azure ML restarts a job whose node was preempted) and "
                         "`--checkpoints` "
                         "is an output at `mlspec-checkpoints/<pipeline>/<step>/<job name>/`, read-write mounted, so "
                         "the requeued job finds what it wrote", DOC_LOW_PRIORITY),
    "step.tune": native("sweep node (random sampling, objective, trial limits) over a command component; "
                        "`spot = true`: the sweep's trials run on the class's low-priority cluster (`<class>-lp`) and "
                        "each trial's `--checkpoints` is a read-write mounted output at its own job's path",
                        DOC_SWEEP),
    "step.evaluate": native("command component; the script writes evaluation.json (metrics read by gates, registration and the model card)", DOC_COMMAND),
    "step.bias_check": emulated("command component computing the spec's bias metric as SageMaker Clarify defines it "
                                "(on the labels, or on the model's predicted labels for dppl/di, per facet value; "
                                "the largest distance from parity is compared with `max_disparity`) (the Responsible AI dashboard components need a "
                                "registered MLflow model and MLTable data, so they run after registration, not "
                                "as a gate)", DOC_RAI),
    "step.explain": emulated("command component computing SHAP values, stored next to the model and "
                             "logged to MLflow", DOC_RAI),
    "step.register": emulated("command component registering the model version with lineage tags, its "
                              "model card and `mlspec.stage=pending_approval`", DOC_REGISTRY),
    "step.batch_transform": native("command component scoring a dataset with the trained model", DOC_COMMAND),
    **_frameworks(),
    **{f"data.format.{f}": native(f"`{f}` data read as a uri_folder/uri_file input", DOC_DATA)
       for f in ("parquet", "csv", "jsonl", "tfrecord", "delta")},
    "data.checks": emulated("checked by the validate component (mlspec data validator)", DOC_COMMAND),
    "pipeline.schedule": native("job schedule with a cron trigger (`az ml schedule create`)", DOC_SCHEDULE),
    "pipeline.retrain_on": emulated("model-monitoring breach events (Event Grid, RunStatusChanged with "
                                    "`azureml_modelmonitor_threshold_breached`) call a Logic App that submits "
                                    "the registered pipeline component as a new job", DOC_MONITOR_EVENTS),
    "gate.threshold": emulated("gate command component comparing metrics; a failed gate fails the pipeline "
                               "before registration", DOC_COMMAND),
    "gate.champion": emulated("gate component reads the approved champion's metric tags from the registry "
                              "with the compute identity", DOC_REGISTRY),
    "approval.manual": emulated("model versions register as `pending_approval`; approvers promote with "
                                "mlspec's approve script (records approver, refuses the pipeline identity, "
                                "counts distinct approvers); the Pulumi program deploys only promoted "
                                "versions and re-checks the registry tags at deploy time", DOC_REGISTRY),
    "approval.none": native("versions register as approved by the environment policy", DOC_REGISTRY),
    "model_card": emulated("model card (Markdown + JSON) written into the registered model folder and "
                           "summarised in version tags", DOC_REGISTRY),
    "explain.shap": emulated("SHAP explanation component; feature attribution drift monitors consume the "
                             "same attributions", DOC_RAI),
    "lineage": native("model version tags: spec hash, code hash, data versions, pipeline job, hyperparameters "
                      "(also MLflow run params)", DOC_REGISTRY),
    "rollout.all_at_once": native("one deployment with 100% endpoint traffic", DOC_ENDPOINT),
    "rollout.canary": emulated(_STEPPER_NOTE, DOC_ENDPOINT),
    "rollout.linear": emulated(_STEPPER_NOTE + " (initial = step)", DOC_ENDPOINT),
    "rollout.blue_green": native("two deployments; traffic moves to the new one after `bake` (Logic App "
                                 "switch), the old one stays for rollback", DOC_ENDPOINT),
    "rollout.shadow": native("mirror traffic to the new deployment (`mirror_traffic`), promoted after "
                             "`duration` by the rollout Logic App", DOC_MIRROR),
    "rollout.ab_test": native("one deployment per variant with endpoint traffic percentages", DOC_ENDPOINT),
    "rollout.auto_rollback": emulated(_ROLLBACK_NOTE, DOC_ACTION_GROUP),
    "endpoint.autoscale": native("Azure Monitor autoscale setting on the deployment", DOC_AUTOSCALE),
    "endpoint.autoscale.rps": native("autoscale rule on RequestsPerMinute", DOC_AUTOSCALE),
    "endpoint.autoscale.cpu": native("autoscale rule on CpuUtilizationPercentage", DOC_AUTOSCALE),
    "endpoint.capture": native("deployment data collector (model_inputs/model_outputs) to CMK storage", DOC_COLLECT),
    "endpoint.auth.iam": native("endpoint auth_mode aad_token (Entra ID)", DOC_AUTH),
    "endpoint.auth.key": unsupported("auth = iam (Entra ID tokens)",
                                     note="MLS-AZ-070 (non-waivable) requires aad_token auth", doc=DOC_AUTH),
    "endpoint.gpu": native("GPU instance type on the managed deployment", DOC_ENDPOINT),
    "batch": native("scheduled pipeline job scoring the dataset with the registered model", DOC_BATCH),
    "monitor.data_drift": native("monitor schedule, data_drift signal", DOC_MONITOR),
    "monitor.prediction_drift": native("monitor schedule, prediction_drift signal", DOC_MONITOR),
    "monitor.model_quality": emulated("scheduled pipeline joining the deployment's collected predictions with "
                                      "ground truth; a breach fails the job, which a log alert on "
                                      "AmlRunStatusChangedEvent sends to the channels", DOC_SCHEDULE),
    "monitor.bias_drift": emulated("scheduled pipeline computing the spec's metric (dppl, di: Clarify's "
                                   "definition, the bias_check step's code) of the collected predictions per facet "
                                   "value; a breach fails the job, which a log alert sends to "
                                   "the channels (Azure ML monitoring has no bias signal)", DOC_SCHEDULE),
    "monitor.feature_attribution_drift": native("monitor schedule, feature_attribution_drift signal", DOC_MONITOR),
    **{f"alert.{m}": native(f"Azure Monitor metric alert on the endpoint ({m})", DOC_METRICS)
       for m in ("latency_p50", "latency_p99", "error_rate", "throughput", "cpu", "memory")},
    "channel.email": native("action group email receiver; monitor email notifications", DOC_ACTION_GROUP),
    "channel.slack": emulated("action group webhook receiver (common alert schema) to the Slack workflow "
                              "URL read from a Pulumi config secret", DOC_ACTION_GROUP),
    "channel.webhook": native("action group webhook receiver, URL from a Pulumi config secret", DOC_ACTION_GROUP),
    "channel.pagerduty": native("action group webhook receiver to the PagerDuty Azure integration URL "
                                "(Pulumi config secret)", DOC_ACTION_GROUP),
    "tracking.native": native("Azure ML workspace MLflow tracking: every spec script runs through mlspec's "
                              "tracking wrapper, which tags the job's MLflow run with spec/code hashes and data "
                              "versions, logs hyperparameters and the metrics of evaluation.json", DOC_MLFLOW),
    "tracking.mlflow": native("the Azure ML workspace is the MLflow tracking server (same wrapper); an "
                              "external `uri` is refused", DOC_MLFLOW),
    "dashboard": native("Azure Monitor workbook: endpoint latency, throughput, errors, monitor runs, KPIs",
                        DOC_WORKBOOK),
    "security.customer_managed_key": native("Key Vault RSA-HSM key for workspace, storage and registry", DOC_CMK),
    "security.existing_key": native("`kms_key` as a Key Vault key identifier; `key_vault_id` target setting "
                                    "names its vault", DOC_CMK),
    "security.private_network": native("workspace managed network (allow only approved outbound), private "
                                       "endpoints for workspace, storage, vault and registry", DOC_NETWORK),
    "security.allowed_egress": native("managed network FQDN outbound rules", DOC_NETWORK),
}
