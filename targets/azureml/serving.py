"""Serving and operations: online endpoints, deployments, monitors, alerts and channels.

Input: one environment's IR plus ``Env`` (lower.py). Output: (a) Azure ML CLI v2 YAML artifact
models for endpoints, deployments and monitor schedules, (b) the serving part of the stack data
the fixed Pulumi program reads. No I/O, no SDK imports.

Docs: https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-endpoint-online
      https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-deployment-managed-online
      https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-monitor
      https://learn.microsoft.com/en-us/azure/machine-learning/monitor-azure-machine-learning-reference
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from mlspec.compiler.check.serving import MONITOR_METRICS
from mlspec.targets.base import Diagnostic, local_name, pct

from . import naming

SCHEMA_ENDPOINT = "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
SCHEMA_DEPLOYMENT = "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json"
SCHEMA_MONITOR = "http://azureml/sdk-2-0/Schedule.json"

#: portable compute class -> managed online endpoint SKU
# https://learn.microsoft.com/en-us/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list
SERVING_SKU = {
    "cpu.small": "Standard_DS2_v2", "cpu.medium": "Standard_DS3_v2", "cpu.large": "Standard_DS4_v2",
    "cpu.xlarge": "Standard_DS5_v2", "memory.large": "Standard_E8s_v3", "gpu.small": "Standard_NC4as_T4_v3",
    "gpu.medium": "Standard_NC8as_T4_v3", "gpu.large": "Standard_NC24ads_A100_v4",
}

#: `accelerators = N` on an endpoint's gpu class -> a managed online endpoint SKU with N GPUs of that kind
#: https://learn.microsoft.com/en-us/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list
SERVING_GPU_SKU = {
    "gpu.small": {1: "Standard_NC4as_T4_v3", 4: "Standard_NC64as_T4_v3"},
    "gpu.medium": {1: "Standard_NC8as_T4_v3"},
    "gpu.large": {1: "Standard_NC24ads_A100_v4", 2: "Standard_NC48ads_A100_v4", 4: "Standard_NC96ads_A100_v4",
                  8: "Standard_ND96asr_v4"},
}


def serving_sku(compute: dict, where: str, diags: list[Diagnostic]) -> str:
    """The deployment's instance type: the class's SKU, or the SKU with `accelerators` GPUs of the
    class's kind; a count no managed-endpoint SKU has is refused (E505)."""
    cls, n = compute["class"], int(compute.get("accelerators") or 0)
    if not cls.startswith("gpu.") or n <= 1:
        return SERVING_SKU[cls]
    sku = SERVING_GPU_SKU.get(cls, {}).get(n)
    if sku is None:
        counts = sorted(SERVING_GPU_SKU.get(cls, {}))
        diags.append(Diagnostic("E505", f"Azure ML managed online endpoints have no instance type with {n} GPUs "
                                f"of the `{cls}` kind", where,
                                hint="use `accelerators` = " + " or ".join(str(c) for c in counts)
                                     + f" with `{cls}`, or `gpu.large` (1, 2, 4 or 8 A100)"))
        return SERVING_SKU[cls]
    return sku


#: IR drift metric -> (CLI v2 YAML name, REST enum name)
DRIFT_METRICS = {
    "psi": ("population_stability_index", "PopulationStabilityIndex"),
    "js": ("jensen_shannon_distance", "JensenShannonDistance"),
    "jensen_shannon": ("jensen_shannon_distance", "JensenShannonDistance"),
    "ks": ("two_sample_kolmogorov_smirnov_test", "TwoSampleKolmogorovSmirnovTest"),
    "normalized_wasserstein": ("normalized_wasserstein_distance", "NormalizedWassersteinDistance"),
    # Azure ML computes only the normalized distance: `wasserstein` is substituted (W505)
    "wasserstein": ("normalized_wasserstein_distance", "NormalizedWassersteinDistance"),
}
ATTRIBUTION_METRICS = {"ndcg": ("normalized_discounted_cumulative_gain", "NormalizedDiscountedCumulativeGain")}

#: IR alert metric -> (Azure Monitor metric, aggregation, scope, multiplier)
# https://learn.microsoft.com/en-us/azure/machine-learning/monitor-azure-machine-learning-reference#supported-metrics-for-microsoftmachinelearningservicesworkspacesonlineendpoints
ALERT_METRICS = {
    "latency_p50": ("RequestLatency_P50", "Average", "endpoint", 1),
    "latency_p99": ("RequestLatency_P99", "Average", "endpoint", 1),
    "throughput": ("RequestsPerMinute", "Average", "endpoint", 60),
    "cpu": ("CpuUtilizationPercentage", "Average", "deployment", 1),
    "memory": ("MemoryUtilizationPercentage", "Average", "deployment", 1),
    "error_rate": ("AmlOnlineEndpointTrafficLog", "Count", "logs", 1),  # log query: 5xx share in percent
}
#: Azure Monitor metric-alert window sizes (ISO 8601), ascending
WINDOWS = [(60, "PT1M"), (300, "PT5M"), (900, "PT15M"), (1800, "PT30M"), (3600, "PT1H"),
           (21600, "PT6H"), (43200, "PT12H"), (86400, "P1D")]



def window(seconds: int) -> str:
    """Smallest Azure window that covers `seconds` (the IR's `for`)."""
    for s, iso in WINDOWS:
        if seconds <= s:
            return iso
    return WINDOWS[-1][1]


def recurrence(every_s: int) -> tuple[str, int]:
    """Seconds -> (frequency, interval) for Azure ML recurrence triggers."""
    for unit, secs in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if every_s % secs == 0:
            return unit, every_s // secs
    return "minute", max(1, every_s // 60)


def _whole(value: float, what: str, ir_id: str, diags: list[Diagnostic]) -> int:
    if not float(value).is_integer():
        diags.append(Diagnostic("E505", f"endpoint traffic on Azure ML takes whole percentages; {what} is {value}%",
                                ir_id, hint="use a whole percentage such as `5%`"))
    return int(round(value))


def rollout_plan(endpoint: dict, env, diags: list[Diagnostic]) -> dict:
    """IR rollout -> the program's traffic plan (kind single | two_slot | variants)."""
    r, eid = endpoint["rollout"], endpoint["id"]
    s = r["strategy"]
    if s == "all_at_once":
        # with rollback_on, the new version takes 100% in the idle slot so the previous one stays
        # deployed (at 0%) for the rollback workflow; without it, one deployment updated in place
        return {"kind": "two_slot" if r.get("rollback_on") else "single", "strategy": s, "initial_percent": 100,
                "step_percent": 100, "interval_s": 0, "mirror_percent": 0}
    if s == "ab_test":
        variants = [{"deployment": naming.kebab(f"ab-{v['name']}"), "model": local_name(v["model"]),
                     "percent": _whole(v["percent"], f"variant `{v['name']}`", eid, diags)}
                    for v in r["variants"]]
        return {"kind": "variants", "strategy": s, "variants": variants}
    plan = {"kind": "two_slot", "strategy": s, "mirror_percent": 0}
    if s == "canary":
        plan.update(initial_percent=_whole(r["initial_percent"], "the canary's initial share", eid, diags),
                    step_percent=_whole(r["step_percent"], "the canary step", eid, diags), interval_s=r["interval_s"])
    elif s == "linear":
        step = _whole(r["step_percent"], "the linear step", eid, diags)
        plan.update(initial_percent=step, step_percent=step, interval_s=r["interval_s"])
    elif s == "blue_green":
        plan.update(initial_percent=0, step_percent=100, interval_s=r["bake_s"])
    else:  # shadow
        plan.update(initial_percent=0, step_percent=100, interval_s=r["duration_s"],
                    mirror_percent=_whole(r["sample_percent"], "the shadow sample", eid, diags),
                    promote=r.get("promote"))
    return plan


def endpoint_models(endpoint: dict) -> list[str]:
    names = [local_name(endpoint["model"])]
    for v in endpoint["rollout"].get("variants") or []:
        if local_name(v["model"]) not in names:
            names.append(local_name(v["model"]))
    return names


FIRST_SLOT = "blue"
SCORING_SCRIPT = "_mlspec/score.py"


def monitored_deployment(e: dict, plan: dict) -> str | None:
    """The deployment a monitor of this endpoint watches: fixed for A/B endpoints (the variant
    serving the endpoint's model, else the first), the released slot otherwise (None)."""
    if plan["kind"] != "variants":
        return None
    own = local_name(e["model"])
    return next((v["deployment"] for v in plan["variants"] if v["model"] == own), plan["variants"][0]["deployment"])


def serving_of(env, model: dict, e: dict, folder: str) -> dict | None:
    """None for an MLflow model (no-code deployment); else the serving environment, config file
    and scoring script a custom model needs on a managed online deployment."""
    loading = env.loading(model)
    if loading["format"] == "mlflow" and not loading["serve"]:
        return None
    if loading["format"] is None and not loading["serve"]:
        msg = (f"model `{model['name']}` is served by endpoint `{e['name']}` but has no `format` or `serve` "
               "handler: Azure ML can only load it with a scoring script that knows its format")
        if str(env.ir.get("schema_version", "1")) >= "2":
            env.diags.append(Diagnostic("E505", msg, model["id"], hint='set `format = "sklearn"` (or xgboost, '
                                        'mlflow, torchscript, onnx) or a `serve` handler on the model'))
        else:
            env.notes.append(f"azureml/{env.name}: {msg}")
    fw = model["framework"] if model["framework"]["name"] != "custom" else None
    from .jobs import FORMAT_PACKAGES
    ref = env.register_environment(fw, tools=False, gpu=env.is_gpu(e["compute"]), serve=True,
                                   extra=tuple(FORMAT_PACKAGES.get(loading["format"] or "", [])),
                                   requirements=serve_requirements(env, model))
    rel = f"_mlspec/config/{env.name}/serving/{model['name']}.json"
    return {"environment": ref, "environment_id": ref[len("azureml:"):], "config_rel": rel,
            "config_path": f"code/{rel}",
            "config": {"model": env.model_name(model["name"]), "model_loading": loading}}


def serve_requirements(env, model: dict) -> tuple[str, ...]:
    """The requirements of a model's `serve` handler (its `requirements` file, else the system's),
    as pip requirements for the serving environment's conda file: the workspace installs them
    when it builds the image (from PyPI, through the managed network's image-build rules), since
    a deployment has no egress to install anything when it starts. Each line must be a PEP 508
    requirement (`packaging` judges) naming a package index project: pip options and direct
    URL references are refused (E505)."""
    path = ((model.get("serve") or {}).get("requirements")) or None
    if not path:
        return ()
    data = env.ctx.code_files.get(path)
    if data is None:
        env.diags.append(Diagnostic("E505", f"the serving requirements `{path}` of model `{model['name']}` were not "
                                    "read by the front end", model["id"],
                                    hint="compile with `mlspec compile` (it ships the spec's code files)"))
        return ()
    from packaging.requirements import InvalidRequirement, Requirement

    out: list[str] = []
    text = data.decode("utf-8", "replace").replace("\\\n", "")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        problem = None
        if line.startswith("-"):
            problem = "is a pip option; the serving environment lists packages only"
        else:
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                problem = "is not a valid requirement (%s)" % str(exc).splitlines()[0]
            else:
                if req.url:
                    problem = "is a direct URL reference; the image build reaches PyPI only"
        if problem:
            env.diags.append(Diagnostic("E505", f"`{path}` line {n}: `{line}` {problem}", model["id"],
                                        hint="write one `name` or `name==version` per line (PyPI projects)"))
            continue
        out.append(line)
    return tuple(out)


def lower_endpoint(env, e: dict, diags: list[Diagnostic]) -> tuple[list, dict]:
    """Endpoint -> (YAML artifacts, stack-data entry)."""
    plan = rollout_plan(e, env, diags)
    name = env.endpoint_name(e)
    key = e["name"]
    folder = f"{env.name}/endpoints/{key}"
    arts: list[tuple[str, str, Any, str]] = []
    if e["auth"] != "iam":
        diags.append(Diagnostic("E501", "`auth = key` cannot be honoured: Azure ML endpoints use Entra ID "
                                "token auth only (MLS-AZ-070 is not waivable)", e["id"],
                                hint="write `auth = iam`"))
    sku = serving_sku(e["compute"], e["id"], diags)
    capture = e["capture"]["percent"] / 100.0 if e["capture"] else None
    if capture is None and any(m["endpoint"] == e["id"] for m in env.ir["monitors"]):
        capture = 1.0  # Azure ML monitors read the deployment's collected data (see notes)
    # the first release as CLI files: endpoint.yml (created first, so it names no deployment),
    # one deployment file per slot, then traffic.yml (`az ml online-endpoint update --file`) once
    # the deployments exist. A first release has no previous version: one slot (`blue`) takes 100%.
    if plan["kind"] == "variants":
        deps = [(v["deployment"], v["model"]) for v in plan["variants"]]
        traffic = {v["deployment"]: v["percent"] for v in plan["variants"]}
    else:
        deps, traffic = [(FIRST_SLOT, local_name(e["model"]))], {FIRST_SLOT: 100}
    ident = env.identity_resource_id(f"endpoint-{key}")
    ep_yaml = {"$schema": SCHEMA_ENDPOINT, "name": name,
               "description": env.describe(f"endpoint `{key}` ({plan['strategy']} rollout)"),
               "auth_mode": "aad_token", "public_network_access": "disabled",
               "identity": {"type": "user_assigned", "user_assigned_identities": [{"resource_id": ident}]},
               "tags": env.tags}
    arts.append((f"{folder}/endpoint.yml", "azureml-online-endpoint", ep_yaml, "yaml"))
    arts.append((f"{folder}/traffic.yml", "azureml-online-endpoint", dict(ep_yaml, traffic=traffic), "yaml"))
    serving: dict[str, dict | None] = {}
    for dep_name, model in deps:
        mspec = env.models[f"model.{model}"]
        serve = serving_of(env, mspec, e, folder)
        serving[model] = serve
        if serve and serve["config_path"] not in {a[0] for a in arts}:
            arts.append((serve["config_path"], "step-config", serve["config"], "json"))
        d = {"$schema": SCHEMA_DEPLOYMENT, "name": dep_name, "endpoint_name": name,
             "description": (f"{model}: deploy the approved version with `--set model=azureml:"
                             f"{env.model_name(model)}:<version>` as printed by `mlspec approve`"),
             "instance_type": sku, "instance_count": e["compute"]["instance_count"],
             "egress_public_network_access": "disabled", "app_insights_enabled": True,
             "request_settings": {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1},
             "liveness_probe": {"initial_delay": 10, "period": 10, "timeout": 2, "failure_threshold": 30,
                                "success_threshold": 1},
             "tags": env.tags}
        if serve:  # not an MLflow model: mlspec's scoring script in a serving environment
            d["environment"] = serve["environment"]
            d["code_configuration"] = {"code": "../../../code", "scoring_script": SCORING_SCRIPT}
            d["environment_variables"] = {"MLSPEC_SERVE_CONFIG": serve["config_rel"]}
        if capture:
            d["data_collector"] = {"sampling_rate": capture, "rolling_rate": "hour",
                                   "collections": {"model_inputs": {"enabled": "true"},
                                                   "model_outputs": {"enabled": "true"}}}
        arts.append((f"{folder}/{dep_name}-deployment.yml", "azureml-online-deployment", d, "yaml"))
    autoscale = None
    if e["autoscale"]:
        a, rules = e["autoscale"], []
        if a.get("target_rps") is not None:
            rpm = a["target_rps"] * 60
            rules += [{"metric": "RequestsPerMinute", "on": "endpoint", "operator": "GreaterThan",
                       "threshold": rpm, "direction": "Increase"},
                      {"metric": "RequestsPerMinute", "on": "endpoint", "operator": "LessThan",
                       "threshold": rpm / 2, "direction": "Decrease"}]
        if a.get("target_cpu_percent") is not None:
            rules += [{"metric": "CpuUtilizationPercentage", "on": "deployment", "operator": "GreaterThan",
                       "threshold": a["target_cpu_percent"], "direction": "Increase"},
                      {"metric": "CpuUtilizationPercentage", "on": "deployment", "operator": "LessThan",
                       "threshold": a["target_cpu_percent"] / 2, "direction": "Decrease"}]
        autoscale = {"min": a["min"], "max": a["max"], "rules": rules}
    r = e["rollout"]
    controller = None
    if plan["kind"] == "two_slot" and r["strategy"] != "all_at_once" and \
            not (r["strategy"] == "shadow" and not r.get("promote")):
        controller = {"name": naming.kebab(f"wf-rollout-{name}")[:80], "interval_s": max(60, plan["interval_s"])}
    rollback = None
    if r.get("rollback_on"):
        rollback = {"name": naming.kebab(f"wf-rollback-{name}")[:80],
                    "group_name": naming.kebab(f"ag-rollback-{name}")[:260],
                    "short_name": ("rb" + naming.kebab(key).replace("-", ""))[:12]}
    entry = {"key": key, "name": name, "identity": f"endpoint-{key}", "model": local_name(e["model"]),
             "models": endpoint_models(e), "description": env.describe(f"endpoint `{key}`"),
             "instance_type": sku, "instance_count": e["compute"]["instance_count"], "capture_rate": capture,
             "autoscale": autoscale, "plan": plan, "controller": controller, "rollback": rollback,
             "monitored_deployment": monitored_deployment(e, plan),
             "serving": {m: None if not v else {"environment": v["environment_id"], "config": v["config_rel"],
                                               "scoring_script": SCORING_SCRIPT} for m, v in serving.items()}}
    return arts, entry


def lower_alert(env, a: dict, diags: list[Diagnostic]) -> dict:
    """Metric alert entry, or a log-alert entry (scope `logs`) for error rates."""
    metric, agg, scope, mult = ALERT_METRICS[a["metric"]]
    groups = [local_name(c) for c in a["notify"]] + [f"rollback-{local_name(e)}" for e in a["rollback_for"]]
    if scope == "logs":
        name = env.endpoint_name(env.endpoints[a["endpoint"]])
        return {"key": a["name"], "name": naming.kebab(f"{env.prefix}-{a['name']}"), "scope": "logs",
                "query": ("AmlOnlineEndpointTrafficLog | where EndpointName == '" + name + "' "
                          "| summarize total = count(), errors = countif(toint(ResponseCode) >= 500) "
                          "| extend error_percent = iif(total == 0, 0.0, 100.0 * errors / total)"),
                "measure": "error_percent", "aggregation": "Maximum",
                "operator": "GreaterThan" if a["comparison"] == "above" else "LessThan",
                "threshold": a["value"], "window": window(a["for_s"]),
                "severity": 1 if a["rollback_for"] else 2, "groups": groups,
                "description": f"{a['metric']} {a['comparison']} {pct(a['value'])} {a['unit']} for {a['for_s']}s"}
    return {"key": a["name"], "name": naming.kebab(f"{env.prefix}-{a['name']}"), "endpoint": local_name(a["endpoint"]),
            "metric": metric, "aggregation": agg, "scope": scope,
            "operator": "GreaterThan" if a["comparison"] == "above" else "LessThan",
            "threshold": a["value"] * mult, "window": window(a["for_s"]),
            "severity": 1 if a["rollback_for"] else 2, "groups": groups,
            "description": f"{a['metric']} {a['comparison']} {pct(a['value'])} {a['unit']} for {a['for_s']}s"}


def lower_channel(env, c: dict) -> dict:
    return {"key": c["name"], "type": c["type"], "address": c["address"], "secret": c["secret"],
            "group_name": naming.kebab(f"ag-{env.prefix}-{c['name']}")[:260],
            "short_name": naming.kebab(c["name"]).replace("-", "")[:12] or "mlspec"}


def _signal(env, mo: dict, diags: list[Diagnostic]) -> dict | None:
    kind, metric = mo["kind"], mo["metric"]
    table = ATTRIBUTION_METRICS if kind == "feature_attribution_drift" else DRIFT_METRICS
    if metric not in table:
        # suggest only what the language accepts for this monitor kind and Azure ML computes
        fits = sorted(m for m in table if m in MONITOR_METRICS.get(kind, ()))
        diags.append(Diagnostic("E505", f"`{kind}` signals on Azure ML have no metric `{metric}`", mo["id"],
                                hint=("use one of " + ", ".join(f"`{m}`" for m in fits)) if fits else
                                "declare this monitor only for targets that compute it"))
        return None
    if metric == "wasserstein":
        diags.append(Diagnostic("W505", f"Azure ML computes the normalized Wasserstein distance; monitor "
                                        f"`{mo['name']}` uses it for `wasserstein`", mo["id"],
                                hint="write `metric = normalized_wasserstein` to say so", severity="warning"))
    threshold = mo["breach"]["above"] if mo["breach"]["above"] is not None else mo["breach"]["below"]
    ds = env.datasets.get(mo["baseline"]) if mo["baseline"] else None
    if ds is not None and ds["format"] not in MLTABLE_READ:
        diags.append(Diagnostic("E505", f"monitor `{mo['name']}`: Azure ML monitors read the baseline as an MLTable, "
                                f"which has no reader for `{ds['format']}` data (dataset `{ds['name']}`)", mo["id"],
                                hint="use a baseline dataset in " + ", ".join(f"`{f}`" for f in MLTABLE_READ)))
        return None
    label = next((c["name"] for c in (ds or {}).get("schema", []) if c["role"] == "label"), None)
    return {"name": mo["name"], "kind": kind, "metric_yaml": table[metric][0], "metric": table[metric][1],
            "threshold": threshold, "reference": reference_table(env, ds) if ds else None,
            "target_column": label}


#: dataset format -> MLTable read transformation (https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-mltable)
MLTABLE_READ = {"parquet": {"read_parquet": {"include_path_column": False}},
                "delta": {"read_delta_lake": {}},
                "csv": {"read_delimited": {"delimiter": ",", "header": "all_files_same_headers", "encoding": "utf8"}},
                "jsonl": {"read_json_lines": {"encoding": "utf8"}}}


def reference_table(env, ds: dict) -> dict:
    """Monitors need tabular reference data (MLTable), not a plain uri_folder: an MLTable file
    over the baseline dataset, shipped in the build (CLI: a local `mltable` input) and registered
    by `mlspec apply` as data asset `<name>:<version>` (the Pulumi program's reference)."""
    uri = env.uri(ds["uri"])
    path = {"folder": uri} if uri.endswith("/") else {"file": uri}
    read = MLTABLE_READ[ds["format"]]
    doc = {"$schema": "https://azuremlschemas.azureedge.net/latest/MLTable.schema.json",
           "type": "mltable", "paths": [path], "transformations": [read]}
    name = naming.asset(env.prefix_snake, "reference", ds["name"])
    version = "1-" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]  # its own content
    return {"uri": f"azureml:{name}:{version}", "type": "mltable", "asset": name,
            "version": version, "folder": f"{env.name}/monitors/reference/{ds['name']}", "mltable": doc}


_SIGNAL_TYPES = {"data_drift": "DataDrift", "prediction_drift": "PredictionDrift",
                 "feature_attribution_drift": "FeatureAttributionDrift"}
_YAML_TYPES = {"data_drift": "data_drift", "prediction_drift": "prediction_drift",
               "feature_attribution_drift": "feature_attribution_drift"}


def lower_monitor(env, mo: dict, diags: list[Diagnostic]) -> tuple[list, dict | None]:
    """Signal monitors -> monitor schedule YAML + stack entry. model_quality is a pipeline (lower.py)."""
    if mo["kind"] not in _SIGNAL_TYPES:
        return [], None
    sig = _signal(env, mo, diags)
    if sig is None:
        return [], None
    endpoint = env.endpoints[mo["endpoint"]]
    ep_name = env.endpoint_name(endpoint)
    deployment = monitored_deployment(endpoint, rollout_plan(endpoint, env, []))
    freq, interval = recurrence(mo["every_s"])
    emails = [env.channels[c]["address"] for c in mo["notify"] if env.channels[c]["type"] == "email"]
    yaml_signal: dict[str, Any] = {"type": _YAML_TYPES[mo["kind"]], "alert_enabled": True}
    if sig["reference"]:
        ref: dict[str, Any] = {"input_data": {"path": f"./reference/{local_name(mo['baseline'])}",
                                              "type": "mltable"}, "data_context": "training"}
        if sig["target_column"] and mo["kind"] != "prediction_drift":
            ref["data_column_names"] = {"target_column": sig["target_column"]}
        yaml_signal["reference_data"] = ref
    if mo["kind"] == "feature_attribution_drift":
        yaml_signal["metric_thresholds"] = {sig["metric_yaml"]: sig["threshold"]}
    else:
        yaml_signal["metric_thresholds"] = {"numerical": {sig["metric_yaml"]: sig["threshold"]}}
    name = naming.asset(env.prefix_snake, "monitor", mo["name"])
    schedule = {"$schema": SCHEMA_MONITOR, "name": name, "display_name": f"{mo['name']} ({env.name})",
                "description": env.describe(f"monitor `{mo['name']}` on endpoint `{endpoint['name']}`"),
                "trigger": {"type": "recurrence", "frequency": freq, "interval": interval},
                "create_monitor": {
                    "compute": {"instance_type": "standard_e4s_v3", "runtime_version": "3.4"},
                    "monitoring_target": {"ml_task": env.task_of(mo), "endpoint_deployment_id":
                                          f"azureml:{ep_name}:{deployment or FIRST_SLOT}"},
                    "monitoring_signals": {mo["name"]: yaml_signal}}}
    if emails:
        schedule["create_monitor"]["alert_notification"] = {"emails": emails}
    arts = [(f"{env.name}/monitors/{mo['name']}.yml", "azureml-schedule", schedule, "yaml")]
    if sig["reference"]:
        arts.append((f"{sig['reference']['folder']}/MLTable", "mltable", sig["reference"]["mltable"], "yaml"))
    window_iso = {"week": "P7D", "day": "P1D", "hour": "P1D", "minute": "P1D"}[freq]
    entry = {"key": mo["name"], "name": name, "display_name": schedule["display_name"],
             "description": schedule["description"], "endpoint": endpoint["name"],
             "model": local_name(endpoint["model"]), "deployment": deployment,
             "frequency": freq.capitalize(), "interval": interval, "task": env.task_of(mo).capitalize(),
             "emails": emails, "tags": {"mlspec-monitor": mo["id"]},
             "signals": [{"name": mo["name"], "type": _SIGNAL_TYPES[mo["kind"]], "metric": sig["metric"],
                          "threshold": sig["threshold"],
                          "reference": {k: sig["reference"][k] for k in ("uri", "type", "asset", "version")}
                          if sig["reference"] else None,
                          "target_column": sig["target_column"], "window": window_iso,
                          "production_asset": "model_outputs" if mo["kind"] == "prediction_drift" else "model_inputs",
                          "production_context": "ModelOutputs" if mo["kind"] == "prediction_drift" else "ModelInputs"}]}
    return arts, entry
