"""What the Vertex AI target can express, one verdict per IR feature.

Input: nothing (pure data). Output: :data:`CAPABILITIES`, a Verdict for every key of
``mlspec.compiler.features.FEATURES``. ``check/capabilities.py`` reads this before lowering,
so refusals become spec diagnostics naming the alternatives; docs/targets/vertex.md is
generated from it (a test fails when the doc is stale).

Mechanisms named here are explained in docs/targets/vertex.md. Never imports a cloud SDK.
"""
from __future__ import annotations

from mlspec.targets.base import Verdict, emulated, native, unsupported

_D = "https://cloud.google.com/vertex-ai/docs/"
_PIPE = _D + "pipelines/build-pipeline"
_CUSTOM = _D + "pipelines/customjob-component"
_TRAIN = _D + "training/pre-built-containers"
_REG = _D + "model-registry/versioning"
_ALIAS = _D + "model-registry/model-alias"
_DEPLOY = _D + "general/deployment"
_MON = _D + "model-monitoring/overview"
_ALERT = "https://cloud.google.com/monitoring/alerts/using-alerting-api"
_METRICS = "https://cloud.google.com/monitoring/api/metrics_gcp_a_b#gcp-aiplatform"
_CHAN = "https://cloud.google.com/monitoring/support/notification-options"
_WF = "https://cloud.google.com/workflows/docs/overview"
_SCHED = "https://cloud.google.com/scheduler/docs/http-target-auth"
_RUNTIME = ("an mlspec runtime task (fixed code uploaded to the code bucket and run from the "
            "Cloud Storage FUSE mount /gcs/ inside the pipeline task)")

CAPABILITIES: dict[str, Verdict] = {
    # ---- pipeline steps (KFP v2 IR run by Vertex AI Pipelines)
    "step.validate": emulated("Vertex has no built-in tabular data-validation step; " + _RUNTIME
                              + " checks schema, null fraction, row count, duplicates and staleness and fails the run", _PIPE),
    "step.process": native("Vertex CustomJob launched by the google-cloud-pipeline-components custom_job launcher "
                           "(prebuilt container, workload service account, CMEK, private network)", _CUSTOM),
    "step.train": native("Vertex CustomJob with the framework's prebuilt training container; `spot = true`: "
                         "Spot VMs (`scheduling.strategy = SPOT`) and `--checkpoints` = the job's "
                         "AIP_CHECKPOINT_DIR (Cloud Storage FUSE), kept when a preempted job restarts", _CUSTOM),
    "step.tune": native("Vertex HyperparameterTuningJob (Vizier) launched by the GCPC hyperparameter_tuning_job launcher; "
                        "`spot = true`: every trial on Spot VMs, checkpointing in the trial's AIP_CHECKPOINT_DIR",
                        _D + "training/hyperparameter-tuning-overview"),
    "step.evaluate": native("CustomJob running the spec's evaluation script; metrics become pipeline parameters, "
                            "Vertex Experiments metrics and a ModelEvaluation of the uploaded version", _CUSTOM),
    "step.bias_check": emulated("the spec's bias metric as SageMaker Clarify defines it (on the labels, or on the "
                                "model's predicted labels for dppl/di), per facet value, computed by " + _RUNTIME
                                + " in the workload CustomJob; run fails above max_disparity", _D + "evaluation/model-bias-metrics"),
    "step.explain": emulated("sampled-Shapley attributions computed by " + _RUNTIME + "; the uploaded model also carries a "
                             "Vertex Explainable AI sampledShapleyAttribution explanationSpec", _D + "explainable-ai/overview"),
    "step.register": native("upload as a new version of the parent model in Vertex Model Registry, with lineage labels "
                            "and the `pending` alias", _REG),
    "step.batch_transform": native("Vertex BatchPredictionJob on the trained artifact (uploaded as a version of a "
                                   "scratch `<system>-batch` model, never the production parent)", _D + "predictions/get-batch-predictions"),
    # ---- frameworks
    "framework.sklearn": native("prebuilt scikit-learn training/serving containers (serving list from google-cloud-aiplatform)", _TRAIN),
    "framework.xgboost": native("prebuilt XGBoost training/serving containers", _TRAIN),
    "framework.pytorch": native("prebuilt PyTorch training/serving containers", _TRAIN),
    "framework.tensorflow": native("prebuilt TensorFlow training/serving containers", _TRAIN),
    "framework.huggingface": emulated("Vertex has no Hugging Face entry among its prebuilt containers; lowered to the newest "
                                      "prebuilt PyTorch GPU containers (ship `transformers` with the code or set `image`)", _TRAIN),
    "framework.custom": native("the step's own image in a CustomJob", _D + "training/containers-overview"),
    # ---- data
    "data.format.parquet": native("GCS prefix handed to the scripts; scheduled batch inference over parquet (which "
                                  "BatchPredictionJob cannot read) runs as a one-task batch pipeline instead", _PIPE),
    "data.format.csv": native("GCS prefix; BatchPredictionJob instancesFormat csv", _D + "predictions/get-batch-predictions#input_data_requirements"),
    "data.format.jsonl": native("GCS prefix; BatchPredictionJob instancesFormat jsonl", _D + "predictions/get-batch-predictions#input_data_requirements"),
    "data.format.tfrecord": native("GCS prefix; BatchPredictionJob instancesFormat tf-record", _D + "predictions/get-batch-predictions#input_data_requirements"),
    "data.format.delta": unsupported("export the table to `parquet` (e.g. a Delta -> Parquet job) and declare that format",
                                     "register the table as a BigQuery external table and read it in a `process` step",
                                     note="neither Vertex pipelines nor BatchPredictionJob read Delta Lake tables",
                                     doc=_D + "predictions/get-batch-predictions#input_data_requirements"),
    "data.checks": emulated("checked by the `validate` op of " + _RUNTIME, _PIPE),
    # ---- pipeline triggers, gates, approval
    "pipeline.schedule": native("Cloud Scheduler job (OAuth as the launcher service account) executes a Cloud Workflow "
                                "that submits the compiled PipelineJob with the pipeline SA, CMEK and private network", _SCHED),
    "pipeline.retrain_on": emulated("the monitor's alert policy notifies a Pub/Sub channel; an Eventarc trigger runs the "
                                    "launch Workflow, which submits the PipelineJob", _WF),
    "gate.threshold": native("KFP triggerPolicy condition (CEL) on the register task", _D + "pipelines/build-pipeline#conditions"),
    "gate.champion": native("condition reads the metrics of the version holding the `production` alias (its ModelEvaluation), "
                            "fetched by a champion task; passes when no champion exists yet", _ALIAS),
    "approval.manual": emulated("new versions get the `pending` alias; only `mlspec approve` by an approver (moves the "
                                "`production` alias and labels who decided) changes what the deployment resource serves",
                                _ALIAS),
    "approval.none": native("the register task moves the `production` alias itself", _ALIAS),
    "model_card": emulated("model card JSON (description, intended use, limitations, metrics, gates, approvers) written next "
                           "to the version's artifacts and summarised in the version description", _REG),
    "explain.shap": emulated("Vertex Explainable AI sampled Shapley (explanationSpec on upload) plus runtime attributions", _D + "explainable-ai/overview"),
    "lineage": native("version labels (spec hash, code version, data version) plus Vertex ML Metadata lineage of the "
                      "pipeline run", _D + "ml-metadata/introduction"),
    # ---- rollouts
    "rollout.all_at_once": native("deployModel with trafficSplit 100 to the new version", _DEPLOY),
    "rollout.canary": emulated("initial endpoint trafficSplit; a Cloud Scheduler job runs a rollout Workflow every interval "
                               "that shifts step_percent more traffic to the candidate", _DEPLOY),
    "rollout.linear": emulated("as canary, starting at step_percent", _DEPLOY),
    "rollout.blue_green": emulated("green deployed at 0% traffic; after bake the rollout Workflow shifts 100% at once", _DEPLOY),
    "rollout.shadow": emulated("offline shadow: live requests are captured (request/response logging at >= the shadow "
                               "sample) and a scheduled shadow pipeline replays them against the `pending` candidate with a "
                               "BatchPredictionJob, recording agreement with the served responses as a custom metric; the "
                               "candidate never answers a caller; after `duration` it is promoted with `promote` once "
                               "approved. Vertex endpoints cannot mirror live traffic",
                               _D + "predictions/online-prediction-logging"),
    "rollout.ab_test": native("fixed endpoint trafficSplit across the variants' deployed models", _DEPLOY),
    "rollout.auto_rollback": emulated("the named alert policies notify a Pub/Sub channel; an Eventarc trigger runs the rollout "
                                      "Workflow in rollback mode (100% back to the stable deployed model)", _WF),
    # ---- endpoints
    "endpoint.autoscale": native("dedicatedResources minReplicaCount / maxReplicaCount", _D + "general/deployment#scaling"),
    "endpoint.autoscale.rps": emulated("Vertex autoscales on CPU utilisation / accelerator duty cycle only; a requests-per-second "
                                       "target is lowered to a 60% CPU target and the rps figure to an alert", _D + "general/deployment#scaling"),
    "endpoint.autoscale.cpu": native("autoscalingMetricSpecs aiplatform.googleapis.com/prediction/online/cpu/utilization", _D + "general/deployment#scaling"),
    "endpoint.capture": native("predictRequestResponseLoggingConfig to a CMEK BigQuery dataset with samplingRate", _D + "predictions/online-prediction-logging"),
    "endpoint.auth.iam": native("Vertex endpoints only accept IAM-authorised calls (roles/aiplatform.user on the endpoint)", _D + "general/access-control"),
    "endpoint.auth.key": unsupported("auth = iam (callers use a service account identity)",
                                     "front the endpoint with API Gateway and API keys",
                                     note="Vertex online prediction has no API-key authentication", doc=_D + "general/access-control"),
    "endpoint.gpu": native("machineSpec acceleratorType / acceleratorCount", _D + "predictions/configure-compute"),
    "batch": native("Cloud Scheduler -> Workflow -> BatchPredictionJob on the `production` version (CMEK, workload SA)",
                    _D + "predictions/get-batch-predictions"),
    # ---- monitors
    "monitor.data_drift": native("ModelDeploymentMonitoringJob drift (or training-serving skew with a baseline) objective",
                                 _MON),
    "monitor.feature_attribution_drift": native("ModelDeploymentMonitoringJob with explanation (attribution) drift", _MON),
    "monitor.prediction_drift": emulated("scheduled monitor pipeline reads the request/response log in BigQuery, computes the "
                                         "drift of the predictions and writes a custom metric the alert policy watches", _MON),
    "monitor.model_quality": emulated("scheduled monitor pipeline joins logged predictions with ground truth, writes the "
                                      "quality metric as a custom metric with an alert policy", _MON),
    "monitor.bias_drift": emulated("scheduled monitor pipeline computes the spec's metric (dppl, di: Clarify's "
                                   "definition, the bias_check step's code) of the logged predictions per facet "
                                   "value, custom metric + alert policy", _D + "evaluation/model-bias-metrics"),
    # ---- alerts and channels
    "alert.latency_p50": native("alert policy on prediction/online/prediction_latencies (50th percentile)", _METRICS),
    "alert.latency_p99": native("alert policy on prediction/online/prediction_latencies (99th percentile)", _METRICS),
    "alert.error_rate": native("ratio alert policy error_count / prediction_count", _METRICS),
    "alert.throughput": native("alert policy on the rate of prediction/online/prediction_count", _METRICS),
    "alert.cpu": native("alert policy on prediction/online/cpu/utilization", _METRICS),
    "alert.memory": emulated("Vertex exports memory bytes_used, not a percentage; the percent threshold is converted with the "
                             "machine type's memory", _METRICS),
    "channel.email": native("monitoring.NotificationChannel type email", _CHAN),
    "channel.slack": native("NotificationChannel type slack; token read from Secret Manager as a Pulumi secret", _CHAN),
    "channel.webhook": native("NotificationChannel type webhook_tokenauth; URL read from Secret Manager as a Pulumi secret", _CHAN),
    "channel.pagerduty": native("NotificationChannel type pagerduty; service key read from Secret Manager as a Pulumi secret", _CHAN),
    # ---- tracking, dashboard, security
    "tracking.native": native("Vertex AI Experiments (runs with parameters, metrics, code/data versions) on a CMEK metadata store",
                              _D + "experiments/intro-vertex-ai-experiments"),
    "tracking.mlflow": unsupported("tracking = native (Vertex AI Experiments)",
                                   "log to MLflow from your own scripts and keep tracking = native for the pipeline",
                                   note="Vertex has no managed MLflow server; mlspec would have to run one outside the private network",
                                   doc=_D + "experiments/intro-vertex-ai-experiments"),
    "dashboard": native("Cloud Monitoring dashboard: latency, throughput, errors, monitor metrics and the KPIs as text tiles",
                        "https://cloud.google.com/monitoring/dashboards/api-dashboard"),
    "security.customer_managed_key": native("Cloud KMS key ring + key per environment with rotation, service agents granted on the key",
                                            _D + "general/cmek"),
    "security.existing_key": native("the referenced Cloud KMS key is used instead of a new one (same region required)", _D + "general/cmek"),
    "security.private_network": native("VPC with a private subnet (Private Google Access, flow logs) and a Service Networking "
                                       "peering used by pipelines and custom jobs; endpoints are Private Service Connect "
                                       "endpoints reachable only from that VPC", _D + "general/vpc-peering"),
    "security.allowed_egress": emulated(
        "custom jobs (process, train, evaluate, tune steps) attach to the private subnet through a Private Service "
        "Connect interface (network attachment) and egress via Cloud NAT for that subnet only (logged); a global "
        "network firewall policy allows TCP 443 to the listed hosts (Cloud NGFW FQDN objects, exact names only: "
        "`*.` wildcards are refused, E505) and to the Private Google Access VIPs, and denies all other egress; the "
        "Service Networking peering runs in VPC Service Controls mode (no default internet route). Binding only "
        "inside a VPC Service Controls perimeter (MLS-GCP-060, referenced, not created): outside one Vertex-managed "
        "compute keeps Google's own internet access from its tenant project and Vertex does not route PSC-interface "
        "traffic to Cloud NAT; pipeline orchestration tasks, "
        "batch prediction and endpoints are not routed through the allow list; needs the stack-created network. Cloud NGFW FQDN objects: "
        "https://cloud.google.com/firewall/docs/fqdn-objects-overview; Cloud NAT: https://cloud.google.com/nat/docs/overview",
        _D + "training/psc-i-egress"),
}
