"""Reaching Vertex AI as the user: the approval backend of `mlspec approve | reject | status`
(``Target.approval_backend()``) and the credentials preflight of `mlspec apply`
(``Target.credentials()``).

Mechanism (targets/vertex/common.py ``PENDING_ALIAS`` / ``PRODUCTION_ALIAS``): a registered
version carries the ``pending`` alias; approving moves the ``production`` alias to it (the
deployment follows ``@production``); rejecting removes ``pending``. Who/why are recorded as
version labels (Vertex label values: lower-case, <= 63 chars) and in the version description.
The rules (MLS-GCP-070, MLS-G-07) and the target agree on these names.
google-cloud-aiplatform is imported only inside the backend (tests pass a fake SDK).
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Callable

from mlspec.compiler.plan.decision import APPROVED, REJECTED, DecisionError, SettingsError, Where, describe

# must equal targets/vertex/common.py PENDING_ALIAS / PRODUCTION_ALIAS
VERTEX_PENDING_ALIAS = "pending"
VERTEX_APPROVED_ALIAS = "production"
VERTEX_LABEL_DECISION = "mlspec-decision"
VERTEX_LABEL_BY = "mlspec-decided-by"


def _label_value(s: str) -> str:
    """Vertex label values: lower-case letters, digits, `-` and `_`, <= 63 chars."""
    return re.sub(r"[^a-z0-9_-]", "_", s.lower())[:63]


class VertexBackend:
    """google-cloud-aiplatform ModelRegistry aliases + Model labels, and the approvers' records.

    The decision that makes a version deployable is the approver's record
    ``gs://<approvals bucket>/<model id>/<version>/<approver email>.json``, written with the
    approver's own credentials (never a self-asserted name) into a bucket no automation service
    account can write; the deployment counts distinct records against ``required``. Aliases and
    labels are moved for people and tools, not trusted (the pipeline's identity can move them)."""

    needs = ("project", "region")
    quiet_loggers = ("google.auth",)  # they log each credential tried; mlspec says it once
    cloud_error_modules = ("google", "grpc", "urllib3", "requests")

    def __init__(self, aiplatform: Any = None, whoami: Callable[[], str] | None = None, storage: Any = None):
        self._aip, self._whoami, self._storage = aiplatform, whoami, storage

    @property
    def aip(self):
        if self._aip is None:
            from google.cloud import aiplatform

            self._aip = aiplatform
        return self._aip

    def storage(self, w: Where):
        if self._storage is None:
            from google.cloud import storage

            self._storage = storage.Client(project=w.project)
        return self._storage

    def whoami(self) -> str:
        """The caller's identity from its Google credentials (service account email, or the user's
        email from the token), never from a flag or an environment variable."""
        if self._whoami:
            return self._whoami()
        import google.auth
        from google.auth.transport.requests import AuthorizedSession, Request

        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform",
                                               "https://www.googleapis.com/auth/userinfo.email", "openid"])
        email = getattr(creds, "service_account_email", None) or getattr(creds, "signer_email", None)
        if not email or email == "default":
            creds.refresh(Request())
            info = AuthorizedSession(creds).get("https://oauth2.googleapis.com/tokeninfo",
                                                params={"access_token": creds.token}).json()
            email = getattr(creds, "service_account_email", None)
            email = email if email and email != "default" else info.get("email")
        if not email:
            raise SettingsError("cannot tell who you are from your Google credentials (no email in the token); "
                                "log in with `gcloud auth application-default login`")
        return str(email)

    def _registry(self, w: Where):
        self.aip.init(project=w.project, location=w.region)
        return self.aip.models.ModelRegistry(model=w.model, project=w.project, location=w.region)

    @staticmethod
    def _prefix(w: Where, version: str) -> str:
        return f"{w.model.rsplit('/', 1)[-1]}/{version}/"

    def approvers(self, w: Where, version: str) -> set:
        """Distinct approvers with an `approved` record for the version (automation identities excluded)."""
        prefix = self._prefix(w, version)
        out = set()
        for blob in self.storage(w).list_blobs(w.approvals_bucket, prefix=prefix):
            try:
                record = json.loads(blob.download_as_bytes())
            except ValueError:
                continue
            email = blob.name[len(prefix):].removesuffix(".json")
            if record.get("decision") == APPROVED and record.get("by") == email:
                out.add(email)
        return out - set(w.workload_identities)

    def decide(self, w: Where, version: str, decision: str, reason: str, by: str | None) -> dict:
        if by:
            raise SettingsError("Vertex records the approver from the caller's Google credentials; --by is not "
                                "accepted (run `mlspec approve` as the approver)")
        who = self.whoami()
        if who.lower() in {i.lower() for i in w.workload_identities}:
            raise DecisionError(f"`{who}` runs the pipeline or its jobs and cannot approve or reject models")
        reg = self._registry(w)
        info = reg.get_version_info(version)
        aliases = list(getattr(info, "version_aliases", None) or [])
        if VERTEX_PENDING_ALIAS not in aliases and not (decision == REJECTED and VERTEX_APPROVED_ALIAS in aliases):
            raise DecisionError(f"version {version} of `{w.model}` is not pending approval (aliases: "
                                f"{', '.join(aliases) or 'none'})")
        status = decision
        if decision == APPROVED:
            if not w.approvals_bucket:
                raise SettingsError("approving on Vertex needs --spec SPEC --env ENV (the approvals bucket and the "
                                    "identities that may not approve are read from the compiled stack)")
            record = json.dumps({"decision": decision, "by": who, "reason": reason, "model": w.model,
                                 "version": str(version)}, sort_keys=True)
            blob = self.storage(w).bucket(w.approvals_bucket).blob(f"{self._prefix(w, version)}{who}.json")
            try:  # create-only: an approver counts once
                blob.upload_from_string(record, content_type="application/json", if_generation_match=0)
            except Exception as e:  # google.api_core.exceptions.PreconditionFailed (HTTP 412)
                if type(e).__name__ != "PreconditionFailed" and "412" not in str(e):
                    raise
                raise DecisionError(f"`{who}` already approved version {version} of `{w.model}`") from None
            got = self.approvers(w, version)
            if len(got) >= w.approvals_required:
                reg.add_version_aliases([VERTEX_APPROVED_ALIAS], version)
                reg.remove_version_aliases([VERTEX_PENDING_ALIAS], version)
            else:
                status = f"{VERTEX_PENDING_ALIAS} ({len(got)} of {w.approvals_required} approvals)"
        else:
            reg.remove_version_aliases([a for a in (VERTEX_PENDING_ALIAS, VERTEX_APPROVED_ALIAS) if a in aliases],
                                       version)
        model = self.aip.Model(model_name=f"{w.model}@{version}", project=w.project, location=w.region)
        labels = dict(getattr(model, "labels", None) or {})
        if status in (APPROVED, REJECTED):
            labels.update({VERTEX_LABEL_DECISION: decision, VERTEX_LABEL_BY: _label_value(who)})
        model.update(labels=labels, description=describe(decision, who, reason)[:2000])
        return {"model": w.model, "version": str(version), "status": status, "by": who,
                "aliases_before": aliases}

    def pending(self, w: Where) -> list[dict]:
        names = [w.model] if w.model else list(w.models)
        if not names:
            raise SettingsError("Vertex status needs MODEL, or --spec/--env (every model of the spec)")
        out = []
        for name in names:
            for v in self._registry(dataclasses.replace(w, model=name)).list_versions():
                if VERTEX_PENDING_ALIAS in (getattr(v, "version_aliases", None) or []):
                    created = getattr(v, "version_create_time", None)
                    out.append({"model": name, "version": str(v.version_id), "status": VERTEX_PENDING_ALIAS,
                                "created": created.ToJsonString() if hasattr(created, "ToJsonString")
                                else str(created or ""), "id": getattr(v, "model_resource_name", name)})
        return sorted(out, key=lambda r: (r["model"], r["version"]))

    def locate(self, w: Where, data: dict, config: dict, model: str | None) -> None:
        """Model resource names, approval counts, project and region from the compiled stack data."""
        models = {m["key"]: m for m in data.get("models") or []}
        w.models = [m["resource"] for m in models.values()]
        if w.model in models:
            w.approvals_required = int(models[w.model].get("approval_count") or 1)
            w.model = models[w.model]["resource"]
        w.project = w.project or data.get("project")
        w.region = w.region or data.get("region")
        w.workload_identities = [a["email"] for a in data.get("service_accounts") or [] if a.get("email")]
        w.approvals_bucket = next((b["name"] for b in data.get("buckets") or [] if b.get("key") == "approvals"), None)

    def complete(self, w: Where) -> None:
        pass


def _gcp_credentials(env: dict) -> bool:
    if env.get("GOOGLE_OAUTH_ACCESS_TOKEN") or env.get("CLOUDSDK_AUTH_ACCESS_TOKEN") or env.get("GOOGLE_CREDENTIALS"):
        return True
    adc = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if adc:
        return Path(adc).is_file()
    home = Path(env.get("HOME", "~")).expanduser()
    cfg = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud")
    return (cfg / "application_default_credentials.json").is_file()


CREDENTIALS = (_gcp_credentials, "Google Cloud application-default credentials",
               "run `gcloud auth application-default login`, or export GOOGLE_APPLICATION_CREDENTIALS=<key file>")
