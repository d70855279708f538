"""Reaching Azure ML as the user: the approval backend of `mlspec approve | reject | status`
(``Target.approval_backend()``) and the credentials preflight of `mlspec apply`
(``Target.credentials()``).

Mechanism (targets/azureml/templates/pulumi/__main__.py and the approve script): model version
tags ``mlspec.stage`` = pending_approval -> approved | rejected, ``mlspec.approvals``,
``mlspec.approved_by``, ``mlspec.approval_reason``; distinct approvers are counted against
``mlspec.approvals_required``; the registering identity can never approve; the Pulumi program
deploys only versions tagged approved with an approver recorded. The rules (MLS-AZ-090,
MLS-G-07) and the target agree on these names. azure-ai-ml is imported only inside the backend
(tests pass a fake client).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Callable

from mlspec.compiler.plan.decision import APPROVED, REJECTED, DecisionError, Where, describe

# must equal the tags the azureml target's register helper and Pulumi program use
AZURE_STAGE_TAG = "mlspec.stage"
AZURE_PENDING_STAGE = "pending_approval"
AZURE_APPROVED_STAGE = "approved"
AZURE_REJECTED_STAGE = "rejected"
AZURE_APPROVAL_TAG = AZURE_STAGE_TAG
AZURE_APPROVED_BY_TAG = "mlspec.approved_by"
AZURE_REASON_TAG = "mlspec.approval_reason"
AZURE_DECIDED_AT_TAG = "mlspec.decided_at"


class AzureBackend:
    """azure-ai-ml model versions; the tag protocol of targets/azureml's approve script."""

    needs = ("subscription", "resource_group", "workspace")
    cloud_error_modules = ("azure", "urllib3", "requests")

    def __init__(self, client_factory: Callable[[Where], Any] | None = None,
                 whoami: Callable[[], tuple[str, str]] | None = None):
        self._client_factory, self._whoami = client_factory, whoami

    def client(self, w: Where):
        if self._client_factory:
            return self._client_factory(w)
        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential

        return MLClient(DefaultAzureCredential(), w.subscription, w.resource_group, w.workspace)

    def whoami(self) -> tuple[str, str]:
        """(object id, display name) of the signed-in principal, from its ARM token."""
        if self._whoami:
            return self._whoami()
        from azure.identity import DefaultAzureCredential

        token = DefaultAzureCredential().get_token("https://management.azure.com/.default").token
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        oid = claims.get("oid") or claims.get("appid") or ""
        return oid, claims.get("upn") or claims.get("unique_name") or oid

    def decide(self, w: Where, version: str, decision: str, reason: str, by: str | None) -> dict:
        client = self.client(w)
        model = client.models.get(w.model, version=version)
        tags = dict(getattr(model, "tags", None) or {})
        stage = tags.get(AZURE_STAGE_TAG)
        if stage != AZURE_PENDING_STAGE:
            raise DecisionError(f"version {version} of `{w.model}` is `{stage}`, not {AZURE_PENDING_STAGE}")
        me, name = self.whoami()
        if not tags.get("mlspec.registered_by") or me == tags["mlspec.registered_by"]:
            raise DecisionError("the pipeline identity that registered this version cannot approve or reject it")
        who = by or name
        if decision == REJECTED:
            tags.update({AZURE_STAGE_TAG: AZURE_REJECTED_STAGE, AZURE_APPROVED_BY_TAG: "",
                         "mlspec.rejected_by": me, AZURE_REASON_TAG: describe(decision, who, reason)})
        else:
            got = [a for a in tags.get("mlspec.approvals", "").split(",") if a]
            if me not in got:
                got.append(me)
            tags["mlspec.approvals"] = ",".join(got)
            required = int(tags.get("mlspec.approvals_required") or w.approvals_required or 1)
            tags[AZURE_REASON_TAG] = describe(decision, who, reason)
            if len(got) >= required:
                tags.update({AZURE_STAGE_TAG: AZURE_APPROVED_STAGE, AZURE_APPROVED_BY_TAG: ",".join(got)})
        model.tags = tags
        client.models.create_or_update(model)
        return {"model": w.model, "version": str(version), "status": tags[AZURE_STAGE_TAG], "by": who,
                "approvals": tags.get("mlspec.approvals", "")}

    def pending(self, w: Where) -> list[dict]:
        client = self.client(w)
        names = [w.model] if w.model else sorted({m.name for m in client.models.list()})
        out = []
        for n in names:
            for m in client.models.list(name=n):
                if (getattr(m, "tags", None) or {}).get(AZURE_STAGE_TAG) == AZURE_PENDING_STAGE:
                    out.append({"model": n, "version": str(m.version), "status": AZURE_PENDING_STAGE,
                                "created": str((getattr(m, "creation_context", None) and
                                                getattr(m.creation_context, "created_at", "")) or ""),
                                "id": getattr(m, "id", None) or f"{n}:{m.version}"})
        return sorted(out, key=lambda r: (r["model"], r["version"]))

    def locate(self, w: Where, data: dict, config: dict, model: str | None) -> None:
        """Model name, subscription, workspace, resource group and approval count from the stack."""
        names = {m["key"]: m["name"] for m in data.get("models") or []}
        w.model = names.get(w.model, w.model) if w.model else ""
        w.subscription = w.subscription or data.get("subscription")
        w.workspace = w.workspace or (data.get("workspace") or {}).get("name")
        w.resource_group = w.resource_group or next((v for k, v in config.items()
                                                     if k.endswith(":resourceGroup")), None)
        w.approvals_required = int(data.get("approval_count", {}).get(model, 1)
                                   if isinstance(data.get("approval_count"), dict) else 1)

    def complete(self, w: Where) -> None:
        pass


def _azure_credentials(env: dict) -> bool:
    if env.get("ARM_CLIENT_ID") and (env.get("ARM_CLIENT_SECRET") or env.get("ARM_CLIENT_CERTIFICATE_PATH")
                                     or env.get("ARM_USE_OIDC") or env.get("ARM_USE_MSI")):
        return True
    if env.get("ARM_USE_MSI") or env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return True
    home = Path(env.get("HOME", "~")).expanduser()
    azdir = Path(env.get("AZURE_CONFIG_DIR") or home / ".azure")
    return (azdir / "azureProfile.json").is_file() and any(
        (azdir / f).exists() for f in ("msal_token_cache.json", "msal_token_cache.bin", "accessTokens.json"))


CREDENTIALS = (_azure_credentials, "Azure credentials",
               "run `az login`, or export ARM_CLIENT_ID with ARM_CLIENT_SECRET / ARM_USE_OIDC / ARM_USE_MSI "
               "(and ARM_TENANT_ID, ARM_SUBSCRIPTION_ID)")
