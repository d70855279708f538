"""`mlspec approve | reject | status`: record a model-version decision natively, with who and why.

- SageMaker: ``UpdateModelPackage`` ModelApprovalStatus Approved / Rejected with an
  ``ApprovalDescription`` "<decision> by <caller ARN>: <reason>"; the approver is the STS caller,
  and the pipeline role can never approve. ``status`` lists PendingManualApproval packages.
- Vertex AI: the ``production`` alias moves to the approved version and ``pending`` is removed
  (reject: ``pending`` removed); labels record the decision and the approver.
- Azure ML: the model-version tags the azureml target and its approve script use
  (``mlspec.stage``, ``mlspec.approvals``, ``mlspec.approved_by`` ...); distinct approvers are
  counted against ``mlspec.approvals_required``; the registering identity can never approve.

Mechanism names live in :mod:`mlspec.compiler.plan.approvals`. Cloud SDKs (boto3,
google-cloud-aiplatform, azure-ai-ml) are imported only inside the backend that needs them;
tests replace :data:`BACKENDS` entries or the SDK factories with fakes (Vertex, Azure) or point
boto3 at a moto server on 127.0.0.1 (SageMaker).

MODEL is the spec's model name when ``--spec`` (and ``--env``) are given -- the compiled stack
data maps it to the cloud name and supplies region / project / workspace -- else the cloud name.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import getpass
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from mlspec.compiler.plan import approvals as A
from mlspec.compiler.plan.commands import EXIT_FINDINGS, EXIT_OK, EXIT_OPERATION, EXIT_USAGE, TARGETS, run_guarded


class DecisionError(Exception):
    """The decision is refused (not pending, pipeline identity, unknown version): exit 1."""


class SettingsError(Exception):
    """A setting needed to reach the cloud is missing: exit 2."""


@dataclasses.dataclass
class Where:
    """How to reach the model registry of one system/environment/target."""

    target: str
    model: str  # the cloud name: SageMaker group, Vertex model resource, Azure model name
    region: str | None = None
    project: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    approvals_required: int = 1
    pipeline_identity: str | None = None  # SageMaker: pipeline role name (never an approver)
    workload_identities: list = dataclasses.field(default_factory=list)  # SageMaker: pipeline + job roles
    models: list = dataclasses.field(default_factory=list)  # Vertex: every model of the spec (status)
    model_key: str | None = None  # the spec's model name (Azure: the release is keyed by it)
    endpoints: list = dataclasses.field(default_factory=list)  # Azure: [{"name", "kind"}] serving the model


def _stack_data(spec: str, target: str, env: str) -> tuple[dict, dict]:
    """(stack data JSON, stack config) from compiling the spec for target/env into a temp dir."""
    import yaml

    from mlspec.compiler.plan import plan

    env, _ = plan.choose_environment(spec, env)
    with tempfile.TemporaryDirectory(prefix="mlspec-approve-") as tmp:
        _, tdir, _ = plan.compile_to(spec, target, env, Path(tmp))
        data = json.loads((tdir / "pulumi" / "stacks" / f"{env}.json").read_text())
        cfg = yaml.safe_load((tdir / "pulumi" / f"Pulumi.{env}.yaml").read_text()) or {}
    return data, cfg.get("config") or {}


def resolve(args) -> Where:
    """Map MODEL (+ --spec/--env) and the connection flags to a :class:`Where`."""
    t = args.target
    w = Where(t, args.model or "", region=args.region, project=args.project, subscription=args.subscription,
              resource_group=args.resource_group, workspace=args.workspace)
    if getattr(args, "spec", None):
        if not args.env:
            raise SettingsError("--spec needs --env (the approval registry is per environment)")
        data, cfg = _stack_data(args.spec, t, args.env)
        if t == "sagemaker":
            groups = {g["key"]: g["name"] for g in data.get("model_package_groups") or []}
            w.model = groups.get(w.model, w.model) if w.model else ""
            w.region = w.region or data.get("region")
            roles = data.get("roles") or []
            roles = roles.values() if isinstance(roles, dict) else roles
            w.pipeline_identity = next((r.get("name") for r in roles if isinstance(r, dict)
                                        and r.get("key") in ("pipeline", "jobs")), None)
            w.workload_identities = [r.get("name") for r in roles if isinstance(r, dict)
                                     and r.get("key") in ("pipeline", "jobs")]
        elif t == "vertex":
            models = {m["key"]: m for m in data.get("models") or []}
            w.models = [m["resource"] for m in models.values()]
            if w.model in models:
                w.approvals_required = int(models[w.model].get("approval_count") or 1)
                w.model = models[w.model]["resource"]
            w.project = w.project or data.get("project")
            w.region = w.region or data.get("region")
        else:
            names = {m["key"]: m["name"] for m in data.get("models") or []}
            w.model = names.get(w.model, w.model) if w.model else ""
            w.subscription = w.subscription or data.get("subscription")
            w.workspace = w.workspace or (data.get("workspace") or {}).get("name")
            w.resource_group = w.resource_group or next((v for k, v in cfg.items() if k.endswith(":resourceGroup")), None)
            w.approvals_required = int(data.get("approval_count", {}).get(args.model, 1)
                                       if isinstance(data.get("approval_count"), dict) else 1)
            w.model_key = args.model
            w.endpoints = [{"name": e["name"], "kind": e["plan"]["kind"]} for e in data.get("endpoints") or []
                           if args.model in (e.get("models") or [e.get("model")])]
    w.region = w.region or (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") if t == "sagemaker"
                            else None)
    need = {"sagemaker": ["region"], "vertex": ["project", "region"],
            "azureml": ["subscription", "resource_group", "workspace"]}[t]
    missing = [n for n in need if not getattr(w, n)]
    if missing:
        raise SettingsError("missing " + ", ".join(f"--{n.replace('_', '-')}" for n in missing)
                            + " (or give --spec SPEC --env ENV to read them from the spec)")
    return w


def _describe(decision: str, who: str, reason: str) -> str:
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{decision} by {who} at {when}: {reason or 'no reason given'}"


# --------------------------------------------------------------------------- SageMaker


class SageMakerBackend:
    """boto3 (real HTTP; tests point AWS_ENDPOINT_URL at a moto server on loopback)."""

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
        status = {A.APPROVED: A.SAGEMAKER_APPROVED, A.REJECTED: A.SAGEMAKER_REJECTED}[decision]
        if pkg.get("ModelApprovalStatus") == status:
            raise DecisionError(f"version {version} of `{w.model}` is already {status}")
        who = f"{by} (as {caller})" if by else caller
        desc = _describe(decision, who, reason)[:1024]
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
                    ModelPackageGroupName=g, ModelApprovalStatus=A.SAGEMAKER_PENDING):
                for p in page.get("ModelPackageSummaryList") or []:
                    out.append({"model": g, "version": str(p.get("ModelPackageVersion")),
                                "status": p.get("ModelApprovalStatus"),
                                "created": p["CreationTime"].isoformat() if hasattr(p.get("CreationTime"), "isoformat")
                                else str(p.get("CreationTime")), "id": p.get("ModelPackageArn")})
        return sorted(out, key=lambda r: (r["model"], int(r["version"])))


# --------------------------------------------------------------------------- Vertex


def _label_value(s: str) -> str:
    """Vertex label values: lower-case letters, digits, `-` and `_`, <= 63 chars."""
    return re.sub(r"[^a-z0-9_-]", "_", s.lower())[:63]


class VertexBackend:
    """google-cloud-aiplatform ModelRegistry aliases + Model labels."""

    def __init__(self, aiplatform: Any = None, whoami: Callable[[], str] | None = None):
        self._aip, self._whoami = aiplatform, whoami

    @property
    def aip(self):
        if self._aip is None:
            from google.cloud import aiplatform

            self._aip = aiplatform
        return self._aip

    def whoami(self) -> str:
        if self._whoami:
            return self._whoami()
        import google.auth

        creds, _ = google.auth.default()
        return getattr(creds, "service_account_email", None) or getattr(creds, "signer_email", None) \
            or os.environ.get("MLSPEC_APPROVER") or getpass.getuser()

    def _registry(self, w: Where):
        self.aip.init(project=w.project, location=w.region)
        return self.aip.models.ModelRegistry(model=w.model, project=w.project, location=w.region)

    def decide(self, w: Where, version: str, decision: str, reason: str, by: str | None) -> dict:
        reg = self._registry(w)
        info = reg.get_version_info(version)
        aliases = list(getattr(info, "version_aliases", None) or [])
        if A.VERTEX_PENDING_ALIAS not in aliases and not (decision == A.REJECTED and A.VERTEX_APPROVED_ALIAS in aliases):
            raise DecisionError(f"version {version} of `{w.model}` is not pending approval (aliases: "
                                f"{', '.join(aliases) or 'none'})")
        who = by or self.whoami()
        if decision == A.APPROVED:
            reg.add_version_aliases([A.VERTEX_APPROVED_ALIAS], version)
            reg.remove_version_aliases([A.VERTEX_PENDING_ALIAS], version)
        else:
            reg.remove_version_aliases([a for a in (A.VERTEX_PENDING_ALIAS, A.VERTEX_APPROVED_ALIAS) if a in aliases],
                                       version)
        model = self.aip.Model(model_name=f"{w.model}@{version}", project=w.project, location=w.region)
        labels = dict(getattr(model, "labels", None) or {})
        labels.update({A.VERTEX_LABEL_DECISION: decision, A.VERTEX_LABEL_BY: _label_value(who)})
        model.update(labels=labels, description=_describe(decision, who, reason)[:2000])
        return {"model": w.model, "version": str(version), "status": decision, "by": who,
                "aliases_before": aliases}

    def pending(self, w: Where) -> list[dict]:
        names = [w.model] if w.model else list(w.models)
        if not names:
            raise SettingsError("Vertex status needs MODEL, or --spec/--env (every model of the spec)")
        out = []
        for name in names:
            for v in self._registry(dataclasses.replace(w, model=name)).list_versions():
                if A.VERTEX_PENDING_ALIAS in (getattr(v, "version_aliases", None) or []):
                    created = getattr(v, "version_create_time", None)
                    out.append({"model": name, "version": str(v.version_id), "status": A.VERTEX_PENDING_ALIAS,
                                "created": created.ToJsonString() if hasattr(created, "ToJsonString")
                                else str(created or ""), "id": getattr(v, "model_resource_name", name)})
        return sorted(out, key=lambda r: (r["model"], r["version"]))


# --------------------------------------------------------------------------- Azure ML


class AzureBackend:
    """azure-ai-ml model versions; the tag protocol of targets/azureml's approve script."""

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
        stage = tags.get(A.AZURE_STAGE_TAG)
        if stage != A.AZURE_PENDING_STAGE:
            raise DecisionError(f"version {version} of `{w.model}` is `{stage}`, not {A.AZURE_PENDING_STAGE}")
        me, name = self.whoami()
        if not tags.get("mlspec.registered_by") or me == tags["mlspec.registered_by"]:
            raise DecisionError("the pipeline identity that registered this version cannot approve or reject it")
        who = by or name
        if decision == A.REJECTED:
            tags.update({A.AZURE_STAGE_TAG: A.AZURE_REJECTED_STAGE, A.AZURE_APPROVED_BY_TAG: "",
                         "mlspec.rejected_by": me, A.AZURE_REASON_TAG: _describe(decision, who, reason)})
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
            tags[A.AZURE_REASON_TAG] = _describe(decision, who, reason)
            if len(got) >= required:
                tags.update({A.AZURE_STAGE_TAG: A.AZURE_APPROVED_STAGE, A.AZURE_APPROVED_BY_TAG: ",".join(got)})
        model.tags = tags
        client.models.create_or_update(model)
        out = {"model": w.model, "version": str(version), "status": tags[A.AZURE_STAGE_TAG], "by": who,
               "approvals": tags.get("mlspec.approvals", "")}
        if tags[A.AZURE_STAGE_TAG] == A.AZURE_APPROVED_STAGE:
            out["release"] = {w.model_key or w.model: self.release(client, w, str(version), tags)}
        return out

    @staticmethod
    def release(client, w: Where, version: str, tags: dict) -> dict:
        """The release to deploy: the idle slot of the endpoint(s) serving the model, computed from
        their live traffic (first release: `blue`; all-at-once: updated in place), and the version
        serving now (`previous`, kept for rollback)."""
        slot, previous = "blue", None
        for ep in w.endpoints:
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
            dep = client.online_deployments.get(name=live, endpoint_name=ep["name"])
            ref = str(getattr(dep, "model", "") or "")
            previous = ref.rstrip("/").split("/")[-1].split(":")[-1] if ref else None
            break
        return {"version": version, "previous": previous, "slot": slot, "phase": "deploy",
                "approved_by": tags.get("mlspec.approver_names") or tags.get(A.AZURE_APPROVED_BY_TAG, "")}

    def pending(self, w: Where) -> list[dict]:
        client = self.client(w)
        names = [w.model] if w.model else sorted({m.name for m in client.models.list()})
        out = []
        for n in names:
            for m in client.models.list(name=n):
                if (getattr(m, "tags", None) or {}).get(A.AZURE_STAGE_TAG) == A.AZURE_PENDING_STAGE:
                    out.append({"model": n, "version": str(m.version), "status": A.AZURE_PENDING_STAGE,
                                "created": str((getattr(m, "creation_context", None) and
                                                getattr(m.creation_context, "created_at", "")) or ""),
                                "id": getattr(m, "id", None) or f"{n}:{m.version}"})
        return sorted(out, key=lambda r: (r["model"], r["version"]))


#: target -> backend; tests substitute fakes here
BACKENDS: dict[str, Any] = {"sagemaker": SageMakerBackend(), "vertex": VertexBackend(), "azureml": AzureBackend()}


# --------------------------------------------------------------------------- CLI


def _cloud_error(e: Exception) -> bool:
    mod = type(e).__module__
    return mod.startswith(("botocore", "boto3", "google", "azure", "grpc", "urllib3", "requests"))


_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ClientAuthenticationError",
                      "CredentialUnavailableError", "DefaultCredentialsError", "RefreshError")


def _cloud_failure(command: str, target: str, e: Exception) -> int:
    """One message per failure; a missing or unusable login says how to fix it (once)."""
    if type(e).__name__ in _CREDENTIAL_ERRORS:
        from mlspec.compiler.plan.deploy import CREDENTIALS

        _, what, fix = CREDENTIALS[target]
        first = (str(e).strip().splitlines() or [""])[0][:200]
        sys.stderr.write(f"mlspec {command}: no usable {what} ({type(e).__name__}: {first})\n"
                         f"   = fix: {fix}\n")
    else:
        sys.stderr.write(f"mlspec {command}: the cloud call failed: {type(e).__name__}: {e}\n")
    return EXIT_OPERATION


class _QuietSDKs:
    """The vendor SDKs log each credential they tried as warnings before raising; the error we
    print says it once."""

    NAMES = ("azure", "google.auth", "botocore.credentials")

    def __enter__(self):
        import logging

        self.saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.NAMES]
        for lg, _ in self.saved:
            lg.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        for lg, level in self.saved:
            lg.setLevel(level)


def _decide(decision: str):
    def handle(args) -> int:
        try:
            w = resolve(args)
            with _QuietSDKs():
                result = BACKENDS[args.target].decide(w, args.version, decision, args.reason or "", args.by)
        except SettingsError as e:
            sys.stderr.write(f"mlspec {args.command}: error: {e}\n")
            return EXIT_USAGE
        except DecisionError as e:
            sys.stderr.write(f"mlspec {args.command}: refused: {e}\n")
            return EXIT_FINDINGS
        except Exception as e:  # noqa: BLE001
            if not _cloud_error(e):
                raise
            return _cloud_failure(args.command, args.target, e)
        if args.format == "json":
            sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(f"{result['model']} version {result['version']}: {result['status']} "
                             f"(by {result['by']})\n")
            for key, rel in sorted((result.get("release") or {}).items()):  # Azure: the release to deploy
                sys.stdout.write(f"release of {key}: slot {rel['slot']}, previous {rel['previous'] or 'none'}; set it "
                                 "with:\n")
                for field, value in sorted(rel.items()):
                    if value is not None:
                        sys.stdout.write(f"  pulumi config set --path 'releases.{key}.{field}' '{value}'\n")
        return EXIT_OK

    return lambda args: run_guarded(args, handle)


def _status(args) -> int:
    try:
        w = resolve(args)
        with _QuietSDKs():
            rows = BACKENDS[args.target].pending(w)
    except SettingsError as e:
        sys.stderr.write(f"mlspec status: error: {e}\n")
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001
        if not _cloud_error(e):
            raise
        return _cloud_failure("status", args.target, e)
    if args.format == "json":
        sys.stdout.write(json.dumps({"target": args.target, "pending": rows}, indent=2, sort_keys=True) + "\n")
    elif not rows:
        sys.stdout.write("no model versions are pending approval\n")
    else:
        sys.stdout.write(f"{len(rows)} model version(s) pending approval ({args.target})\n")
        for r in rows:
            sys.stdout.write(f"  {r['model']}  version {r['version']}  {r['status']}  {r['created']}\n")
    return EXIT_OK


def _connection_flags(p) -> None:
    p.add_argument("--spec", default=None, help="read names and settings from this spec (with --env)")
    p.add_argument("--env", default=None, help="environment of --spec")
    p.add_argument("--region", default=None, help="AWS region / Vertex location")
    p.add_argument("--project", default=None, help="GCP project")
    p.add_argument("--subscription", default=None, help="Azure subscription id")
    p.add_argument("--resource-group", dest="resource_group", default=None, help="Azure resource group")
    p.add_argument("--workspace", default=None, help="Azure ML workspace")


def add_parsers(sub, add_common) -> None:
    for name, decision, text in (("approve", A.APPROVED, "approve a registered model version (who and why recorded)"),
                                 ("reject", A.REJECTED, "reject a registered model version (who and why recorded)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("model", metavar="MODEL", help="the spec's model name (with --spec) or the cloud name")
        p.add_argument("version", metavar="VERSION")
        p.add_argument("--target", required=True, choices=TARGETS)
        p.add_argument("--reason", required=(decision == A.REJECTED), default=None, help="why (recorded)")
        p.add_argument("--by", default=None, help="approver name to record next to the cloud identity")
        _connection_flags(p)
        add_common(p)
        p.set_defaults(func=_decide(decision))
    s = sub.add_parser("status", help="list model versions pending approval")
    s.add_argument("model", metavar="MODEL", nargs="?", default=None)
    s.add_argument("--target", required=True, choices=TARGETS)
    _connection_flags(s)
    add_common(s)
    s.set_defaults(func=lambda args: run_guarded(args, _status))
