"""GCP baseline rules MLS-GCP-* (SECURITY.md section 3) over pulumi-gcp wire inputs and the
Vertex AI artifacts of the build (KFP PipelineSpec, CustomJob payloads, PipelineJob submissions).
Never imports a cloud SDK.
"""
from __future__ import annotations

import re
from typing import Any

from mlspec.compiler.plan.graph import Graph, as_list, dig, is_set, rule, truthy, walk
from mlspec.targets.vertex import artifacts as pipelines

PROJECT_IAM = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding",
               "gcp:projects/iAMPolicy:IAMPolicy")
BUCKET_IAM = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding",
              "gcp:storage/bucketIAMPolicy:BucketIAMPolicy", "gcp:storage/bucketAccessControl:BucketAccessControl",
              "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl")
KEY_IAM = ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding")
PUBLIC = ("allUsers", "allAuthenticatedUsers")
MAX_ROTATION_S = 90 * 24 * 3600


def members(r: dict) -> list[str]:
    i = r["inputs"]
    out = as_list(i.get("member")) + as_list(i.get("members")) + as_list(i.get("entity"))
    pol = i.get("policyData")
    if isinstance(pol, str):
        out += re.findall(r'"((?:user|serviceAccount|group|domain):[^"]+|allUsers|allAuthenticatedUsers)"', pol)
    return [str(m) for m in out]


def roles(r: dict) -> list[str]:
    i = r["inputs"]
    out = as_list(i.get("role"))
    pol = i.get("policyData")
    if isinstance(pol, str):
        out += re.findall(r'"(roles/[^"]+)"', pol)
    return [str(x) for x in out]


def _seconds(v: Any) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(v or ""))
    return float(m.group(1)) if m else None


@rule("MLS-GCP-001", cloud="gcp", resource="gcp.kms.CryptoKey", property="rotation_period; protection",
      default="<= 90 days; resource option protect=True", external=("CKV_GCP_43", "CKV_GCP_82", "GCP-0065"))
def check_crypto_key(g: Graph):
    for k in g.of("gcp:kms/cryptoKey:CryptoKey"):
        s = _seconds(k["inputs"].get("rotationPeriod"))
        if s is None or s > MAX_ROTATION_S:
            yield k, f"`rotationPeriod` is {k['inputs'].get('rotationPeriod')!r}; needs <= 7776000s (90 days)"
        if not k.get("protect"):
            yield k, "the key is not protected (resource option protect=True)"


@rule("MLS-GCP-002", cloud="gcp", resource="gcp.kms.CryptoKeyIAMMember", property="members",
      default="Vertex AI (and GCS / Artifact Registry) service agents get cryptoKeyEncrypterDecrypter on the key, "
              "not the project", external=("MLS only",))
def check_key_grants(g: Graph):
    for r in g.of(*PROJECT_IAM):
        if "roles/cloudkms.cryptoKeyEncrypterDecrypter" in roles(r):
            yield r, "cryptoKeyEncrypterDecrypter granted at project level, not on the key"
    keys = g.of("gcp:kms/cryptoKey:CryptoKey")
    cmek_users = g.of("gcp:vertex/*", "gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository")
    if not keys or not cmek_users:
        return
    grants = [r for r in g.of(*KEY_IAM) if "roles/cloudkms.cryptoKeyEncrypterDecrypter" in roles(r)]
    if g.of("gcp:vertex/*") or pipelines.kfp_specs(g):
        if not any("gcp-sa-aiplatform" in m or "[unknown]" in m for r in grants for m in members(r)):
            yield keys[0], "the Vertex AI service agent has no cryptoKeyEncrypterDecrypter grant on the key"
    if g.of("gcp:storage/bucket:Bucket"):
        if not any("gs-project-accounts" in m or "[unknown]" in m for r in grants for m in members(r)):
            yield keys[0], "the Cloud Storage service agent has no cryptoKeyEncrypterDecrypter grant on the key"
    if g.of("gcp:artifactregistry/repository:Repository"):
        if not any("gcp-sa-artifactregistry" in m or "[unknown]" in m for r in grants for m in members(r)):
            yield keys[0], "the Artifact Registry service agent has no cryptoKeyEncrypterDecrypter grant on the key"


def _log_buckets(g: Graph) -> set[str]:
    return {dig(b["inputs"], "logging", "logBucket") for b in g.of("gcp:storage/bucket:Bucket")} - {None}


@rule("MLS-GCP-010", cloud="gcp", resource="gcp.storage.Bucket",
      property="uniform_bucket_level_access; public_access_prevention; encryption.default_kms_key_name; "
               "versioning.enabled; logging",
      default="true; enforced; env CMK; true; separate log bucket",
      external=("CKV_GCP_29", "CKV_GCP_114", "CKV_GCP_78", "CKV_GCP_62", "CKV_GCP_63", "GCP-0002", "GCP-0066",
                "GCP-0078", "GCP-0077"))
def check_bucket(g: Graph):
    log_buckets = _log_buckets(g)
    for b in g.of("gcp:storage/bucket:Bucket"):
        i = b["inputs"]
        name = i.get("name") or b["name"]
        if not truthy(i.get("uniformBucketLevelAccess")):
            yield b, "`uniformBucketLevelAccess` is not true"
        if i.get("publicAccessPrevention") != "enforced":
            yield b, "`publicAccessPrevention` is not enforced"
        if not is_set(dig(i, "encryption", "defaultKmsKeyName")):
            yield b, "`encryption.defaultKmsKeyName` not set (not the env CMK)"
        if not truthy(dig(i, "versioning", "enabled")):
            yield b, "`versioning.enabled` is not true"
        lb = dig(i, "logging", "logBucket")
        if name in log_buckets and not lb:
            continue  # the log bucket itself
        if not lb:
            yield b, "no access logging (`logging.logBucket`)"
        elif lb == name:
            yield b, "access logs go to the bucket itself"


@rule("MLS-GCP-011", cloud="gcp", resource="bucket IAM", property="members",
      default="never allUsers / allAuthenticatedUsers; object roles on the bucket, not the project",
      external=("CKV_GCP_28", "GCP-0001"))
def check_bucket_iam(g: Graph):
    for r in g.of(*BUCKET_IAM):
        if any(m in PUBLIC or m.startswith(("allUsers", "allAuthenticatedUsers")) for m in members(r)):
            yield r, "grants bucket access to a public principal"
    for r in g.of(*PROJECT_IAM):
        for role in roles(r):
            if role.startswith("roles/storage.object"):
                yield r, f"`{role}` granted at project level, not on the bucket"


@rule("MLS-GCP-012", cloud="gcp", resource="gcp.artifactregistry.Repository", property="kms_key_name; IAM",
      default="env CMK; no public members", external=("CKV_GCP_84", "CKV_GCP_101"))
def check_artifact_registry(g: Graph):
    for r in g.of("gcp:artifactregistry/repository:Repository"):
        if not is_set(r["inputs"].get("kmsKeyName")):
            yield r, "`kmsKeyName` not set"
    for r in g.of("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
                  "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding"):
        if any(m in PUBLIC for m in members(r)):
            yield r, "repository readable by a public principal"


DEFAULT_SA = re.compile(r"\d+-compute@developer\.gserviceaccount\.com|@appspot\.gserviceaccount\.com")


@rule("MLS-GCP-020", cloud="gcp", resource="gcp.serviceaccount.Account per component", property="usage",
      default="dedicated SAs; Compute Engine default SA never used or granted",
      external=("CKV_GCP_46", "GCP-0004", "GCP-0006", "GCP-0008"), sees="graph+artifacts")
def check_default_sa(g: Graph):
    for r in g.resources:
        for path, v in walk(r["inputs"]):
            if isinstance(v, str) and DEFAULT_SA.search(v):
                yield r, f"`{path}` uses the default compute/App Engine service account"
    for job in pipelines.vertex_job_specs(g):
        if not is_set(job["service_account"]) or DEFAULT_SA.search(str(job["service_account"])):
            yield job["label"], "PipelineJob runs as the default service account"
    for label, job in pipelines.kfp_custom_jobs(g):
        if not is_set(job["service_account"]) or DEFAULT_SA.search(str(job["service_account"])):
            yield label, "CustomJob runs as the default service account"


BASIC = ("roles/owner", "roles/editor", "roles/viewer")
MANAGEMENT = re.compile(r"^roles/(iam\.|resourcemanager\.|serviceusage\.serviceUsageAdmin|"
                        r"cloudkms\.admin|orgpolicy\.)")


@rule("MLS-GCP-021", cloud="gcp", resource="project IAM bindings", property="roles",
      default="pipeline SA: roles/aiplatform.user (or custom); no basic roles; no *Admin; no impersonation or "
              "management roles at project level",
      external=("CKV_GCP_42", "CKV_GCP_49", "CKV_GCP_117", "GCP-0007", "GCP-0011"))
def check_project_roles(g: Graph):
    for r in g.of(*PROJECT_IAM):
        for role in roles(r):
            if role in BASIC:
                yield r, f"basic role `{role}` at project level"
            elif role.lower().endswith("admin"):
                yield r, f"admin role `{role}` at project level"
            elif MANAGEMENT.match(role) and role != "roles/iam.serviceAccountUser":
                yield r, f"impersonation / management role `{role}` at project level"


@rule("MLS-GCP-022", cloud="gcp", resource="gcp.serviceaccount.IAMMember", property="roles/iam.serviceAccountUser",
      default="granted on the specific workload SA, never at project", external=("CKV_GCP_41",))
def check_sa_user(g: Graph):
    for r in g.of(*PROJECT_IAM):
        for role in roles(r):
            if role in ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"):
                yield r, f"`{role}` granted at project level"


@rule("MLS-GCP-023", cloud="gcp", resource="service-account keys", property="creation",
      default="none generated (attached SA / workload identity only)", external=("MLS only",))
def check_sa_keys(g: Graph):
    for r in g.of("gcp:serviceaccount/key:Key"):
        yield r, "a service-account key is generated"


@rule("MLS-GCP-030", cloud="gcp", resource="gcp.compute.Subnetwork", property="private_ip_google_access; log_config",
      default="true; set", external=("CKV_GCP_74", "CKV_GCP_26"))
def check_subnetwork(g: Graph):
    for r in g.of("gcp:compute/subnetwork:Subnetwork"):
        if not truthy(r["inputs"].get("privateIpGoogleAccess")):
            yield r, "`privateIpGoogleAccess` is not true"
        if not is_set(r["inputs"].get("logConfig")):
            yield r, "`logConfig` not set"


def _cmek(r: dict) -> bool:
    return is_set(dig(r["inputs"], "encryptionSpec", "kmsKeyName"))


@rule("MLS-GCP-040", cloud="gcp", resource="gcp.vertex.AiDataset", property="encryption_spec.kms_key_name",
      default="env CMK (same region)", external=("CKV_GCP_92",))
def check_dataset(g: Graph):
    for r in g.of("gcp:vertex/aiDataset:AiDataset"):
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"


@rule("MLS-GCP-041", cloud="gcp", resource="gcp.vertex.AiMetadataStore", property="encryption_spec.kms_key_name",
      default="created explicitly with CMK before the first pipeline run", external=("CKV_GCP_96",),
      sees="graph+artifacts")
def check_metadata_store(g: Graph):
    stores = g.of("gcp:vertex/aiMetadataStore:AiMetadataStore")
    for r in stores:
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"
    if not stores and (pipelines.kfp_specs(g) or pipelines.vertex_job_specs(g)):
        yield "vertex pipelines", "pipelines run but no CMEK metadata store is created first"


@rule("MLS-GCP-042", cloud="gcp", resource="gcp.vertex.AiEndpoint", property="encryption_spec; private access",
      default="env CMK; network (VPC peering) or private_service_connect_config",
      external=("CKV2_GCP_24", "CKV2_GCP_33"))
def check_endpoint(g: Graph):
    for r in g.of("gcp:vertex/aiEndpoint:AiEndpoint"):
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"
        i = r["inputs"]
        psc = truthy(dig(i, "privateServiceConnectConfig", "enablePrivateServiceConnect"))
        if not is_set(i.get("network")) and not psc:
            yield r, "neither `network` (VPC peering) nor Private Service Connect: the endpoint is public"


@rule("MLS-GCP-043", cloud="gcp", resource="gcp.vertex.AiFeatureStore / feature online store",
      property="encryption_spec", default="env CMK", external=("CKV2_GCP_25",))
def check_feature_store(g: Graph):
    for r in g.of("gcp:vertex/aiFeatureStore:AiFeatureStore"):
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"
    for r in g.of("gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore"):
        if not is_set(r["inputs"].get("encryptionSpec")) and not is_set(r["inputs"].get("dedicatedServingEndpoint")):
            yield r, "online store without CMEK (`encryptionSpec`)"


@rule("MLS-GCP-044", cloud="gcp", resource="gcp.vertex.AiTensorboard", property="encryption_spec",
      default="env CMK", external=("CKV2_GCP_26",))
def check_tensorboard(g: Graph):
    for r in g.of("gcp:vertex/aiTensorboard:AiTensorboard"):
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"


@rule("MLS-GCP-045", cloud="gcp", resource="gcp.vertex.AiIndexEndpoint", property="public_endpoint_enabled; "
      "encryption_spec", default="false; env CMK", external=("CKV2_GCP_34",))
def check_index_endpoint(g: Graph):
    for r in g.of("gcp:vertex/aiIndexEndpoint:AiIndexEndpoint"):
        if r["inputs"].get("publicEndpointEnabled") is not False:
            yield r, "`publicEndpointEnabled` is not explicitly false"
        if not _cmek(r):
            yield r, "`encryptionSpec.kmsKeyName` not set"


@rule("MLS-GCP-046", cloud="gcp", resource="gcp.workbench.Instance",
      property="gce_setup.disable_public_ip; disk kms_key; shielded VM",
      default="true; env CMK; vTPM + integrity monitoring + secure boot on",
      external=("CKV2_GCP_27", "CKV2_GCP_28", "CKV_GCP_89", "CKV_GCP_126", "CKV_GCP_127", "CKV2_GCP_21"))
def check_workbench(g: Graph):
    for r in g.of("gcp:workbench/instance:Instance"):
        gs = r["inputs"].get("gceSetup") or {}
        if not truthy(gs.get("disablePublicIp")):
            yield r, "`gceSetup.disablePublicIp` is not true"
        if not is_set(dig(gs, "bootDisk", "kmsKey")):
            yield r, "boot disk not encrypted with the env CMK"
        for d in as_list(gs.get("dataDisks")):
            if isinstance(d, dict) and not is_set(d.get("kmsKey")):
                yield r, "data disk not encrypted with the env CMK"
        sh = gs.get("shieldedInstanceConfig") or {}
        off = [k for k in ("enableSecureBoot", "enableVtpm", "enableIntegrityMonitoring") if not truthy(sh.get(k))]
        if off:
            yield r, f"shielded VM options off: {', '.join(off)}"


@rule("MLS-GCP-050", cloud="gcp", resource="generated PipelineJob submission",
      property="service_account; encryption_spec_key_name; network / PSC interface; pipeline_root",
      default="pipeline SA; env CMK; private network; MLS-GCP-010 bucket", external=("MLS only",),
      sees="graph+artifacts")
def check_pipeline_job(g: Graph):
    buckets = {b["inputs"].get("name") or b["name"] for b in g.of("gcp:storage/bucket:Bucket")}
    for job in pipelines.vertex_job_specs(g):
        lab = job["label"]
        if not is_set(job["service_account"]) or DEFAULT_SA.search(str(job["service_account"])):
            yield lab, "no dedicated pipeline service account"
        if not is_set(job["kms_key"]):
            yield lab, "no CMEK (`encryptionSpec.kmsKeyName`)"
        if not is_set(job["network"]):
            yield lab, "no private network (`network` or PSC interface)"
        root = job["pipeline_root"]
        if not is_set(root):
            yield lab, "no pipeline root"
        elif buckets and isinstance(root, str) and root.startswith("gs://") and \
                root[5:].split("/", 1)[0] not in buckets and "[" not in root:
            yield lab, f"pipeline root `{root}` is not a bucket of the stack"


@rule("MLS-GCP-051", cloud="gcp", resource="custom/training jobs launched by pipeline steps",
      property="service account, CMEK, network, web access", default="workload SA; env CMK; private network; off",
      external=("MLS only",), sees="artifacts")
def check_custom_jobs(g: Graph):
    for label, job in pipelines.kfp_custom_jobs(g):
        if not is_set(job["service_account"]):
            yield label, "CustomJob has no workload service account"
        if not is_set(job["kms_key"]):
            yield label, "CustomJob has no CMEK (`encryptionSpec.kmsKeyName`)"
        if not is_set(job["network"]) and not is_set(job["psc"]):
            yield label, "CustomJob has no private network"
        if job["enable_web_access"] is not False and job["enable_web_access"] is not None:
            yield label, "CustomJob enables interactive web access"
        if truthy(job["enable_dashboard_access"]):
            yield label, "CustomJob enables dashboard access"


@rule("MLS-GCP-060", cloud="gcp", resource="VPC Service Controls", property="perimeter",
      default="the spec may reference an existing perimeter; mlspec documents it, never creates one",
      external=("MLS only",), severity="low")
def check_vpc_sc(g: Graph):
    for r in g.of("gcp:accesscontextmanager/*"):
        yield r, "the stack creates Access Context Manager resources; perimeters are referenced, not created"


APPROVAL_MARKERS = ("approved", "production")


@rule("MLS-GCP-070", cloud="gcp", resource="Model Registry approval", property="promotion",
      default="deploy only a version carrying an approval alias/label set by an approver identity",
      external=("MLS only",), sees="graph+artifacts")
def check_vertex_approval(g: Graph):
    """Registration must not self-approve: a register task that sets the deploy alias directly in an
    environment that requires approval skips the approver."""
    if g.environment.get("approval", "required") != "required":
        return
    from mlspec.targets.vertex import approvals

    for path, spec in pipelines.kfp_specs(g):
        for name, ex in sorted((((spec.get("deploymentSpec") or {}).get("executors")) or {}).items()):
            c = (ex or {}).get("container") or {}
            text = " ".join(str(x) for x in (c.get("command") or []) + (c.get("args") or []))
            if "register" not in name and "register" not in text:
                continue
            m = re.search(r"--(?:alias|aliases|version-aliases)[= ](\S+)", text)
            if m and approvals.VERTEX_APPROVED_ALIAS in m.group(1).split(","):
                yield f"{path}#{name}", (f"registration sets the `{approvals.VERTEX_APPROVED_ALIAS}` alias itself; "
                                         "it must be set by an approver (`mlspec approve`)")
