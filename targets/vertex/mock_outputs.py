"""Mock outputs of the Google Cloud provider (pulumi-gcp) for `mlspec plan`.

Part of ``Target.mock_outputs()`` (see :mod:`mlspec.compiler.plan.mocks`, the engine): plausible
computed outputs for ``gcp:*`` resources and invokes under Pulumi's mock runtime, so that dependent inputs never resolve
to ``None``. Extend the tables one line per type token / invoke token (wire names); values already
present in the inputs are never overwritten. Deterministic (no clocks, no randomness).
Pure Python; imports no Pulumi module.
"""
from __future__ import annotations

from mlspec.compiler.plan.mocks import Ctx, MockOutputs, digest, guid, lcfirst

GCP_PROJECT = "mlspec-mock-project"
GCP_PROJECT_NUMBER = "123456789012"
GCP_REGION = "us-central1"


def configure(config: dict[str, str]) -> None:
    """Take project and region from the stack config (`gcp:project`, `gcp:region`)."""
    global GCP_PROJECT, GCP_REGION
    GCP_PROJECT = config.get("gcp:project") or GCP_PROJECT
    GCP_REGION = config.get("gcp:region") or GCP_REGION


def _gcp_project(ctx: Ctx) -> str:
    return ctx.get("project", default=GCP_PROJECT)


def _gcp_location(ctx: Ctx) -> str:
    return ctx.get("location", "region", default=GCP_REGION)


def _gcp_id(ctx: Ctx) -> str:
    name = ctx.get("name", "accountId", default=ctx.name)
    if ctx.typ == "gcp:kms/keyRing:KeyRing":
        return f"projects/{_gcp_project(ctx)}/locations/{_gcp_location(ctx)}/keyRings/{name}"
    if ctx.typ == "gcp:kms/cryptoKey:CryptoKey" and ctx.get("keyRing"):
        return f"{ctx.get('keyRing')}/cryptoKeys/{name}"
    if ctx.typ == "gcp:serviceaccount/account:Account":
        return f"projects/{_gcp_project(ctx)}/serviceAccounts/{name}@{_gcp_project(ctx)}.iam.gserviceaccount.com"
    plural = lcfirst(ctx.cls) + "s"
    return f"projects/{_gcp_project(ctx)}/locations/{_gcp_location(ctx)}/{plural}/{name}"


def _gcp_default(ctx: Ctx) -> dict:
    return {"name": ctx.get("name", default=ctx.name), "project": _gcp_project(ctx),
            "selfLink": f"https://www.googleapis.com/{ctx.module}/v1/{ctx.id}",
            "effectiveLabels": ctx.inputs.get("labels") or {}, "etag": "BwYmock="}


def _gcp_sa(ctx: Ctx) -> dict:
    acct = ctx.get("accountId", default=ctx.name)
    email = f"{acct}@{_gcp_project(ctx)}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "uniqueId": guid("sa", acct)[:21],
            "name": f"projects/{_gcp_project(ctx)}/serviceAccounts/{email}", "accountId": acct}


def _gcp_bucket(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n, "url": f"gs://{n}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{n}"}


def _gcp_keyring(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n}


def _gcp_cryptokey(ctx: Ctx) -> dict:
    return {"name": ctx.get("name", default=ctx.name)}


def _gcp_ar_repo(ctx: Ctx) -> dict:
    rid = ctx.get("repositoryId", default=ctx.name)
    loc = _gcp_location(ctx)
    return {"name": rid, "repositoryId": rid,
            "registryUri": f"{loc}-docker.pkg.dev/{_gcp_project(ctx)}/{rid}"}


def _gcp_numeric_name(ctx: Ctx) -> dict:
    # Vertex resources are named by server-assigned numeric ids.
    n = ctx.get("name", default=str(int(guid("vertex", ctx.name)[:8], 16)))
    return {"name": n}


def _gcp_pubsub_topic(ctx: Ctx) -> dict:
    n = ctx.get("name", default=ctx.name)
    return {"name": n}


def _gcp_notification_channel(ctx: Ctx) -> dict:
    return {"name": f"projects/{_gcp_project(ctx)}/notificationChannels/{int(guid('nc', ctx.name)[:8], 16)}"}


#: service -> its agent's account name, where it is not `gcp-sa-<service>`
AGENT_ACCOUNTS = {"monitoring": "gcp-sa-monitoring-notification"}


def _gcp_service_identity(ctx: Ctx) -> dict:
    svc = ctx.get("service", default="aiplatform.googleapis.com").split(".")[0]
    email = f"service-{GCP_PROJECT_NUMBER}@{AGENT_ACCOUNTS.get(svc, 'gcp-sa-' + svc)}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _gcp_project_res(ctx: Ctx) -> dict:
    return {"number": GCP_PROJECT_NUMBER, "projectId": ctx.get("projectId", default=GCP_PROJECT)}




#: exact type token -> extra outputs (wire names); extend freely, one line per type
RESOURCE_OUTPUTS = {
    "gcp:serviceaccount/account:Account": _gcp_sa,
    "gcp:storage/bucket:Bucket": _gcp_bucket,
    "gcp:kms/keyRing:KeyRing": _gcp_keyring,
    "gcp:kms/cryptoKey:CryptoKey": _gcp_cryptokey,
    "gcp:artifactregistry/repository:Repository": _gcp_ar_repo,
    "gcp:vertex/aiEndpoint:AiEndpoint": _gcp_numeric_name,
    "gcp:vertex/aiTensorboard:AiTensorboard": _gcp_numeric_name,
    "gcp:vertex/aiDataset:AiDataset": _gcp_numeric_name,
    "gcp:vertex/aiIndexEndpoint:AiIndexEndpoint": _gcp_numeric_name,
    "gcp:pubsub/topic:Topic": _gcp_pubsub_topic,
    "gcp:monitoring/notificationChannel:NotificationChannel": _gcp_notification_channel,
    "gcp:projects/serviceIdentity:ServiceIdentity": _gcp_service_identity,
    "gcp:organizations/project:Project": _gcp_project_res,
}

#: invoke token -> result (wire names); extend freely
CALL_RESULTS = {
    "gcp:artifactregistry/getDockerImage:getDockerImage": lambda a: {
        "name": f"projects/{a.get('project') or GCP_PROJECT}/locations/{a.get('location')}/repositories/"
                f"{a.get('repositoryId')}/dockerImages/{a.get('imageName')}",
        "selfLink": f"{a.get('location')}-docker.pkg.dev/{a.get('project') or GCP_PROJECT}/{a.get('repositoryId')}/"
                    f"{str(a.get('imageName')).split(':')[0].split('@')[0]}"
                    f"@{digest(a.get('location'), a.get('repositoryId'), a.get('imageName'))}",
        "tags": [str(a.get("imageName")).split(":")[-1]], "id": "mock"},
    "gcp:organizations/getProject:getProject": lambda a: {
        "projectId": a.get("projectId") or GCP_PROJECT, "number": GCP_PROJECT_NUMBER,
        "name": a.get("projectId") or GCP_PROJECT, "id": f"projects/{a.get('projectId') or GCP_PROJECT}"},
    "gcp:organizations/getClientConfig:getClientConfig": lambda a: {
        "project": GCP_PROJECT, "region": GCP_REGION, "zone": f"{GCP_REGION}-a", "accessToken": "mock-token",
        "id": "mock"},
    "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount": lambda a: {
        "email": f"bq-{GCP_PROJECT_NUMBER}@bigquery-encryption.iam.gserviceaccount.com",
        "member": f"serviceAccount:bq-{GCP_PROJECT_NUMBER}@bigquery-encryption.iam.gserviceaccount.com",
        "project": a.get("project") or GCP_PROJECT, "id": "mock"},
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": lambda a: {
        "emailAddress": f"service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "member": f"serviceAccount:service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        "project": GCP_PROJECT, "id": "mock"},
}


def _tag_property(wire: set) -> str | None:
    # gcp `labels` (gcp `tags` are Resource Manager tag bindings); NotificationChannel `labels` are
    # channel settings: its user labels are `userLabels`; a MetricDescriptor's `labels` declare the
    # metric's label keys and it takes no resource labels
    if "metricKind" in wire:
        return None
    want = "userLabels" if "userLabels" in wire else "labels"
    return want if want in wire else None


MOCK_OUTPUTS = MockOutputs(
    providers={"gcp": (_gcp_id, _gcp_default)}, resources=RESOURCE_OUTPUTS, calls=CALL_RESULTS,
    configure=configure, python_modules={"gcp": "pulumi_gcp"}, tag_property={"gcp": _tag_property},
)
