"""Per-environment facts the Vertex lowering shares: names, labels, machine types, URIs.

Input: one environment's IR plus its `target vertex { ... }` settings. Output: an
:class:`Env` value object. Every name is derived from qualified spec ids (naming.py), so the
KFP spec can reference buckets, service accounts and models that the Pulumi program creates
without any runtime lookup. Pure; never imports a cloud SDK.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from mlspec.targets.vertex import naming

#: portable compute class -> (machine type, memory GiB, accelerator type or None)
#: https://cloud.google.com/vertex-ai/docs/training/configure-compute and
#: https://cloud.google.com/vertex-ai/docs/predictions/configure-compute
#: per docs/language.md#compute-classes (tested against it); G2 and A2 machine types come with
#: their GPUs attached (L4, A100), which Vertex still wants named in the machine spec
MACHINES: dict[str, tuple[str, int, str | None]] = {
    "cpu.small": ("n2-standard-2", 8, None),
    "cpu.medium": ("n2-standard-4", 16, None),
    "cpu.large": ("n2-standard-8", 32, None),
    "cpu.xlarge": ("n2-standard-16", 64, None),
    "memory.large": ("n2-highmem-8", 64, None),
    "gpu.small": ("n1-standard-4", 15, "NVIDIA_TESLA_T4"),
    "gpu.medium": ("g2-standard-8", 32, "NVIDIA_L4"),
    "gpu.large": ("a2-highgpu-1g", 85, "NVIDIA_TESLA_A100"),
}
#: machine types sold only with their GPUs -> the CPU machine of the same vCPUs, for a step whose
#: image cannot use a GPU (the lowering warns, W505)
GPU_BUILT_IN = {"g2-standard-8": "n2-standard-8", "a2-highgpu-1g": "n2-standard-16"}
DEFAULT_COMPUTE = {"class": "cpu.small", "instance_count": 1, "accelerators": 0}

#: Service accounts, one per component (MLS-G-03 / MLS-GCP-020).
COMPONENTS = ("pipeline", "workload", "serving", "monitoring", "launcher")

#: The image the light pipeline tasks (metrics, champion, register) run in: Google's
#: google-cloud-pipeline-components image, which ships google-cloud-aiplatform.
GCPC_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.19.0"
CUSTOM_JOB_LAUNCHER = "google_cloud_pipeline_components.container.v1.custom_job.launcher"
HPT_LAUNCHER = "google_cloud_pipeline_components.container.v1.hyperparameter_tuning_job.launcher"

PENDING_ALIAS = "pending"
PRODUCTION_ALIAS = "production"
#: version labels an approval writes (mlspec.targets.vertex.approvals: VERTEX_LABEL_DECISION / _BY)
DECISION_LABEL = "mlspec-decision"
DECIDED_BY_LABEL = "mlspec-decided-by"


def machine(compute: dict | None) -> dict[str, Any]:
    """A Vertex machineSpec (wire names) for a portable compute block."""
    c = compute or DEFAULT_COMPUTE
    mtype, _mem, acc = MACHINES.get(c["class"], MACHINES["cpu.small"])
    spec: dict[str, Any] = {"machineType": mtype}
    if acc:
        spec["acceleratorType"] = acc
        spec["acceleratorCount"] = max(1, int(c.get("accelerators") or 1))
    return spec


def memory_gib(compute: dict | None) -> int:
    return MACHINES.get((compute or DEFAULT_COMPUTE)["class"], MACHINES["cpu.small"])[1]


@dataclasses.dataclass(frozen=True)
class Env:
    ir: dict
    project: str
    region: str
    settings: dict

    @property
    def system(self) -> str:
        return self.ir["system"]["name"]

    @property
    def env(self) -> str:
        return self.ir["environment"]["name"]

    @property
    def production(self) -> bool:
        return bool(self.ir["environment"]["production"])

    @property
    def prefix(self) -> str:
        return naming.prefix(self.system, self.env)

    def bucket(self, purpose: str) -> str:
        return naming.bucket_name(self.project, self.system, self.env, purpose)

    def sa_id(self, component: str) -> str:
        return naming.service_account_id(self.system, self.env, component)

    def sa_email(self, component: str) -> str:
        return f"{self.sa_id(component)}@{self.project}.iam.gserviceaccount.com"

    @property
    def key_ring(self) -> str:
        return naming.fit(f"{self.prefix}-ring", 63)

    @property
    def key(self) -> str:
        return naming.fit(f"{self.prefix}-key", 63)

    @property
    def kms_key_name(self) -> str:
        existing = self.ir["security"].get("kms_key")
        if existing:
            return existing
        return (f"projects/{self.project}/locations/{self.region}/keyRings/{self.key_ring}"
                f"/cryptoKeys/{self.key}")

    @property
    def egress_attachment(self) -> str | None:
        """The PSC network attachment custom jobs egress through (security.allowed_egress on the
        network the stack creates), else None (jobs are peered to the VPC and have no internet egress)."""
        if not self.ir["security"].get("allowed_egress") or self.settings.get("network"):
            return None
        name = naming.fit(f"{self.prefix}-egress", 63)
        return f"projects/{self.project}/regions/{self.region}/networkAttachments/{name}"

    @property
    def image_pins(self) -> dict[str, str]:
        """`image_digests` setting -> {reference without digest: pinned reference}. An entry
        `repo/name:tag@sha256:<hex>` pins exactly that tag; `repo/name@sha256:<hex>` pins every tag."""
        pins: dict[str, str] = {}
        for entry in self.settings.get("image_digests") or []:
            ref, sep, digest = str(entry).partition("@sha256:")
            if sep and len(digest) == 64:
                pins[ref] = f"{ref}@sha256:{digest}"
        return pins

    def pin(self, image: str) -> str:
        """The image pinned by digest when the target block lists it (MLS-G-06), else unchanged."""
        if not image or "@sha256:" in image:
            return image
        pins = self.image_pins
        if image in pins:
            return pins[image]
        name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        return f"{name}@{pins[name].split('@', 1)[1]}" if name in pins else image

    def model_id(self, model_name: str) -> str:
        """Vertex model ids: [a-z0-9_-], first char a letter, <= 63."""
        return naming.fit(naming.kebab(f"{self.prefix}-{model_name}"), 63)

    def model_resource(self, model_name: str) -> str:
        return f"projects/{self.project}/locations/{self.region}/models/{self.model_id(model_name)}"

    def endpoint_id(self, endpoint_name: str) -> str:
        return naming.numeric_id(self.project, self.system, self.env, endpoint_name)

    def data_uri(self, uri: str) -> str:
        """Portable `data://a/b/` -> `gs://<data bucket>/a/b/`; `gs://` stays; others -> ''."""
        if uri.startswith("data://"):
            return f"gs://{self.bucket('data')}/{uri[len('data://'):]}"
        if uri.startswith("gs://"):
            return uri
        return ""

    @property
    def labels(self) -> dict[str, str]:
        """MLS-G-08 standard labels (the mlspec version label is added by the program from the manifest);
        a fresh dict each time (callers extend it), computed once per environment."""
        cached = self.__dict__.get("_labels")
        if cached is None:
            cached = self.__dict__["_labels"] = self._make_labels()
        return dict(cached)

    def _make_labels(self) -> dict[str, str]:
        sysinfo = self.ir["system"]
        out = {naming.label_key(k): naming.label_value(v) for k, v in sorted((sysinfo.get("labels") or {}).items())}
        out.update({
            "mlspec-system": naming.label_value(self.system),
            "mlspec-env": naming.label_value(self.env),
            "owner": naming.label_value(sysinfo.get("owner") or "unknown"),
            "data-classification": naming.label_value(self.ir["security"].get("data_classification") or "unspecified"),
        })
        return out

    @property
    def lineage_labels(self) -> dict[str, str]:
        """`labels` plus the spec hash: for pipeline runs and registered model versions only, so a
        spec change does not relabel every resource (issue 16: small blast radius)."""
        return {**self.labels, "mlspec-spec-sha": self.ir["source"]["sha256"][:32]}
