"""Synthetic, fully compliant resource graphs per cloud (wire names, as the harness captures them).

Each rule test takes one of these (zero findings), breaks one property, and expects the rule to fire.
"""
from __future__ import annotations

import base64
import copy
import json

from mlspec.compiler.plan import mocks
from mlspec.compiler.plan.security import Graph

ACCT = "123456789012"
DIGEST = "@sha256:" + "a" * 64
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/{mocks.guid('kms', 'key')}"  # the id the harness gives `key`
TAGS = {"mlspec-owner": "risk-ml", "mlspec-environment": "prod", "mlspec-data-classification": "pii",
        "mlspec-version": "0-1-0", "mlspec-system": "fraud_detection"}
IR = {"environment": {"name": "prod", "production": True, "approval": "required"},
      "security": {"encryption": "customer_managed", "network": "private", "kms_key": None, "allowed_egress": [],
                   "data_classification": "pii"},
      "models": [{"id": "model.scorer", "approval": {"required": True, "approvers": ["leads"], "count": 1}}],
      "pipelines": [{"id": "pipeline.training", "steps": [{"name": "train", "network_isolation": True}]}],
      "monitors": [{"id": "monitor.drift"}],
      "waivers": []}


def R(typ: str, name: str, inputs: dict, deps=(), tag: str | None = "tags", protect: bool = False,
      pdeps: dict | None = None) -> dict:
    inputs = dict(inputs)
    if tag and tag not in inputs:
        inputs[tag] = dict(TAGS)
    return {"urn": f"urn:pulumi:prod::p::{typ}::{name}", "type": typ, "name": name, "custom": True,
            "inputs": inputs, "depends_on": sorted(deps), "property_dependencies": pdeps or {}, "parent": None,
            "protect": protect, "ignore_changes": [], "required_inputs": [], "tag_property": tag}


def stmt(effect, action, resource, **cond):
    s = {"Effect": effect, "Action": action, "Resource": resource}
    if cond:
        s["Condition"] = cond
    return s


def doc(*stmts):
    return json.dumps({"Version": "2012-10-17", "Statement": list(stmts)})


def trust(service="sagemaker.amazonaws.com"):
    return doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service},
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCT}}})


def role_arn(n):
    return f"arn:aws:iam::{ACCT}:role/{n}"


GUARDRAIL = stmt("Deny", ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateModel"], "*",
                 Null={"sagemaker:VpcSubnets": "true", "sagemaker:VpcSecurityGroupIds": "true",
                       "sagemaker:VolumeKmsKey": "true", "sagemaker:OutputKmsKey": "true"},
                 Bool={"sagemaker:NetworkIsolation": "false", "sagemaker:InterContainerTrafficEncryption": "false"},
                 **{"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": ["ml.m5.*"]}})
VPC = {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
SM_VPC = {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
ECR_IMAGE = f"{ACCT}.dkr.ecr.us-east-1.amazonaws.com/train{DIGEST}"


def sagemaker_definition():
    return json.dumps({"Version": "2020-12-01", "Parameters": [{"Name": "KmsKey", "Type": "String",
                                                                 "DefaultValue": KEY_ARN}],
                       "Steps": [
        {"Name": "Train", "Type": "Training", "Arguments": {
            "RoleArn": role_arn("workload"), "VpcConfig": SM_VPC, "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "AlgorithmSpecification": {"TrainingImage": ECR_IMAGE, "TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30,
                               "VolumeKmsKeyId": {"Get": "Parameters.KmsKey"}},
            "OutputDataConfig": {"S3OutputPath": "s3://data-b/models/", "KmsKeyId": KEY_ARN},
            "Environment": {"LOG_LEVEL": "info"}}},
        {"Name": "Prepare", "Type": "Processing", "Arguments": {
            "RoleArn": role_arn("workload"), "AppSpecification": {"ImageUri": ECR_IMAGE},
            "NetworkConfig": {"VpcConfig": SM_VPC, "EnableNetworkIsolation": True,
                              "EnableInterContainerTrafficEncryption": True},
            "ProcessingResources": {"ClusterConfig": {"VolumeKmsKeyId": KEY_ARN, "InstanceCount": 1}},
            "ProcessingOutputConfig": {"KmsKeyId": KEY_ARN, "Outputs": [{"OutputName": "x"}]}}},
        {"Name": "Register", "Type": "RegisterModel", "Arguments": {
            "ModelPackageGroupName": "scorer", "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {"Containers": [{"Image": ECR_IMAGE}]}}}]})


def deploy_definition() -> dict:
    return {"StartAt": "CreateModel", "States": {
        "CreateModel": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModel", "Next": "Config",
                        "Parameters": {"ModelName.$": "$.names.model", "ExecutionRoleArn": role_arn("serving"),
                                       "Containers": [{"ModelPackageName.$": "$.detail.ModelPackageArn"}],
                                       "VpcConfig": SM_VPC, "EnableNetworkIsolation": True}},
        "Config": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:createEndpointConfig", "End": True,
                   "Parameters": {"EndpointConfigName.$": "$.names.config", "KmsKeyId": KEY_ARN,
                                  "ProductionVariants": [{"VariantName": "primary", "InitialInstanceCount": 2,
                                                          "ModelName.$": "$.names.model"}],
                                  "DataCaptureConfig": {"EnableCapture": True, "KmsKeyId": KEY_ARN,
                                                        "DestinationS3Uri": "s3://data-b/capture/"}}}}}


def aws_resources() -> list[dict]:
    kms = [R("aws:kms/key:Key", "key", {"enableKeyRotation": True, "isEnabled": True, "policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"})})]
    out = kms
    for b in ("data", "logs"):
        bn = f"{b}-b"
        out += [
            R("aws:s3/bucket:Bucket", b, {"bucket": bn}),
            R("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", f"{b}-sse",
              {"bucket": bn, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                               "kmsMasterKeyId": KEY_ARN},
                                        "bucketKeyEnabled": True}]}, deps=[b, "key"], tag=None),
            R("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{b}-pab",
              {"bucket": bn, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
               "restrictPublicBuckets": True}, deps=[b], tag=None),
            R("aws:s3/bucketPolicy:BucketPolicy", f"{b}-policy", {"bucket": bn, "policy": doc(
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bn}/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}})}, deps=[b], tag=None),
            R("aws:s3/bucketVersioning:BucketVersioning", f"{b}-versioning",
              {"bucket": bn, "versioningConfiguration": {"status": "Enabled"}}, deps=[b], tag=None),
        ]
    out += [
        R("aws:s3/bucketLogging:BucketLogging", "data-logging", {"bucket": "data-b", "targetBucket": "logs-b",
                                                                 "targetPrefix": "data/"}, deps=["data", "logs"], tag=None),
        R("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "data-lifecycle",
          {"bucket": "data-b", "rules": [{"id": "capture", "status": "Enabled", "expiration": {"days": 365},
                                          "filter": {"prefix": "capture/"}}]}, deps=["data"], tag=None),
        R("aws:ecr/repository:Repository", "repo", {"imageTagMutability": "IMMUTABLE",
                                                    "encryptionConfigurations": [{"encryptionType": "KMS",
                                                                                  "kmsKey": KEY_ARN}],
                                                    "imageScanningConfiguration": {"scanOnPush": True}}),
        R("aws:ecr/repositoryPolicy:RepositoryPolicy", "repo-policy", {"repository": "repo", "policy": doc(
            {"Effect": "Allow", "Principal": {"AWS": role_arn("workload")}, "Action": "ecr:BatchGetImage",
             "Resource": "*"})}, tag=None),
        R("aws:cloudwatch/logGroup:LogGroup", "pipeline-logs", {"name": "/mlspec/x", "kmsKeyId": KEY_ARN,
                                                       "retentionInDays": 365}),
        R("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": KEY_ARN}),
        R("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}),
        R("aws:ec2/subnet:Subnet", "subnet", {"vpcId": "vpc-1", "cidrBlock": "10.0.1.0/24",
                                              "mapPublicIpOnLaunch": False}),
        R("aws:ec2/securityGroup:SecurityGroup", "sg", {"description": "sagemaker jobs", "vpcId": "vpc-1",
                                                        "egress": [{"description": "to endpoints", "protocol": "tcp",
                                                                    "fromPort": 443, "toPort": 443,
                                                                    "cidrBlocks": ["10.0.0.0/16"]}]}),
    ]
    for svc, kind in (("sagemaker.api", "Interface"), ("sagemaker.runtime", "Interface"), ("ecr.api", "Interface"),
                      ("ecr.dkr", "Interface"), ("logs", "Interface"), ("sts", "Interface"), ("kms", "Interface"),
                      ("s3", "Gateway")):
        out.append(R("aws:ec2/vpcEndpoint:VpcEndpoint", f"vpce-{svc}", {
            "serviceName": f"com.amazonaws.us-east-1.{svc}", "vpcEndpointType": kind, "vpcId": "vpc-1"}))
    for role in ("orchestrator", "workload", "serving", "monitoring"):
        out.append(R("aws:iam/role:Role", role, {"name": role, "assumeRolePolicy": trust()}))
    out += [
        R("aws:iam/rolePolicy:RolePolicy", "orchestrator-policy", {"role": "orchestrator", "policy": doc(
            stmt("Allow", ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob"],
                 f"arn:aws:sagemaker:us-east-1:{ACCT}:training-job/*"),
            stmt("Allow", "iam:PassRole", [role_arn("workload")],
                 StringEquals={"iam:PassedToService": "sagemaker.amazonaws.com"}),
            GUARDRAIL)}, deps=["orchestrator", "workload"], tag=None),
        R("aws:iam/rolePolicy:RolePolicy", "workload-policy", {"role": "workload", "policy": doc(
            stmt("Allow", ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::data-b/*"]),
            stmt("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN]),
            stmt("Allow", ["kms:CreateGrant"], [KEY_ARN],
                 Bool={"kms:GrantIsForAWSResource": "true"},
                 StringEquals={"kms:ViaService": "sagemaker.us-east-1.amazonaws.com"}),
            stmt("Allow", ["ecr:GetAuthorizationToken"], "*"))}, deps=["workload"], tag=None),
        R("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "serving-ecr",
          {"role": "serving", "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
          deps=["serving"], tag=None),
        R("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "registry", {"modelPackageGroupName": "scorer"}),
        R("aws:sagemaker/pipeline:Pipeline", "training", {"pipelineName": "training", "pipelineDisplayName": "t",
                                                          "roleArn": role_arn("orchestrator"),
                                                          "pipelineDefinition": sagemaker_definition()},
          deps=["orchestrator"]),
        R("aws:sagemaker/model:Model", "model", {"executionRoleArn": role_arn("serving"),
                                                 "enableNetworkIsolation": True, "vpcConfig": VPC,
                                                 "primaryContainer": {"image": ECR_IMAGE,
                                                                      "modelDataUrl": "s3://data-b/m.tar.gz"}}),
        R("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "epc", {
            "kmsKeyArn": KEY_ARN,
            "productionVariants": [{"variantName": "main", "modelName": "model", "initialInstanceCount": 2,
                                    "instanceType": "ml.m5.large"}],
            "dataCaptureConfig": {"enableCapture": True, "kmsKeyId": KEY_ARN, "initialSamplingPercentage": 20,
                                  "destinationS3Uri": "s3://data-b/capture/",
                                  "captureOptions": [{"captureMode": "Input"}]}}),
        R("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "dq", {
            "name": "dq", "roleArn": role_arn("monitoring"),
            "networkConfig": {"enableInterContainerTrafficEncryption": True, "enableNetworkIsolation": True,
                              "vpcConfig": VPC},
            "dataQualityJobOutputConfig": {"kmsKeyId": KEY_ARN, "monitoringOutputs": {"s3Output": {"s3Uri": "s3://data-b/m/"}}},
            "jobResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.xlarge",
                                               "volumeSizeInGb": 20, "volumeKmsKeyId": KEY_ARN}}}),
        R("aws:sagemaker/monitoringSchedule:MonitoringSchedule", "dq-schedule", {
            "monitoringScheduleConfig": {"monitoringJobDefinitionName": "dq", "monitoringType": "DataQuality"}},
          deps=["dq"]),
        R("aws:sagemaker/domain:Domain", "studio", {"kmsKeyId": KEY_ARN, "appNetworkAccessType": "VpcOnly",
                                                    "vpcId": "vpc-1", "subnetIds": ["subnet-1"]}),
        R("aws:sagemaker/notebookInstance:NotebookInstance", "nb", {
            "kmsKeyId": KEY_ARN, "directInternetAccess": "Disabled", "subnetId": "subnet-1",
            "securityGroups": ["sg-1"], "rootAccess": "Disabled",
            "instanceMetadataServiceConfiguration": {"minimumInstanceMetadataServiceVersion": "2"}}),
        R("aws:sfn/stateMachine:StateMachine", "deploy", {"roleArn": role_arn("deploy"), "definition": json.dumps(
            deploy_definition())}),
        R("aws:sagemaker/flowDefinition:FlowDefinition", "review", {"outputConfig": {"kmsKeyId": KEY_ARN,
                                                                                      "s3OutputPath": "s3://data-b/r"}}),
    ]
    return out


# ----------------------------------------------------------------------------- GCP

KMS = "projects/p/locations/europe-west4/keyRings/r/cryptoKeys/k"
SA = "serviceAccount:pipeline@p.iam.gserviceaccount.com"
AR_IMAGE = f"europe-west4-docker.pkg.dev/p/images/train{DIGEST}"


def gcp_resources() -> list[dict]:
    cmek = {"encryptionSpec": {"kmsKeyName": KMS}}
    out = [
        R("gcp:kms/keyRing:KeyRing", "ring", {"name": "r", "location": "europe-west4"}, tag=None),
        R("gcp:kms/cryptoKey:CryptoKey", "key", {"name": "k", "keyRing": "projects/p/locations/europe-west4/keyRings/r",
                                                 "rotationPeriod": "7776000s"},
          tag="labels", protect=True),
    ]
    for agent in ("gcp-sa-aiplatform", "gs-project-accounts", "gcp-sa-artifactregistry"):
        out.append(R("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", f"key-{agent}", {
            "cryptoKeyId": KMS, "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
            "member": f"serviceAccount:service-1@{agent}.iam.gserviceaccount.com"}, tag=None))
    for b, logging in (("root", {"logBucket": "logs-b"}), ("logs", None)):
        inputs = {"name": f"{b}-b", "location": "EU", "uniformBucketLevelAccess": True,
                  "publicAccessPrevention": "enforced", "encryption": {"defaultKmsKeyName": KMS},
                  "versioning": {"enabled": True}}
        if logging:
            inputs["logging"] = logging
        out.append(R("gcp:storage/bucket:Bucket", b, inputs, tag="labels"))
    out += [
        R("gcp:storage/bucketIAMMember:BucketIAMMember", "root-writer", {
            "bucket": "root-b", "role": "roles/storage.objectAdmin", "member": SA}, tag=None),
        R("gcp:artifactregistry/repository:Repository", "images", {"repositoryId": "images", "format": "DOCKER",
                                                                   "kmsKeyName": KMS}, tag="labels"),
        R("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "images-reader", {
            "repository": "images", "role": "roles/artifactregistry.reader", "member": SA}, tag=None),
        R("gcp:serviceaccount/account:Account", "pipeline-sa", {"accountId": "pipeline"}, tag=None),
        R("gcp:serviceaccount/account:Account", "workload-sa", {"accountId": "workload"}, tag=None),
        R("gcp:projects/iAMMember:IAMMember", "pipeline-aiplatform", {
            "project": "p", "role": "roles/aiplatform.user", "member": SA}, tag=None),
        R("gcp:serviceaccount/iAMMember:IAMMember", "pipeline-actas-workload", {
            "serviceAccountId": "projects/p/serviceAccounts/workload@p.iam.gserviceaccount.com",
            "role": "roles/iam.serviceAccountUser", "member": SA}, tag=None),
        R("gcp:compute/subnetwork:Subnetwork", "subnet", {"ipCidrRange": "10.0.0.0/24", "network": "ml",
                                                          "privateIpGoogleAccess": True,
                                                          "logConfig": {"aggregationInterval": "INTERVAL_5_SEC"}},
          tag=None),
        R("gcp:vertex/aiDataset:AiDataset", "dataset", {"displayName": "d", "metadataSchemaUri": "x", **cmek},
          tag="labels"),
        R("gcp:vertex/aiMetadataStore:AiMetadataStore", "metadata", {"name": "default", **cmek}, tag=None),
        R("gcp:vertex/aiEndpoint:AiEndpoint", "scoring", {"displayName": "scoring", "location": "europe-west4",
                                                          "network": "projects/1/global/networks/ml", **cmek},
          tag="labels"),
        R("gcp:vertex/aiFeatureStore:AiFeatureStore", "features", {"name": "f", **cmek}, tag="labels"),
        R("gcp:vertex/aiTensorboard:AiTensorboard", "tb", {"displayName": "tb", **cmek}, tag="labels"),
        R("gcp:vertex/aiIndexEndpoint:AiIndexEndpoint", "index", {"displayName": "i", "publicEndpointEnabled": False,
                                                                  "network": "projects/1/global/networks/ml", **cmek},
          tag="labels"),
        R("gcp:workbench/instance:Instance", "wb", {"location": "europe-west4-a", "gceSetup": {
            "disablePublicIp": True, "bootDisk": {"kmsKey": KMS}, "dataDisks": [{"kmsKey": KMS}],
            "shieldedInstanceConfig": {"enableSecureBoot": True, "enableVtpm": True,
                                       "enableIntegrityMonitoring": True}}}, tag="labels"),
        R("gcp:cloudscheduler/job:Job", "nightly", {"schedule": "0 3 * * *", "httpTarget": {
            "uri": "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/pipelineJobs",
            "httpMethod": "POST", "body": base64.b64encode(json.dumps({
                "displayName": "training", "serviceAccount": "pipeline@p.iam.gserviceaccount.com",
                "encryptionSpec": {"kmsKeyName": KMS}, "network": "projects/1/global/networks/ml",
                "runtimeConfig": {"gcsOutputDirectory": "gs://root-b/pipeline-root"},
                "templateUri": "gs://root-b/pipelines/training.json"}).encode()).decode(),
            "oauthToken": {"serviceAccountEmail": "pipeline@p.iam.gserviceaccount.com"}}}, tag=None),
    ]
    return out


def kfp_spec() -> dict:
    payload = {"displayName": "train", "encryptionSpec": {"kmsKeyName": "{{$.inputs.parameters['encryption_key']}}"},
               "jobSpec": {"serviceAccount": "{{$.inputs.parameters['workload_service_account']}}",
                           "network": "{{$.inputs.parameters['network']}}", "enableWebAccess": False,
                           "enableDashboardAccess": False,
                           "workerPoolSpecs": [{"containerSpec": {"imageUri": AR_IMAGE}}]}}
    return {"pipelineInfo": {"name": "training"}, "schemaVersion": "2.1.0",
            "root": {"inputDefinitions": {"parameters": {
                "encryption_key": {"defaultValue": KMS, "parameterType": "STRING"},
                "workload_service_account": {"defaultValue": "workload@p.iam.gserviceaccount.com",
                                             "parameterType": "STRING"},
                "network": {"parameterType": "STRING"}}}},
            "deploymentSpec": {"executors": {
                "exec-train": {"container": {"image": AR_IMAGE, "command": ["python3", "-m", "launcher"],
                                             "args": ["--type", "CustomJob", "--payload", json.dumps(payload)]}},
                "exec-register": {"container": {"image": AR_IMAGE, "command": ["python3", "register.py"],
                                                "args": ["--aliases", "pending"]}}}}}


# ----------------------------------------------------------------------------- Azure

SUB = "/subscriptions/0000/resourceGroups/rg/providers"
UAI = f"{SUB}/Microsoft.ManagedIdentity/userAssignedIdentities/"


def uai(name):
    return {"type": "UserAssigned", "userAssignedIdentities": {UAI + name: {}}}


def azure_resources() -> list[dict]:
    out = [
        R("azure-native:keyvault:Vault", "vault", {"vaultName": "kv", "resourceGroupName": "rg", "properties": {
            "tenantId": "t", "sku": {"family": "A", "name": "premium"}, "enablePurgeProtection": True,
            "enableSoftDelete": True, "publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Deny",
                                                                                         "bypass": "AzureServices"},
            "enableRbacAuthorization": True}}),
        R("azure-native:keyvault:Key", "cmk", {"vaultName": "kv", "keyName": "cmk", "properties": {
            "kty": "RSA-HSM", "keySize": 3072, "attributes": {"expires": 1900000000},
            "rotationPolicy": {"lifetimeActions": [{"action": {"type": "rotate"},
                                                    "trigger": {"timeBeforeExpiry": "P30D"}}],
                               "attributes": {"expiryTime": "P1Y"}}}}, deps=["vault"]),
        R("azure-native:storage:StorageAccount", "storage", {
            "accountName": "mlsa", "kind": "StorageV2", "sku": {"name": "Standard_ZRS"},
            "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2", "publicNetworkAccess": "Disabled",
            "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices"},
            "allowBlobPublicAccess": False, "allowSharedKeyAccess": False, "isLocalUserEnabled": False,
            "sasPolicy": {"sasExpirationPeriod": "0.01:00:00", "expirationAction": "Log"},
            "encryption": {"keySource": "Microsoft.Keyvault", "requireInfrastructureEncryption": True,
                           "keyVaultProperties": {"keyName": "cmk", "keyVaultUri": "https://kv.vault.azure.net/"}}}),
        R("azure-native:storage:BlobServiceProperties", "storage-blob", {
            "accountName": "mlsa", "blobServicesName": "default",
            "deleteRetentionPolicy": {"enabled": True, "days": 7}}, deps=["storage"], tag=None),
        R("azure-native:containerregistry:Registry", "acr", {
            "registryName": "mlacr", "sku": {"name": "Premium"}, "adminUserEnabled": False,
            "anonymousPullEnabled": False, "publicNetworkAccess": "Disabled", "dataEndpointEnabled": True,
            "encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": "https://kv/keys/cmk"}},
            "policies": {"retentionPolicy": {"status": "enabled", "days": 30}}}),
        R("azure-native:operationalinsights:Workspace", "law", {
            "workspaceName": "law", "retentionInDays": 365, "publicNetworkAccessForIngestion": "Disabled",
            "publicNetworkAccessForQuery": "Disabled", "features": {"disableLocalAuth": True}}),
        R("azure-native:applicationinsights:Component", "appi", {
            "resourceName": "appi", "kind": "web", "applicationType": "web", "disableLocalAuth": True,
            "publicNetworkAccessForIngestion": "Disabled", "publicNetworkAccessForQuery": "Disabled"}),
    ]
    for n in ("ws-id", "compute-id", "endpoint-id"):
        out.append(R("azure-native:managedidentity:UserAssignedIdentity", n, {"resourceName": n}))
    pe_rules = {f"pe-{x}": {"type": "PrivateEndpoint", "category": "UserDefined", "destination": {
        "serviceResourceId": f"{SUB}/{ns}/{x}", "subresourceTarget": sub}}
        for x, ns, sub in (("mlsa", "Microsoft.Storage/storageAccounts", "blob"),
                           ("kv", "Microsoft.KeyVault/vaults", "vault"),
                           ("mlacr", "Microsoft.ContainerRegistry/registries", "registry"))}
    out += [
        R("azure-native:machinelearningservices:Workspace", "ws", {
            "workspaceName": "ws", "identity": uai("ws-id"), "primaryUserAssignedIdentity": UAI + "ws-id",
            "publicNetworkAccess": "Disabled", "allowPublicAccessWhenBehindVnet": False,
            "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": pe_rules},
            "encryption": {"status": "Enabled", "keyVaultProperties": {"keyIdentifier": "https://kv/keys/cmk",
                                                                       "keyVaultArmId": f"{SUB}/x/kv"}},
            "hbiWorkspace": True, "systemDatastoresAuthMode": "identity", "v1LegacyMode": False,
            "containerRegistry": f"{SUB}/Microsoft.ContainerRegistry/registries/mlacr", "storageAccount": "x",
            "keyVault": "x", "applicationInsights": "x"},
          deps=["ws-id", "storage", "vault", "acr", "appi"]),
        R("azure-native:monitor:DiagnosticSetting", "ws-diag", {"resourceUri": f"{SUB}/x/workspaces/ws",
                                                                 "workspaceId": f"{SUB}/x/law"}, deps=["ws", "law"],
          tag=None),
        R("azure-native:privatedns:PrivateZone", "zone-api", {"privateZoneName": "privatelink.api.azureml.ms"}),
        R("azure-native:privatedns:PrivateZone", "zone-nb", {"privateZoneName": "privatelink.notebooks.azure.net"}),
        R("azure-native:privatedns:VirtualNetworkLink", "link-api", {
            "privateZoneName": "privatelink.api.azureml.ms", "virtualNetwork": {"id": f"{SUB}/x/vnet"}}),
        R("azure-native:privatedns:VirtualNetworkLink", "link-nb", {
            "privateZoneName": "privatelink.notebooks.azure.net", "virtualNetwork": {"id": f"{SUB}/x/vnet"}}),
        R("azure-native:network:NetworkSecurityGroup", "runners-nsg", {"securityRules": [
            {"name": "deny-internet-inbound", "priority": 4000, "direction": "Inbound", "access": "Deny",
             "protocol": "*", "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*"}]}),
        R("azure-native:network:Subnet", "runners", {"subnetName": "runners", "addressPrefix": "10.42.1.0/24",
                                                     "networkSecurityGroup": {"id": f"{SUB}/x/runners-nsg"}},
          deps=["runners-nsg"], tag=None),
    ]
    for target, groups, svc in (("vault", ["vault"], "kv"), ("storage", ["blob"], "mlsa"),
                                ("storage", ["file"], "mlsa"), ("storage", ["dfs"], "mlsa"),
                                ("ws", ["amlworkspace"], "ws")):
        out.append(R("azure-native:network:PrivateEndpoint", f"pe-{target}-{groups[0]}", {
            "subnet": {"id": "subnet"}, "privateLinkServiceConnections": [{
                "name": "c", "groupIds": groups, "privateLinkServiceId": f"{SUB}/x/{svc}"}]}, deps=[target]))
    out += [
        R("azure-native:authorization:RoleAssignment", "compute-acrpull", {
            "principalId": "p1", "principalType": "ServicePrincipal", "scope": f"{SUB}/Microsoft.ContainerRegistry/registries/mlacr",
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"},
          tag=None),
        R("azure-native:authorization:RoleAssignment", "scientists", {
            "principalId": "g1", "principalType": "Group", "scope": f"{SUB}/Microsoft.MachineLearningServices/workspaces/ws",
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/f6c7c914-8db3-469d-8ca1-694a8f32e121"},
          tag=None),
        R("azure-native:machinelearningservices:Compute", "cpu", {
            "computeName": "cpu-cluster", "workspaceName": "ws", "identity": uai("compute-id"), "properties": {
                "computeType": "AmlCompute", "disableLocalAuth": True, "properties": {
                    "vmSize": "STANDARD_DS3_V2", "enableNodePublicIp": False,
                    "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}}, deps=["ws"]),
        R("azure-native:machinelearningservices:Compute", "dev-box", {
            "computeName": "dev-box", "workspaceName": "ws", "identity": uai("compute-id"), "properties": {
                "computeType": "ComputeInstance", "disableLocalAuth": True, "properties": {
                    "vmSize": "STANDARD_DS3_V2", "enableNodePublicIp": False, "idleTimeBeforeShutdown": "PT30M",
                    "sshSettings": {"sshPublicAccess": "Disabled"}}}}, deps=["ws"]),
        R("azure-native:machinelearningservices:OnlineEndpoint", "scoring", {
            "endpointName": "scoring", "workspaceName": "ws", "identity": uai("endpoint-id"),
            "properties": {"authMode": "AADToken", "publicNetworkAccess": "Disabled", "traffic": {"blue": 100}}},
          deps=["ws"]),
        R("azure-native:machinelearningservices:OnlineDeployment", "scoring-blue", {
            "deploymentName": "blue", "endpointName": "scoring", "properties": {
                "endpointComputeType": "Managed", "egressPublicNetworkAccess": "Disabled",
                "dataCollector": {"collections": {"model_inputs": {"dataCollectionMode": "Enabled",
                                                                   "dataId": "azureml:capture:1"}}}}},
          deps=["scoring"]),
        R("azure-native:machinelearningservices:ModelVersion", "model-v1", {
            "name": "scorer", "version": "1", "properties": {"stage": "Development",
                                                             "tags": {"mlspec.stage": "pending_approval"}}},
          tag=None),
    ]
    return out


AZURE_JOB = {"$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json", "type": "pipeline",
             "settings": {"default_compute": "azureml:cpu-cluster"}, "identity": {"type": "managed"},
             "jobs": {"train": {"type": "command", "component": "azureml:train:1",
                                "environment_variables": {"LOG_LEVEL": "info"}}}}


def graph(cloud: str) -> Graph:
    ir = copy.deepcopy(IR)
    if cloud == "aws":
        return Graph(aws_resources(), target="sagemaker", ir=ir)
    if cloud == "gcp":
        return Graph(gcp_resources(), target="vertex", ir=ir, artifacts={"pipelines/training.json": kfp_spec()})
    return Graph(azure_resources(), target="azureml", ir=ir, artifacts={"pipelines/training.yml": copy.deepcopy(AZURE_JOB)})


def find(g: Graph, name: str) -> dict:
    (r,) = [r for r in g.resources if r["name"] == name]
    return r
