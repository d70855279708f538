"""aws-native (Cloud Control) next to pulumi-aws: a model-quality job definition, as the SageMaker target emits."""
import pulumi
import pulumi_aws as aws
import pulumi_aws_native as native

ns = native.sagemaker
role = aws.iam.Role("monitoring", assume_role_policy="{}")
job = ns.ModelQualityJobDefinition(
    "quality", job_definition_name="fraud-quality", role_arn=role.arn,
    model_quality_app_specification=ns.ModelQualityJobDefinitionModelQualityAppSpecificationArgs(
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/monitor:1", problem_type="BinaryClassification"),
    model_quality_job_input=ns.ModelQualityJobDefinitionModelQualityJobInputArgs(
        ground_truth_s3_input=ns.ModelQualityJobDefinitionMonitoringGroundTruthS3InputArgs(s3_uri="s3://b/gt")),
    model_quality_job_output_config=ns.ModelQualityJobDefinitionMonitoringOutputConfigArgs(
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k",
        monitoring_outputs=[ns.ModelQualityJobDefinitionMonitoringOutputArgs(
            s3_output=ns.ModelQualityJobDefinitionS3OutputArgs(local_path="/opt/ml/processing/output", s3_uri="s3://b/o"))]),
    job_resources=ns.ModelQualityJobDefinitionMonitoringResourcesArgs(
        cluster_config=ns.ModelQualityJobDefinitionClusterConfigArgs(
            instance_count=1, instance_type="ml.m5.xlarge", volume_size_in_gb=30,
            volume_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k")),
    tags=[{"key": "owner", "value": "risk"}])
pulumi.export("job_arn", job.job_definition_arn)
