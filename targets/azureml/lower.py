"""IR -> Azure ML artifact models: the Pulumi project, per-environment stack data and CLI v2 YAML.

Input: one IR dict per environment (docs/ir.md) and a LowerContext.
Output: a Lowering (artifacts relative to DIR/azureml/, compile-report notes, diagnostics).
Invariants: pure and deterministic (no clocks, no randomness, no absolute paths, no versions of
mlspec in artifacts); never opens files other than its own package templates; never imports
Pulumi, pulumi_azure_native or azure.* (the generated program does).

One ``lower_<kind>`` per IR kind, dispatched by ``LOWER`` below; the step kinds are dispatched
by ``jobs.LOWER_STEP``.
"""
from __future__ import annotations

import hashlib
import re
import json
from importlib import resources
from typing import Any, Callable, Sequence

from mlspec.compiler.contract import SCRIPT_KINDS
from mlspec.targets.base import Diagnostic, LowerContext, Lowering, local_name, refs, waived

from . import baseline, jobs, naming, serving, workflows

#: portable compute class -> AmlCompute VM size
# https://learn.microsoft.com/en-us/azure/virtual-machines/sizes
#: per docs/language.md#compute-classes (tested against it)
CLUSTER_SKU = {
    "cpu.small": "Standard_D2s_v3", "cpu.medium": "Standard_D4s_v3", "cpu.large": "Standard_D8s_v3",
    "cpu.xlarge": "Standard_D16s_v3", "memory.large": "Standard_E8s_v3", "gpu.small": "Standard_NC4as_T4_v3",
    "gpu.medium": "Standard_NV36ads_A10_v5", "gpu.large": "Standard_NC24ads_A100_v4",
}
DEFAULT_COMPUTE = "cpu.small"
#: `accelerators = N` on a gpu class -> the VM size with N GPUs of the class's kind (T4, A10, A100);
#: a count Azure sells no machine for is refused (E505). https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/overview#gpu-accelerated
GPU_CLUSTER_SKU = {
    "gpu.small": {1: "Standard_NC4as_T4_v3", 4: "Standard_NC64as_T4_v3"},
    "gpu.medium": {1: "Standard_NV36ads_A10_v5", 2: "Standard_NV72ads_A10_v5"},
    "gpu.large": {1: "Standard_NC24ads_A100_v4", 2: "Standard_NC48ads_A100_v4", 4: "Standard_NC96ads_A100_v4",
                  8: "Standard_ND96asr_v4"},
}


def gpus_of(compute: dict | None) -> int | None:
    """The GPU count a step asks for beyond its class's one GPU (None: the class's machine)."""
    n = int((compute or {}).get("accelerators") or 0)
    return n if n > 1 and (compute or {}).get("class", "").startswith("gpu.") else None


def cluster_sku(cls: str, gpus: int | None) -> str | None:
    return GPU_CLUSTER_SKU.get(cls, {}).get(gpus) if gpus else CLUSTER_SKU[cls]

#: Azure built-in role definition ids (https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles)
ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage File Data Privileged Contributor": "69566ab7-960f-475b-8e7c-b3118f30c6bd",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "Azure AI Enterprise Network Connection Approver": "b556d68e-0be0-4f35-a333-ad7ee1ce17ea",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
}

_MLS = "Microsoft.MachineLearningServices/workspaces/"
#: Custom roles of the workload identities (replacing AzureML Data Scientist, which can write model
#: tags and online deployments): exactly the Azure ML operations each needs, and never
#: onlineEndpoints write/deployments (deploying) nor, for monitoring and retraining, models/write.
#: https://learn.microsoft.com/en-us/azure/role-based-access-control/resource-provider-operations#microsoftmachinelearningservices
_RUN_ACTIONS = [_MLS.rstrip("/") + "/read", _MLS + "experiments/read", _MLS + "experiments/write",
                _MLS + "experiments/runs/read", _MLS + "experiments/runs/write", _MLS + "metrics/resource/write",
                _MLS + "jobs/read", _MLS + "datastores/read", _MLS + "data/read", _MLS + "environments/read",
                _MLS + "codes/read", _MLS + "components/read", _MLS + "computes/read"]
CUSTOM_ROLES = {
    "workload": ("mlspec workload", "pipeline steps and user code: run, track, register model versions "
                 "(the deployment re-checks approvals; no deploy rights)",
                 _RUN_ACTIONS + [_MLS + "models/read", _MLS + "models/write", _MLS + "models/versions/read",
                                 _MLS + "models/versions/write"]),
    "monitoring": ("mlspec monitoring", "model monitors: read models and collected data, write signal runs",
                   _RUN_ACTIONS + [_MLS + "jobs/write", _MLS + "models/read", _MLS + "models/versions/read",
                                   _MLS + "onlineEndpoints/read", _MLS + "data/write"]),
    "retrain": ("mlspec retrain", "retraining workflow: submit registered pipeline components as jobs",
                _RUN_ACTIONS + [_MLS + "jobs/write"]),
    "rollout": ("mlspec rollout", "rollout / rollback workflows: change the traffic of an online endpoint",
                [_MLS + "onlineEndpoints/read", _MLS + "onlineEndpoints/write"]),
}
#: actions no workload identity may hold (approval integrity, docs/security.md; tested). The rollout
#: workflows' `onlineEndpoints/write` on their one endpoint moves traffic between deployments that
#: exist (each checked at deploy time); creating a deployment (a model version) is not in any role.
DEPLOY_ACTIONS = (_MLS + "onlineEndpoints/deployments/write", _MLS + "batchEndpoints/deployments/write",
                  _MLS + "batchEndpoints/write")
#: roles that mlspec must never grant (MLS-AZ-041); a test checks none of the above is one
FORBIDDEN_ROLES = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner", "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
                   "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator"}

PULUMI_REQUIREMENTS = "pulumi==3.272.0\npulumi-azure-native==3.29.0\n"
DNS_ZONES = {  # private endpoint group -> private DNS zones (Azure public cloud)
    "vault": ["privatelink.vaultcore.azure.net"],
    "blob": ["privatelink.blob.core.windows.net"],
    "file": ["privatelink.file.core.windows.net"],
    "dfs": ["privatelink.dfs.core.windows.net"],
    "registry": ["privatelink.azurecr.io"],
    "amlworkspace": ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"],
    "azuremonitor": ["privatelink.monitor.azure.com", "privatelink.oms.opinsights.azure.com",
                     "privatelink.ods.opinsights.azure.com", "privatelink.agentsvc.azure-automation.net"],
}


def _template(rel: str) -> str:
    return resources.files("mlspec.targets.azureml").joinpath("templates", rel).read_text(encoding="utf-8")


def _role(name: str, scope: str) -> dict:
    return {"name": name, "id": ROLES[name], "slug": re.sub(r"[^a-z0-9]", "", name.lower())[:24], "scope": scope}


def _custom(key: str, scope: str) -> dict:
    name = CUSTOM_ROLES[key][0]
    return {"name": name, "custom": key, "slug": re.sub(r"[^a-z0-9]", "", name.lower())[:24], "scope": scope}


class Env:
    """One environment's IR plus everything derived from the target settings."""

    def __init__(self, ir: dict, ctx: LowerContext, diags: list[Diagnostic]):
        self.ir, self.ctx, self.diags = ir, ctx, diags
        self.name = ir["environment"]["name"]
        self.settings = dict((ir.get("targets") or {}).get("azureml") or {})
        self.system = ir["system"]["name"]
        self.sub = self.settings.get("subscription", "")
        self.rg = self.settings.get("resource_group", "")
        self.region = self.settings.get("region", "")
        self.prefix = naming.kebab(f"{self.system}-{self.name}")
        self.prefix_snake = self.prefix.replace("-", "_")
        self.datasets = refs(ir, "datasets")
        self.models = refs(ir, "models")
        self.endpoints = refs(ir, "endpoints")
        self.channels = refs(ir, "channels")
        self.experiment = ir["tracking"]["experiment"] or self.system
        self.environments: dict[str, tuple[dict, dict]] = {}
        self._environment_refs: dict[tuple, str] = {}
        self.notes: list[str] = []
        self.tags = {"mlspec-system": self.system, "owner": ir["system"]["owner"], "environment": self.name,
                     "data-classification": ir["security"]["data_classification"] or "unspecified",
                     "mlspec-ir-schema": ir["schema_version"],
                     **{f"label-{k}": str(v) for k, v in sorted(ir["system"]["labels"].items())}}
        self.workspace = naming.workspace(self.settings.get("workspace", self.system), self.name)

    def register_environment(self, framework: dict | None, tools: bool, gpu: bool, serve: bool = False,
                             extra: tuple[str, ...] = (), requirements: tuple[str, ...] = ()) -> str:
        """Record the Azure ML environment a component needs; return its `azureml:` reference."""
        base = self.settings.get("gpu_base_image" if gpu else "base_image")
        # the environment follows the framework's name and version only: built once per kind, not per step
        key = (framework and (framework["name"], framework["version"]), tools, gpu, serve, extra, requirements, base)
        ref = self._environment_refs.get(key)
        if ref is None:
            name, doc, conda_doc = jobs.environment(framework, tools, gpu, base, serve=serve, extra=extra,
                                                    requirements=requirements)
            self.environments[name] = (doc, conda_doc)
            ref = self._environment_refs[key] = f"azureml:{name}:{doc['version']}"
        return ref

    # ---------------------------------------------------------------- models
    @staticmethod
    def model_format(model: dict | None, framework: dict | None = None) -> str | None:
        """The portable contract's model `format` (IR schema 2), else the trainer framework's default."""
        if model and model.get("format"):
            return model["format"]
        fw = ((model or {}).get("framework") or framework or {}).get("name")
        return {"xgboost": "xgboost", "sklearn": "sklearn"}.get(fw)

    def loading(self, model: dict | None, framework: dict | None = None) -> dict:
        """How mlspec's helpers and the scoring script load a model: its format and serve handler."""
        serve = (model or {}).get("serve")
        return {"format": self.model_format(model, framework),
                "prediction": ((model or {}).get("prediction") or {}).get("output") or "label",
                "threshold": ((model or {}).get("prediction") or {}).get("threshold"),
                "task": (model or {}).get("task"),
                "serve": None if not serve else {"entry_point": serve["entry_point"],
                                                 "code_dir": serve.get("code_dir") or jobs._dirname(serve["entry_point"])}}

    def data_format(self, ref: str | None) -> str | None:
        """File format of a dataset or step output (IR schema 2 helper when present); None = by extension."""
        try:
            from mlspec.compiler.ir import data_format  # contract worker's helper (IR schema 2)
        except ImportError:
            data_format = None
        if data_format is not None and ref:
            try:
                return data_format(self.ir, ref)
            except (KeyError, ValueError, TypeError):
                pass
        ds = self.datasets.get(ref or "")
        return ds["format"] if ds else None

    #: what mlspec's helper jobs (bias_check, explain, batch scoring) read: the step output formats
    #: of the portable contract (csv with a header row, parquet, jsonl)
    HELPER_READ_FORMATS = ("csv", "parquet", "jsonl")

    def read_format(self, ref: str | None, ir_id: str, who: str,
                    readable: tuple[str, ...] = HELPER_READ_FORMATS) -> str | None:
        """The declared format a helper job reads `ref` in (its `data_format` config); None when
        undeclared (read by file extension). A format the helper cannot read is E505."""
        fmt = self.data_format(ref)
        if fmt is not None and fmt not in readable:
            self.diags.append(Diagnostic(
                "E505", f"{who} on Azure ML reads {', '.join(f'`{f}`' for f in readable)} data; `{ref}` is `{fmt}`",
                ir_id, hint="write the data as " + " or ".join(f"`{f}`" for f in readable)
                            + (" (`outputs = { name = parquet }` on the producing step)" if (ref or "").startswith("step.")
                               else " (the dataset's `format`)")))
            return None
        return fmt

    def label_of(self, model: dict, monitor: dict | None = None) -> str:
        """The model's label column: IR `label` (schema 2), else the label-role column of the
        monitor's baseline or of any dataset of the system."""
        if model.get("label"):
            return model["label"]
        candidates = [self.datasets.get((monitor or {}).get("baseline") or "")] + list(self.ir["datasets"])
        for ds in candidates:
            col = next((c["name"] for c in (ds or {}).get("schema", []) if c["role"] == "label"), None)
            if col:
                return col
        return "label"

    def model_for_source(self, ref: str | None) -> dict | None:
        """The spec model registered from a step output (so its format applies to that output)."""
        return next((m for m in self.ir["models"] if ref and m.get("source") == ref), None)

    # ---------------------------------------------------------------- names
    def endpoint_name(self, e: dict) -> str:
        return naming.endpoint(self.system, e["name"], self.name, self.sub)

    def model_name(self, model_key: str) -> str:
        return naming.asset(model_key)

    def identity_name(self, component: str) -> str:
        return naming.identity(f"{self.system}-{self.name}", component)

    def identity_resource_id(self, component: str) -> str:
        return (f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/{self.identity_name(component)}")

    # ---------------------------------------------------------------- compute and data
    def compute_for(self, compute: dict | None, spot: bool = False) -> str:
        """The AmlCompute cluster of a compute class; `spot` steps run on the class's low-priority
        cluster (`<class>-lp`, a separate cluster: a cluster has one VM priority)."""
        return naming.compute((compute or {}).get("class") or DEFAULT_COMPUTE, spot, gpus_of(compute))

    @staticmethod
    def is_gpu(compute: dict | None) -> bool:
        return bool(compute) and compute["class"].startswith("gpu.")

    def uri(self, uri: str) -> str:
        """Portable data:// URIs map to the workspace's identity-based blob datastore."""
        if uri.startswith("data://"):
            datastore = self.settings.get("datastore") or "workspaceblobstore"
            return f"azureml://datastores/{datastore}/paths/{uri[len('data://'):]}"
        return uri

    def data_input(self, ds: dict) -> dict:
        kind = "uri_folder" if ds["uri"].endswith("/") or ds["format"] in ("parquet", "delta", "tfrecord") \
            else "uri_file"
        return {"type": kind, "path": self.uri(ds["uri"]), "mode": "ro_mount"}

    def task_of(self, mo: dict) -> str:
        """The monitor's `ml_task`: from the monitored model's `task` (binary / multiclass
        classification -> classification, regression -> regression); a model without `task` falls
        back to the baseline's label column type (float: regression)."""
        endpoint = self.endpoints.get(mo.get("endpoint") or "") or {}
        task = (self.models.get(endpoint.get("model") or "") or {}).get("task")
        if task:
            return "regression" if task == "regression" else "classification"
        ds = self.datasets.get(mo.get("baseline") or "")
        label = next((c for c in (ds or {}).get("schema", []) if c["role"] == "label"), None)
        return "regression" if label and label["type"] == "float" else "classification"

    # ---------------------------------------------------------------- text and tags
    def describe(self, what: str) -> str:
        return f"{what} of {self.system} ({self.name}); generated by mlspec from {self.ctx.spec_path}"

    def lineage_tags(self, pipeline: dict) -> dict:
        memo = self.__dict__.setdefault("_lineage_memo", {})  # once per pipeline, not once per step
        if pipeline["id"] not in memo:
            memo[pipeline["id"]] = self._lineage_tags(pipeline)
        return dict(memo[pipeline["id"]])

    def _lineage_tags(self, pipeline: dict) -> dict:
        tags = {"mlspec-system": self.system, "mlspec-environment": self.name,
                "mlspec-pipeline": pipeline["id"], "mlspec-spec-sha256": self.ir["source"]["sha256"],
                "mlspec-code-sha256": self.ir["code"]["sha256"]}
        for step in pipeline["steps"]:
            if step["kind"] == "validate" and step.get("data") in self.datasets:
                tags[f"mlspec-data-{local_name(step['data'])}"] = self.datasets[step["data"]]["version"]
        return tags

    def champion_model(self, gate: dict) -> str | None:
        for m in self.ir["models"]:
            if gate["id"] in m["gates"]:
                return self.model_name(m["name"])
        return None

    def register_config(self, model: dict, step: dict, pipeline: dict) -> dict:
        approval = model["approval"]
        required = approval["required"] and self.ir["environment"]["approval"] == "required"
        train = next((s for s in pipeline["steps"] if s["id"] == ".".join(step["source"].split(".")[:2])), {})
        data_versions = {local_name(d["id"]): d["version"] for d in self.ir["datasets"]}
        return {
            "model": self.model_name(model["name"]),
            "description": model["description"],
            "framework": model["framework"],
            "stage": "pending_approval" if required else "approved",
            "approved_by": None if required else f"policy:environment-{self.name}",
            "approval": {"required": required, "approvers": approval["approvers"], "count": approval["count"]},
            "card": {"name": model["name"], "description": model["description"], "owner": self.ir["system"]["owner"],
                     **model["card"], "approvers": approval["approvers"], "explain": model["explain"],
                     "kpis": self.ir["kpis"]},
            # the spec hash is not here: it arrives as the register step's `spec_sha256` input (bound
            # to the pipeline job's input), and the card's gates are the gate steps' decisions, so
            # this file changes only when what it says changes (issue 16, blast radius)
            "lineage": {"mlspec.code_sha256": self.ir["code"]["sha256"],
                        "mlspec.pipeline": pipeline["id"], "mlspec.environment": self.name,
                        "mlspec.data_versions": json.dumps(data_versions, sort_keys=True),
                        "mlspec.hyperparameters": json.dumps(train.get("hyperparameters") or {}, sort_keys=True)},
            "metrics_from": step.get("metrics_from"),
            # mlflow_model only for an MLflow model directory; anything else is a custom_model that
            # deploys with mlspec's scoring script (serving config) and a serving environment
            "model_loading": self.loading(model),
            # served or batch-scored: the format's file must be there (the scoring script loads it)
            "format_required": any(e.get("model") == model["id"] for e in self.ir.get("endpoints") or [])
            or any(b.get("model") == model["id"] for b in self.ir.get("batch") or []),
        }



# ==================================================================== per-kind lowering
def lower_pipelines(env: Env, out: dict) -> None:
    for p in env.ir["pipelines"]:
        arts, runnable = jobs.lower_pipeline(env, p)
        out["artifacts"] += arts
        out["runnables"][p["id"]] = runnable
    _on_failure(env, out)


def _on_failure(env: Env, out: dict) -> None:
    """`on_failure = [channel.x]`: an Azure Monitor log alert on the workspace's run-status log
    (AmlRunStatusChangedEvent, sent to Log Analytics by the workspace's diagnostic setting) that
    fires when a top-level run (a pipeline job: no parent run) of the pipelines' experiment fails,
    and notifies the channels' action groups. The log names the experiment, not the pipeline, so
    the pipelines and batch jobs of one experiment share one alert (a compile note names them)."""
    notify = [p for p in env.ir["pipelines"] if p.get("on_failure")]
    if not notify:
        return
    groups = sorted({local_name(c) for p in notify for c in p["on_failure"]})
    names = [p["name"] for p in notify]
    others = [p["name"] for p in env.ir["pipelines"] if not p.get("on_failure")] + \
        [f"batch_{b['name']}" for b in env.ir["batch"]]
    out["stack"]["log_alerts"].append({
        "key": "pipeline-failed", "name": naming.kebab(f"{env.prefix}-pipeline-failed"), "scope": "logs",
        "measure": "failed", "aggregation": "Maximum", "operator": "GreaterThan", "threshold": 0,
        "window": "PT5M", "severity": 2, "groups": groups,
        "query": ("AmlRunStatusChangedEvent | where ExperimentName == '" + env.experiment + "' "
                  "and Status == 'Failed' and isempty(ParentRunId) | summarize failed = count()"),
        "description": "a run of pipeline " + ", ".join(f"`{n}`" for n in names) + " failed"})
    if others:
        env.notes.append(f"azureml/{env.name}: `on_failure` of " + ", ".join(f"`{n}`" for n in names)
                         + f": one log alert on failed pipeline jobs of experiment `{env.experiment}`, which "
                         + ", ".join(f"`{n}`" for n in others) + " also run in (Azure's run-status log names "
                         "the experiment, not the pipeline), so their failures notify the same channels")


def lower_batch(env: Env, out: dict) -> None:
    for b in env.ir["batch"]:
        arts, runnable = jobs.lower_batch(env, b)
        out["artifacts"] += arts
        out["runnables"][b["id"]] = runnable


def lower_endpoints(env: Env, out: dict) -> None:
    for e in env.ir["endpoints"]:
        arts, entry = serving.lower_endpoint(env, e, env.diags)
        out["artifacts"] += arts
        out["stack"]["endpoints"].append(entry)
        out["identities"].append(_identity(env, f"endpoint-{e['name']}", [
            _role("AcrPull", "registry"),
            _role("Storage Blob Data Contributor" if e["capture"] else "Storage Blob Data Reader", "storage"),
            _role("Monitoring Metrics Publisher", "app_insights")]))
        if entry["controller"] or entry["rollback"]:
            out["identities"].append(_identity(env, f"rollout-{e['name']}", []))


def lower_monitors(env: Env, out: dict) -> None:
    for mo in env.ir["monitors"]:
        if mo["kind"] in ("model_quality", "bias_drift"):
            out["artifacts"] += _quality_monitor(env, mo, out)
            out["breach"].append(_breach(env, mo, out["runnables"], job_failed=True, with_channels=False))
            experiment = naming.asset(env.prefix_snake, "monitor", mo["name"])
            out["stack"]["log_alerts"].append({
                "key": f"monitor-{mo['name']}", "name": naming.kebab(f"{env.prefix}-monitor-{mo['name']}"),
                "scope": "logs", "measure": "failed", "aggregation": "Maximum", "operator": "GreaterThan",
                "threshold": 0, "window": serving.window(min(mo["every_s"], 86400)), "severity": 2,
                "groups": [local_name(c) for c in mo["notify"]],
                "query": ("AmlRunStatusChangedEvent | where ExperimentName == '" + experiment + "' "
                          "| summarize failed = countif(Status == 'Failed')"),
                "description": f"{mo['kind']} monitor `{mo['name']}` breached ({mo['metric']})"})
            continue
        arts, entry = serving.lower_monitor(env, mo, env.diags)
        out["artifacts"] += arts
        if entry:
            out["stack"]["monitors"].append(entry)
            out["breach"].append(_breach(env, mo, out["runnables"], job_failed=False))


def lower_alerts(env: Env, out: dict) -> None:
    for a in env.ir["alerts"]:
        entry = serving.lower_alert(env, a, env.diags)
        out["stack"]["log_alerts" if entry["scope"] == "logs" else "alerts"].append(entry)


def lower_channels(env: Env, out: dict) -> None:
    for c in env.ir["channels"]:
        if c.get("secret") and not _SECRET_NAME.fullmatch(c["secret"]):
            env.diags.append(Diagnostic("E505", f"secret reference `{c['secret']}` of channel `{c['name']}` cannot "
                                        "name a Pulumi config secret on Azure", c["id"],
                                        hint="use letters, digits, `-`, `_` and `.`, e.g. `secret(\"slack-url\")`"))
        if c.get("slack_channel"):
            # the webhook posts to a Slack workflow (or incoming webhook) URL: the workflow, not the
            # message, decides the channel; the action group has nowhere to put one
            env.diags.append(Diagnostic(
                "W505", f"`slack_channel` of channel `{c['name']}` is not used on Azure ML: its action group posts to "
                        f"the Slack workflow whose URL is the secret `{c['secret']}`, and that workflow decides the "
                        "channel", c["id"],
                hint=f"make the workflow (or incoming webhook) behind `{c['secret']}` post to "
                     f"`{c['slack_channel']}`; `slack_channel` stays for clouds that post with a token",
                severity="warning"))
        out["stack"]["channels"].append(serving.lower_channel(env, c))


#: IR collection -> lowering function (STYLE §4: one per kind, visible table)
LOWER: dict[str, Callable[[Env, dict], None]] = {
    "pipelines": lower_pipelines, "batch": lower_batch, "endpoints": lower_endpoints,
    "monitors": lower_monitors, "alerts": lower_alerts, "channels": lower_channels,
}


def egress_hosts(env: Env) -> list[str]:
    """The hosts every job of the workspace can reach besides the stack's private endpoints: the
    managed network's FQDN outbound rules (`allowed_egress`, plus the image-build hosts while the
    workspace builds environments). Same list as `_network` writes."""
    declared = list(env.ir["security"]["allowed_egress"])
    return declared + ([f for f in jobs.IMAGE_BUILD_FQDNS if f not in declared] if env.environments else [])


def _network_isolation(env: Env) -> None:
    """`network_isolation` of a step. Azure ML has no per-job switch (a command job has no network
    setting): every job runs in the workspace's managed network, `AllowOnlyApprovedOutbound`.
    `false` ("reach what the private network reaches") is exactly that. `true` ("only the storage
    it reads and writes") cannot be narrowed below the workspace's rules: while the managed network
    has FQDN rules, an isolated step's job can reach those hosts too -- a substitution, so one W505
    names the steps and the hosts (never silent)."""
    isolated = [s["name"] for p in env.ir["pipelines"] for s in p["steps"]
                if s["kind"] in SCRIPT_KINDS and s.get("network_isolation", True)]
    hosts = egress_hosts(env)
    if not (isolated and hosts):
        return
    shown = ", ".join(f"`{n}`" for n in isolated[:6]) + (f" and {len(isolated) - 6} more" if len(isolated) > 6 else "")
    env.diags.append(Diagnostic(
        "W505", f"Azure ML has no per-job network isolation: the jobs of {shown} (`network_isolation = true`) run in "
                "the workspace's managed network and can reach the stack's storage, key vault and registry and "
                + ", ".join(f"`{h}`" for h in hosts), "security",
        hint="the isolation is the workspace's (docs/targets/azureml.md); keep `allowed_egress` to the hosts jobs "
             "need (the image-build hosts stay while the workspace builds environments), or write "
             "`network_isolation = false` on steps that may reach them", severity="warning"))


def _identity(env: Env, key: str, roles: list[dict]) -> dict:
    return {"key": key, "name": env.identity_name(key), "roles": roles}


def _quality_monitor(env: Env, mo: dict, out: dict) -> list:
    """model_quality / bias_drift (no Azure ML signal): a scheduled pipeline over the deployment's
    collected data (plus ground truth for quality) that fails the job on a breach."""
    endpoint = env.endpoints[mo["endpoint"]]
    ep_name = env.endpoint_name(endpoint)
    name = f"monitor_{mo['name']}"
    step = {"id": mo["id"], "name": "check", "kind": "monitor", "depends_on": [], "compute": None,
            "outputs": ["report"], "max_runtime_s": None}
    pipeline = {"id": mo["id"], "name": name, "steps": [], "gates": []}
    folder = f"{env.name}/pipelines/{name}"
    b = jobs.PipelineBuilder(env, pipeline, folder)
    refs = {}
    slot = serving.monitored_deployment(endpoint, serving.rollout_plan(endpoint, env, [])) or serving.FIRST_SLOT
    for asset in ("model_inputs", "model_outputs"):
        b.inputs[asset] = {"type": "uri_folder", "mode": "ro_mount", "path": f"azureml:{ep_name}-{slot}-{asset}@latest"}
        refs[asset] = "${{parent.inputs.%s}}" % asset
    literals: dict[str, dict] = {}
    if mo["kind"] == "model_quality":
        b.inputs["ground_truth"] = {"type": "uri_folder", "path": env.uri(mo["ground_truth"]), "mode": "ro_mount"}
        refs["ground_truth"] = "${{parent.inputs.ground_truth}}"
        if mo.get("join_on"):
            # the column shared by the requests and the ground-truth rows: a string input of the
            # check job (its value bound on the node, like a gate's thresholds)
            literals["join_on"] = {"type": "string"}
    b._helper_step(step, "quality_monitor", refs, ["report"],
                   {"kind": mo["kind"], "metric": mo["metric"], "facets": mo["facets"],
                    "above": mo["breach"]["above"], "below": mo["breach"]["below"],
                    "monitor": mo["name"], "endpoint": ep_name, "label": env.label_of(env.models[endpoint["model"]], mo),
                    "positive_label": env.models[endpoint["model"]].get("positive_label"),
                    "model_loading": env.loading(env.models[endpoint["model"]])},
                   f"{mo['kind']} `{mo['metric']}` of endpoint `{endpoint['name']}`; fails the job on a breach",
                   literals=literals or None)
    if literals:
        b.jobs["check"].setdefault("inputs", {})["join_on"] = mo["join_on"]
    freq, interval = serving.recurrence(mo["every_s"])
    arts, runnable = jobs.finish_pipeline(
        env, b, name=name, description=env.describe(f"{mo['kind']} monitor `{mo['name']}`"),
        tags={"mlspec-monitor": mo["id"], "mlspec-environment": env.name},
        experiment=naming.asset(env.prefix_snake, "monitor", mo["name"]), default_compute=env.compute_for(None),
        trigger={"type": "recurrence", "frequency": freq, "interval": interval})
    # the program points the schedule at the released slot's collected data (CLI files: the first
    # release's slot); an A/B endpoint's monitored variant is fixed
    runnable["release"] = {"model": local_name(endpoint["model"]), "slot_marker": f"{ep_name}-{slot}-",
                           "deployment": serving.monitored_deployment(endpoint, serving.rollout_plan(endpoint, env, []))}
    out["runnables"][mo["id"]] = runnable
    return arts


def _breach(env: Env, mo: dict, runnables: dict, *, job_failed: bool, with_channels: bool = True) -> dict | None:
    """Retraining and non-email channels for a monitor breach (Event Grid -> Logic App)."""
    secrets = [env.channels[c]["secret"] for c in mo["notify"]
               if env.channels[c]["type"] != "email" and with_channels]
    pipelines = [{k: v for k, v in runnables[pid].items() if k != "schedule"} for pid in mo["retrains"]]
    if not secrets and not pipelines:
        return None
    monitor_name = naming.asset(env.prefix_snake, "monitor", mo["name"])
    return {"key": mo["name"], "name": naming.kebab(f"wf-breach-{env.prefix}-{mo['name']}")[:80],
            "subscription_name": naming.kebab(f"breach-{mo['name']}")[:64], "monitor_name": monitor_name,
            "pipelines": pipelines, "secrets": secrets,
            "filters": ([{"key": "data.RunStatus", "values": ["Failed"]}] if job_failed else
                        [{"key": "data.RunTags.azureml_modelmonitor_threshold_breached",
                          "values": ["has failed due to one or more features violating metric thresholds"]}])
            + [{"key": "data.ExperimentName", "values": [monitor_name]}]}


# ==================================================================== stack data
def _computes(env: Env) -> list[dict]:
    """One AmlCompute cluster per compute class used (dedicated), plus one low-priority cluster per
    class that `spot` steps use; max nodes covers the largest step (instances x parallel trials)."""
    need: dict[tuple[str, bool, int | None], int] = {(DEFAULT_COMPUTE, False, None): 1}
    where: dict[tuple[str, bool, int | None], str] = {}
    for p in env.ir["pipelines"]:
        for s in p["steps"]:
            c = s.get("compute") or {"class": DEFAULT_COMPUTE, "instance_count": 1}
            n = c["instance_count"] * (s.get("parallel_trials") or 1)
            key = (c["class"], bool(s.get("spot")), gpus_of(c))
            need[key] = max(need.get(key, 1), n)
            where.setdefault(key, s["id"])
    for b in env.ir["batch"]:
        key = (b["compute"]["class"], False, gpus_of(b["compute"]))
        need[key] = max(need.get(key, 1), b["compute"]["instance_count"])
        where.setdefault(key, b["id"])
    out = []
    for (cls, spot, gpus), n in sorted(need.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        sku = cluster_sku(cls, gpus)
        if sku is None:
            counts = sorted(GPU_CLUSTER_SKU.get(cls, {}))
            env.diags.append(Diagnostic(
                "E505", f"Azure has no machine with {gpus} GPUs of the `{cls}` kind", where[(cls, spot, gpus)],
                hint="use `accelerators` = " + " or ".join(str(c) for c in counts) + f" with `{cls}`"
                     + (", or `gpu.large` (1, 2, 4 or 8 A100)" if cls != "gpu.large" else "")))
            continue
        out.append({"name": naming.compute(cls, spot, gpus), "vm_size": sku, "max_nodes": max(2, n),
                    "priority": "LowPriority" if spot else "Dedicated", "identity": "compute",
                    "description": f"{cls}{f' {gpus}-GPU' if gpus else ''} "
                                   f"{'low-priority (spot) ' if spot else ''}cluster of {env.system} ({env.name})"})
    return out


def _workbook(env: Env) -> dict | None:
    if not env.ir["endpoints"]:
        return None
    import uuid  # deterministic name (uuid5 of the system/environment), never random
    kpi_rows = "\n".join(f"| {k['name']} | {k['description'] or ''} | {k['goal'] or ''} |" for k in env.ir["kpis"])
    items: list[dict[str, Any]] = [{"type": 1, "name": "kpis", "content": {"json": (
        f"## {env.system} ({env.name})\n\n| KPI | description | goal |\n|---|---|---|\n{kpi_rows}")}}]
    for e in env.ir["endpoints"]:
        name = env.endpoint_name(e)
        for metric, agg in (("RequestLatency_P99", 4), ("RequestLatency_P50", 4), ("RequestsPerMinute", 1)):
            items.append({"type": 10, "name": f"{e['name']}-{metric}", "content": {
                "chartId": f"{e['name']}-{metric}", "version": "MetricsItem/2.0", "size": 0, "chartType": 2,
                "resourceType": "microsoft.machinelearningservices/workspaces/onlineendpoints",
                "metricScope": 0, "timeContext": {"durationMs": 86400000},
                "resourceIds": [f"/subscriptions/{env.sub}/resourceGroups/{env.rg}/providers/"
                                f"Microsoft.MachineLearningServices/workspaces/{env.workspace}/onlineEndpoints/{name}"],
                "metrics": [{"namespace": "microsoft.machinelearningservices/workspaces/onlineendpoints",
                             "metric": f"microsoft.machinelearningservices/workspaces/onlineendpoints--{metric}",
                             "aggregation": agg}]}})
        items.append({"type": 3, "name": f"{e['name']}-errors", "content": {
            "version": "KqlItem/1.0", "queryType": 0, "resourceType": "microsoft.operationalinsights/workspaces",
            "query": ("AmlOnlineEndpointTrafficLog | where EndpointName == '" + name + "' | summarize "
                      "errors = countif(ResponseCode startswith '5'), total = count() by bin(TimeGenerated, 5m) "
                      "| extend error_percent = 100.0 * errors / total")}})
    items.append({"type": 3, "name": "monitor-runs", "content": {
        "version": "KqlItem/1.0", "queryType": 0, "resourceType": "microsoft.operationalinsights/workspaces",
        "query": "AmlComputeJobEvent | where ExperimentName startswith '" + env.prefix_snake + "_monitor_' "
                 "| project TimeGenerated, ExperimentName, JobName, EventType"}})
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlspec://{env.sub}/{env.system}/{env.name}/workbook")),
            "display_name": f"{env.system} ({env.name}) - mlspec", "content": {
                "version": "Notebook/1.0", "items": items, "isLocked": False,
                "fallbackResourceIds": ["Azure Monitor"]}}


def _key(env: Env) -> dict:
    kms = env.ir["security"]["kms_key"]
    existing = None
    if kms:
        vault_id = env.settings.get("key_vault_id")
        if not vault_id or "/keys/" not in kms:
            env.diags.append(Diagnostic(
                "E505", "an existing key on Azure needs a Key Vault key identifier and the `key_vault_id` setting",
                "security", hint="write `kms_key = \"https://<vault>.vault.azure.net/keys/<name>\"` and "
                                 "`target azureml { key_vault_id = \"/subscriptions/.../vaults/<vault>\" }`"))
        vault_uri, _, rest = kms.partition("/keys/")
        existing = {"key_uri": kms, "vault_id": vault_id, "vault_uri": vault_uri + "/", "key_name": rest.split("/")[0]}
    prod = env.ir["environment"]["production"]
    return {"name": naming.kebab(f"cmk-{env.prefix}")[:127], "size": 3072, "existing": existing,
            "rotate_after": "P90D" if prod else "P180D", "expiry": "P1Y"}


def _network(env: Env, pe: list[dict]) -> dict:
    """The stack's VNet: the private-endpoint subnet and the `runners` subnet, the path of callers
    outside Azure (CI runner: `pulumi up`, `mlspec apply`, `az ml`; a jump host) into the private
    workspace, registry, vault and storage. The runners subnet has an NSG closing inbound traffic
    from the Internet and a NAT gateway for outbound HTTPS (ARM, Entra ID, the CI service); the
    private DNS zones are linked to the VNet and to every peered network (`peer_vnet_ids`)."""
    import ipaddress

    space = env.settings.get("vnet_cidr") or "10.42.0.0/16"
    subnet = env.settings.get("subnet_cidr") or "10.42.0.0/24"
    runners = env.settings.get("runner_subnet_cidr")
    try:
        net, pe_net = ipaddress.ip_network(space, strict=False), ipaddress.ip_network(subnet, strict=False)
        if not runners:  # the next /24 after the private-endpoint subnet, inside the address space
            nxt = ipaddress.ip_network(f"{pe_net.broadcast_address + 1}/24", strict=False)
            runners = str(nxt) if nxt.subnet_of(net) else None  # type: ignore[arg-type]
        run_net = ipaddress.ip_network(runners, strict=False) if runners else None
    except ValueError as e:
        env.diags.append(Diagnostic("E505", f"the `azureml` network settings are not valid address ranges ({e})",
                                    "targets", hint='e.g. vnet_cidr = "10.42.0.0/16"  subnet_cidr = "10.42.0.0/24"  '
                                                    'runner_subnet_cidr = "10.42.1.0/24"'))
        run_net = None
    else:
        if run_net is None or not run_net.subnet_of(net) or run_net.overlaps(pe_net):  # type: ignore[arg-type]
            env.diags.append(Diagnostic(
                "E505", f"the runners subnet (`runner_subnet_cidr` = {runners or 'unset'}) must lie inside "
                f"`vnet_cidr` ({space}) without overlapping the private-endpoint subnet ({subnet})", "targets",
                hint=f'set runner_subnet_cidr to a free range of {space}, e.g. "{_free_subnet(net, pe_net)}"'))
    peers = [v for v in env.settings.get("peer_vnet_ids") or [] if isinstance(v, str) and _VNET_ID.fullmatch(v)]
    for v in env.settings.get("peer_vnet_ids") or []:
        if not (isinstance(v, str) and _VNET_ID.fullmatch(v)):
            env.diags.append(Diagnostic("E505", f"`peer_vnet_ids` entry {v!r} is not a virtual network resource id",
                                        "targets", hint='"/subscriptions/<id>/resourceGroups/<rg>/providers/'
                                                        'Microsoft.Network/virtualNetworks/<name>"'))
    return {"address_space": space, "subnet": subnet,
            "runner_subnet": str(run_net) if run_net else runners,
            "runner_nsg": f"nsg-{env.prefix}-runners"[:80], "nat_gateway": f"ng-{env.prefix}-runners"[:80],
            "nat_ip": f"pip-{env.prefix}-runners-egress"[:80],
            "peers": [{"key": f"peer-{i}", "id": vid, "name": f"peer-{i}-{vid.split('/')[-1]}"[:80]}
                      for i, vid in enumerate(peers)],
            "dns_zones": sorted({z for p in pe for z in p["zones"]}), "private_endpoints": pe}


_VNET_ID = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w\._\(\)]{1,90}/providers/"
                      r"Microsoft\.Network/virtualNetworks/[-\w\._]{2,64}")


def _free_subnet(net, taken) -> str:
    for cand in net.subnets(new_prefix=max(net.prefixlen, min(28, 24 if net.prefixlen <= 23 else 28))):
        if not cand.overlaps(taken):
            return str(cand)
    return "10.42.1.0/24"


def build_stack(env: Env, out: dict) -> dict:
    ir = env.ir
    sensitive = baseline.high_business_impact(ir["security"]["data_classification"])
    if waived(ir, "MLS-AZ-054"):
        sensitive = False
    ids = [
        _identity(env, "workspace", [
            _role("Storage Blob Data Contributor", "storage"), _role("Storage File Data Privileged Contributor", "storage"),
            _role("Azure AI Enterprise Network Connection Approver", "storage"),
            _role("Key Vault Secrets Officer", "secrets"), _role("Key Vault Crypto Service Encryption User", "vault"),
            _role("Azure AI Enterprise Network Connection Approver", "secrets"),
            _role("AcrPush", "registry"), _role("Azure AI Enterprise Network Connection Approver", "registry"),
            _role("Monitoring Metrics Publisher", "app_insights")]),
        _identity(env, "storage", [_role("Key Vault Crypto Service Encryption User", "vault")]),
        _identity(env, "registry", [_role("Key Vault Crypto Service Encryption User", "vault")]),
        _identity(env, "compute", [_role("Storage Blob Data Contributor", "storage"), _role("AcrPull", "registry"),
                                   _custom("workload", "workspace")]),
        _identity(env, "monitoring", [_role("Storage Blob Data Contributor", "storage"),
                                      _custom("monitoring", "workspace")]),
    ]
    if any(out["breach"]):
        ids.append(_identity(env, "retrain", [_custom("retrain", "workspace")]))
    # per-role/scope duplicates would collide in Pulumi URNs
    for ident in ids + out["identities"]:
        seen = set()
        ident["roles"] = [r for r in ident["roles"] if (r["slug"], r["scope"]) not in seen
                          and not seen.add((r["slug"], r["scope"]))]
    pe = [{"key": "vault", "name": f"pe-{env.prefix}-vault", "target": "vault", "group": "vault",
           "zones": DNS_ZONES["vault"]},
          *({"key": f"storage-{g}", "name": f"pe-{env.prefix}-{g}", "target": "storage", "group": g,
             "zones": DNS_ZONES[g]} for g in ("blob", "file", "dfs")),
          {"key": "registry", "name": f"pe-{env.prefix}-registry", "target": "registry", "group": "registry",
           "zones": DNS_ZONES["registry"]},
          {"key": "workspace", "name": f"pe-{env.prefix}-workspace", "target": "workspace", "group": "amlworkspace",
           "zones": DNS_ZONES["amlworkspace"]},
          {"key": "monitor", "name": f"pe-{env.prefix}-monitor", "target": "monitor", "group": "azuremonitor",
           "zones": DNS_ZONES["azuremonitor"] + DNS_ZONES["blob"]}]
    outbound = [{"name": f"pe-{t}-{g}", "type": "PrivateEndpoint", "target": t, "subresource": g}
                for t, g in (("storage", "blob"), ("storage", "file"), ("storage", "dfs"), ("vault", "vault"),
                             ("registry", "registry"))]
    declared = list(ir["security"]["allowed_egress"])
    outbound += [{"name": naming.kebab(f"fqdn-{f}")[:60], "type": "FQDN", "fqdn": f} for f in declared]
    if env.environments:  # the workspace builds step/serving environments: conda-forge + PyPI only
        outbound += [{"name": naming.kebab(f"build-{f}")[:60], "type": "FQDN", "fqdn": f}
                     for f in jobs.IMAGE_BUILD_FQDNS if f not in declared]
    return {
        "header": f"generated by mlspec from {env.ctx.spec_path}; do not edit",
        "system": env.system, "environment": env.name, "production": ir["environment"]["production"],
        "subscription": env.sub, "region": env.region, "tags": env.tags,
        "names": {"log_analytics": f"log-{env.prefix}"[:63], "app_insights": f"appi-{env.prefix}",
                  "vnet": f"vnet-{env.prefix}", "event_topic": f"evgt-{env.prefix}",
                  "private_link_scope": f"ampls-{env.prefix}",
                  "storage": naming.storage_account(env.system, env.name, env.sub),
                  "key_vault": naming.key_vault(env.system, env.name, env.sub),
                  "registry": naming.container_registry(env.system, env.name, env.sub)},
        "log_retention_days": 365 if ir["environment"]["production"] else 90,
        "key": _key(env),
        "storage": {"sku": "Standard_ZRS" if ir["environment"]["production"] else "Standard_LRS",
                    "sas_expiration": "0.01:00:00", "soft_delete_days": 30,
                    "containers": ["data", "models", "capture", "monitoring"]},
        "network": _network(env, pe),
        "identities": ids + out["identities"],
        "human_roles": [{"key": f"approver-{i}", "principal_id": oid, "principal_type": "Group",
                         "role": _role("AzureML Data Scientist", "workspace")}
                        for i, oid in enumerate(env.settings.get("approver_object_ids") or [])],
        "workspace": {"name": env.workspace, "friendly_name": f"{env.system} ({env.name})",
                      "description": env.describe("Azure ML workspace"), "hbi": sensitive,
                      "image_build_compute": naming.compute(DEFAULT_COMPUTE), "outbound_rules": outbound},
        "diagnostics": [{"target": t} for t in ("workspace", "vault", "registry")],
        "computes": _computes(env),
        "models": [{"key": m["name"], "name": env.model_name(m["name"]), "description": m["description"],
                    "tags": {"mlspec-model": m["id"], "mlspec-approvers": ",".join(m["approval"]["approvers"]),
                             "mlspec-approvals-required": str(m["approval"]["count"])}}
                   for m in ir["models"]],
        "model_names": {m["name"]: env.model_name(m["name"]) for m in ir["models"]},
        "approval_count": {m["name"]: max(1, int(m["approval"]["count"] or 1)) for m in ir["models"]},
        "approval_required": {m["name"]: bool(m["approval"]["required"]
                                              and ir["environment"]["approval"] == "required")
                              for m in ir["models"]},
        "channels": out["stack"]["channels"], "endpoints": out["stack"]["endpoints"],
        "alerts": out["stack"]["alerts"], "log_alerts": out["stack"]["log_alerts"],
        "monitors": out["stack"]["monitors"],
        "endpoint_names": {e["name"]: env.endpoint_name(e) for e in ir["endpoints"]},
        "breach_handlers": [b for b in out["breach"] if b],
        "job_schedules": [dict(r, key=naming.kebab(r["name"])) for r in out["runnables"].values() if r.get("schedule")],
        "workflows": {"api_version": workflows.API_VERSION, "rollout": workflows.ROLLOUT,
                      "rollback": workflows.ROLLBACK, "breach": workflows.BREACH},
        "custom_roles": [{"key": k, "name": f"{v[0]} ({env.prefix}, {env.rg})", "description": "mlspec: " + v[1],
                          "actions": list(v[2])} for k, v in CUSTOM_ROLES.items()],
        "managed_identity_operator": ROLES["Managed Identity Operator"],
        "workload_identities": [i["key"] for i in ids + out["identities"]],
        "approvers": {m["name"]: sorted(set(m["approval"]["approvers"]) | set(env.settings.get("approver_object_ids")
                                                                              or [])) for m in ir["models"]},
        "first_slot": serving.FIRST_SLOT,
        "serving_code": {"name": naming.asset(env.system, "serving"), "version": ""},  # lower(): code_version
        "workbook": _workbook(env),
    }


# ==================================================================== entry point
SETTINGS_REQUIRED = ("subscription", "resource_group", "workspace", "region")


def project_name(ir: dict) -> str:
    return naming.kebab(f"{ir['system']['name']}-azureml")


_SECRET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def stack_config(env: Env, project: str, ctx: LowerContext) -> str:
    """Pulumi.<env>.yaml as text, so it can list (as comments) the secrets the stack needs."""
    config = {"azure-native:location": env.region, "azure-native:subscriptionId": env.sub,
              f"{project}:resourceGroup": env.rg, f"{project}:stackData": f"stacks/{env.name}.json"}
    lines = [f"# generated by mlspec from {ctx.spec_path}; `mlspec compile` rewrites it, so the deployment",
             "# workflow sets the values below after each compile. Pulumi config secrets this stack reads",
             "# (MLS-G-04):"]
    secrets = sorted({c["secret"] for c in env.ir["channels"] if c.get("secret")})
    lines += [f"#   pulumi config set --secret secret-{name} <value> --stack {env.name}" for name in secrets] or \
        ["#   (none)"]
    lines += ["# and, from the model registry and the registered components (docs/targets/azureml.md):",
              "#   pulumi config set --path releases.<model>.version <n> ... / pulumi config set pipelinesRegistered true",
              "config:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in config.items()]
    return "\n".join(lines) + "\n"


def lower(irs: Sequence[dict], ctx: LowerContext) -> Lowering:
    low = Lowering()
    diags: list[Diagnostic] = low.diagnostics
    project = project_name(irs[0])
    low.add("pulumi/Pulumi.yaml", "pulumi-project", {
        "name": project, "description": f"Azure ML stack of {irs[0]['system']['name']} (generated by mlspec from "
                                        f"{ctx.spec_path})",
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}}, "yaml")
    low.add("pulumi/__main__.py", "pulumi-program", _template("pulumi/__main__.py"))
    low.add("pulumi/requirements.txt", "pulumi-requirements", PULUMI_REQUIREMENTS)
    for script in jobs.HELPER_SCRIPTS:
        low.add(f"code/_mlspec/{script}.py", "helper-script", _template(f"code/_mlspec/{script}.py"))
    environments: dict[str, tuple[dict, dict]] = {}
    stacks: list[dict] = []
    for ir in irs:
        env = Env(ir, ctx, diags)
        missing = [k for k in SETTINGS_REQUIRED if not env.settings.get(k)]
        if missing:
            diags.append(Diagnostic("E502", "the `azureml` target needs " + ", ".join(f"`{m}`" for m in missing),
                                    "targets", hint='target azureml { subscription = "..."  resource_group = "..."  '
                                                    'workspace = "..."  region = "..." }'))
            continue
        if ir["tracking"]["backend"] == "mlflow" and ir["tracking"].get("uri"):
            diags.append(Diagnostic("E505", "an external MLflow tracking server is not used on Azure ML: the "
                                    "workspace is the MLflow tracking server (and egress is closed)", "tracking",
                                    hint="drop `uri` from `tracking`; runs are tracked in the workspace"))
        for uri, where in _uris(ir):
            if uri.split("://")[0] in ("s3", "gs", "gcs", "http", "https"):
                diags.append(Diagnostic("E504", f"`{uri}` is not Azure storage; Azure ML reads `data://` (the "
                                        "workspace datastore) or `azureml://` URIs", where,
                                        hint="copy the data to Azure storage and use an `azureml://` or "
                                             "`data://` URI"))
        for kind, name in (("storage", naming.storage_account(env.system, env.name, env.sub)),
                           ("keyvault", naming.key_vault(env.system, env.name, env.sub)),
                           ("workspace", env.workspace)):
            reason = naming.check(kind, name)
            if reason:
                diags.append(Diagnostic("E503", reason, "system", hint="shorten the system or workspace name"))
        out: dict[str, Any] = {"artifacts": [], "identities": [], "breach": [], "runnables": {},
                               "stack": {"endpoints": [], "alerts": [], "log_alerts": [], "monitors": [],
                                         "channels": []}}
        for kind, fn in LOWER.items():
            fn(env, out)
        _network_isolation(env)
        added: set[str] = set()
        for path, kind, content, fmt in out["artifacts"]:
            if path not in added:  # e.g. one MLTable per baseline dataset, shared by its monitors
                added.add(path)
                low.add(path, kind, content, fmt)
        stack = build_stack(env, out)
        stacks.append(stack)
        low.add(f"pulumi/stacks/{env.name}.json", "pulumi-stack-data", stack, "json")
        low.add(f"pulumi/Pulumi.{env.name}.yaml", "pulumi-stack-config", stack_config(env, project, ctx))
        environments.update(env.environments)
        low.notes += _notes(env) + env.notes
    version = code_version(low, irs[0]["code"]["sha256"])
    for stack in stacks:
        stack["serving_code"]["version"] = version
    for name in sorted(environments):
        doc, conda_doc = environments[name]
        low.add(f"environments/{name}.yml", "environment-definition", doc, "yaml")
        low.add(f"environments/{name}.conda.yml", "conda-environment", conda_doc, "yaml")
    return low


def code_version(low: Lowering, user_code_sha256: str) -> str:
    """Version of the `code/` snapshot registered as the serving code asset: its own content (the
    spec's scripts, by the IR's code hash, and every file mlspec writes under code/)."""
    h = hashlib.sha256(user_code_sha256.encode())
    for a in sorted((a for a in low.artifacts if a.path.startswith("code/")), key=lambda a: a.path):
        body = a.content if isinstance(a.content, str) else json.dumps(a.content, sort_keys=True, default=str)
        h.update(f"\n{a.path}\n{body}".encode())
    return "1-" + h.hexdigest()[:12]


def _uris(ir: dict) -> list[tuple[str, str]]:
    out = [(d["uri"], d["id"]) for d in ir["datasets"]]
    out += [(b["output"], b["id"]) for b in ir["batch"]]
    out += [(m["ground_truth"], m["id"]) for m in ir["monitors"] if m.get("ground_truth")]
    out += [(s["output"], s["id"]) for p in ir["pipelines"] for s in p["steps"] if s["kind"] == "batch_transform"]
    return out


def _notes(env: Env) -> list[str]:
    """Compile-report notes: what was emulated, how, and which rules are waived."""
    ir, n = env.ir, []
    pre = f"azureml/{env.name}: "
    for m in ir["models"]:
        if m["approval"]["required"] and ir["environment"]["approval"] == "required":
            n.append(pre + f"model `{m['name']}`: Azure ML has no model approval; versions register with "
                     "tag mlspec.stage=pending_approval, approvers promote with code/_mlspec/approve.py (records "
                     f"mlspec.approved_by, refuses the pipeline identity, needs {m['approval']['count']} distinct "
                     "approver(s)); the Pulumi program deploys only versions named in the `releases` config and "
                     "re-checks their registry tags at deploy time")
    for e in ir["endpoints"]:
        if not e["capture"] and any(m["endpoint"] == e["id"] for m in ir["monitors"]):
            n.append(pre + f"endpoint `{e['name']}` has monitors but no `capture`: data collection is enabled "
                     "at 100% because Azure ML monitors read the deployment's collected data")
        s = e["rollout"]["strategy"]
        if s in ("canary", "linear"):
            n.append(pre + f"endpoint `{e['name']}`: {s} stepping emulated by a Logic App raising the new "
                     "deployment's traffic on a timer (custom role limited to this endpoint)")
        if s == "blue_green":
            n.append(pre + f"endpoint `{e['name']}`: blue/green via two deployments; the traffic switch after "
                     "`bake` is done by the rollout Logic App")
        if s == "shadow":
            n.append(pre + f"endpoint `{e['name']}`: shadow lowered to mirror traffic "
                     f"({e['rollout']['sample_percent']}%) on the new deployment"
                     + ("; promoted after `duration` by the rollout Logic App" if e["rollout"].get("promote") else ""))
        if e["rollout"].get("rollback_on"):
            n.append(pre + f"endpoint `{e['name']}`: automatic rollback emulated: alerts "
                     + ", ".join(f"`{local_name(a)}`" for a in e["rollout"]["rollback_on"])
                     + " call an action group whose Logic App puts 100% traffic back on the previous deployment")
    for mo in ir["monitors"]:
        if mo["kind"] in ("model_quality", "bias_drift"):
            n.append(pre + f"monitor `{mo['name']}` ({mo['kind']}): no Azure ML signal; emulated by a scheduled "
                     "pipeline over the deployment's collected data (plus ground truth for quality); a breach fails "
                     "the job and a log alert on AmlRunStatusChangedEvent notifies the channels")
        if mo["retrains"]:
            n.append(pre + f"monitor `{mo['name']}`: retraining on breach via Event Grid -> Logic App submitting "
                     "the registered pipeline component")
    if any(a["metric"] == "error_rate" for a in ir["alerts"]):
        n.append(pre + "error-rate alerts are log alerts over AmlOnlineEndpointTrafficLog (5xx share), since "
                 "Azure Monitor has no error-rate metric for online endpoints")
    relaxed = {"MLS-AZ-054": "the workspace is created without HBI"}
    for w in ir.get("waivers") or []:
        if not w["rule"].startswith(("MLS-AZ-", "MLS-G-")):
            n.append(pre + f"waiver of {w['rule']} does not apply to Azure (not used)")
            continue
        effect = relaxed.get(w["rule"], "the secure default is still generated")
        n.append(pre + f"waived {w['rule']} until {w['until']} (owner {w['owner']}): {w['reason']} -- {effect}")
    if not waived(ir, "MLS-G-06") and not env.settings.get("base_image"):
        n.append(pre + "MLS-G-06: steps without `image` run in registered Azure ML environments "
                 "(environments/*.yml, `az ml environment create`), which the workspace builds into the stack's "
                 "private registry; their base images are Microsoft's (MCR) unless the `base_image` / `gpu_base_image` settings name "
                 "images in the stack's registry by digest")
    return n
