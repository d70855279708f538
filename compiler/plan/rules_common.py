"""Cross-cloud baseline rules MLS-G-01..09 (SECURITY.md section 1).

Each check takes a :class:`~mlspec.compiler.plan.security.Graph` and yields
``(resource or label, message)``; the per-cloud detail lives in rules_aws/gcp/azure and
these rules catch what is common (keys exist, public flags, secrets, tags, images ...).
Never imports a cloud SDK.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from mlspec.compiler.plan import pipelines
from mlspec.compiler.plan.security import (CLOUD_OF_TARGET, SECRETISH_NAME, Graph, dig, is_reference, is_set,
                                           literal_secret, parse_json, rule, walk)

# ----------------------------------------------------------------------------- G-01

#: data-at-rest resource types per cloud (prefix match with a trailing *)
DATA_AT_REST = {
    "aws": ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:ecr/repository:Repository",
            "aws:cloudwatch/logGroup:LogGroup", "aws:sns/topic:Topic",
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "aws:sagemaker/featureGroup:FeatureGroup",
            "aws:sagemaker/domain:Domain", "aws:sagemaker/notebookInstance:NotebookInstance",
            "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"),
    "gcp": ("gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository", "gcp:vertex/*",
            "gcp:bigquery/dataset:Dataset", "gcp:pubsub/topic:Topic"),
    "azure": ("azure-native:storage:StorageAccount", "azure-native:containerregistry:Registry",
              "azure-native:machinelearningservices:Workspace", "azure-native:operationalinsights:Workspace"),
}
KEY_TYPES = {
    "aws": ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"),
    "gcp": ("gcp:kms/cryptoKey:CryptoKey",),
    "azure": ("azure-native:keyvault:Key",),
}


def cloud(g: Graph) -> str:
    if g.target in CLOUD_OF_TARGET:
        return CLOUD_OF_TARGET[g.target]
    pkgs = {r["type"].split(":")[0] for r in g.resources}
    return "aws" if "aws" in pkgs else "gcp" if "gcp" in pkgs else "azure" if "azure-native" in pkgs else ""


def referenced_key(g: Graph) -> bool:
    """The spec names an existing key (IR security.kms_key or a kms key setting of the target)."""
    if is_set(g.security.get("kms_key")):
        return True
    return any(is_set(v) and re.search(r"kms|cmk|key_?(id|arn|uri|name)", k, re.I)
               for k, v in g.target_settings.items())


@rule("MLS-G-01", cloud="all", resource="every data-at-rest resource", property="encryption key",
      default="customer-managed key created or referenced by the stack, one per environment and region",
      external=("see per-cloud rows",))
def check_cmk_exists(g: Graph):
    c = cloud(g)
    data = g.of(*DATA_AT_REST.get(c, ()))
    if data and not g.of(*KEY_TYPES.get(c, ())) and not referenced_key(g):
        yield data[0], (f"{len(data)} data-at-rest resource(s) but the stack neither creates nor references a "
                        "customer-managed key")
    for r in g.resources:
        for path, v in walk(r["inputs"]):
            if isinstance(v, str) and re.search(r"alias/aws/", v):
                yield r, f"`{path}` uses the AWS-managed key `{v}`, not the environment CMK"
    if referenced_key(g):
        return  # the spec names an existing key: references to it cannot be matched offline
    own = stack_keys(g, c)
    if not own:
        return
    rx = KEY_REF.get(c)
    for r in g.resources:
        if r["type"] in KEY_TYPES.get(c, ()):
            continue
        for path, v in walk(r["inputs"]):
            for ref in _key_refs(v, rx):
                if _key_id(ref, c) not in own:
                    yield r, f"`{path}` uses key `{ref}`, which this stack does not create"


#: key references in inputs, per cloud (KMS key ARNs; Cloud KMS crypto key names)
KEY_REF = {"aws": re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+"),
           "gcp": re.compile(r"projects/[^/\s\"]+/locations/[^/\s\"]+/keyRings/[^/\s\"]+/cryptoKeys/[^/\s\"@]+")}


def _key_refs(v: Any, rx) -> list[str]:
    if rx is None or not isinstance(v, str):
        return []
    return [m.group(0) for m in rx.finditer(v)]


def _key_id(ref: str, c: str) -> str:
    return ref.rsplit("/", 1)[-1] if c == "aws" else ref


def stack_keys(g: Graph, c: str) -> set[str]:
    """Ids/ARNs of the keys the stack creates, as the harness fabricates them."""
    from mlspec.compiler.plan import fabricate

    out: set[str] = set()
    for k in g.of(*KEY_TYPES.get(c, ())):
        if c == "aws":  # compared by key id: the region comes from the stack config
            out.add(fabricate.guid("kms", k["name"]))
        elif c == "gcp":
            ring, name = k["inputs"].get("keyRing"), k["inputs"].get("name") or k["name"]
            if isinstance(ring, str):
                out.add(f"{ring}/cryptoKeys/{name}")
    return out


# ----------------------------------------------------------------------------- G-02

_PUBLIC_FLAGS: list[tuple[str, Any, str]] = [
    # (wire key, bad value or callable, what it means)
    ("publicNetworkAccess", lambda v: isinstance(v, str) and v.lower() == "enabled", "public network access enabled"),
    ("publicNetworkAccessForIngestion", lambda v: isinstance(v, str) and v.lower() == "enabled", "public ingestion"),
    ("publicNetworkAccessForQuery", lambda v: isinstance(v, str) and v.lower() == "enabled", "public query"),
    ("publicEndpointEnabled", lambda v: v is True, "public endpoint enabled"),
    ("directInternetAccess", lambda v: v == "Enabled", "direct internet access"),
    ("appNetworkAccessType", lambda v: v == "PublicInternetOnly", "public internet access"),
    ("mapPublicIpOnLaunch", lambda v: v is True, "public IPs on launch"),
    ("associatePublicIpAddress", lambda v: v is True, "public IP address"),
    ("enableNodePublicIp", lambda v: v is True, "node public IPs"),
    ("allowBlobPublicAccess", lambda v: v is True, "public blob access"),
    ("anonymousPullEnabled", lambda v: v is True, "anonymous pull"),
    ("allowPublicAccessWhenBehindVnet", lambda v: v is True, "public access behind VNet"),
    ("publicAccessPrevention", lambda v: v == "inherited", "public access prevention not enforced"),
    ("acl", lambda v: isinstance(v, str) and v.startswith(("public-", "authenticated-read")), "public ACL"),
    ("disablePublicIp", lambda v: v is False, "public IP"),
]


def _public_exposures(v: Any, path: str = "") -> Iterator[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            p = f"{path}.{k}" if path else k
            for key, bad, what in _PUBLIC_FLAGS:
                if k == key and not isinstance(x, (dict, list)) and bad(x):
                    yield f"`{p}` = {x!r} ({what})"
            if k in ("networkAcls", "networkRuleSet") and isinstance(x, dict) and x.get("defaultAction") == "Allow":
                yield f"`{p}.defaultAction` = 'Allow' (network default allow)"
            if k in ("member", "members") and any(m in ("allUsers", "allAuthenticatedUsers") for m in
                                                  (x if isinstance(x, list) else [x])):
                yield f"`{p}` grants a public principal"
            yield from _public_exposures(x, p)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _public_exposures(x, f"{path}[{i}]")


@rule("MLS-G-02", cloud="all", resource="workspaces, endpoints, registries, storage, key stores",
      property="network exposure", default="private endpoints / VPC-only; no public flag set anywhere",
      external=("see per-cloud rows",))
def check_no_public_exposure(g: Graph):
    for r in g.resources:
        for what in _public_exposures(r["inputs"]):
            yield r, what


# ----------------------------------------------------------------------------- G-03


def component_identities(g: Graph) -> dict[str, set[str]]:
    """identity -> component kinds using it (orchestrator, workload, serving, monitoring)."""
    uses: dict[str, set[str]] = {}

    def add(identity: Any, kind: str) -> None:
        if isinstance(identity, str) and is_set(identity) and not identity.startswith("["):
            uses.setdefault(identity, set()).add(kind)

    c = cloud(g)
    if c == "aws":
        for p in g.of("aws:sagemaker/pipeline:Pipeline"):
            add(p["inputs"].get("roleArn"), "orchestrator")
            for step in pipelines.sagemaker_steps(p["inputs"].get("pipelineDefinition")):
                add(pipelines.sagemaker_step_role(step), "workload")
        for m in g.of("aws:sagemaker/model:Model"):
            add(m["inputs"].get("executionRoleArn"), "serving")
        for _, api, p in pipelines.sagemaker_deploy_calls(g):
            if api == "createModel":
                add(p.get("ExecutionRoleArn"), "serving")
        for m in g.of("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"):
            add(m["inputs"].get("roleArn"), "monitoring")
        for s in g.of("aws:sagemaker/monitoringSchedule:MonitoringSchedule"):
            add(dig(s["inputs"], "monitoringScheduleConfig", "monitoringJobDefinition", "roleArn"), "monitoring")
    elif c == "gcp":
        for job in pipelines.vertex_job_specs(g):
            add(job.get("service_account"), "orchestrator")
        for _, ex in pipelines.kfp_custom_jobs(g):
            add(ex.get("service_account"), "workload")
    elif c == "azure":
        kinds = {"azure-native:machinelearningservices:Workspace": "workspace",
                 "azure-native:machinelearningservices:Compute": "workload",
                 "azure-native:machinelearningservices:OnlineEndpoint": "serving",
                 "azure-native:machinelearningservices:BatchEndpoint": "serving"}
        for t, kind in kinds.items():
            for r in g.of(t):
                for uai in (dig(r["inputs"], "identity", "userAssignedIdentities") or {}):
                    add(uai, kind)
    return uses


@rule("MLS-G-03", cloud="all", resource="identities of pipeline orchestrator, workload, serving, monitoring",
      property="identity per component", default="one least-privilege identity per component",
      external=("see per-cloud rows",))
def check_identity_per_component(g: Graph):
    for ident, kinds in sorted(component_identities(g).items()):
        if len(kinds) > 1:
            yield ident, f"one identity serves several components ({', '.join(sorted(kinds))})"


# ----------------------------------------------------------------------------- G-04

_ENV_MAPS = ("environmentVariables", "Environment", "environment_variables", "env", "environment", "envVars",
             "environmentVars")


def _secret_problems(v: Any, path: str = "", in_env: bool = False) -> Iterator[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            p = f"{path}.{k}" if path else str(k)
            if in_env and isinstance(x, str) and SECRETISH_NAME.search(str(k)) and x and not is_reference(x):
                yield f"`{p}` holds a plaintext value under a secret-looking name"
            yield from _secret_problems(x, p, k in _ENV_MAPS)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _secret_problems(x, f"{path}[{i}]", in_env)
    elif isinstance(v, str):
        kind = literal_secret(v)
        if kind:
            yield f"`{path}` contains a literal {kind}"
        elif len(v) > 2 and v[0] in "{[":  # JSON-in-a-string (policies, pipeline definitions)
            inner = parse_json(v)
            if inner is not None:
                yield from _secret_problems(inner, path, in_env)


@rule("MLS-G-04", cloud="all", resource="every input, tag/label, env var, output and artifact",
      property="secrets", default="references only (secret manager / Key Vault / Pulumi config secret)",
      external=("CKV_SECRET_*",), sees="graph+artifacts")
def check_no_literal_secrets(g: Graph):
    for r in g.resources:
        for problem in _secret_problems(r["inputs"]):
            yield r, problem
    for k, v in sorted(g.outputs.items()):
        if SECRETISH_NAME.search(k) and v not in ("[secret]", None) and not is_reference(v):
            yield f"stack output {k}", f"stack output `{k}` is not a Pulumi secret"
        for problem in _secret_problems({k: v}):
            yield f"stack output {k}", problem
    for path, doc in sorted(g.artifacts.items()):
        for problem in _secret_problems(doc):
            yield path, problem


# ----------------------------------------------------------------------------- G-05

LOG_TYPES = {
    "aws:cloudwatch/logGroup:LogGroup": ("retentionInDays", "kmsKeyId"),
    "azure-native:operationalinsights:Workspace": ("retentionInDays", None),
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": ("retentionDays", "cmekSettings"),
}


@rule("MLS-G-05", cloud="all", resource="log groups / Log Analytics / log buckets", property="retention, encryption",
      default="retained (prod >= 365 days) and encrypted", external=("CKV_AWS_66", "CKV_AWS_338", "CKV_AWS_158"))
def check_logs_retained(g: Graph):
    for t, (ret_key, kms_key) in LOG_TYPES.items():
        for r in g.of(t):
            days = r["inputs"].get(ret_key)
            if not isinstance(days, (int, float)):
                yield r, f"`{ret_key}` not set"
            elif g.production and 0 < days < 365:
                yield r, f"`{ret_key}` = {days}; production needs >= 365"
            if kms_key and not is_set(r["inputs"].get(kms_key)):
                yield r, f"`{kms_key}` not set (logs not encrypted with the environment CMK)"


# ----------------------------------------------------------------------------- G-06

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PRIVATE_REGISTRY = {
    "aws": re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"),
    "gcp": re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)/"),
    "azure": re.compile(r"^[a-z0-9]+\.azurecr\.io/"),
}


def image_problem(image: Any, c: str) -> str | None:
    if not isinstance(image, str) or not image or image.startswith("[") or not c:
        return None
    if image.startswith(("azureml:", "azureml://")):
        return None  # a registered Azure ML environment, not a raw image
    problems = []
    rx = PRIVATE_REGISTRY.get(c)
    if rx and not rx.match(image):
        problems.append("not from a private registry")
    if not DIGEST.search(image):
        problems.append("not pinned by digest")
    return f"image `{image}` is {' and '.join(problems)}" if problems else None


@rule("MLS-G-06", cloud="all", resource="container images of steps, models, deployments", property="image",
      default="private registry, pinned by @sha256 digest", external=("MLS only",), sees="graph+artifacts")
def check_images_pinned(g: Graph):
    c = cloud(g)
    for where, image in pipelines.images(g):
        why = image_problem(image, c)
        if why:
            yield where, why


# ----------------------------------------------------------------------------- G-07


@rule("MLS-G-07", cloud="all", resource="models deployed to production", property="approval",
      default="explicit approval state change by an approver (not the pipeline identity) before prod",
      external=("MLS only",), sees="ir")
def check_prod_approval(g: Graph):
    if not g.production:
        return
    if g.environment.get("approval") not in (None, "required"):
        yield f"environment {g.environment.get('name')}", "production environment does not require approval"
    for m in g.ir.get("models") or []:
        if not dig(m, "approval", "required", default=True):
            yield m.get("id", "model"), "model is deployed to production without a required approval"


# ----------------------------------------------------------------------------- G-08

TAG_KEYS = {
    "owner": ("owner",),
    "environment": ("environment", "env"),
    "data classification": ("dataclassification", "dataclass", "classification"),
    # the compiler version is kept out of artifacts (deterministic output, STYLE.md); the IR schema
    # version the build was made from stands in for it
    "mlspec version": ("mlspecversion", "compilerversion", "irschema", "schemaversion"),
    # the system names the spec a resource comes from; the spec *hash* is lineage, recorded in the
    # manifest, on pipeline runs and on registered model versions, not on every resource: a tag
    # that changes with every edit would rewrite the whole stack for a one-line change (issue 16)
    "system": ("mlspecsystem",),
}


def _norm(k: str) -> str:
    return re.sub(r"[^a-z0-9]", "", k.lower())


def missing_tags(tags: Any) -> list[str]:
    keys = [_norm(k) for k in (tags or {})] if isinstance(tags, dict) else []
    return [name for name, tokens in TAG_KEYS.items() if not any(k.endswith(t) for k in keys for t in tokens)]


def default_tags(g: Graph) -> dict:
    """Provider-level default tags/labels (stack config or explicit provider resources)."""
    out: dict = {}
    for key in ("aws:defaultTags", "gcp:defaultLabels"):
        v = parse_json(g.config.get(key))
        if isinstance(v, dict):
            out.update(v.get("tags", v) if key == "aws:defaultTags" else v)
    for p in g.of("pulumi:providers:aws", "pulumi:providers:gcp"):
        v = dig(p["inputs"], "defaultTags", "tags") or parse_json(p["inputs"].get("defaultTags")) or {}
        if isinstance(v, dict):
            out.update(v.get("tags", v) if "tags" in v else v)
        v = parse_json(p["inputs"].get("defaultLabels")) or {}
        if isinstance(v, dict):
            out.update(v)
    return out


@rule("MLS-G-08", cloud="all", resource="every taggable resource", property="tags / labels",
      default="owner, environment, data classification, mlspec version, mlspec system (the spec hash is lineage: "
              "manifest, pipeline runs, model versions)", external=("MLS only",),
      severity="low")
def check_standard_tags(g: Graph):
    defaults = default_tags(g)
    for r in g.resources:
        prop = r.get("tag_property")
        if not prop:
            continue
        tags = dict(defaults)
        own = r["inputs"].get(prop)
        if isinstance(own, list) and all(isinstance(t, dict) and "key" in t for t in own):
            own = {t["key"]: t.get("value") for t in own}  # aws-native: [{key, value}]
        if isinstance(own, dict):
            tags.update(own)
        elif own not in (None, "[unknown]"):
            yield r, f"`{prop}` is not a map"
            continue
        missing = missing_tags(tags)
        if missing:
            yield r, f"`{prop}` lacks {', '.join(missing)}"


# ----------------------------------------------------------------------------- G-09


@rule("MLS-G-09", cloud="all", resource="native pipeline definitions", property="step security settings",
      default="every pipeline definition is visible to the checks (inline or in the build) and parses",
      external=("see MLS-AWS-054, MLS-GCP-050, MLS-AZ-080",), sees="graph+artifacts")
def check_pipelines_visible(g: Graph):
    for p in g.of("aws:sagemaker/pipeline:Pipeline"):
        d = p["inputs"].get("pipelineDefinition")
        if d is None and is_set(p["inputs"].get("pipelineDefinitionS3Location")):
            local = [a for a in pipelines.sagemaker_definition_artifacts(g)]
            if not local:
                yield p, "pipeline definition only in S3 and not in the build: step settings cannot be checked"
        elif isinstance(d, str) and d not in ("[unknown]", "[secret]") and parse_json(d) is None:
            yield p, "pipeline definition is not valid JSON: step settings cannot be checked"
    for path, doc in sorted(g.artifacts.items()):
        if isinstance(doc, str) and path.endswith((".json", ".yaml", ".yml")):
            yield path, "artifact does not parse: its security settings cannot be checked"
