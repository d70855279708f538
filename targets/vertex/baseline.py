"""The baseline rule ids of GCP (Vertex AI target): MLS-GCP-*: waivability and short title (SECURITY.md).

Returned by ``Target.baseline_rules()`` and merged into ``mlspec.compiler.baseline.catalogue()``,
which the front end (waivers) and `mlspec plan` (rules.py registers one check per id) read.
Pure data; imports nothing.
"""
from __future__ import annotations

#: rule id -> (waivable, short title)
RULES: dict[str, tuple[bool, str]] = {
    "MLS-GCP-001": (True, "gcp.kms.CryptoKey: rotation_period; protection -> <= 90 days; resource option protect=True"),
    "MLS-GCP-002": (False, "gcp.kms.CryptoKeyIAMMember: members -> Vertex AI service agent (and GCS / Artifact Registry agents that use the key) get roles/cloudkms.cryptoKeyEncrypterDecrypter on the key, not the project"),
    "MLS-GCP-010": (False, "gcp.storage.Bucket (pipeline root, data, monitoring): uniform_bucket_level_access; public_access_prevention; encryption.default_kms_key_name; versioning.enabled; logging -> true; enforced; env CMK; true; separate log bucket"),
    "MLS-GCP-011": (False, "bucket IAM: members -> never allUsers / allAuthenticatedUsers; object roles granted on the bucket, not the project"),
    "MLS-GCP-012": (True, "gcp.artifactregistry.Repository: kms_key_name; IAM -> env CMK; no public members"),
    "MLS-GCP-020": (False, "gcp.serviceaccount.Account per component: usage -> dedicated SAs; Compute Engine default SA never used or granted"),
    "MLS-GCP-021": (False, "project IAM bindings: roles -> pipeline SA: roles/aiplatform.user (or a custom role); no basic roles (owner/editor/viewer); no *Admin; no impersonation/management roles at project level"),
    "MLS-GCP-022": (False, "gcp.serviceaccount.IAMMember: roles/iam.serviceAccountUser -> granted on the specific workload SA resource, never at project"),
    "MLS-GCP-023": (True, "service-account keys: creation -> none generated (workload identity / attached SA only)"),
    "MLS-GCP-030": (True, "gcp.compute.Subnetwork: private_ip_google_access; log_config -> true; set"),
    "MLS-GCP-040": (True, "gcp.vertex.AiDataset: encryption_spec.kms_key_name -> env CMK (same region)"),
    "MLS-GCP-041": (True, "gcp.vertex.AiMetadataStore: encryption_spec.kms_key_name -> created explicitly with CMK before the first pipeline run"),
    "MLS-GCP-042": (False, "gcp.vertex.AiEndpoint: encryption_spec; private access -> env CMK; network (VPC peering) by default, or PSC (private_service_connect_config) with documented CKV2_GCP_33 suppression"),
    "MLS-GCP-043": (True, "gcp.vertex.AiFeatureStore / feature online store: encryption_spec -> env CMK"),
    "MLS-GCP-044": (True, "gcp.vertex.AiTensorboard: encryption_spec -> env CMK"),
    "MLS-GCP-045": (True, "gcp.vertex.AiIndexEndpoint: public_endpoint_enabled; encryption_spec -> false; env CMK"),
    "MLS-GCP-046": (True, "gcp.workbench.Instance (discouraged; only if spec asks): gce_setup.disable_public_ip; boot/data disk kms_key; shielded VM -> true; env CMK; vTPM + integrity monitoring + secure boot on"),
    "MLS-GCP-050": (False, "generated PipelineJob submission code: service_account; encryption_spec_key_name; network / PSC interface; pipeline_root -> pipeline SA; env CMK; private network; MLS-GCP-010 bucket"),
    "MLS-GCP-051": (True, "custom/training jobs launched by pipeline steps: service account, CMEK, network, web access -> workload SA; env CMK; private network; interactive web access off"),
    "MLS-GCP-060": (True, "VPC Service Controls: perimeter -> spec may reference an existing perimeter; mlspec documents it, does not create it"),
    "MLS-GCP-070": (True, "Model Registry approval: promotion -> deploy only a version carrying an approval alias/label set by an approver identity"),
}
