"""A hand-built maximal IR (docs/ir.md, schema_version "1") for the Azure ML target tests.

Covers every step kind, rollout strategy, monitor kind, alert metric and channel type, so the
lowering is exercised end to end before (and independently of) the front end. Plain data only.
"""
from __future__ import annotations

import copy

SUB = "00000000-0000-0000-0000-000000000000"

_COMPUTE_CPU = {"class": "cpu.medium", "instance_count": 1, "accelerators": 0}
_COMPUTE_GPU = {"class": "gpu.small", "instance_count": 1, "accelerators": 1}


def _step(sid, kind, depends_on=(), compute=None, outputs=(), **extra):
    base = {"id": f"step.{sid}", "name": sid, "kind": kind, "depends_on": sorted(depends_on),
            "compute": compute, "outputs": list(outputs), "network_isolation": True,
            "max_runtime_s": None}
    base.update(extra)
    return base


def _endpoint(name, model, rollout, *, autoscale=None, capture=None, auth="iam", compute=None):
    return {"id": f"endpoint.{name}", "name": name, "model": model,
            "compute": compute or {"class": "cpu.medium", "instance_count": 2, "accelerators": 0},
            "autoscale": autoscale, "capture": capture, "auth": auth, "rollout": rollout}


CI_VNET = f"/subscriptions/{SUB}/resourceGroups/ci/providers/Microsoft.Network/virtualNetworks/ci-runners"


def maximal_ir(env: str = "prod") -> dict:
    prod = env == "prod"
    steps = [
        _step("validate", "validate", outputs=["data"], data="dataset.transactions",
              checks={"max_null_fraction_percent": 1.0, "min_rows": 10000,
                      "max_duplicate_percent": 0.5, "max_staleness_s": 86400}),
        _step("prepare", "process", ["step.validate"], _COMPUTE_CPU, ["train", "test"],
              script="src/prepare.py", inputs=["step.validate.outputs.data"],
              args={"test_fraction": 0.2, "seed": 7, "mode": "full"}, image=None),
        _step("train", "train", ["step.prepare"], _COMPUTE_GPU, ["model"],
              framework={"name": "xgboost", "version": "1.7"}, entry_point="src/train.py",
              inputs=["step.prepare.outputs.train"],
              hyperparameters={"max_depth": 6, "eta": 0.2, "rounds": 200, "objective": "binary:logistic"},
              image=None),
        _step("tune", "tune", ["step.prepare"], _COMPUTE_CPU, ["model"],
              framework={"name": "sklearn", "version": "1.5"}, entry_point="src/train_sklearn.py",
              inputs=["step.prepare.outputs.train"], hyperparameters={"n_estimators": 100},
              image=None, objective={"metric": "auc", "direction": "maximize"},
              ranges={"max_depth": {"type": "integer", "min": 2, "max": 10, "values": None},
                      "learning_rate": {"type": "continuous", "min": 0.01, "max": 0.3, "values": None},
                      "criterion": {"type": "categorical", "min": None, "max": None,
                                    "values": ["gini", "entropy"]}},
              max_trials=20, parallel_trials=4, max_runtime_s=1800, max_total_runtime_s=7200),
        _step("evaluate", "evaluate", ["step.prepare", "step.train"], _COMPUTE_CPU, ["metrics"],
              model="step.train.outputs.model", data="step.prepare.outputs.test",
              metrics=["f1", "precision", "recall", "auc"], script="src/evaluate.py"),
        _step("fairness", "bias_check", ["step.prepare", "step.train"], _COMPUTE_CPU, ["report"],
              model="step.train.outputs.model", data="step.prepare.outputs.test",
              facets=["country"], label="is_fraud", metric="dpl", max_disparity=0.1),
        _step("explain", "explain", ["step.prepare", "step.train"], _COMPUTE_CPU, ["report"],
              model="step.train.outputs.model", data="step.prepare.outputs.test", method="shap"),
        _step("score_holdout", "batch_transform", ["step.prepare", "step.train"], _COMPUTE_CPU,
              ["predictions"], model="step.train.outputs.model", data="step.prepare.outputs.test",
              output="data://fraud/holdout_scores/"),
        _step("register", "register", ["gate.quality", "step.evaluate", "step.train"], None, [],
              model="model.fraud_scorer", source="step.train.outputs.model",
              metrics_from="step.evaluate"),
    ]
    ir = {
        "schema_version": "1",
        "source": {"path": "specs/fraud_detection.mlspec", "sha256": "ab" * 32},
        "system": {"name": "fraud_detection", "owner": "risk-ml@example.com",
                   "description": "Card-transaction fraud scoring",
                   "labels": {"cost_center": "risk", "data_class": "pii"}},
        "environment": {"name": env, "production": prod,
                        "approval": "required" if prod else "none", "scale": 1.0 if prod else 0.5},
        "kpis": [{"id": "kpi.fraud_losses", "name": "fraud_losses",
                  "description": "Fraud losses avoided per quarter", "goal": ">= 1000000 USD"},
                 {"id": "kpi.false_blocks", "name": "false_blocks",
                  "description": "Legit transactions blocked", "goal": "< 0.1%"}],
        "datasets": [
            {"id": "dataset.transactions", "name": "transactions", "uri": "data://fraud/transactions/",
             "format": "parquet", "version": "2026-11-01",
             "schema": [{"name": "amount", "type": "float", "nullable": False, "role": "feature",
                         "min": 0, "max": None, "allowed": None},
                        {"name": "country", "type": "string", "nullable": False, "role": "feature",
                         "min": None, "max": None, "allowed": ["US", "GB", "DE"]},
                        {"name": "is_fraud", "type": "int", "nullable": False, "role": "label",
                         "min": None, "max": None, "allowed": [0, 1]}],
             "checks": {"max_null_fraction_percent": 1.0, "min_rows": 10000,
                        "max_duplicate_percent": None, "max_staleness_s": None}},
            {"id": "dataset.customers", "name": "customers", "uri": "azureml://datastores/workspaceblobstore/paths/customers/",
             "format": "csv", "version": "3", "schema": [], "checks": {
                 "max_null_fraction_percent": None, "min_rows": None, "max_duplicate_percent": None,
                 "max_staleness_s": None}}],
        "pipelines": [{
            "id": "pipeline.training", "name": "training",
            "schedule": {"cron": "0 3 * * MON", "timezone": "UTC"},
            "retrain_on": ["monitor.input_drift"],
            "on_failure": ["channel.oncall", "channel.slack_ml"],
            "steps": steps,
            "gates": [{"id": "gate.quality", "name": "quality", "depends_on": ["step.evaluate"],
                       "requires": [
                           {"text": "step.evaluate.metrics.f1 >= 0.95", "op": ">=",
                            "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
                            "right": {"number": 0.95}},
                           {"text": "step.evaluate.metrics.f1 >= champion.f1 + 0.01", "op": ">=",
                            "left": {"metric": {"step": "step.evaluate", "name": "f1"}},
                            "right": {"binary": {"op": "+", "left": {"champion": "f1"},
                                                 "right": {"number": 0.01}}}}],
                       "uses_champion": True}]}],
        "models": [
            {"id": "model.fraud_scorer", "name": "fraud_scorer", "description": "Scores card transactions",
             "pipeline": "pipeline.training", "registered_by": "step.register",
             "source": "step.train.outputs.model", "framework": {"name": "xgboost", "version": "1.7"},
             "format": "xgboost", "serve": None, "label": "is_fraud", "task": "binary_classification",
             "approval": {"required": prod, "approvers": ["risk-leads"] if prod else [], "count": 1 if prod else 0},
             "explain": "shap",
             "card": {"intended_use": "Real-time card fraud scoring", "limitations": "EU/US cards only",
                      "ethical_considerations": None},
             "metrics_from": "step.evaluate", "gates": ["gate.quality"]},
            {"id": "model.fraud_challenger", "name": "fraud_challenger", "description": "Challenger",
             "pipeline": "pipeline.training", "registered_by": "step.register",
             "source": "step.tune.outputs.model", "framework": {"name": "sklearn", "version": "1.5"},
             "format": "sklearn", "serve": {"entry_point": "src/serve.py", "requirements": None, "code_dir": "src"},
             "label": "is_fraud", "task": "binary_classification",
             "approval": {"required": prod, "approvers": ["risk-leads", "ml-platform"] if prod else [],
                          "count": 2 if prod else 0},
             "explain": None, "card": {"intended_use": "A/B challenger", "limitations": None,
                                       "ethical_considerations": None},
             "metrics_from": None, "gates": []}],
        "endpoints": [
            _endpoint("scoring", "model.fraud_scorer",
                      {"strategy": "canary", "initial_percent": 5.0, "step_percent": 20.0,
                       "interval_s": 600, "rollback_on": ["alert.latency", "alert.errors"]},
                      autoscale={"min": 2, "max": 10, "target_rps": 100, "target_cpu_percent": None},
                      capture={"percent": 20.0}),
            _endpoint("linear", "model.fraud_scorer",
                      {"strategy": "linear", "step_percent": 10.0, "interval_s": 300, "rollback_on": []},
                      autoscale={"min": 1, "max": 4, "target_rps": None, "target_cpu_percent": 70.0}),
            _endpoint("bluegreen", "model.fraud_scorer",
                      {"strategy": "blue_green", "bake_s": 600, "rollback_on": ["alert.bg_errors"]}),
            _endpoint("shadowed", "model.fraud_scorer",
                      {"strategy": "shadow", "sample_percent": 20.0, "duration_s": 604800,
                       "promote": "blue_green", "rollback_on": []}, capture={"percent": 100.0}),
            _endpoint("abtest", "model.fraud_scorer",
                      {"strategy": "ab_test", "variants": [
                          {"name": "a", "model": "model.fraud_scorer", "percent": 50.0},
                          {"name": "b", "model": "model.fraud_challenger", "percent": 50.0}],
                       "rollback_on": []}),
            _endpoint("simple", "model.fraud_challenger", {"strategy": "all_at_once", "rollback_on": []},
                      compute={"class": "gpu.small", "instance_count": 1, "accelerators": 1}),
        ],
        "batch": [{"id": "batch.nightly", "name": "nightly", "model": "model.fraud_scorer",
                   "data": "dataset.customers", "output": "data://fraud/nightly_scores/",
                   "schedule": {"cron": "0 1 * * *", "timezone": "UTC"},
                   "compute": {"class": "cpu.large", "instance_count": 2, "accelerators": 0}}],
        "monitors": [
            {"id": "monitor.input_drift", "name": "input_drift", "endpoint": "endpoint.scoring",
             "kind": "data_drift", "baseline": "dataset.transactions", "ground_truth": None,
             "metric": "psi", "facets": [], "breach": {"above": 0.2, "below": None},
             "every_s": 3600, "notify": ["channel.oncall", "channel.slack_ml"],
             "retrains": ["pipeline.training"]},
            {"id": "monitor.output_drift", "name": "output_drift", "endpoint": "endpoint.scoring",
             "kind": "prediction_drift", "baseline": "dataset.transactions", "ground_truth": None,
             "metric": "js", "facets": [], "breach": {"above": 0.1, "below": None},
             "every_s": 86400, "notify": ["channel.oncall"], "retrains": []},
            {"id": "monitor.quality", "name": "quality", "endpoint": "endpoint.scoring",
             "kind": "model_quality", "baseline": None, "ground_truth": "data://fraud/labels/",
             "metric": "f1", "facets": [], "breach": {"above": None, "below": 0.93},
             "every_s": 86400, "notify": ["channel.oncall"], "retrains": []},
            {"id": "monitor.attribution", "name": "attribution", "endpoint": "endpoint.scoring",
             "kind": "feature_attribution_drift", "baseline": "dataset.transactions",
             "ground_truth": None, "metric": "ndcg", "facets": [],
             "breach": {"above": None, "below": 0.9}, "every_s": 604800,
             "notify": ["channel.pager"], "retrains": []},
            {"id": "monitor.fairness", "name": "fairness", "endpoint": "endpoint.scoring",
             "kind": "bias_drift", "baseline": "dataset.transactions", "ground_truth": None,
             "metric": "dpl", "facets": ["country"], "breach": {"above": 0.05, "below": None},
             "every_s": 86400, "notify": ["channel.oncall", "channel.hook"], "retrains": []},
        ],
        "alerts": [
            {"id": f"alert.{n}", "name": n, "endpoint": ep, "metric": m, "comparison": cmp,
             "value": v, "unit": u, "for_s": 300, "notify": notify, "rollback_for": rb}
            for n, ep, m, cmp, v, u, notify, rb in [
                ("latency", "endpoint.scoring", "latency_p99", "above", 200.0, "ms",
                 ["channel.oncall", "channel.pager"], ["endpoint.scoring"]),
                ("errors", "endpoint.scoring", "error_rate", "above", 1.0, "percent",
                 ["channel.oncall", "channel.hook"], ["endpoint.scoring"]),
                ("bg_errors", "endpoint.bluegreen", "error_rate", "above", 2.0, "percent",
                 ["channel.oncall"], ["endpoint.bluegreen"]),
                ("p50", "endpoint.scoring", "latency_p50", "above", 50.0, "ms", ["channel.slack_ml"], []),
                ("traffic", "endpoint.scoring", "throughput", "below", 1.0, "rps", ["channel.oncall"], []),
                ("cpu", "endpoint.linear", "cpu", "above", 90.0, "percent", ["channel.oncall"], []),
                ("memory", "endpoint.linear", "memory", "above", 85.0, "percent", ["channel.oncall"], []),
            ]],
        "channels": [
            {"id": "channel.oncall", "name": "oncall", "type": "email", "address": "oncall@example.com", "secret": None},
            {"id": "channel.slack_ml", "name": "slack_ml", "type": "slack", "address": None, "secret": "slack-ml-url"},
            {"id": "channel.hook", "name": "hook", "type": "webhook", "address": None, "secret": "ops-webhook"},
            {"id": "channel.pager", "name": "pager", "type": "pagerduty", "address": None, "secret": "pd-key"},
        ],
        "tracking": {"backend": "mlflow", "experiment": "fraud_detection", "uri": None},
        "security": {"encryption": "customer_managed", "network": "private", "kms_key": None,
                     "allowed_egress": ["pypi.org", "files.pythonhosted.org"], "data_classification": "pii"},
        "waivers": [],
        "targets": {"azureml": {"subscription": SUB, "resource_group": "ml-prod", "workspace": "ml",
                                "region": "eastus",
                                **({"approver_object_ids": ["22222222-2222-2222-2222-222222222222"],
                                    "runner_subnet_cidr": "10.42.8.0/24", "peer_vnet_ids": [CI_VNET]}
                                   if prod else {})}},
        "code": {"sha256": "cd" * 32, "files": [
            {"path": p, "sha256": "ef" * 32}
            for p in ("src/evaluate.py", "src/prepare.py", "src/serve.py", "src/train.py", "src/train_sklearn.py")]},
    }
    return ir


def maximal_irs() -> list[dict]:
    """One IR per environment, declaration order (dev, prod)."""
    return [maximal_ir("dev"), maximal_ir("prod")]


def minimal_ir(env: str = "default") -> dict:
    """The smallest useful system: one dataset, a train + register pipeline, one model, no serving."""
    ir = maximal_ir("prod")
    ir = copy.deepcopy(ir)
    ir["environment"] = {"name": env, "production": False, "approval": "none", "scale": 1.0}
    p = ir["pipelines"][0]
    p["schedule"], p["retrain_on"], p["gates"] = None, [], []
    keep = {"step.validate", "step.prepare", "step.train", "step.register"}
    p["steps"] = [s for s in p["steps"] if s["id"] in keep]
    p["steps"][-1]["depends_on"] = ["step.train"]
    p["steps"][-1]["metrics_from"] = None
    ir["models"] = [dict(ir["models"][0], metrics_from=None, gates=[], explain=None,
                         approval={"required": False, "approvers": [], "count": 0})]
    for k in ("endpoints", "batch", "monitors", "alerts", "channels", "kpis"):
        ir[k] = []
    ir["tracking"] = {"backend": "native", "experiment": "fraud_detection", "uri": None}
    ir["security"]["allowed_egress"] = []
    ir["system"]["labels"] = {}
    return ir
