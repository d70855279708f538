"""Reaching SageMaker as the user: the approval backend of `mlspec approve | reject | status`
(``Target.approval_backend()``) and the credentials preflight of `mlspec apply`
(``Target.credentials()``).

Mechanism: model package ``ModelApprovalStatus`` PendingManualApproval -> Approved | Rejected,
with ``ApprovalDescription`` "<decision> by <caller ARN>: <reason>"; the approver is the STS
caller, and the pipeline role can never approve (an EventBridge rule on the ``Approved`` state
change starts the deploy path). The rules (MLS-AWS-069, MLS-G-07) and the target agree on these
names. boto3 is imported only inside the backend (tests point AWS_ENDPOINT_URL at a moto server
on 127.0.0.1).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from mlspec.compiler.plan.decision import APPROVED, REJECTED, DecisionError, Where, describe

SAGEMAKER_PENDING = "PendingManualApproval"
SAGEMAKER_APPROVED = "Approved"
SAGEMAKER_REJECTED = "Rejected"


class SageMakerBackend:
    """boto3 (real HTTP; tests point AWS_ENDPOINT_URL at a moto server on loopback)."""

    needs = ("region",)
    quiet_loggers = ("botocore.credentials",)  # they log each credential tried; mlspec says it once
    cloud_error_modules = ("botocore", "boto3", "urllib3")

    def __init__(self, session_factory: Callable[..., Any] | None = None):
        self.session_factory = session_factory

    def _clients(self, w: Where):
        import boto3

        session = (self.session_factory or boto3.session.Session)(region_name=w.region)
        return session.client("sagemaker"), session.client("sts")

    def _package(self, sm, group: str, version: str) -> dict:
        try:
            want = int(version)
        except ValueError:
            raise DecisionError(f"`{version}` is not a model package version number") from None
        pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
        for page in pages:
            for p in page.get("ModelPackageSummaryList") or []:
                if int(p.get("ModelPackageVersion") or 0) == want:
                    return sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])
        raise DecisionError(f"model package group `{group}` has no version {version}")

    def decide(self, w: Where, version: str, decision: str, reason: str, by: str | None) -> dict:
        sm, sts = self._clients(w)
        caller = sts.get_caller_identity()["Arn"]
        for role in w.workload_identities or ([w.pipeline_identity] if w.pipeline_identity else []):
            if f":assumed-role/{role}/" in caller or caller.endswith(f":role/{role}"):
                raise DecisionError(f"the pipeline identity `{role}` cannot approve or reject its own models")
        pkg = self._package(sm, w.model, version)
        status = {APPROVED: SAGEMAKER_APPROVED, REJECTED: SAGEMAKER_REJECTED}[decision]
        if pkg.get("ModelApprovalStatus") == status:
            raise DecisionError(f"version {version} of `{w.model}` is already {status}")
        who = f"{by} (as {caller})" if by else caller
        desc = describe(decision, who, reason)[:1024]
        sm.update_model_package(ModelPackageArn=pkg["ModelPackageArn"], ModelApprovalStatus=status,
                                ApprovalDescription=desc)
        return {"model": w.model, "version": str(version), "status": status, "by": caller,
                "previous": pkg.get("ModelApprovalStatus"), "arn": pkg["ModelPackageArn"], "description": desc}

    def pending(self, w: Where) -> list[dict]:
        sm, _ = self._clients(w)
        groups = [w.model] if w.model else [
            g["ModelPackageGroupName"] for page in sm.get_paginator("list_model_package_groups").paginate()
            for g in page.get("ModelPackageGroupSummaryList") or []]
        out = []
        for g in groups:
            for page in sm.get_paginator("list_model_packages").paginate(
                    ModelPackageGroupName=g, ModelApprovalStatus=SAGEMAKER_PENDING):
                for p in page.get("ModelPackageSummaryList") or []:
                    out.append({"model": g, "version": str(p.get("ModelPackageVersion")),
                                "status": p.get("ModelApprovalStatus"),
                                "created": p["CreationTime"].isoformat() if hasattr(p.get("CreationTime"), "isoformat")
                                else str(p.get("CreationTime")), "id": p.get("ModelPackageArn")})
        return sorted(out, key=lambda r: (r["model"], int(r["version"])))

    def locate(self, w: Where, data: dict, config: dict, model: str | None) -> None:
        """Model package group, region and the pipeline roles from the compiled stack data."""
        groups = {g["key"]: g["name"] for g in data.get("model_package_groups") or []}
        w.model = groups.get(w.model, w.model) if w.model else ""
        w.region = w.region or data.get("region")
        roles = data.get("roles") or []
        roles = roles.values() if isinstance(roles, dict) else roles
        w.pipeline_identity = next((r.get("name") for r in roles if isinstance(r, dict)
                                    and r.get("key") in ("pipeline", "jobs")), None)
        w.workload_identities = [r.get("name") for r in roles if isinstance(r, dict)
                                 and r.get("key") in ("pipeline", "jobs")]

    def complete(self, w: Where) -> None:
        w.region = w.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _aws_credentials(env: dict) -> bool:
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return True
    if env.get("AWS_PROFILE") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") \
            or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return True
    home = Path(env.get("HOME", "~")).expanduser()
    creds = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    conf = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    for f in (creds, conf):
        try:
            text = f.read_text()
        except OSError:
            continue
        if re.search(r"aws_access_key_id|sso_session|sso_start_url|credential_process|role_arn", text):
            return True
    return False


CREDENTIALS = (_aws_credentials, "AWS credentials",
               "run `aws configure` / `aws sso login`, or export AWS_PROFILE or AWS_ACCESS_KEY_ID + "
               "AWS_SECRET_ACCESS_KEY")
