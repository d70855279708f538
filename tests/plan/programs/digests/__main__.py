"""Pinning framework images by digest at deploy time (ECR / Artifact Registry look-ups) works under the mocks."""
import pulumi, pulumi_aws as aws, pulumi_gcp as gcp
img = aws.ecr.get_image(registry_id="683313688378", repository_name="sagemaker-xgboost", image_tag="1.7-1")
pulumi.export("aws", img.image_uri)
g = gcp.artifactregistry.get_docker_image(location="us", repository_id="vertex-ai", project="p", image_name="training/xgboost-cpu.1-7:latest")
pulumi.export("gcp", g.self_link)
