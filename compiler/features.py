"""The IR feature vocabulary shared by the capability model and every target.

Input: a checked IR dict. Output: the features it uses, each with the IR id that uses
it, so a capability refusal can point at the spec line. Pure; never imports a target.
"""
from __future__ import annotations

STEP_KINDS = ("validate", "process", "train", "tune", "evaluate", "bias_check", "explain",
              "register", "batch_transform")
ROLLOUTS = ("all_at_once", "canary", "linear", "blue_green", "shadow", "ab_test")
MONITOR_KINDS = ("data_drift", "prediction_drift", "model_quality", "bias_drift",
                 "feature_attribution_drift")
ALERT_METRICS = ("latency_p50", "latency_p99", "error_rate", "throughput", "cpu", "memory")
CHANNEL_TYPES = ("email", "slack", "webhook", "pagerduty")
FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface", "custom")
DATA_FORMATS = ("parquet", "csv", "jsonl", "tfrecord", "delta")

#: Every feature a target must give a verdict for, with a one-line meaning.
FEATURES: dict[str, str] = {
    **{f"step.{k}": f"pipeline step of kind `{k}`" for k in STEP_KINDS},
    **{f"framework.{k}": f"training framework `{k}`" for k in FRAMEWORKS},
    **{f"data.format.{k}": f"dataset format `{k}`" for k in DATA_FORMATS},
    "data.checks": "dataset checks (null fraction, row count, duplicates, staleness) run by validate",
    "pipeline.schedule": "pipeline run on a cron schedule",
    "pipeline.retrain_on": "pipeline started by a monitor breach",
    "gate.threshold": "gate comparing a step metric with a number",
    "gate.champion": "gate comparing a step metric with the current champion's metric",
    "approval.manual": "human approval (approvers, count) before deployment",
    "approval.none": "automatic approval (environment without approval)",
    "model_card": "model card (description, intended use, limitations, metrics, gates, approvers)",
    "explain.shap": "SHAP explanations for a model",
    "lineage": "lineage metadata (spec hash, code version, data version, hyperparameters)",
    **{f"rollout.{k}": f"`{k}` rollout" for k in ROLLOUTS},
    "rollout.auto_rollback": "automatic rollback when the named alerts fire",
    "endpoint.autoscale": "endpoint autoscaling",
    "endpoint.autoscale.rps": "autoscaling on requests per second",
    "endpoint.autoscale.cpu": "autoscaling on CPU utilisation",
    "endpoint.capture": "request/response capture for monitoring",
    "endpoint.auth.iam": "endpoint authentication with cloud identity",
    "endpoint.auth.key": "endpoint authentication with a key",
    "endpoint.gpu": "GPU serving compute",
    "batch": "scheduled batch inference",
    **{f"monitor.{k}": f"`{k}` monitor" for k in MONITOR_KINDS},
    **{f"alert.{k}": f"operational alert on `{k}`" for k in ALERT_METRICS},
    **{f"channel.{k}": f"`{k}` notification channel" for k in CHANNEL_TYPES},
    "tracking.native": "experiment tracking with the cloud's native service",
    "tracking.mlflow": "experiment tracking with MLflow",
    "dashboard": "operational dashboard (latency, throughput, errors, monitors, KPIs)",
    "security.customer_managed_key": "customer-managed encryption keys",
    "security.existing_key": "bring-your-own existing key",
    "security.private_network": "private networking",
    "security.allowed_egress": "approved outbound destinations",
}


def features_used(ir: dict) -> list[tuple[str, str]]:
    """(feature, ir_id) for every feature the IR uses, in a stable order."""
    out: list[tuple[str, str]] = []
    add = out.append
    for ds in ir["datasets"]:
        add((f"data.format.{ds['format']}", ds["id"]))
    for p in ir["pipelines"]:
        if p["schedule"]:
            add(("pipeline.schedule", p["id"]))
        if p["retrain_on"]:
            add(("pipeline.retrain_on", p["id"]))
        for s in p["steps"]:
            add((f"step.{s['kind']}", s["id"]))
            if s["kind"] in ("train", "tune"):
                add((f"framework.{s['framework']['name']}", s["id"]))
            if s["kind"] == "validate":
                add(("data.checks", s["id"]))
        for g in p["gates"]:
            add(("gate.champion" if g["uses_champion"] else "gate.threshold", g["id"]))
    for m in ir["models"]:
        add(("approval.manual" if m["approval"]["required"] else "approval.none", m["id"]))
        add(("lineage", m["id"]))
        add(("model_card", m["id"]))
        if m["explain"]:
            add((f"explain.{m['explain']}", m["id"]))
    for e in ir["endpoints"]:
        r = e["rollout"]
        add((f"rollout.{r['strategy']}", e["id"]))
        if r.get("rollback_on"):
            add(("rollout.auto_rollback", e["id"]))
        if e["autoscale"]:
            add(("endpoint.autoscale", e["id"]))
            if e["autoscale"].get("target_rps") is not None:
                add(("endpoint.autoscale.rps", e["id"]))
            if e["autoscale"].get("target_cpu_percent") is not None:
                add(("endpoint.autoscale.cpu", e["id"]))
        if e["capture"]:
            add(("endpoint.capture", e["id"]))
        add((f"endpoint.auth.{e['auth']}", e["id"]))
        if e["compute"]["class"].startswith("gpu."):
            add(("endpoint.gpu", e["id"]))
    for b in ir["batch"]:
        add(("batch", b["id"]))
    for mo in ir["monitors"]:
        add((f"monitor.{mo['kind']}", mo["id"]))
    for a in ir["alerts"]:
        add((f"alert.{a['metric']}", a["id"]))
    for c in ir["channels"]:
        add((f"channel.{c['type']}", c["id"]))
    add((f"tracking.{ir['tracking']['backend']}", "tracking"))
    if ir["endpoints"]:
        add(("dashboard", "system"))
    add(("security.customer_managed_key", "security"))
    add(("security.private_network", "security"))
    if ir["security"]["kms_key"]:
        add(("security.existing_key", "security"))
    if ir["security"]["allowed_egress"]:
        add(("security.allowed_egress", "security"))
    return out
