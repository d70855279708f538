"""Deploy-time failures of an Azure ML build that `mlspec plan` reports as blocking program checks.

Input: the resources the generated program declared under the mock runtime (wire / camelCase
inputs) and the build directory. Output: [{"check", "where", "blocking": True}]. Each check is
something Azure (or the image build) would reject at `pulumi up` / job time; no cloud SDK here
(`packaging` judges pip requirements).
"""
from __future__ import annotations

from pathlib import Path

import yaml

ML = "azure-native:machinelearningservices:"


def _blocking(check: str, where: str) -> dict:
    return {"check": check, "where": where, "blocking": True}


def program_checks(resources: list[dict], build: Path | None = None) -> list[dict]:
    out: list[dict] = []
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["type"], []).append(r)
    # custom roles: Azure RBAC refuses a resource in assignableScopes
    for rd in by_type.get("azure-native:authorization:RoleDefinition", []):
        for scope in rd["inputs"].get("assignableScopes") or []:
            if "/providers/" in str(scope):
                out.append(_blocking("azure-custom-role-scope", f"{rd['name']}: {scope}"))
    # endpoint traffic may only name deployments the same update creates
    deployments: dict[str, set[str]] = {}
    for d in by_type.get(ML + "OnlineDeployment", []):
        deployments.setdefault(d["inputs"].get("endpointName"), set()).add(d["inputs"].get("deploymentName"))
    for e in by_type.get(ML + "OnlineEndpoint", []):
        props = e["inputs"].get("properties") or {}
        named = set((props.get("traffic") or {})) | set((props.get("mirrorTraffic") or {}))
        missing = named - deployments.get(e["inputs"].get("endpointName"), set())
        if missing:
            out.append(_blocking("azure-traffic-to-missing-deployment", f"{e['name']}: {', '.join(sorted(missing))}"))
    # monitors must watch a deployment that exists
    for s in by_type.get(ML + "Schedule", []):
        target = (((s["inputs"].get("properties") or {}).get("action") or {}).get("monitorDefinition") or {}) \
            .get("monitoringTarget") or {}
        dep_id = str(target.get("deploymentId") or "")
        if "/deployments/" in dep_id:
            ep, dep = dep_id.split("/onlineEndpoints/")[-1].split("/deployments/")
            if dep not in deployments.get(ep, set()) and "[unknown]" not in dep_id:
                out.append(_blocking("azure-monitor-without-deployment", f"{s['name']}: {ep}/{dep}"))
    if build is not None:
        out += requirement_checks(build)
    return out


def requirement_checks(build: Path) -> list[dict]:
    """Every pip requirement of every environment the workspace would build (packaging decides)."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for path in sorted((build / "environments").glob("*.conda.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for dep in doc.get("dependencies") or []:
            for req in (dep.get("pip") or []) if isinstance(dep, dict) else []:
                try:
                    Requirement(req)
                except InvalidRequirement as e:
                    out.append(_blocking("azure-invalid-pip-requirement", f"environments/{path.name}: {req!r} ({e})"))
    return out
