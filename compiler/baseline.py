"""The security baseline catalogue: every rule id of docs/security.md.

Used by the front end to validate `waive` blocks (known id, waivable) and by
`mlspec plan`, whose rule implementations (mlspec.compiler.plan.rules_common and each target's
``rules.py``) key on these ids. A target may declare further ids (``Target.baseline_rules()``);
:func:`catalogue` merges them. Pure data; imports nothing at import time.
"""
from __future__ import annotations

#: rule id -> (waivable, short title)
RULES: dict[str, tuple[bool, str]] = {
    "MLS-G-01": (False, "All data at rest (buckets, volumes, registries, logs, feature/metadata stores, endpoints, data capture) encrypted with a customer-managed key created or referenced by the stack, one key (or key ring) per environment and region"),
    "MLS-G-02": (False, "No public network exposure: private endpoints / VPC-only for workspaces, endpoints, registries, storage, key stores"),
    "MLS-G-03": (False, "One least-privilege identity per component (pipeline orchestrator, training/processing workload, serving endpoint, monitoring); no broad managed/basic roles"),
    "MLS-G-04": (False, "Secrets appear only as references (secret-manager ID, Key Vault URI, Pulumi config key) and are read as Pulumi secrets; no literal secret in spec, generated code, tags/labels, env vars or outputs"),
    "MLS-G-05": (True, "Audit / service logs retained and encrypted (prod: >= 365 days)"),
    "MLS-G-06": (True, "Container images pulled only from the stack's private registry, pinned by digest"),
    "MLS-G-07": (True, "Deployment to prod only after an explicit approval state change by a principal different from the pipeline identity"),
    "MLS-G-08": (True, "Standard tags/labels on every resource: owner, environment, data classification, mlspec version, spec hash"),
    "MLS-G-09": (False, "Security-relevant settings of *pipeline steps* (not visible to IaC scanners) are checked on the compiled pipeline definition and backed by runtime guardrails (IAM conditions / policy)"),
    "MLS-AWS-001": (True, "aws.kms.Key: enable_key_rotation -> true"),
    "MLS-AWS-002": (True, "aws.kms.Key: policy -> no * principal; service use via kms:ViaService / grant conditions; is_enabled = true; lockout safety check not bypassed"),
    "MLS-AWS-010": (False, "S3 buckets (artifacts, data, capture, monitoring reports): server-side encryption -> aws:kms with the env CMK, bucket key on"),
    "MLS-AWS-011": (False, "aws.s3.BucketPublicAccessBlock: block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets -> all true"),
    "MLS-AWS-012": (True, "S3 bucket policy: statements -> deny requests without TLS; no * principal allow"),
    "MLS-AWS-013": (True, "S3 versioning: status -> Enabled"),
    "MLS-AWS-014": (True, "S3 logging: target -> separate log bucket"),
    "MLS-AWS-015": (True, "S3 lifecycle: rules -> expire capture/monitoring data per retention class (prod)"),
    "MLS-AWS-020": (True, "aws.ecr.Repository: image_tag_mutability -> IMMUTABLE"),
    "MLS-AWS-021": (True, "aws.ecr.Repository: encryption_configurations -> KMS with env CMK"),
    "MLS-AWS-022": (True, "aws.ecr.Repository: image_scanning_configuration.scan_on_push -> true"),
    "MLS-AWS-023": (True, "ECR repository policy: principals -> no public / *"),
    "MLS-AWS-030": (True, "aws.cloudwatch.LogGroup (created for pipelines/endpoints): kms_key_id -> env CMK"),
    "MLS-AWS-031": (True, "same: retention_in_days -> set; prod >= 365"),
    "MLS-AWS-032": (True, "aws.sns.Topic (alarms, approvals): kms_master_key_id -> env CMK"),
    "MLS-AWS-040": (False, "VPC / subnets / security groups for all SageMaker compute: subnets, SG rules -> private subnets only; every SG/rule has a description; no 0.0.0.0/0 ingress; egress limited to VPC endpoints / required CIDRs"),
    "MLS-AWS-041": (True, "VPC endpoints: set -> interface: SageMaker API, SageMaker runtime, ECR api, ECR dkr, CloudWatch Logs, STS, KMS; gateway: S3"),
    "MLS-AWS-050": (False, "aws.iam.Role per component: assume_role_policy -> only sagemaker.amazonaws.com (or the specific service), with source-account/ARN conditions"),
    "MLS-AWS-051": (False, "role attachments: managed policies -> never AdministratorAccess, PowerUserAccess, AmazonSageMakerFullAccess, AmazonS3FullAccess"),
    "MLS-AWS-052": (False, "inline / customer policies: statements -> no * action; no * resource for restrictable actions; no privilege-escalation, credential-exposure, exfiltration or unconstrained write/permissions-management patterns"),
    "MLS-AWS-053": (False, "iam:PassRole: resource / condition -> only the named job/model role ARNs, iam:PassedToService = sagemaker.amazonaws.com"),
    "MLS-AWS-054": (False, "pipeline-orchestrator role: deny guardrails on sagemaker:Create*Job*, CreateModel -> deny when sagemaker:VpcSubnets / sagemaker:VpcSecurityGroupIds are null or outside allowlist, when sagemaker:VolumeKmsKey / sagemaker:OutputKmsKey are null or not the env CMK, when sagemaker:NetworkIsolation is false (unless waived per step), when sagemaker:InterContainerTrafficEncryption is false; sagemaker:InstanceTypes allowlist"),
    "MLS-AWS-055": (True, "S3 / KMS permissions: resources -> only mlspec buckets/prefixes and env keys; kms:CreateGrant only with kms:GrantIsForAWSResource = true and kms:ViaService = SageMaker"),
    "MLS-AWS-060": (True, "aws.sagemaker.Domain (only if spec asks for Studio): kms_key_id; app_network_access_type; vpc_id/subnet_ids; default execution role -> CMK; VpcOnly; private subnets; least-priv role"),
    "MLS-AWS-061": (True, "aws.sagemaker.NotebookInstance (discouraged; only if spec asks): kms_key_id; direct_internet_access; subnet_id + security_groups; root_access; instance_metadata_service_configuration.minimum_instance_metadata_service_version -> CMK; Disabled; set; Disabled; '2'"),
    "MLS-AWS-062": (True, "aws.sagemaker.Model: enable_network_isolation; vpc_config; primary_container.image -> true (waivable per model with reason); set; private ECR by digest"),
    "MLS-AWS-063": (False, "aws.sagemaker.EndpointConfiguration: kms_key_arn -> env CMK"),
    "MLS-AWS-064": (True, "same: data_capture_config -> enabled when monitoring is requested; kms_key_id = env CMK; destination = baseline bucket (MLS-AWS-010..015)"),
    "MLS-AWS-065": (True, "same: production_variants[*].initial_instance_count -> prod >= 2"),
    "MLS-AWS-066": (False, "aws.sagemaker.DataQualityJobDefinition and model-quality / model-bias / model-explainability job definitions: network_config.enable_inter_container_traffic_encryption; network_config.enable_network_isolation; network_config.vpc_config; output kms_key_id; job_resources.cluster_config.volume_kms_key_id -> true; true; set; CMK; CMK"),
    "MLS-AWS-067": (True, "aws.sagemaker.MonitoringSchedule: network isolation (via job definition / schedule network config) -> enabled"),
    "MLS-AWS-068": (False, "aws.sagemaker.Pipeline: role_arn; pipeline_definition steps (Training, Processing, Transform, Tuning) -> orchestrator role (MLS-AWS-054); every step has VpcConfig, EnableNetworkIsolation = true (waivable per step), EnableInterContainerTrafficEncryption = true, ResourceConfig.VolumeKmsKeyId and output KmsKeyId = env CMK, images from private ECR, no plaintext secrets in Environment"),
    "MLS-AWS-069": (True, "aws.sagemaker.ModelPackageGroup + register step: approval -> registered as PendingManualApproval; deploy path triggered only by approval state change; group resource policy absent unless cross-account is declared"),
    "MLS-AWS-070": (True, "aws.sagemaker.FlowDefinition (human review, if used): output_config.kms_key_id -> env CMK"),
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
    "MLS-AZ-001": (False, "Microsoft.KeyVault/vaults (CMK + secrets): enablePurgeProtection; soft delete; publicNetworkAccess; networkAcls.defaultAction; RBAC authorization; private endpoint -> true; on; Disabled; Deny; on; yes"),
    "MLS-AZ-002": (True, "Microsoft.KeyVault/vaults/keys: key type; expiry/rotation -> RSA-HSM where SKU allows; expiry + rotation policy set"),
    "MLS-AZ-010": (False, "Microsoft.Storage/storageAccounts (workspace default + data): supportsHttpsTrafficOnly; minimumTlsVersion; publicNetworkAccess; networkAcls.defaultAction; allowBlobPublicAccess; allowSharedKeyAccess; CMK encryption; private endpoints (blob, file, dfs); blob soft delete; infrastructure encryption -> true; TLS1_2; Disabled; Deny (trusted services bypass); false; false; env CMK; yes; on; on"),
    "MLS-AZ-011": (True, "same: SAS expiration policy; local users -> set; disabled"),
    "MLS-AZ-020": (False, "Microsoft.ContainerRegistry/registries (created by mlspec, never auto-created): adminUserEnabled; anonymous pull; publicNetworkAccess; SKU; CMK; retention policy; data endpoints -> false; off; Disabled; Premium (needed for private link/CMK); env CMK; on; on"),
    "MLS-AZ-030": (True, "Application Insights / Log Analytics: ingestion/query over private link; local auth off -> private; off"),
    "MLS-AZ-040": (False, "Microsoft.ManagedIdentity/userAssignedIdentities: per component: workspace, compute, endpoint -> created by mlspec; role assignments scoped to the single target resource (storage container / vault / registry), e.g. AcrPull for compute and endpoint identities, Storage Blob Data Reader/Contributor on the needed containers; workspace identity gets only the roles Microsoft lists for UAMI workspaces"),
    "MLS-AZ-041": (False, "Microsoft.Authorization/roleAssignments for humans / CI: role -> AzureML Data Scientist (f6c7c914-8db3-469d-8ca1-694a8f32e121) at workspace scope; AzureML Compute Operator only if declared; never Owner / Contributor / User Access Administrator from mlspec; no custom owner roles"),
    "MLS-AZ-050": (False, "Microsoft.MachineLearningServices/workspaces: publicNetworkAccess; allowPublicAccessWhenBehindVnet -> Disabled; false"),
    "MLS-AZ-051": (False, "same: managedNetwork.isolationMode; managedNetwork.outboundRules -> AllowOnlyApprovedOutbound; private-endpoint rules to the stack's storage, vault, registry (+ FQDN rules only if declared)"),
    "MLS-AZ-052": (False, "same: encryption.status + encryption.keyVaultProperties -> Enabled with env CMK"),
    "MLS-AZ-053": (True, "same: identity + primaryUserAssignedIdentity -> UserAssigned (MLS-AZ-040)"),
    "MLS-AZ-054": (True, "same: hbiWorkspace -> true unless data classification is declared non-sensitive"),
    "MLS-AZ-055": (True, "same: systemDatastoresAuthMode -> identity-based (enables MLS-AZ-010 shared-key off)"),
    "MLS-AZ-056": (True, "same: v1LegacyMode -> false; documented deviation from Azure Policy e413671a (v2 pipelines require it)"),
    "MLS-AZ-057": (True, "same: private endpoint + private DNS zones for the workspace -> created"),
    "MLS-AZ-058": (True, "same: diagnostic settings -> to Log Analytics"),
    "MLS-AZ-060": (False, ".../workspaces/computes (AmlCompute): disableLocalAuth; scaleSettings.minNodeCount; subnet / managed network; node public IP; identity -> true; 0; set; off ; UserAssigned"),
    "MLS-AZ-061": (True, "ComputeInstance (discouraged; only if spec asks): as MLS-AZ-060 + idleTimeBeforeShutdown; SSH -> set; disabled"),
    "MLS-AZ-070": (False, ".../onlineEndpoints: authMode; publicNetworkAccess; identity -> AADToken; Disabled; UserAssigned"),
    "MLS-AZ-071": (True, ".../onlineEndpoints/deployments: egress; data collection -> via workspace managed network; collected data to CMK storage"),
    "MLS-AZ-080": (False, "generated job / pipeline YAML or SDK code: compute; identity; datastores; env vars -> private cluster (MLS-AZ-060); managed/user identity; identity-based datastores; no secrets in environment_variables"),
    "MLS-AZ-090": (True, "model registration / promotion: approval -> promotion to prod only through an approval-protected CI environment or registry stage set by an approver identity"),
}


_CATALOGUE: dict[str, tuple[bool, str]] | None = None


def catalogue() -> dict[str, tuple[bool, str]]:
    """:data:`RULES` plus the rule ids registered targets declare (``Target.baseline_rules()``),
    so an out-of-tree target brings its own ids without a change here. Loaded on first use."""
    global _CATALOGUE
    if _CATALOGUE is None:
        from mlspec.targets.base import available_targets, get_target

        out = dict(RULES)
        for name in available_targets():
            for rid, entry in (get_target(name).baseline_rules() or {}).items():
                out.setdefault(rid, entry)
        _CATALOGUE = out
    return _CATALOGUE


def is_known(rule: str) -> bool:
    return rule in RULES or rule in catalogue()


def is_waivable(rule: str) -> bool:
    return (RULES.get(rule) or catalogue().get(rule) or (False, ""))[0]
