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
    quiet_loggers = ("azure",)  # they log each credential tried; mlspec says it once
    cloud_error_modules = ("azure", "urllib3", "requests")

    def __init__(self, client_factory: Callable[[Where], Any] | None = None,
                 whoami: Callable[[], tuple[str, str]] | None = None):
        self._client_factory, self._whoami = client_factory, whoami
        self._keys: dict[int, str] = {}        # id(Where) -> spec model name (set by locate)
        self._endpoints: dict[int, list] = {}  # id(Where) -> endpoints serving it

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
            names = [a for a in tags.get("mlspec.approver_names", "").split(",") if a]
            if len(names) != len(got):  # recorded by an older approve: names unknown
                names = list(got)
            if me not in got:
                got.append(me)
                names.append((name or me).replace(",", " "))
            tags["mlspec.approvals"] = ",".join(got)
            tags["mlspec.approver_names"] = ",".join(names)
            required = int(tags.get("mlspec.approvals_required") or w.approvals_required or 1)
            tags[AZURE_REASON_TAG] = describe(decision, who, reason)
            if len(got) >= required:
                tags.update({AZURE_STAGE_TAG: AZURE_APPROVED_STAGE, AZURE_APPROVED_BY_TAG: ",".join(got)})
        model.tags = tags
        client.models.create_or_update(model)
        out = {"model": w.model, "version": str(version), "status": tags[AZURE_STAGE_TAG], "by": who,
               "approvals": tags.get("mlspec.approvals", "")}
        if tags[AZURE_STAGE_TAG] == AZURE_APPROVED_STAGE:
            out["release"] = {self._keys.get(id(w), w.model): self.release(client, self._endpoints.get(id(w), []),
                                                                          str(version), tags)}
        return out

    @staticmethod
    def release(client, endpoints: list, version: str, tags: dict) -> dict:
        """The release to deploy: the idle slot of the two-slot endpoint serving the model, computed
        from its live traffic (first release: `blue`; all-at-once and A/B: `blue`, updated in
        place / fixed variants), and the version serving now (`previous`, kept for rollback)."""
        slot, previous = "blue", None
        for ep in endpoints:
            if ep["kind"] != "two_slot":
                continue
            try:
                traffic = dict(getattr(client.online_endpoints.get(ep["name"]), "traffic", None) or {})
            except Exception as e:  # noqa: BLE001 - a missing endpoint means a first release
                if type(e).__name__ not in ("ResourceNotFoundError", "HttpResponseError"):
                    raise
                traffic = {}
            live = max((s for s in ("blue", "green") if traffic.get(s)), key=lambda s: traffic[s], default=None)
            if live is None:
                continue
            slot = "green" if live == "blue" else "blue"
            ref = str(getattr(client.online_deployments.get(name=live, endpoint_name=ep["name"]), "model", "") or "")
            previous = ref.rstrip("/").split("/")[-1].split(":")[-1] if ref else None
            break
        return {"version": version, "previous": previous, "slot": slot, "phase": "deploy",
                "approved_by": tags.get("mlspec.approver_names") or tags.get(AZURE_APPROVED_BY_TAG, "")}

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
        if model:  # the release is keyed by the spec's model name; its endpoints give slot + previous
            self._keys[id(w)] = model
            self._endpoints[id(w)] = [{"name": e["name"], "kind": e["plan"]["kind"]} for e in data.get("endpoints") or []
                                      if model in (e.get("models") or [e.get("model")])]

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
