"""Hand-written GCP program: SA + project IAM, CMEK key ring/key, bucket, Vertex endpoint."""
import pulumi
import pulumi_gcp as gcp

region = pulumi.Config().require("region")
project = gcp.organizations.get_project()
sa = gcp.serviceaccount.Account("pipeline-sa", account_id="fraud-pipeline", display_name="pipeline")
gcp.projects.IAMMember("pipeline-sa-aiplatform", project="my-proj", role="roles/aiplatform.user",
                       member=sa.email.apply(lambda e: f"serviceAccount:{e}"))
ring = gcp.kms.KeyRing("ring", name="fraud-dev", location=region)
key = gcp.kms.CryptoKey("key", name="fraud-dev", key_ring=ring.id, rotation_period="7776000s")
bucket = gcp.storage.Bucket("pipeline-root", name="fraud-pipeline-root", location="EU",
                            uniform_bucket_level_access=True, public_access_prevention="enforced",
                            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.id))
ep = gcp.vertex.AiEndpoint("scoring", display_name="scoring", location=region, region=region,
                           encryption_spec=gcp.vertex.AiEndpointEncryptionSpecArgs(kms_key_name=key.id),
                           network=f"projects/{project.number}/global/networks/ml")
pulumi.export("root", bucket.url.apply(lambda u: f"{u}/pipeline-root"))
pulumi.export("endpoint", ep.name)
