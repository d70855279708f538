"""A maximal IR (docs/ir.md) by hand: every step kind, rollout, monitor kind, alert metric and
channel type, so the SageMaker target is exercised before the front end produces real IR."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from mlspec.targets.base import LowerContext

CTX = LowerContext(spec_path="specs/maximal.mlspec", spec_sha256="ab" * 32, project_root_rel="../..",
                   compiler_version="0.1.0")


def step(sid, kind, deps=(), compute=None, **kw):
    base = {"id": f"step.{sid}", "name": sid, "kind": kind, "depends_on": sorted(deps),
            "compute": compute, "outputs": [], "network_isolation": True, "max_runtime_s": None}
    base.update(kw)
    return base


CPU = {"class": "cpu.medium", "instance_count": 1, "accelerators": 0}
GPU = {"class": "gpu.small", "instance_count": 1, "accelerators": 1}


def endpoint(name, model, rollout, **kw):
    e = {"id": f"endpoint.{name}", "name": name, "model": model,
         "compute": {"class": "cpu.medium", "instance_count": 2, "accelerators": 0},
         "autoscale": None, "capture": None, "auth": "iam", "rollout": rollout}
    e.update(kw)
    return e


def maximal_ir(env="prod", production=True, approval="required") -> dict:
    schema = [{"name": "transaction_id", "type": "string", "nullable": False, "role": "id", "min": None, "max": None, "allowed": None},
              {"name": "amount", "type": "float", "nullable": False, "role": "feature", "min": 0, "max": None, "allowed": None},
              {"name": "country", "type": "string", "nullable": False, "role": "feature", "min": None, "max": None, "allowed": ["US", "GB"]},
              {"name": "is_fraud", "type": "int", "nullable": False, "role": "label", "min": None, "max": None, "allowed": [0, 1]}]
    steps = [
        step("validate", "validate", data="dataset.transactions", checks={"min_rows": 10000}, outputs=["data"]),
        step("prepare", "process", ["step.validate"], CPU, script="src/prepare.py", inputs=["step.validate.outputs.data"],
             args={"test_fraction": 0.2, "mode": "full"}, image=None, outputs=["train", "test"],
             output_formats={"train": "csv", "test": "parquet"}),
        step("train", "train", ["step.prepare"], GPU, framework={"name": "xgboost", "version": "1.7"},
             entry_point="src/train.py", inputs=["step.prepare.outputs.train"],
             hyperparameters={"max_depth": 6, "eta": 0.2}, image=None, outputs=["model"], max_runtime_s=7200),
        step("tune", "tune", ["step.prepare"], CPU, framework={"name": "sklearn", "version": "1.2"},
             entry_point="src/tune.py", inputs=["step.prepare.outputs.train", "dataset.transactions"],
             hyperparameters={"alpha": 0.1, "fixed": "x"}, image=None, outputs=["model"],
             objective={"metric": "auc", "direction": "maximize"},
             ranges={"alpha": {"type": "continuous", "min": 0.001, "max": 1.0, "values": None},
                     "depth": {"type": "integer", "min": 2, "max": 8, "values": None},
                     "kernel": {"type": "categorical", "min": None, "max": None, "values": ["a", "b"]}},
             max_trials=8, parallel_trials=2),
        step("evaluate", "evaluate", ["step.prepare", "step.train"], CPU, model="step.train.outputs.model",
             data="step.prepare.outputs.test", metrics=["f1", "auc"], script="src/evaluate.py", outputs=["metrics"]),
        step("fairness", "bias_check", ["step.prepare", "step.train"], CPU, model="step.train.outputs.model",
             data="step.prepare.outputs.test", facets=["country"], label="is_fraud", metric="dpl",
             max_disparity=0.1, outputs=["report"]),
        step("explain", "explain", ["step.prepare", "step.train"], CPU, model="step.train.outputs.model",
             data="step.prepare.outputs.test", method="shap", outputs=["report"]),
        step("register", "register", ["gate.quality", "step.evaluate"], None, model="model.fraud_scorer",
             source="step.train.outputs.model", metrics_from="step.evaluate"),
        step("score", "batch_transform", ["step.train"], CPU, model="step.train.outputs.model",
             data="step.prepare.outputs.test", output="data://fraud/scores/", outputs=["predictions"]),
    ]
    gates = [{"id": "gate.quality", "name": "quality", "depends_on": ["step.evaluate"], "uses_champion": True,
              "requires": [
                  {"text": "step.evaluate.metrics.f1 >= 0.95", "op": ">=",
                   "left": {"metric": {"step": "step.evaluate", "name": "f1"}}, "right": {"number": 0.95}},
                  {"text": "step.evaluate.metrics.f1 >= champion.f1 + 0.01", "op": ">=",
                   "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
                   "right": {"binary": {"op": "+", "left": {"champion": "f1"}, "right": {"number": 0.01}}}},
                  {"text": "step.evaluate.metrics.auc != 0", "op": "!=",
                   "left": {"metric": {"step": "step.evaluate", "name": "auc"}}, "right": {"number": 0}}]}]
    model = {"id": "model.fraud_scorer", "name": "fraud_scorer", "description": "Gradient-boosted fraud classifier",
             "pipeline": "pipeline.training", "registered_by": "step.register", "source": "step.train.outputs.model",
             "framework": {"name": "xgboost", "version": "1.7"},
             "approval": {"required": approval == "required", "approvers": ["risk-leads"], "count": 1},
             "explain": "shap", "card": {"intended_use": "Score transactions", "limitations": "US/GB only",
                                         "ethical_considerations": None},
             "metrics_from": "step.evaluate", "gates": ["gate.quality"],
             "task": "binary_classification", "label": "is_fraud", "positive_label": 1,
             "prediction": {"output": "probability", "threshold": 0.5}, "format": "xgboost", "serve": None}
    challenger = dict(model, id="model.challenger", name="challenger", registered_by=None, gates=[])
    rb = ["alert.latency", "alert.errors"]
    endpoints = [
        endpoint("scoring", "model.fraud_scorer", {"strategy": "canary", "initial_percent": 5.0, "step_percent": 20.0,
                                                   "interval_s": 600, "rollback_on": rb},
                 autoscale={"min": 2, "max": 10, "target_rps": 100, "target_cpu_percent": 70.0},
                 capture={"percent": 20.0}),
        endpoint("linear", "model.fraud_scorer", {"strategy": "linear", "step_percent": 10.0, "interval_s": 300,
                                                  "rollback_on": ["alert.cpu"]}),
        endpoint("bluegreen", "model.fraud_scorer", {"strategy": "blue_green", "bake_s": 600, "rollback_on": []}),
        endpoint("once", "model.fraud_scorer", {"strategy": "all_at_once", "rollback_on": []}),
        endpoint("shadowed", "model.fraud_scorer", {"strategy": "shadow", "sample_percent": 20.0, "duration_s": 604800,
                                                    "promote": "blue_green", "rollback_on": []}),
        endpoint("ab", "model.fraud_scorer", {"strategy": "ab_test", "rollback_on": [], "variants": [
            {"name": "a", "model": "model.fraud_scorer", "percent": 50.0},
            {"name": "b", "model": "model.challenger", "percent": 50.0}]}),
    ]
    monitors = []
    for kind in ("data_drift", "prediction_drift", "model_quality", "bias_drift", "feature_attribution_drift"):
        monitors.append({"id": f"monitor.{kind}", "name": kind, "endpoint": "endpoint.scoring", "kind": kind,
                         "baseline": "dataset.transactions",
                         "ground_truth": "data://fraud/labels/" if kind in ("model_quality", "bias_drift") else None,
                         "metric": {"model_quality": "f1", "bias_drift": "dppl"}.get(kind, "psi"),
                         "facets": ["country"] if kind == "bias_drift" else [],
                         "breach": {"above": 0.2, "below": None} if kind != "model_quality" else {"above": None, "below": 0.9},
                         "every_s": 3600 if kind == "data_drift" else 86400, "notify": ["channel.oncall"],
                         "retrains": ["pipeline.training"] if kind == "data_drift" else []})
    alerts = []
    for metric, unit, value in (("latency_p50", "ms", 50.0), ("latency_p99", "ms", 200.0), ("error_rate", "percent", 1.0),
                                ("throughput", "rps", 1.0), ("cpu", "percent", 90.0), ("memory", "percent", 90.0)):
        name = {"latency_p99": "latency", "error_rate": "errors"}.get(metric, metric)
        alerts.append({"id": f"alert.{name}", "name": name, "endpoint": "endpoint.scoring", "metric": metric,
                       "comparison": "below" if metric == "throughput" else "above", "value": value, "unit": unit,
                       "for_s": 300, "notify": ["channel.oncall", "channel.pager", "channel.chat", "channel.hook"],
                       "rollback_for": []})
    channels = [{"id": "channel.oncall", "name": "oncall", "type": "email", "address": "oncall@example.com", "secret": None},
                {"id": "channel.pager", "name": "pager", "type": "pagerduty", "address": None, "secret": "fraud-pagerduty-key"},
                {"id": "channel.chat", "name": "chat", "type": "slack", "address": None, "secret": "fraud-slack"},
                {"id": "channel.hook", "name": "hook", "type": "webhook", "address": None,
                 "secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf"}]
    return {
        "schema_version": "1",
        "source": {"path": "specs/maximal.mlspec", "sha256": "ab" * 32},
        "system": {"name": "fraud_detection", "owner": "risk-ml@example.com", "description": "Card fraud scoring",
                   "labels": {"cost_center": "risk"}},
        "environment": {"name": env, "production": production, "approval": approval, "scale": 1.0},
        "kpis": [{"id": "kpi.losses", "name": "losses", "description": "Fraud losses avoided", "goal": ">= 1000000 USD"}],
        "datasets": [{"id": "dataset.transactions", "name": "transactions", "uri": "data://fraud/transactions/",
                      "format": "parquet", "version": "2026-11-01", "schema": schema,
                      "checks": {"max_null_fraction_percent": 1.0, "min_rows": 10000, "max_duplicate_percent": None,
                                 "max_staleness_s": None}}],
        "pipelines": [{"id": "pipeline.training", "name": "training", "schedule": {"cron": "0 3 * * MON", "timezone": "UTC"},
                       "retrain_on": ["monitor.data_drift"], "on_failure": ["channel.oncall"], "steps": steps,
                       "gates": gates}],
        "models": [model, challenger],
        "endpoints": endpoints,
        "batch": [{"id": "batch.nightly", "name": "nightly", "model": "model.fraud_scorer", "data": "dataset.transactions",
                   "output": "data://fraud/scores/", "schedule": {"cron": "0 1 * * *", "timezone": "UTC"},
                   "compute": CPU}],
        "monitors": monitors, "alerts": alerts, "channels": channels,
        "tracking": {"backend": "native", "experiment": "fraud_detection", "uri": None},
        "security": {"encryption": "customer_managed", "network": "private", "kms_key": None, "allowed_egress": [],
                     "data_classification": "pii"},
        "waivers": [],
        "targets": {"sagemaker": {"region": "us-east-1"}},
        "code": {"sha256": "cd" * 32, "files": [{"path": p, "sha256": "ef" * 32} for p in
                                                ("src/evaluate.py", "src/prepare.py", "src/train.py", "src/tune.py")]},
    }


def environments() -> list[dict]:
    dev = maximal_ir("dev", production=False, approval="none")
    return [dev, maximal_ir("prod")]


def write_build(lowering, root: Path, irs) -> Path:
    """Write artifacts like the front end's writer would (json/yaml/text) plus fake user scripts."""
    import yaml

    out = root / "sagemaker"
    for a in lowering.artifacts:
        p = out / a.path
        p.parent.mkdir(parents=True, exist_ok=True)
        if a.fmt == "json":
            p.write_text(json.dumps(a.content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        elif a.fmt == "yaml":
            p.write_text(yaml.safe_dump(a.content, sort_keys=False), encoding="utf-8")
        elif isinstance(a.content, bytes):
            p.write_bytes(a.content)
        else:
            p.write_text(a.content, encoding="utf-8")
    for ir in irs:
        for f in ir["code"]["files"]:
            p = out / "code" / f["path"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("print('user script')\n", encoding="utf-8")
    manifest = {"artifacts": [{"path": a.path, "kind": a.kind} for a in lowering.artifacts]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def clone(ir: dict) -> dict:
    return copy.deepcopy(ir)
