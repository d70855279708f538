"""Hand-written AWS program: KMS key, bucket + SSE, role + policy, model package group, pipeline."""
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

cfg = pulumi.Config()
env = cfg.require("env")
replicas = cfg.require_int("replicas")
settings = cfg.require_object("settings")
password = cfg.require_secret("dbPassword")
definition = json.loads(Path("pipeline.json").read_text())   # data file read relative to the program

acct = aws.get_caller_identity()
key = aws.kms.Key("env-key", enable_key_rotation=True, description=f"mlspec {env}")
bucket = aws.s3.Bucket("artifacts", bucket=f"artifacts-{env}")
aws.s3.BucketServerSideEncryptionConfiguration("artifacts-sse", bucket=bucket.id, rules=[
    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=key.arn),
        bucket_key_enabled=True)])
role = aws.iam.Role("pipeline-role", assume_role_policy=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                            "Principal": {"Service": "sagemaker.amazonaws.com"}}]}),
    tags={"mlspec_env": env})
aws.iam.RolePolicy("pipeline-role-s3", role=role.id, policy=pulumi.Output.json_dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                                            "Resource": [bucket.arn.apply(lambda a: f"{a}/*")]}]}))
group = aws.sagemaker.ModelPackageGroup("registry", model_package_group_name=f"fraud-{env}")
definition["Steps"][0]["Arguments"]["RoleArn"] = "ROLE"
aws.sagemaker.Pipeline("train", pipeline_name=f"train-{env}", pipeline_display_name=f"train-{env}",
                       role_arn=role.arn,
                       pipeline_definition=pulumi.Output.all(role.arn, group.model_package_group_name).apply(
                           lambda a: json.dumps(definition).replace("ROLE", a[0]).replace("GROUP", a[1])),
                       tags={"retention": str(settings["retention_days"]), "replicas": str(replicas)})
aws.ssm.Parameter("db-password", type="SecureString", value=password, key_id=key.arn)
pulumi.export("bucket", bucket.bucket)
pulumi.export("role_arn", role.arn)
pulumi.export("account", acct.account_id)
pulumi.export("password", password)
