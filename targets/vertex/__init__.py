"""The Google Vertex AI target: a Pulumi (pulumi-gcp) program plus KFP v2 PipelineSpecs.

``Vertex.lower(irs, ctx)`` returns, under DIR/vertex/:
  pulumi/Pulumi.yaml, pulumi/__main__.py (fixed program), pulumi/requirements.txt,
  pulumi/Pulumi.<env>.yaml and pulumi/stacks/<env>.json (the lowered resource model),
  pipelines/<env>/<pipeline>.json (KFP IR PipelineSpec), runtime/mlspec_runtime.py.
Imports no Pulumi, pulumi_gcp, google.cloud.aiplatform or kfp module (compile stays light);
only the generated program does. See docs/targets/vertex.md.
"""
from __future__ import annotations

from typing import Sequence

from mlspec.targets.base import LowerContext, Lowering, Setting, Target
from mlspec.targets.vertex.capabilities import CAPABILITIES


class Vertex(Target):
    name = "vertex"
    display_name = "Google Vertex AI"
    uri_schemes = {"gs://": "a Google Cloud Storage URI"}
    key_forms = ((r"projects/[^/]+/locations/[^/]+/keyRings/", "a Cloud KMS key"),)
    reference_forms = (r"projects/[^/]+/secrets/",)  # Secret Manager
    cloud = "gcp"
    cloud_title = "GCP (Vertex AI target)"
    capabilities = CAPABILITIES
    settings = {
        "project": Setting("string", required=True, description="GCP project id that hosts the system",
                           pattern=r"[a-z][a-z0-9-]{4,28}[a-z0-9]", example="acme-ml"),
        "region": Setting("string", required=True, description="Vertex AI region (KMS key, buckets and jobs live here)",
                          pattern=r"[a-z]+-[a-z]+[0-9]", example="us-central1"),
        "network": Setting("string", description="existing VPC network (projects/<p>/global/networks/<n>) already "
                                                 "peered with Service Networking; absent: the stack creates a private "
                                                 "VPC and subnet with Private Google Access",
                           pattern=r"projects/[^/]+/global/networks/[a-z]([-a-z0-9]*[a-z0-9])?",
                           example="projects/acme-net/global/networks/ml"),
        "subnetwork": Setting("string", description="subnetwork of `network` used for Private Google Access checks",
                              example="projects/acme-net/regions/us-central1/subnetworks/ml-private"),
        "image_digests": Setting("list", description="digests that pin the prebuilt images the build uses "
                                                     "(MLS-G-06): `<image>:<tag>@sha256:<hex>` pins that tag, "
                                                     "`<image>@sha256:<hex>` every tag of the image",
                                 example="us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-0:latest@sha256:" + "0" * 64),
        "project_guardrails": Setting("bool", description="project Organization Policies that back MLS-G-09 at "
                                                          "run time: Vertex AI, Cloud Storage, BigQuery and Pub/Sub "
                                                          "resources without CMEK are refused, and CMEK keys must come "
                                                          "from the key's project (default true; set false in a "
                                                          "project shared with other workloads, or when the deploying "
                                                          "identity lacks roles/orgpolicy.policyAdmin, which is granted "
                                                          "on the organisation or a folder only)", example="true"),
        "metadata_store": Setting("string", description="the project's `default` Vertex ML Metadata store "
                                                        "(Vertex AI Pipelines and Experiments always use it): `create` "
                                                        "(default) creates it with CMEK, which fails when the project "
                                                        "already has one; `import` adopts the existing store (it must "
                                                        "be encrypted with the environment's key; `pulumi destroy` "
                                                        "keeps it); `existing` leaves it unmanaged (waive MLS-GCP-041)",
                                  pattern=r"create|import|existing", example="import"),
        "pip_index_url": Setting("string", description="a PyPI mirror reachable from the private network (e.g. "
                                                       "Artifact Registry's Python repository behind Private Google "
                                                       "Access); script steps' `requirements` install from it before "
                                                       "the script, and a model's `serve { requirements }` when its "
                                                       "server starts (E505 without it, unless `allowed_egress` lets "
                                                       "the steps reach PyPI)",
                                 pattern=r"https://\S+", example="https://us-central1-python.pkg.dev/acme-ml/pypi/simple/"),
        "project_number": Setting("string", description="GCP project number (else looked up when the stack runs)",
                                  pattern=r"[0-9]{6,20}", example="123456789012"),
    }

    def runner(self):  # `mlspec run` (targets/vertex/run.py)
        from mlspec.targets.vertex.run import run

        return run

    def lower(self, irs: Sequence[dict], ctx: LowerContext) -> Lowering:
        from mlspec.targets.vertex.lower import lower

        return lower(irs, ctx)


    # ---- hooks of `mlspec plan | apply | approve` (lazy imports: compile never loads them)

    def baseline_rules(self):
        from mlspec.targets.vertex.baseline import RULES

        return RULES

    def rules(self):
        from mlspec.compiler.plan.graph import rules_in
        from mlspec.targets.vertex import rules

        return rules_in(rules)

    def cloud_profile(self):
        from mlspec.targets.vertex.artifacts import PROFILE

        return PROFILE

    def resource_concerns(self):
        from mlspec.targets.vertex.artifacts import RESOURCE_CONCERNS

        return RESOURCE_CONCERNS

    def mock_outputs(self):
        from mlspec.targets.vertex.mock_outputs import MOCK_OUTPUTS

        return MOCK_OUTPUTS

    def approval_backend(self):
        from mlspec.targets.vertex.approvals import VertexBackend

        return VertexBackend()

    def ci_auth(self):
        from mlspec.targets.base import CiAuth

        return CiAuth(
            name="Google Cloud",
            github_secrets={"GCP_WORKLOAD_IDENTITY_PROVIDER": "workload identity provider resource name",
                            "GCP_SERVICE_ACCOUNT": "service account the CI impersonates"},
            github_steps="      - uses: google-github-actions/auth@v2\n"
                         "        with:\n"
                         "          workload_identity_provider: ${{ secrets.GCP_WORKLOAD_IDENTITY_PROVIDER }}\n"
                         "          service_account: ${{ secrets.GCP_SERVICE_ACCOUNT }}\n",
            gitlab_variables="#   GOOGLE_APPLICATION_CREDENTIALS  Google Cloud: a file variable holding a workload identity "
                             "federation config\n")

    def credentials(self):
        from mlspec.targets.vertex.approvals import CREDENTIALS

        return CREDENTIALS

    blocking_checks = ("vertex-job-payload",)

    def program_checks(self, resources, build=None):
        """Job payloads replayed through the launcher's parse path (targets/vertex/vendor.py)."""
        if build is None:
            return [], []
        from mlspec.targets.vertex import vendor

        return vendor.program_checks(build, list(resources)), []


__all__ = ["Vertex"]
