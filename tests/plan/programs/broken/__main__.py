import sys
import pulumi_aws as aws

print("about to fail", file=sys.stderr)
aws.s3.Bucket("b", bucket="x")
raise ValueError("boom from the program")
