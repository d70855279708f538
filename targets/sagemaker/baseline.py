"""The baseline rule ids of AWS (SageMaker target): MLS-AWS-*: waivability and short title (SECURITY.md).

Returned by ``Target.baseline_rules()`` and merged into ``mlspec.compiler.baseline.catalogue()``,
which the front end (waivers) and `mlspec plan` (rules.py registers one check per id) read.
Pure data; imports nothing.
"""
from __future__ import annotations

#: rule id -> (waivable, short title)
RULES: dict[str, tuple[bool, str]] = {
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
}
