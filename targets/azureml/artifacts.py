"""Readers for the native Azure ML artifacts that IaC scanners cannot see (MLS-G-09), and the
Azure ML target's :class:`~mlspec.compiler.plan.graph.CloudProfile` for the cross-cloud rules.

Input: a :class:`~mlspec.compiler.plan.graph.Graph` (captured resources + parsed build
artifacts). Output: job YAML (CLI v2 ``$schema`` .../pipelineJob, commandJob ...) with the child
jobs of pipeline jobs, and every container image environments, components and jobs name.

Pure Python, no SDK imports.
"""
from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.plan.graph import CloudProfile, Graph, dig


def _is_azureml_job(d: Any) -> bool:
    """A CLI v2 job YAML (pipelineJob / commandJob / sweepJob); component specs are not jobs."""
    schema = str(d.get("$schema", "")).lower() if isinstance(d, dict) else ""
    return "azureml" in schema and "job.schema" in schema and "component" not in schema


def azureml_jobs(g: Graph) -> list[tuple[str, dict]]:
    """(label, job) for every job YAML in the build and each child job of pipeline jobs; the child
    inherits the pipeline's default compute when it names none."""
    out = []
    for path, d in sorted(g.artifacts.items()):
        if not _is_azureml_job(d):
            continue
        out.append((path, d))
        default_compute = ((d.get("settings") or {}).get("default_compute")) or d.get("compute")
        for name, child in sorted((d.get("jobs") or {}).items()):
            if isinstance(child, dict):
                c = dict(child)
                if not c.get("compute") and default_compute:
                    c["compute"] = default_compute
                c.setdefault("identity", d.get("identity"))
                out.append((f"{path}#jobs.{name}", c))
    return out



# ----------------------------------------------------------------------------- images


def images(g: Graph) -> list[tuple[Any, str]]:
    """(where, image) for every container image of environment versions, jobs, environment and
    component YAML."""
    out: list[tuple[Any, str]] = []
    for r in g.of("azure-native:machinelearningservices:EnvironmentVersion",
                  "azure-native:machinelearningservices:RegistryEnvironmentVersion"):
        img = (r["inputs"].get("properties") or {}).get("image")
        if isinstance(img, str):
            out.append((r, img))
    for label, job in azureml_jobs(g):
        env = job.get("environment")
        if isinstance(env, dict) and isinstance(env.get("image"), str):
            out.append((label, env["image"]))
        elif isinstance(job.get("image"), str):
            out.append((label, job["image"]))
    for path, d in sorted(g.artifacts.items()):  # Azure ML environment and component YAML
        schema = str(d.get("$schema", "")).lower() if isinstance(d, dict) else ""
        if "azureml" not in schema:
            continue
        if "environment" in schema and isinstance(d.get("image"), str):
            out.append((path, d["image"]))
        elif "component" in schema and isinstance(d.get("environment"), dict) and \
                isinstance(d["environment"].get("image"), str):
            out.append((path, d["environment"]["image"]))
    return out



# ----------------------------------------------------------------------------- profile


_IDENTITY_KINDS = {"azure-native:machinelearningservices:Workspace": "workspace",
                   "azure-native:machinelearningservices:Compute": "workload",
                   "azure-native:machinelearningservices:OnlineEndpoint": "serving",
                   "azure-native:machinelearningservices:BatchEndpoint": "serving"}


def identities(g: Graph) -> list[tuple[Any, str]]:
    """(user-assigned identity, component kind) of the workspace, computes and endpoints."""
    out: list[tuple[Any, str]] = []
    for t, kind in _IDENTITY_KINDS.items():
        for r in g.of(t):
            for uai in (dig(r["inputs"], "identity", "userAssignedIdentities") or {}):
                out.append((uai, kind))
    return out


PROFILE = CloudProfile(
    providers=("azure-native",),
    data_at_rest=("azure-native:storage:StorageAccount", "azure-native:containerregistry:Registry",
                  "azure-native:machinelearningservices:Workspace", "azure-native:operationalinsights:Workspace"),
    key_types=("azure-native:keyvault:Key",),
    identities=identities,
    log_types={"azure-native:operationalinsights:Workspace": ("retentionInDays", None)},
    private_registry=re.compile(r"^[a-z0-9]+\.azurecr\.io/"),
    registered_images=("azureml:", "azureml://"),
    images=images,
)


def _schedule_concern(r: dict) -> str:
    """An Azure ML schedule is monitoring when it creates a monitor, else a pipeline schedule."""
    action = (((r.get("inputs") or {}).get("properties") or {}).get("action") or {}).get("actionType")
    return "monitoring" if action == "CreateMonitor" else "pipeline"



#: (type-token prefix, concern or ``(resource) -> concern``) for the `mlspec plan` table, first
#: match wins (``Target.resource_concerns()``); keys and registries sit with storage
RESOURCE_CONCERNS = [
    ("azure-native:machinelearningservices:ModelContainer", "registry and approval"),
    ("azure-native:machinelearningservices:ModelVersion", "registry and approval"),
    ("azure-native:machinelearningservices:Registry", "registry and approval"),
    ("azure-native:machinelearningservices:OnlineEndpoint", "serving"),
    ("azure-native:machinelearningservices:OnlineDeployment", "serving"),
    ("azure-native:machinelearningservices:BatchEndpoint", "serving"),
    ("azure-native:machinelearningservices:BatchDeployment", "serving"),
    ("azure-native:monitor:PrivateLinkScope", "network"),
    ("azure-native:monitor:DiagnosticSetting", "monitoring"),
    ("azure-native:operationalinsights", "monitoring"), ("azure-native:applicationinsights", "monitoring"),
    ("azure-native:portal", "monitoring"), ("azure-native:monitor", "alerting"),
    ("azure-native:insights:ActionGroup", "alerting"), ("azure-native:alertsmanagement", "alerting"),
    ("azure-native:machinelearningservices:Job", "pipeline"),
    ("azure-native:machinelearningservices:Component", "pipeline"),
    ("azure-native:machinelearningservices:Environment", "pipeline"),
    ("azure-native:machinelearningservices:Code", "pipeline"),
    ("azure-native:machinelearningservices:Data", "pipeline"),
    ("azure-native:machinelearningservices:Compute", "pipeline"),
    ("azure-native:machinelearningservices:Schedule", _schedule_concern), ("azure-native:logic", "pipeline"),
    ("azure-native:eventgrid", "pipeline"), ("azure-native:authorization", "identity"),
    ("azure-native:managedidentity", "identity"), ("azure-native:network", "network"),
    ("azure-native:privatedns", "network"), ("azure-native:machinelearningservices:ManagedNetwork", "network"),
    ("azure-native:machinelearningservices:OutboundRule", "network"), ("azure-native:storage", "storage"),
    ("azure-native:keyvault", "storage"), ("azure-native:containerregistry", "storage"),
    ("azure-native:machinelearningservices:Workspace", "storage"),
    ("azure-native:machinelearningservices:Datastore", "storage"),
]
