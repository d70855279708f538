"""IR (one dict per environment) -> SageMaker artifact models.

Input: the checked IRs of every environment (docs/ir.md) and the LowerContext.
Output: a Lowering -- per environment the SageMaker pipeline definitions, IAM policy
documents, Step Functions deploy definitions, model cards, the dashboard and the stack data
file the fixed Pulumi program reads (`pulumi/stacks/<env>.json`), plus report notes and
diagnostics. Pure: no I/O, no cloud SDK, no Pulumi (the program text is passed in by the
caller). One `lower_<kind>` function per IR collection, dispatched by LOWERERS.

Deploy-time values appear as `${token}` strings that the program resolves:
`${account}`, `${region}`, `${partition}`, `${kms_key_arn}`, `${bucket:<key>}`,
`${bucket_arn:<key>}`, `${role:<key>}`, `${subnet:<i>}`, `${security_group:<i>}`,
`${topic:<key>}`, `${state_machine:<key>}`, `${pipeline:<key>}`.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import unicodedata
from typing import Any, Callable

from mlspec.targets.base import Diagnostic, Lowering, LowerContext, local_name, pct, waived
from mlspec.targets.sagemaker import deploy, iam, images, naming, storage
from mlspec.targets.sagemaker.pipeline import PRE_TRAINING_BIAS, PipelineBuilder

#: mlspec's own helper scripts (templates/scripts/), shipped as code/_mlspec/<name>
HELPERS = ("launch.py", "validate_data.py", "gate_values.py", "bias_limits.py", "prediction_record.py", "track_mlflow.py",
           "drift_threshold.py", "baseline_features.py", "serve_adapter.py", "package_model.py")

#: portable compute class -> instance type, per docs/language.md#compute-classes (tested against it)
INSTANCE_TYPES = {"cpu.small": "ml.m5.large", "cpu.medium": "ml.m5.xlarge", "cpu.large": "ml.m5.2xlarge",
                  "cpu.xlarge": "ml.m5.4xlarge", "gpu.small": "ml.g4dn.xlarge", "gpu.medium": "ml.g5.2xlarge",
                  "gpu.large": "ml.g6e.2xlarge", "memory.large": "ml.r5.2xlarge"}
INTERFACE_ENDPOINTS = ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "sts", "kms",
                       "monitoring", "states")
BUCKETS = (("logs", None), ("artifacts", None), ("data", None), ("capture", 90), ("monitoring", 180))
ALERT_METRICS = {  # IR metric -> (namespace, metric, statistic, scale of the IR value)
    "latency_p50": ("AWS/SageMaker", "ModelLatency", "p50", 1000.0),   # ms -> microseconds
    "latency_p99": ("AWS/SageMaker", "ModelLatency", "p99", 1000.0),
    "cpu": ("/aws/sagemaker/Endpoints", "CPUUtilization", "Average", 1.0),
    "memory": ("/aws/sagemaker/Endpoints", "MemoryUtilization", "Average", 1.0),
}
MONITOR_TYPES = {"data_drift": "DataQuality", "prediction_drift": "DataQuality",
                 "model_quality": "ModelQuality", "bias_drift": "ModelBias",
                 "feature_attribution_drift": "ModelExplainability"}


@dataclasses.dataclass
class EnvContext:
    """Everything one environment's lowering shares (names, settings, indexes)."""

    ir: dict
    ctx: LowerContext
    settings: dict
    diagnostics: list[Diagnostic]
    notes: list[str]

    def __post_init__(self) -> None:
        ir = self.ir
        self.env_name = ir["environment"]["name"]
        self.system = ir["system"]["name"]
        self.region = self.settings.get("region") or ""
        self.datasets = {d["id"]: d for d in ir.get("datasets") or []}
        self.models = {m["id"]: m for m in ir.get("models") or []}
        self.endpoints = {e["id"]: e for e in ir.get("endpoints") or []}
        self.alerts = {a["id"]: a for a in ir.get("alerts") or []}
        self.pipelines = {p["id"]: p for p in ir.get("pipelines") or []}
        n_sub = len(self.settings.get("subnet_ids") or []) or 2
        n_sg = len(self.settings.get("security_group_ids") or []) or 1
        self.subnet_params = [f"Subnet{i}" for i in range(n_sub)]
        self.sg_params = [f"SecurityGroup{i}" for i in range(n_sg)]

    # names -----------------------------------------------------------------
    def name(self, *parts: str) -> str:
        return naming.sm_name(self.system, self.env_name, *parts)

    def pipeline_name(self, p: dict) -> str:
        return self.name(p["name"])

    def group_name(self, model: dict) -> str:
        return self.name(model["name"])

    def group_name_for_pipeline(self, p: dict) -> str:
        for s in p["steps"]:
            if s["kind"] == "register" and s["model"] in self.models:
                return self.group_name(self.models[s["model"]])
        return self.name(p["name"], "checks")

    def tracker_arn(self) -> str:
        """The MLflow tracking Lambda (tracking.mlflow), resolved by the program."""
        return ("arn:${partition}:lambda:" + self.region + ":${account}:function:" + self.name("mlflow-tracker"))

    def diag(self, ir_id: str, summary: str, hint: str = "", code: str = "E505") -> None:
        self.diagnostics.append(Diagnostic(code, summary, ir_id, hint))

    # compute ---------------------------------------------------------------
    def instance_type(self, compute: dict | None, api: str = "TrainingInstanceType") -> str:
        """The class's instance type; `accelerators = N` (N > 1) on a gpu class: the smallest type
        with N GPUs of the class's GPU model and N times its vCPUs and memory that `api`
        accepts (instance_storage.json: EC2's GPU facts, botocore's enums). A count SageMaker
        does not sell keeps the class's type; `check_accelerators` refuses it (E505)."""
        cls = (compute or {}).get("class") or "cpu.medium"
        base = INSTANCE_TYPES.get(cls, "ml.m5.xlarge")
        picks = self.accelerator_choices(compute, api)
        return picks[0] if picks else base

    def accelerator_choices(self, compute: dict | None, api: str) -> list[str] | None:
        """Instance types with the compute's N GPUs (None: not an N > 1 gpu request)."""
        cls = (compute or {}).get("class") or "cpu.medium"
        n = int((compute or {}).get("accelerators") or 0)
        row = storage.gpu_table().get(INSTANCE_TYPES.get(cls, ""))
        if not cls.startswith("gpu.") or n <= 1 or row is None:
            return None
        return storage.gpu_instances(row["gpu"], n, row["vcpus"] * n, row["memory_mib"] * n, api)

    def check_accelerators(self) -> None:
        """E505 for each compute asking a GPU count SageMaker has no instance type for."""
        uses: list[tuple[str, dict, str]] = []
        for p in self.ir.get("pipelines") or []:
            for st in p["steps"]:
                api = {"train": "TrainingInstanceType", "tune": "TrainingInstanceType",
                       "batch_transform": "TransformInstanceType"}.get(st["kind"], "ProcessingInstanceType")
                uses.append((st["id"], st.get("compute") or {}, api))
        uses += [(e["id"], e.get("compute") or {}, "ProductionVariantInstanceType") for e in self.endpoints.values()]
        uses += [(b["id"], b.get("compute") or {}, "TransformInstanceType") for b in self.ir.get("batch") or []]
        for ir_id, compute, api in uses:
            if self.accelerator_choices(compute, api) == []:
                row = storage.gpu_table()[INSTANCE_TYPES[compute["class"]]]
                counts = storage.gpu_counts(row["gpu"], api)
                self.diag(ir_id, f"`{compute['class']}` with accelerators = {compute['accelerators']}: SageMaker has "
                                 f"no {row['gpu']} instance type with {compute['accelerators']} GPUs "
                                 f"({api.replace('InstanceType', '')} instance types have "
                                 + ", ".join(map(str, counts)) + ")",
                          "use accelerators = " + " or ".join(map(str, counts)) + f" on `{compute['class']}`")

    def is_gpu(self, compute: dict | None) -> bool:
        return ((compute or {}).get("class") or "").startswith("gpu.")

    @staticmethod
    def gpu_instance(instance_type: str) -> bool:
        """An accelerated instance family (G and P instances carry NVIDIA GPUs)."""
        return instance_type.startswith(("ml.g", "ml.p"))

    def tool_image(self, name: str, ir_id: str, _builder: Any = None) -> str:
        try:
            return images.tool_image(name, self.region)
        except images.ImageError as e:
            self.diag(ir_id, str(e))
            return ""

    # data ------------------------------------------------------------------
    def uri(self, uri: str) -> Any:
        """A spec URI as an S3 URI (literal, or a pipeline expression for data://)."""
        if uri.startswith("data://"):
            return {"Std:Join": {"On": "/", "Values": ["s3:/", {"Get": "Parameters.DataBucket"},
                                                       uri[len("data://"):]]}}
        if uri.startswith("s3://"):
            return uri
        self.diag("system", f"`{uri}` is not an S3 or portable data:// location",
                  "use data://<path> (the stack's data bucket) or an s3:// URI", "E504")
        return ""

    def dataset_uri(self, ds: dict) -> Any:
        return self.uri(ds["uri"])

    def token_uri(self, uri: str) -> str:
        """A spec URI with the data bucket as a `${token}` (for the program, not the pipeline)."""
        if uri.startswith("data://"):
            return "s3://${bucket:data}/" + uri[len("data://"):]
        return uri

    def headers_for(self, ref: str, steps: dict) -> tuple[list[str], str | None]:
        """Column names and label of the dataset behind `ref` (following step inputs)."""
        seen = set()
        while not ref.startswith("dataset.") and ref not in seen:
            seen.add(ref)
            st = steps.get(".".join(ref.split(".")[:2]))
            if not st:
                break
            ins = [st.get("data")] if st.get("data") else list(st.get("inputs") or [])
            if not ins:
                break
            ref = ins[0]
        ds = self.datasets.get(ref)
        if not ds:
            return [], None
        cols = [c["name"] for c in ds.get("schema") or [] if c.get("role") in ("feature", "label", None)]
        label = next((c["name"] for c in ds.get("schema") or [] if c.get("role") == "label"), None)
        return cols, label

    # registry / lineage ------------------------------------------------------
    def is_served(self, model_id: str) -> bool:
        """An endpoint (its model, or an A/B arm) or a batch job runs `model_id`."""
        for e in self.endpoints.values():
            arms = [v["model"] for v in (e["rollout"].get("variants") or [])]
            if model_id == e["model"] or model_id in arms:
                return True
        return any(b["model"] == model_id for b in self.ir.get("batch") or [])

    def serving_instance_types(self, model_id: str) -> list[str]:
        """Real-time instance types of every endpoint variant that serves `model_id`: the
        endpoint's model (production and shadow variants) and each A/B arm naming it
        (ml.m5.xlarge when nothing serves it yet)."""
        types = set()
        for e in self.endpoints.values():
            arms = [v["model"] for v in (e["rollout"].get("variants") or [])] \
                if e["rollout"]["strategy"] == "ab_test" else [e["model"]]
            if model_id in arms:
                types.add(self.instance_type(e["compute"], "ProductionVariantInstanceType"))
        return sorted(types) or ["ml.m5.xlarge"]

    def transform_instance_types(self, model_id: str) -> list[str]:
        """Transform instance types of the batch jobs that run `model_id` (ml.m5.xlarge when none)."""
        return sorted({self.instance_type(b.get("compute"), "TransformInstanceType") for b in self.ir.get("batch") or []
                       if b["model"] == model_id}) or ["ml.m5.xlarge"]

    def package_description(self, model: dict) -> str:
        appr = model.get("approval") or {}
        text = (model.get("description") or model["name"])
        if appr.get("approvers"):
            text += " | approvers: " + ", ".join(appr["approvers"])
        return text[:1000]

    def lineage(self, model: dict, train: dict) -> dict:
        """CustomerMetadataProperties: spec hash, code version, data versions, hyperparameters.

        CreateModelPackage allows at most 50 entries, keys of 1-128 and values of 1-256
        characters of `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`: values are written as plain text when
        they fit (a string without quotes, a number as written), otherwise as `b32:<base32>` of
        their JSON, or `sha256:<hex>` when even that is too long. Room is kept for the
        deploy path's entries (EvaluationKey, the approvals `mlspec-approval-<i>`); hyperparameters
        beyond it are summarised by `mlspec:hp-sha256` (always written)."""
        md = {"mlspec:spec-sha256": self.ir["source"]["sha256"],
              "mlspec:code-sha256": self.ir["code"]["sha256"],
              "mlspec:environment": metadata_text(self.env_name)}
        for ds in sorted(self.datasets.values(), key=lambda d: d["name"]):
            if ds.get("version"):
                md[metadata_key(f"data:{ds['name']}")] = metadata_text(ds["version"])
        hps = train.get("hyperparameters") or {}
        md["mlspec:hp-sha256"] = hashlib.sha256(json.dumps(hps, sort_keys=True).encode()).hexdigest()
        need = deploy.required_approvals(self, [model])
        room = METADATA_MAX - len(md) - 1 - (need - 1)  # EvaluationKey, approvals 1..N-1
        for k, v in sorted(hps.items())[:max(room, 0)]:
            md[metadata_key(f"hp:{k}")] = metadata_text(v)
        return md


METADATA_MAX = 50  # CreateModelPackage CustomerMetadataProperties entries
METADATA_PUNCT = set("_.:/=+-@")


def metadata_ok(text: str, limit: int) -> bool:
    """Fits CustomerMetadataMap's pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* and length 1..limit."""
    return 0 < len(text) <= limit and all(
        c in METADATA_PUNCT or unicodedata.category(c)[0] in "LZN" for c in text)


def metadata_text(value: Any, limit: int = 256) -> str:
    """A value as CustomerMetadataProperties accepts it (see EnvContext.lineage)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float, str)):
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True)
    if metadata_ok(text, limit):
        return text
    raw = json.dumps(value, sort_keys=True).encode()
    enc = "b32:" + base64.b32encode(raw).decode()
    if len(enc) <= limit:
        return enc
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def metadata_key(key: str) -> str:
    return key if metadata_ok(key, 128) else metadata_text(key, 128)


# ============================================================================ per-kind lowering

def lower_pipelines(env: EnvContext, out: dict, low: Lowering) -> None:
    for p in env.ir.get("pipelines") or []:
        b = PipelineBuilder(env, p)
        definition = b.build()
        env.diagnostics.extend(b.diagnostics)
        env.notes.extend(n for n in b.notes if n not in env.notes)
        path = f"pipelines/{env.env_name}/{p['name']}.json"
        low.add(path, "sagemaker-pipeline", definition, "json")
        for fpath, content in b.files:
            kind = "clarify-analysis-config" if fpath.endswith("analysis_config.json") else "step-config"
            low.add(fpath, kind, content, "json")
            out["files"].append({"key": fpath, "source": "../" + fpath})
        out["pipelines"].append({"key": p["name"], "name": env.pipeline_name(p),
                                 "definition": "../" + path,
                                 "description": f"{env.system} {p['name']} ({env.env_name})"})
        if p.get("on_failure"):
            # a failed run (a step failed after its retries, or a Fail step: a gate, a bias limit)
            # publishes the execution status change to the channels' SNS topics
            out["failure_rules"].append({"key": p["name"], "name": env.name(p["name"], "failed"),
                                         "pipeline": p["name"],
                                         "topics": [local_name(c) for c in p["on_failure"]]})
            if p.get("gates") or any(s["kind"] == "bias_check" and s.get("max_disparity") is not None
                                     for s in p["steps"]):
                env.notes.append(f"`{p['id']}`: on_failure also notifies when a gate or bias limit does not "
                                 "pass (SageMaker ends that run with a Fail step, status Failed)")
        if p.get("schedule"):
            out["schedules"].append({
                "key": p["name"], "name": env.name(p["name"], "schedule"), "pipeline": p["name"],
                "expression": naming.cron_to_aws(p["schedule"]["cron"]),
                "timezone": p["schedule"].get("timezone") or "UTC"})


def lower_models(env: EnvContext, out: dict, low: Lowering) -> None:
    approval_env = env.ir["environment"]["approval"]
    for m in env.ir.get("models") or []:
        appr = m.get("approval") or {}
        if appr.get("required") and approval_env == "required" and int(appr.get("count") or 1) > 1:
            n = int(appr["count"])
            who = "approver 1 records" if n == 2 else f"approvers 1..{n - 1} record"
            env.notes.append(f"`{m['id']}`: {n} approvals emulated: {who} "
                             "`mlspec-approval-<i>` metadata on the model package, the last one sets Approved; "
                             "the deploy state machine refuses to deploy with fewer (distinct principals are "
                             "not verified by SageMaker)")
        group = env.group_name(m)
        out["model_package_groups"].append({"key": m["name"], "name": group,
                                            "description": env.package_description(m)})
        out["seeds"].append({"key": f"champion/{group}/none.json", "content": "{}\n"})
        gates = [g for p in env.ir.get("pipelines") or [] for g in p.get("gates") or []
                 if g["id"] in (m.get("gates") or [])]
        card = {
            "model_overview": {"model_description": m.get("description") or m["name"],
                               "model_owner": env.ir["system"].get("owner") or "",
                               "model_creator": "mlspec",
                               "algorithm_type": (m.get("framework") or {}).get("name") or ""},
            "intended_uses": {"intended_uses": (m.get("card") or {}).get("intended_use") or "",
                              "factors_affecting_model_efficiency": (m.get("card") or {}).get("limitations") or "",
                              "risk_rating": "High" if env.ir["environment"].get("production") else "Medium",
                              "explanations_for_risk_rating": "approval "
                              + ("required by " + ", ".join(appr.get("approvers") or []) if appr.get("required")
                                 and approval_env == "required" else "not required in this environment")},
            "business_details": {"business_problem": env.ir["system"].get("description") or "",
                                 "business_stakeholders": env.ir["system"].get("owner") or ""},
            "evaluation_details": [{"name": g["name"], "evaluation_observation": "; ".join(
                r["text"] for r in g["requires"])} for g in gates],
            "additional_information": {
                "ethical_considerations": (m.get("card") or {}).get("ethical_considerations") or "",
                "caveats_and_recommendations": (m.get("card") or {}).get("limitations") or "",
                "custom_details": {"approvers": ", ".join(appr.get("approvers") or []),
                                   "spec_sha256": env.ir["source"]["sha256"],
                                   "kpis": "; ".join(f"{k['name']}: {k.get('goal') or ''}" for k in
                                                     env.ir.get("kpis") or [])}},
        }
        path = f"model-cards/{env.env_name}/{m['name']}.json"
        low.add(path, "sagemaker-model-card", card, "json")
        out["model_cards"].append({"key": m["name"], "name": env.name(m["name"], "card"), "content": "../" + path})


def lower_endpoints(env: EnvContext, out: dict, low: Lowering) -> None:
    prod = bool(env.ir["environment"].get("production"))
    for e in env.ir.get("endpoints") or []:
        model = env.models.get(e["model"])
        if model is None:
            env.diag(e["id"], f"endpoint `{e['name']}` serves unknown model `{e['model']}`")
            continue
        r = e["rollout"]
        count = int(e["compute"].get("instance_count") or 1)
        if prod and count < 2 and not waived(env.ir, "MLS-AWS-065"):
            env.diag(e["id"], f"endpoint `{e['name']}` has {count} instance in a production environment; "
                     "SageMaker.4 / MLS-AWS-065 asks for at least 2",
                     "set `instances = 2` or waive MLS-AWS-065", "E405")
        itype = env.instance_type(e["compute"], "ProductionVariantInstanceType")
        variants = []
        if r["strategy"] == "ab_test":
            for v in r["variants"]:
                vm = env.models.get(v["model"])
                variants.append({"name": naming.kebab(v["name"]), "model": vm["name"] if vm else model["name"],
                                 "weight": float(v["percent"]) / 100.0, "instance_type": itype, "count": count})
        else:
            variants.append({"name": "primary", "model": model["name"], "weight": 1.0,
                             "instance_type": itype, "count": count})
        shadow = []
        if r["strategy"] == "shadow":
            shadow.append({"name": "shadow", "model": model["name"],
                           "weight": float(r["sample_percent"]) / 100.0, "instance_type": itype, "count": 1})
        deployment = deployment_config(env, e)
        autoscale = None
        if e.get("autoscale"):
            a = e["autoscale"]
            autoscale = {"min": int(a["min"]), "max": int(a["max"]),
                         "invocations_per_instance_minute": float(a["target_rps"]) * 60.0
                         if a.get("target_rps") is not None else None,
                         "cpu_percent": float(a["target_cpu_percent"]) if a.get("target_cpu_percent") is not None
                         else None}
        capture = None
        if e.get("capture") or any(mo["endpoint"] == e["id"] for mo in env.ir.get("monitors") or []):
            capture = {"percent": int(round(float((e.get("capture") or {}).get("percent") or 100.0))),
                       "prefix": f"capture/{naming.kebab(e['name'])}"}
            if not e.get("capture"):
                env.notes.append(f"`{e['id']}`: data capture enabled at 100% because monitors read it")
        ep = {"key": e["name"], "name": env.name(e["name"]), "variants": variants, "shadow_variants": shadow,
              "capture": capture, "deployment": deployment, "autoscale": autoscale,
              "models": sorted({v["model"] for v in variants + shadow}),
              "rollback_alarms": [local_name(a) for a in r.get("rollback_on") or []],
              "state_machine": f"deploy-{naming.kebab(e['name'])}"}
        out["endpoints"].append(ep)
        sm = deploy.deploy_definition(env, e, ep)
        path = f"statemachines/{env.env_name}/deploy-{naming.kebab(e['name'])}.json"
        low.add(path, "stepfunctions-definition", sm, "json")
        out["state_machines"].append({"key": ep["state_machine"], "name": env.name(e["name"], "deploy"),
                                      "definition": "../" + path, "role": "deploy"})
        for mname in ep["models"]:
            m = next(x for x in env.models.values() if x["name"] == mname)
            out["approval_rules"].append({"key": f"{ep['state_machine']}-{naming.kebab(mname)}",
                                          "name": env.name(e["name"], mname, "approved"),
                                          "group": env.group_name(m), "state_machine": ep["state_machine"]})
        if r["strategy"] == "canary" and r.get("step_percent") not in (None, 100, 100.0) and \
                float(r["step_percent"]) != float(r["initial_percent"]):
            env.notes.append(f"`{e['id']}`: canary {pct(r['initial_percent'])}% for {r['interval_s']} s, then "
                             f"the remaining traffic at once (SageMaker canaries have one step; the spec's "
                             f"{pct(r['step_percent'])}% step is not applied)")
        if r["strategy"] == "shadow":
            env.notes.append(f"`{e['id']}`: shadow variant gets {pct(r['sample_percent'])}% of requests; the "
                             f"deploy state machine promotes it after {r['duration_s']} s "
                             f"({r.get('promote') or 'manual promotion'})")


def deployment_config(env: EnvContext, e: dict) -> dict:
    """Endpoint DeploymentConfig (blue/green) for the rollout, in API (PascalCase) shape."""
    r = e["rollout"]
    s = r["strategy"]
    count = int(e["compute"].get("instance_count") or 1)
    if s == "canary" and r.get("step_percent") is not None and float(r["step_percent"]) == float(r["initial_percent"]):
        # equal steps from the start: exactly SageMaker's LINEAR routing
        routing = {"Type": "LINEAR", "WaitIntervalInSeconds": int(r["interval_s"]),
                   "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": max(1, int(round(r["step_percent"])))}}
    elif s == "canary":
        routing = {"Type": "CANARY", "WaitIntervalInSeconds": int(r["interval_s"]),
                   "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": max(1, int(round(r["initial_percent"])))}}
    elif s == "linear":
        routing = {"Type": "LINEAR", "WaitIntervalInSeconds": int(r["interval_s"]),
                   "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": max(1, int(round(r["step_percent"])))}}
    elif s == "blue_green":
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": int(min(r.get("bake_s") or 0, 3600))}
    elif s == "shadow" and r.get("promote") == "blue_green":
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    bake = int(r.get("bake_s") or 0) if s == "blue_green" else 0
    policy = {"TrafficRoutingConfiguration": routing,
              "TerminationWaitInSeconds": min(bake, 3600),
              "MaximumExecutionTimeoutInSeconds": 28800}
    cfg: dict[str, Any] = {"BlueGreenUpdatePolicy": policy}
    if r.get("rollback_on"):
        cfg["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": env.name(local_name(a), "alarm")}
                                                       for a in r["rollback_on"]]}
    del count
    return cfg


def lower_alerts(env: EnvContext, out: dict, low: Lowering) -> None:
    for a in env.ir.get("alerts") or []:
        e = env.endpoints.get(a["endpoint"])
        if e is None:
            env.diag(a["id"], f"alert `{a['name']}` watches unknown endpoint `{a['endpoint']}`")
            continue
        ep_name = env.name(e["name"])
        variant = "primary" if e["rollout"]["strategy"] != "ab_test" else naming.kebab(e["rollout"]["variants"][0]["name"])
        dims = {"EndpointName": ep_name, "VariantName": variant}
        period = 60
        evals = max(1, int(a.get("for_s") or 60) // period)
        cmp_ = "GreaterThanThreshold" if a["comparison"] == "above" else "LessThanThreshold"
        alarm: dict[str, Any] = {"key": a["name"], "name": env.name(a["name"], "alarm"),
                                 "description": f"mlspec alert `{a['name']}` on endpoint `{e['name']}`: "
                                 f"{a['metric']} {a['comparison']} {a['value']} {a.get('unit') or ''}".strip(),
                                 "comparison": cmp_, "evaluation_periods": evals,
                                 "topics": [local_name(c) for c in a.get("notify") or []]}
        if a["metric"] in ALERT_METRICS:
            ns, metric, stat, scale = ALERT_METRICS[a["metric"]]
            alarm.update({"namespace": ns, "metric": metric, "dimensions": dims, "period": period,
                          "threshold": float(a["value"]) * scale})
            alarm["extended_statistic" if stat.startswith("p") else "statistic"] = stat
        else:
            if a["metric"] == "error_rate":
                expr, label = "100 * errors / IF(invocations > 0, invocations, 1)", "error rate (%)"
            else:  # throughput: requests per second
                expr, label = f"invocations / {period}", "requests per second"
            alarm.update({"threshold": float(a["value"]), "metric_queries": [
                {"id": "rate", "expression": expr, "label": label, "return_data": True},
                {"id": "invocations", "namespace": "AWS/SageMaker", "metric": "Invocations", "dimensions": dims,
                 "period": period, "stat": "Sum"},
                {"id": "errors", "namespace": "AWS/SageMaker", "metric": "Invocation5XXErrors",
                 "dimensions": dims, "period": period, "stat": "Sum"}]})
            if a["metric"] == "throughput":
                alarm["metric_queries"].pop()
        out["alarms"].append(alarm)


def lower_channels(env: EnvContext, out: dict, low: Lowering) -> None:
    for c in env.ir.get("channels") or []:
        topic = {"key": c["name"], "name": env.name(c["name"]), "type": c["type"], "subscriptions": []}
        if c["type"] == "email":
            topic["subscriptions"].append({"protocol": "email", "endpoint": c["address"], "secret": None})
        elif c["type"] in ("webhook", "pagerduty"):
            topic["subscriptions"].append({"protocol": "https", "endpoint": None, "secret": c["secret"]})
        elif c["type"] == "slack":
            topic["chatbot_secret"] = c["secret"]
            if c.get("slack_channel"):
                # AWS Chatbot posts to a channel *id* (from the secret `<team id>/<channel id>`),
                # never to a `#name`: the setting cannot be applied, so say so (not silently)
                env.diagnostics.append(Diagnostic(
                    "W505", f"`slack_channel = \"{c['slack_channel']}\"` of channel `{c['name']}` is not used on "
                            "SageMaker: AWS Chatbot posts to the Slack channel whose id the channel's secret holds "
                            f"(`{c['secret']}` = \"<team id>/<channel id>\"), not to a channel name",
                    c["id"], "put the id of that Slack channel in the secret (Slack: channel details, "
                             "\"Channel ID\"), or remove `slack_channel` if only other clouds post by name",
                    severity="warning"))
        if c.get("secret"):
            out["secrets"].append(c["secret"])
        out["topics"].append(topic)


#: model `task` -> Model Monitor model-quality problem type
QUALITY_PROBLEM_TYPES = {"binary_classification": "BinaryClassification",
                         "multiclass_classification": "MulticlassClassification", "regression": "Regression"}
#: the constraints file's section per problem type, and the metrics Model Monitor computes there
CONSTRAINT_KEYS = {"BinaryClassification": "binary_classification_constraints",
                   "MulticlassClassification": "multiclass_classification_constraints",
                   "Regression": "regression_constraints"}
QUALITY_METRICS = {
    "BinaryClassification": {"accuracy", "precision", "recall", "f0_5", "f1", "f2", "auc", "au_prc",
                             "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate"},
    "MulticlassClassification": {"accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1",
                                 "weighted_f2", "accuracy_best_constant_classifier",
                                 "weighted_recall_best_constant_classifier",
                                 "weighted_precision_best_constant_classifier",
                                 "weighted_f0_5_best_constant_classifier", "weighted_f1_best_constant_classifier",
                                 "weighted_f2_best_constant_classifier"},
    "Regression": {"mae", "mse", "rmse", "r2"},
}


def lower_monitors(env: EnvContext, out: dict, low: Lowering) -> None:
    for mo in env.ir.get("monitors") or []:
        e = env.endpoints.get(mo["endpoint"])
        if e is None:
            env.diag(mo["id"], f"monitor `{mo['name']}` watches unknown endpoint `{mo['endpoint']}`")
            continue
        kind = mo["kind"]
        every = int(mo.get("every_s") or 3600)
        cron = "cron(0 * ? * * *)" if every < 86400 else "cron(0 0 ? * * *)"
        if every not in (3600, 86400):
            env.notes.append(f"`{mo['id']}`: Model Monitor runs hourly or daily; every {every} s became "
                             + ("hourly" if every < 86400 else "daily"))
        base = env.datasets.get(mo.get("baseline") or "")
        _, label = env.headers_for(mo.get("baseline") or "", {}) if base else ([], None)
        key = mo["name"]
        m = {"key": key, "kind": kind, "type": MONITOR_TYPES[kind], "endpoint": e["name"],
             "schedule_name": env.name(mo["name"], "monitor"), "job_definition_name": env.name(mo["name"], "job"),
             "cron": cron, "image": env.tool_image("clarify" if kind in ("bias_drift", "feature_attribution_drift")
                                                   else "model-monitor", mo["id"]),
             "baseline_prefix": f"baselines/{naming.kebab(mo['name'])}",
             "output_prefix": f"reports/{naming.kebab(mo['name'])}",
             "instance_type": "ml.m5.xlarge", "max_runtime_s": min(every, 3600) if every >= 3600 else 1800,
             "ground_truth": env.token_uri(mo["ground_truth"]) if mo.get("ground_truth") else None,
             "problem_type": None, "inference_attribute": None, "probability_attribute": None,
             "probability_threshold": None, "label": label, "metric": mo.get("metric"),
             "breach": mo.get("breach") or {}, "facets": list(mo.get("facets") or []),
             "preprocessor": "code/_mlspec/prediction_record.py" if kind == "prediction_drift" else None,
             "analysis_config": None, "config_bucket": None, "config_key": None, "config_writer": None,
             "constraints": None, "predictor_model": None, "network_isolation": True}
        if kind == "model_quality":
            # the served model's task and prediction decide the problem type and which attribute
            # of the endpoint output Model Monitor reads (a probability is not a label)
            served = env.models.get(e["model"]) or {}
            task = served.get("task")
            ptype = QUALITY_PROBLEM_TYPES.get(task)
            if ptype is None:
                env.diag(mo["id"], f"model_quality monitor `{mo['name']}`: Model Monitor measures binary, multiclass "
                                   f"and regression models; model `{served.get('name', e['model'])}` has task "
                                   f"`{task or 'undeclared'}`",
                         "declare `task = binary_classification`, `multiclass_classification` or `regression` on the model")
                ptype = "BinaryClassification"
            m["problem_type"] = ptype
            pred = served.get("prediction") or {}
            if ptype == "BinaryClassification" and pred.get("output") == "probability":
                m["probability_attribute"] = "0"  # the endpoint's csv output: column 0 is the probability
                m["probability_threshold"] = float(pred.get("threshold", 0.5))
            else:
                m["inference_attribute"] = "0"
            allowed = QUALITY_METRICS[ptype]
            if mo.get("metric") and mo["metric"] not in allowed:
                env.diag(mo["id"], f"model_quality monitor `{mo['name']}`: Model Monitor has no `{mo['metric']}` "
                                   f"metric for {ptype}", "use one of " + ", ".join(sorted(allowed)))
        if kind == "model_quality" and mo.get("metric"):
            # the breach threshold as Model Monitor model-quality constraints (native comparison)
            breach = mo.get("breach") or {}
            below = breach.get("below")
            cons = {"version": 0.0, CONSTRAINT_KEYS[m["problem_type"]]: {mo["metric"]: {
                "threshold": float(below if below is not None else breach.get("above") or 0.0),
                "comparison_operator": "LessThanThreshold" if below is not None else "GreaterThanThreshold"}}}
            path = f"config/{env.env_name}/monitors/{naming.kebab(mo['name'])}/constraints.json"
            low.add(path, "monitor-constraints", cons, "json")
            out["files"].append({"key": path, "source": "../" + path})
            m["constraints"] = path
        if kind == "model_quality" and not mo.get("ground_truth"):
            env.diag(mo["id"], f"model_quality monitor `{mo['name']}` needs `ground_truth`")
        elif kind == "model_quality":
            # Model Monitor merges ground truth with captured requests on the request's inference id
            # (else the capture's generated event id), never on a column of the rows: `join_on` is
            # honoured only if callers send that column's value as the inference id, and the ground
            # truth must be Model Monitor's own records, not rows. Said at compile time, not hidden.
            col = mo.get("join_on") or "the join column"
            env.diagnostics.append(Diagnostic(
                "W505", f"model_quality monitor `{mo['name']}`: SageMaker joins ground truth to captured requests "
                        f"on each request's inference id, not on the column `{col}`; callers must send "
                        f"`InferenceId=<{col} value>` with every InvokeEndpoint, and `ground_truth` must hold "
                        "Model Monitor's ground-truth records (JSON lines: `eventMetadata.eventId` = that value, "
                        "`groundTruthData.data` = the label), not rows",
                mo["id"], "see https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html; "
                          "the other clouds read ground-truth rows joined on the column",
                severity="warning"))
        if kind == "bias_drift":
            # what of the endpoint's csv output Clarify reads as the prediction: a probability
            # (thresholded into the predicted label) or the label itself
            pred = (env.models.get(e["model"]) or {}).get("prediction") or {}
            if pred.get("output") == "probability":
                m["probability_attribute"] = "0"
                m["probability_threshold"] = float(pred.get("threshold", 0.5))
            else:
                m["inference_attribute"] = "0"
            # the analysis config names the columns the endpoint receives (the served model's
            # training input without label and id columns, then the label): only the pipeline
            # that trains the model knows them, so its baseline_features step writes the config
            # next to the monitor's baselines, where ConfigUri points
            served = env.models.get(e["model"]) or {}
            trainers = [p["name"] for p in env.ir.get("pipelines") or [] for s in p["steps"]
                        if s["kind"] == "register" and s.get("model") == e["model"]]
            if not trainers:
                env.diag(mo["id"], f"bias_drift monitor `{mo['name']}`: no pipeline trains and registers model "
                                   f"`{served.get('name', e['model'])}`, so SageMaker cannot derive the columns "
                                   f"endpoint `{e['name']}` receives for Clarify's analysis config",
                         "register the served model in a pipeline of this spec")
            m["config_bucket"], m["config_key"] = "monitoring", m["baseline_prefix"] + "/analysis_config.json"
            m["config_writer"] = naming.step_name(mo["name"], "features")
        if kind == "feature_attribution_drift":
            path = f"config/{env.env_name}/monitors/{naming.kebab(mo['name'])}/analysis_config.json"
            # the SDK's ExplainabilityAnalysisConfig: methods, predictor and the endpoint's
            # feature names. Captured requests carry no header and the served model reads the
            # prepared features (not the baseline dataset's raw columns), so Clarify names them
            # by position rather than by a guessed list.
            # SHAP queries a shadow endpoint (`sm-clarify-*`) of the monitored model: the
            # predictor names the model the endpoint serves. Its name exists at deploy time
            # only, so the program writes `model_name` into the uploaded copy of this file
            # (the build's copy has every other field); the job cannot be network-isolated
            served = env.models.get(e["model"]) or {}
            cfg: dict[str, Any] = {"methods": {"shap": {"num_samples": 100, "agg_method": "mean_abs",
                                                        "use_logit": False, "save_local_shap_values": False}}}
            cfg["predictor"] = {"instance_type": env.instance_type(e["compute"], "ProductionVariantInstanceType"),
                                "initial_instance_count": 1,
                                "content_type": "text/csv", "accept_type": "text/csv"}
            if (served.get("prediction") or {}).get("output") == "probability":
                cfg["predictor"]["probability"] = 0  # column 0 of the csv output is the score
            m["predictor_model"] = served.get("name") or e["model"]
            m["network_isolation"] = False
            env.notes.append(f"`{mo['id']}`: the feature-attribution monitor runs without container network "
                             "isolation (Clarify creates and queries a shadow endpoint of the served model); "
                             "VPC, KMS and inter-container encryption stay on")
            low.add(path, "clarify-analysis-config", cfg, "json")  # uploaded by the program with its model
            m["analysis_config"] = path
            m["config_bucket"], m["config_key"] = "artifacts", path
        if base is None and kind != "model_quality":
            env.notes.append(f"`{mo['id']}`: no baseline dataset; the monitor compares against the baseline "
                             f"statistics/constraints uploaded to s3://<monitoring bucket>/{m['baseline_prefix']}/")
        out["monitors"].append(m)
        breach = mo.get("breach") or {}
        limit = breach.get("above") if breach.get("above") is not None else breach.get("below")
        how = {
            "data_drift": f"baseline from the pipeline's QualityCheck step, distribution-drift comparison "
                          f"threshold {limit} written into its constraints",
            "prediction_drift": f"the prediction distribution against the baseline in "
                                f"s3://<monitoring bucket>/{m['baseline_prefix']}/ (supply it); threshold {limit} "
                                "is not applied by Model Monitor",
            "model_quality": f"`{mo.get('metric')}` {'below' if breach.get('below') is not None else 'above'} "
                             f"{limit} as model-quality constraints",
            "bias_drift": f"Clarify `{(mo.get('metric') or 'dppl').upper()}` on the captured features, with the "
                          f"analysis config (headers = the columns the endpoint receives, then the label) the "
                          f"training pipeline's `{m['config_writer']}` step writes to s3://<monitoring bucket>/"
                          f"{m['config_key']}, against the baseline constraints in s3://<monitoring bucket>/"
                          f"{m['baseline_prefix']}/ (supply them); threshold {limit} is not applied by Model Monitor",
            "feature_attribution_drift": "SageMaker flags drift when the nDCG of SHAP attributions falls below "
                                         "0.9 (fixed by SageMaker)" + (
                                             "" if limit in (None, 0.9) else f"; the spec's {limit} is not applied"),
        }[kind]
        env.notes.append(f"`{mo['id']}` ({kind}): {MONITOR_TYPES[kind]} schedule `{m['schedule_name']}`, {how}; "
                         "a breach is a monitoring run ending CompletedWithViolations")
        targets_p = [local_name(p) for p in mo.get("retrains") or []]
        out["breach_rules"].append({"key": key, "name": env.name(mo["name"], "breach"),
                                    "schedule": m["schedule_name"],
                                    "topics": [local_name(c) for c in mo.get("notify") or []],
                                    "pipelines": targets_p})


def lower_batch(env: EnvContext, out: dict, low: Lowering) -> None:
    for b in env.ir.get("batch") or []:
        model = env.models.get(b["model"])
        ds = env.datasets.get(b["data"])
        if model is None or ds is None:
            env.diag(b["id"], f"batch `{b['name']}` needs a known model and dataset")
            continue
        key = f"batch-{naming.kebab(b['name'])}"
        sm = deploy.batch_definition(env, b, model, ds)
        path = f"statemachines/{env.env_name}/{key}.json"
        low.add(path, "stepfunctions-definition", sm, "json")
        out["state_machines"].append({"key": key, "name": env.name(b["name"], "batch"),
                                      "definition": "../" + path, "role": "deploy"})
        if b.get("schedule"):
            out["schedules"].append({"key": key, "name": env.name(b["name"], "schedule"), "state_machine": key,
                                     "expression": naming.cron_to_aws(b["schedule"]["cron"]),
                                     "timezone": b["schedule"].get("timezone") or "UTC"})


def lower_dashboard(env: EnvContext, out: dict, low: Lowering) -> None:
    if not env.endpoints:
        return
    widgets, y = [], 0

    def metric_widget(title: str, metrics: list, stat: str = "Average") -> None:
        nonlocal y
        widgets.append({"type": "metric", "x": 0 if len(widgets) % 2 == 0 else 12, "y": y, "width": 12,
                        "height": 6, "properties": {"title": title, "region": "${region}", "stat": stat,
                                                    "period": 300, "view": "timeSeries", "metrics": metrics}})
        if len(widgets) % 2 == 0:
            y += 6

    for e in env.endpoints.values():
        n = env.name(e["name"])
        metric_widget(f"{e['name']}: latency (us)", [["AWS/SageMaker", "ModelLatency", "EndpointName", n,
                                                      "VariantName", "primary", {"stat": "p99"}],
                                                     ["AWS/SageMaker", "ModelLatency", "EndpointName", n,
                                                      "VariantName", "primary", {"stat": "p50"}]])
        metric_widget(f"{e['name']}: throughput and errors",
                      [["AWS/SageMaker", "Invocations", "EndpointName", n, "VariantName", "primary"],
                       ["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", n, "VariantName", "primary"],
                       ["AWS/SageMaker", "Invocation4XXErrors", "EndpointName", n, "VariantName", "primary"]],
                      "Sum")
    for mo in env.ir.get("monitors") or []:
        if mo["endpoint"] in env.endpoints:
            ep = env.name(env.endpoints[mo["endpoint"]]["name"])
            ns = {"data_drift": "aws/sagemaker/Endpoints/data-metrics",
                  "prediction_drift": "aws/sagemaker/Endpoints/data-metrics",
                  "model_quality": "aws/sagemaker/Endpoints/model-metrics",
                  "bias_drift": "aws/sagemaker/Endpoints/bias-metrics",
                  "feature_attribution_drift": "aws/sagemaker/Endpoints/explainability-metrics"}[mo["kind"]]
            base = env.datasets.get(mo.get("baseline") or "")
            if mo["kind"] == "data_drift":
                names = [f"feature_baseline_drift_{c['name']}" for c in (base or {}).get("schema") or []
                         if c.get("role") in ("feature", None)][:10] or ["feature_baseline_drift"]
            elif mo["kind"] == "prediction_drift":
                names = ["feature_baseline_drift_prediction"]
            elif mo["kind"] == "bias_drift":
                names = ["bias_metric_" + (mo.get("metric") or "dppl").upper()]
            elif mo["kind"] == "feature_attribution_drift":
                widgets.append({"type": "text", "x": 0, "y": y + 12, "width": 24, "height": 2, "properties": {
                    "markdown": f"monitor `{mo['name']}` (feature attribution drift): schedule `{env.name(mo['name'], 'monitor')}`, "
                                f"reports in s3://${{bucket:monitoring}}/reports/{naming.kebab(mo['name'])}/"}})
                continue
            else:
                names = [mo.get("metric") or "accuracy"]
            sched = env.name(mo["name"], "monitor")
            metric_widget(f"monitor {mo['name']} ({mo['kind']})",
                          [[ns, n, "Endpoint", ep, "MonitoringSchedule", sched] for n in names], "Maximum")
    kpis = env.ir.get("kpis") or []
    if kpis:
        text = "## KPIs\n\n" + "\n".join(f"* **{k['name']}**: {k.get('description') or ''} "
                                         f"(goal: {k.get('goal') or 'n/a'})" for k in kpis)
        widgets.append({"type": "text", "x": 0, "y": y + 6, "width": 24, "height": 6,
                        "properties": {"markdown": text}})
    body = {"widgets": widgets}
    path = f"dashboards/{env.env_name}.json"
    low.add(path, "cloudwatch-dashboard", body, "json")
    out["dashboard"] = {"name": env.name("dashboard"), "body": "../" + path}


#: IR collection -> lowering function (order matters: endpoints before alerts reference names)
LOWERERS: tuple[tuple[str, Callable[[EnvContext, dict, Lowering], None]], ...] = (
    ("pipelines", lower_pipelines),
    ("models", lower_models),
    ("endpoints", lower_endpoints),
    ("alerts", lower_alerts),
    ("channels", lower_channels),
    ("monitors", lower_monitors),
    ("batch", lower_batch),
    ("dashboard", lower_dashboard),
)


def empty_stack(env: EnvContext) -> dict:
    ir = env.ir
    sec = ir.get("security") or {}
    tags = {"mlspec:system": env.system, "mlspec:environment": env.env_name,
            "mlspec:owner": ir["system"].get("owner") or "",
            "mlspec:data-classification": sec.get("data_classification") or "",
            # MLS-G-08 "mlspec version": the IR schema version (the compiler version stays out of artifacts)
            "mlspec:ir-schema": str(ir.get("schema_version") or "")}
    tags.update({f"label:{k}": str(v) for k, v in sorted((ir["system"].get("labels") or {}).items())})
    prod = bool(ir["environment"].get("production"))
    s = env.settings
    return {
        "system": env.system, "environment": env.env_name, "production": prod, "region": env.region,
        "tags": tags,
        "kms": {"existing_key_arn": sec.get("kms_key") or s.get("kms_key_arn"),
                "alias": f"alias/mlspec/{env.name()}", "policy": "../" + iam.policy_path(env, "kms-key")},
        "network": {"vpc_id": s.get("vpc_id"), "subnet_ids": s.get("subnet_ids"),
                    "security_group_ids": s.get("security_group_ids"), "cidr": "10.80.0.0/16",
                    "subnet_cidrs": ["10.80.0.0/20", "10.80.16.0/20"],
                    "interface_endpoints": list(INTERFACE_ENDPOINTS), "aws_interface_endpoints": [],
                    "allowed_egress": list(sec.get("allowed_egress") or [])},
        "buckets": [{"key": k, "name_prefix": naming.bucket_prefix(env.system, env.env_name, k),
                     "expire_days": d if prod or d else None, "versioning": not waived(ir, "MLS-AWS-013"),
                     "access_logging": k != "logs" and not waived(ir, "MLS-AWS-014"),
                     "tls_only": not waived(ir, "MLS-AWS-012")} for k, d in BUCKETS],
        "log_retention_days": 365 if prod else 90,
        "ecr_repository": naming.kebab(env.system, env.env_name),
        "roles": [], "code": [], "files": [], "seeds": [], "secrets": [],
        "model_package_groups": [], "pipelines": [], "schedules": [], "state_machines": [],
        "approval_rules": [], "endpoints": [], "alarms": [], "topics": [], "monitors": [],
        "breach_rules": [], "failure_rules": [], "dashboard": None, "model_cards": [], "mlflow": None,
    }


def lower_environment(ir: dict, ctx: LowerContext, low: Lowering) -> tuple[dict, list[str]]:
    settings = dict((ir.get("targets") or {}).get("sagemaker") or {})
    diags: list[Diagnostic] = []
    notes: list[str] = []
    env = EnvContext(ir, ctx, settings, diags, notes)
    if not env.region:
        env.diag("system", "the sagemaker target needs a `region`", 'add `target sagemaker { region = "us-east-1" }`',
                 "E502")
        low.diagnostics.extend(diags)
        return {}, notes
    out = empty_stack(env)
    env.check_accelerators()
    for _kind, fn in LOWERERS:
        fn(env, out, low)
    tracking = ir.get("tracking") or {}
    if tracking.get("backend") == "mlflow":
        out["mlflow"] = {"name": env.name("mlflow"), "uri": tracking.get("uri"), "artifact_prefix": "mlflow",
                         "tracker": {"name": env.name("mlflow-tracker"), "source": "../code/_mlspec/track_mlflow.py",
                                     "handler": "track_mlflow.handler"}}
        out["network"]["aws_interface_endpoints"] = ["experiments"]
    iam.lower_roles(env, out, low)
    for f in ir.get("code", {}).get("files") or []:
        out["code"].append({"key": f"code/{f['path']}", "source": f"../code/{f['path']}"})
    for helper in HELPERS:
        out["code"].append({"key": f"code/_mlspec/{helper}", "source": f"../code/_mlspec/{helper}"})
    out["secrets"] = sorted(set(out["secrets"]))
    low.add(f"pulumi/stacks/{env.env_name}.json", "pulumi-stack-data", out, "json")
    low.diagnostics.extend(diags)
    for w in ir.get("waivers") or []:
        notes.append(f"waiver {w['rule']} applied in `{env.env_name}` (owner {w['owner']}, until {w['until']}): "
                     f"{w['reason']}")
    return out, notes
