"""A maximal hand-written IR (docs/ir.md) exercising every construct the Vertex target lowers.

`maximal_ir(env)` -> one environment's IR; `every_rollout_irs()` varies the endpoint rollout.
Key auth, MLflow and Delta are refused by capabilities, so the maximal
fixture leaves them out; `refused_ir()` puts them in.
"""
from __future__ import annotations

import copy


def _step(sid, kind, depends_on=(), compute=None, outputs=(), **extra):
    return {"id": f"step.{sid}", "name": sid, "kind": kind, "depends_on": sorted(depends_on),
            "compute": compute, "outputs": list(outputs), "network_isolation": True,
            "max_runtime_s": 3600 if kind in ("train", "tune") else None, **extra}


CPU = {"class": "cpu.medium", "instance_count": 1, "accelerators": 0}
GPU = {"class": "gpu.small", "instance_count": 1, "accelerators": 1}


def maximal_ir(env: str = "prod") -> dict:
    prod = env == "prod"
    steps = [
        _step("validate", "validate", outputs=["data"], data="dataset.transactions",
              checks={"max_null_fraction_percent": 1.0, "min_rows": 10000, "max_duplicate_percent": 0.5,
                      "max_staleness_s": 86400}),
        _step("prepare", "process", ["step.validate"], CPU, ["train", "test"], script="src/prepare.py",
              inputs=["step.validate.outputs.data"], args={"test_fraction": 0.2, "seed": 7}, image=None),
        _step("train", "train", ["step.prepare"], GPU, ["model"], framework={"name": "xgboost", "version": "1.7"},
              entry_point="src/train.py", inputs=["step.prepare.outputs.train"],
              hyperparameters={"max_depth": 6, "eta": 0.2, "rounds": 200}, image=None),
        _step("tune", "tune", ["step.prepare"], CPU, ["model"], framework={"name": "sklearn", "version": "1.3"},
              entry_point="src/tune.py", inputs=["step.prepare.outputs.train"], hyperparameters={"cv": 3},
              image=None, objective={"metric": "auc", "direction": "maximize"},
              ranges={"alpha": {"type": "continuous", "min": 0.001, "max": 1.0, "values": None},
                      "depth": {"type": "integer", "min": 2, "max": 8, "values": None},
                      "loss": {"type": "categorical", "min": None, "max": None, "values": ["log_loss", "hinge"]}},
              max_trials=8, parallel_trials=2),
        _step("evaluate", "evaluate", ["step.prepare", "step.train"], CPU, ["metrics"],
              model="step.train.outputs.model", data="step.prepare.outputs.test",
              metrics=["f1", "precision", "recall", "auc"], script="src/evaluate.py"),
        _step("fairness", "bias_check", ["step.prepare", "step.train"], CPU, ["report"],
              model="step.train.outputs.model", data="step.prepare.outputs.test", facets=["country"],
              label="is_fraud", metric="dpl", max_disparity=0.1),
        _step("explain", "explain", ["step.prepare", "step.train"], CPU, ["report"],
              model="step.train.outputs.model", data="step.prepare.outputs.test", method="shap"),
        _step("score_holdout", "batch_transform", ["step.prepare", "step.train"], CPU, ["predictions"],
              model="step.train.outputs.model", data="step.prepare.outputs.test", output="data://fraud/holdout-scores/"),
        _step("register", "register", ["gate.quality", "step.evaluate", "step.train"], None, [],
              model="model.fraud_scorer", source="step.train.outputs.model", metrics_from="step.evaluate"),
    ]
    ir = {
        "schema_version": "1",
        "source": {"path": "specs/fraud_detection.mlspec", "sha256": "ab" * 32},
        "system": {"name": "fraud_detection", "owner": "risk-ml@example.com",
                   "description": "Card-transaction fraud scoring",
                   "labels": {"cost_center": "risk", "data_class": "pii"}},
        "environment": {"name": env, "production": prod, "approval": "required" if prod else "none",
                        "scale": 1.0 if prod else 0.5},
        "kpis": [{"id": "kpi.fraud_losses", "name": "fraud_losses", "description": "Fraud losses avoided per quarter",
                  "goal": ">= 1000000 USD"},
                 {"id": "kpi.false_blocks", "name": "false_blocks", "description": "Legit transactions blocked",
                  "goal": "< 0.1%"}],
        "datasets": [{"id": "dataset.transactions", "name": "transactions", "uri": "data://fraud/transactions/",
                      "format": "parquet", "version": "2026-11-01",
                      "schema": [{"name": "amount", "type": "float", "nullable": False, "role": "feature",
                                  "min": 0, "max": None, "allowed": None},
                                 {"name": "country", "type": "string", "nullable": False, "role": "feature",
                                  "min": None, "max": None, "allowed": ["US", "GB", "DE"]},
                                 {"name": "is_fraud", "type": "int", "nullable": False, "role": "label",
                                  "min": None, "max": None, "allowed": [0, 1]}],
                      "checks": {"max_null_fraction_percent": 1.0, "min_rows": 10000,
                                 "max_duplicate_percent": None, "max_staleness_s": None}},
                     {"id": "dataset.customers", "name": "customers", "uri": "gs://acme-raw/customers/",
                      "format": "csv", "version": "v3", "schema": [], "checks": None}],
        "pipelines": [{
            "id": "pipeline.training", "name": "training",
            "schedule": {"cron": "0 3 * * MON", "timezone": "UTC"},
            "retrain_on": ["monitor.input_drift"],
            "steps": steps,
            "gates": [{"id": "gate.quality", "name": "quality", "depends_on": ["step.evaluate"],
                       "requires": [{"text": "step.evaluate.metrics.f1 >= 0.95", "op": ">=",
                                     "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
                                     "right": {"number": 0.95}},
                                    {"text": "step.evaluate.metrics.f1 >= champion.f1 + 0.01", "op": ">=",
                                     "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
                                     "right": {"binary": {"op": "+", "left": {"champion": "f1"},
                                                          "right": {"number": 0.01}}}}],
                       "uses_champion": True}]}],
        "models": [{"id": "model.fraud_scorer", "name": "fraud_scorer", "description": "Scores card transactions",
                    "pipeline": "pipeline.training", "registered_by": "step.register",
                    "source": "step.train.outputs.model", "framework": {"name": "xgboost", "version": "1.7"},
                    "approval": {"required": prod, "approvers": ["risk-leads@example.com"], "count": 1},
                    "explain": "shap",
                    "card": {"intended_use": "Real-time fraud scoring", "limitations": "Card-present only",
                             "ethical_considerations": None},
                    "metrics_from": "step.evaluate", "gates": ["gate.quality"]},
                   {"id": "model.fraud_challenger", "name": "fraud_challenger", "description": "Challenger",
                    "pipeline": "pipeline.training", "registered_by": "step.register",
                    "source": "step.train.outputs.model", "framework": {"name": "xgboost", "version": "1.7"},
                    "approval": {"required": prod, "approvers": ["risk-leads@example.com"], "count": 1}, "explain": None,
                    "card": {"intended_use": "A/B challenger", "limitations": None, "ethical_considerations": None},
                    "metrics_from": None, "gates": []}],
        "endpoints": [{"id": "endpoint.scoring", "name": "scoring", "model": "model.fraud_scorer",
                       "compute": {"class": "cpu.medium", "instance_count": 2, "accelerators": 0},
                       "autoscale": {"min": 2, "max": 10, "target_rps": 100, "target_cpu_percent": None},
                       "capture": {"percent": 20.0}, "auth": "iam",
                       "rollout": {"strategy": "canary", "initial_percent": 5.0, "step_percent": 20.0,
                                   "interval_s": 600, "rollback_on": ["alert.latency", "alert.errors"]}},
                      {"id": "endpoint.experiment", "name": "experiment", "model": "model.fraud_scorer",
                       "compute": {"class": "gpu.small", "instance_count": 1, "accelerators": 1},
                       "autoscale": {"min": 1, "max": 3, "target_rps": None, "target_cpu_percent": 70.0},
                       "capture": None, "auth": "iam",
                       "rollout": {"strategy": "ab_test", "rollback_on": [],
                                   "variants": [{"name": "a", "model": "model.fraud_scorer", "percent": 80.0},
                                                {"name": "b", "model": "model.fraud_challenger", "percent": 20.0}]}},
                      {"id": "endpoint.shadowed", "name": "shadowed", "model": "model.fraud_challenger",
                       "compute": {"class": "cpu.small", "instance_count": 2, "accelerators": 0},
                       "autoscale": None, "capture": {"percent": 5.0}, "auth": "iam",
                       "rollout": {"strategy": "shadow", "sample_percent": 25.0, "duration_s": 259200,
                                   "promote": "blue_green", "rollback_on": ["alert.shadow_errors"]}}],
        "batch": [{"id": "batch.nightly", "name": "nightly", "model": "model.fraud_scorer", "data": "dataset.customers",
                   "output": "data://fraud/scores/", "schedule": {"cron": "0 1 * * *", "timezone": "Europe/Berlin"},
                   "compute": CPU},
                  {"id": "batch.weekly", "name": "weekly", "model": "model.fraud_scorer", "data": "dataset.transactions",
                   "output": "data://fraud/weekly-scores/", "schedule": None, "compute": CPU}],
        "monitors": [
            {"id": "monitor.input_drift", "name": "input_drift", "endpoint": "endpoint.scoring", "kind": "data_drift",
             "baseline": "dataset.transactions", "ground_truth": None, "metric": "psi", "facets": [],
             "breach": {"above": 0.2, "below": None}, "every_s": 3600, "notify": ["channel.oncall"],
             "retrains": ["pipeline.training"]},
            {"id": "monitor.output_drift", "name": "output_drift", "endpoint": "endpoint.scoring",
             "kind": "prediction_drift", "baseline": None, "ground_truth": None, "metric": "psi", "facets": [],
             "breach": {"above": 0.3, "below": None}, "every_s": 86400, "notify": ["channel.slack_ml"], "retrains": []},
            {"id": "monitor.quality", "name": "quality", "endpoint": "endpoint.scoring", "kind": "model_quality",
             "baseline": None, "ground_truth": "data://fraud/labels/", "metric": "f1", "facets": [],
             "breach": {"above": None, "below": 0.93}, "every_s": 86400, "notify": ["channel.oncall"], "retrains": []},
            {"id": "monitor.fairness", "name": "fairness", "endpoint": "endpoint.scoring", "kind": "bias_drift",
             "baseline": None, "ground_truth": None, "metric": "dpl", "facets": ["country"],
             "breach": {"above": 0.1, "below": None}, "every_s": 86400, "notify": ["channel.pager"], "retrains": []},
            {"id": "monitor.attribution", "name": "attribution", "endpoint": "endpoint.scoring",
             "kind": "feature_attribution_drift", "baseline": "dataset.transactions", "ground_truth": None,
             "metric": "psi", "facets": [], "breach": {"above": 0.25, "below": None}, "every_s": 86400,
             "notify": ["channel.hook"], "retrains": []}],
        "alerts": [
            {"id": "alert.latency", "name": "latency", "endpoint": "endpoint.scoring", "metric": "latency_p99",
             "comparison": "above", "value": 200.0, "unit": "ms", "for_s": 300, "notify": ["channel.oncall"],
             "rollback_for": ["endpoint.scoring"]},
            {"id": "alert.median", "name": "median", "endpoint": "endpoint.scoring", "metric": "latency_p50",
             "comparison": "above", "value": 50.0, "unit": "ms", "for_s": 300, "notify": ["channel.oncall"],
             "rollback_for": []},
            {"id": "alert.errors", "name": "errors", "endpoint": "endpoint.scoring", "metric": "error_rate",
             "comparison": "above", "value": 1.0, "unit": "percent", "for_s": 300,
             "notify": ["channel.oncall", "channel.pager"], "rollback_for": ["endpoint.scoring"]},
            {"id": "alert.traffic", "name": "traffic", "endpoint": "endpoint.scoring", "metric": "throughput",
             "comparison": "below", "value": 1.0, "unit": "rps", "for_s": 900, "notify": ["channel.slack_ml"],
             "rollback_for": []},
            {"id": "alert.shadow_errors", "name": "shadow_errors", "endpoint": "endpoint.shadowed",
             "metric": "error_rate", "comparison": "above", "value": 2.0, "unit": "percent", "for_s": 300,
             "notify": ["channel.oncall"], "rollback_for": ["endpoint.shadowed"]},
            {"id": "alert.cpu", "name": "cpu", "endpoint": "endpoint.experiment", "metric": "cpu",
             "comparison": "above", "value": 90.0, "unit": "percent", "for_s": 600, "notify": ["channel.hook"],
             "rollback_for": []},
            {"id": "alert.memory", "name": "memory", "endpoint": "endpoint.experiment", "metric": "memory",
             "comparison": "above", "value": 85.0, "unit": "percent", "for_s": 600, "notify": ["channel.hook"],
             "rollback_for": []}],
        "channels": [
            {"id": "channel.oncall", "name": "oncall", "type": "email", "address": "oncall@example.com", "secret": None},
            {"id": "channel.slack_ml", "name": "slack_ml", "type": "slack", "address": None, "secret": "slack-ml-token"},
            {"id": "channel.hook", "name": "hook", "type": "webhook", "address": None, "secret": "ops-webhook-url"},
            {"id": "channel.pager", "name": "pager", "type": "pagerduty", "address": None, "secret": "pd-service-key"}],
        "tracking": {"backend": "native", "experiment": "fraud_detection", "uri": None},
        "security": {"encryption": "customer_managed", "network": "private", "kms_key": None,
                     "allowed_egress": [], "data_classification": "pii"},
        "waivers": [],
        "targets": {"vertex": {"project": "acme-ml", "region": "us-central1"}},
        "code": {"sha256": "cd" * 32,
                 "files": [{"path": f"src/{n}.py", "sha256": f"{i}" * 64}
                           for i, n in enumerate(["prepare", "train", "tune", "evaluate"], 1)]},
    }
    return ir


ROLLOUTS = {
    "all_at_once": {"strategy": "all_at_once", "rollback_on": []},
    "canary": {"strategy": "canary", "initial_percent": 5.0, "step_percent": 20.0, "interval_s": 600,
               "rollback_on": ["alert.latency"]},
    "linear": {"strategy": "linear", "step_percent": 10.0, "interval_s": 300, "rollback_on": ["alert.errors"]},
    "blue_green": {"strategy": "blue_green", "bake_s": 600, "rollback_on": ["alert.latency"]},
}


def with_rollout(ir: dict, strategy: str) -> dict:
    out = copy.deepcopy(ir)
    out["endpoints"][0]["rollout"] = copy.deepcopy(ROLLOUTS[strategy])
    return out


def refused_ir() -> dict:
    """Uses every feature the Vertex target refuses (key auth, MLflow, Delta) plus allowed egress."""
    ir = maximal_ir("prod")
    ir["endpoints"][0]["auth"] = "key"
    ir["tracking"] = {"backend": "mlflow", "experiment": "x", "uri": "https://mlflow.example.com"}
    ir["datasets"][1]["format"] = "delta"
    ir["security"]["allowed_egress"] = ["pypi.org"]
    return ir


def minimal_ir() -> dict:
    """A system with one pipeline (process -> train -> register), one model and nothing else."""
    ir = maximal_ir("dev")
    steps = {s["name"]: s for s in ir["pipelines"][0]["steps"]}
    train = dict(steps["train"], depends_on=["step.prepare"])
    prepare = dict(steps["prepare"], depends_on=[], inputs=["dataset.transactions"])
    register = dict(steps["register"], depends_on=["step.train"], metrics_from=None)
    ir["pipelines"][0].update(steps=[prepare, train, register], gates=[], schedule=None, retrain_on=[])
    ir["models"] = [dict(ir["models"][0], gates=[], explain=None, metrics_from=None)]
    for key in ("endpoints", "batch", "monitors", "alerts", "channels", "kpis"):
        ir[key] = []
    ir["datasets"] = ir["datasets"][:1]
    return ir
