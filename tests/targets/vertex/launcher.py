"""Submit a launcher payload the way GCPC's `container.v1.{custom_job,hyperparameter_tuning_job}`
launchers do, through google-cloud-aiplatform's real gapic JobServiceClient (anonymous
credentials; only the transport call is intercepted, so nothing leaves the machine).

GCPC's remote runner: ``job_spec = json_util.recursive_remove_empty(json.loads(payload, strict=False))``,
system labels inserted, then ``job_client.create_custom_job(parent=parent, custom_job=job_spec)``
(``create_hyperparameter_tuning_job(parent=..., hyperparameter_tuning_job=...)``): the client coerces
the dict with the proto-plus constructor, which accepts proto field names only.
google-cloud-pipeline-components itself requires google-cloud-aiplatform<2 and cannot be installed
next to this project's dependencies, so its parse path is replayed here, step for step."""
from __future__ import annotations

import json
from unittest import mock

from mlspec.targets.vertex import vendor


def submit(kind: str, payload: str, parameters: dict[str, str] | None = None):
    """The request message the real client would send for ``--type kind --payload payload``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1.services.job_service import JobServiceClient

    job_spec = vendor.remove_empty(json.loads(vendor.substitute(payload, parameters or {}), strict=False))
    job_spec.setdefault("labels", {})["vertex-ai-pipelines-run-billing-id"] = "1234567890"
    client = JobServiceClient(credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": "us-central1-aiplatform.googleapis.com"})
    parent = "projects/acme-ml/locations/us-central1"
    method = "create_custom_job" if kind == "CustomJob" else "create_hyperparameter_tuning_job"
    with mock.patch.object(type(getattr(client.transport, method)), "__call__") as call:
        call.return_value = None
        if kind == "CustomJob":
            client.create_custom_job(parent=parent, custom_job=job_spec)
            return call.call_args.args[0].custom_job
        client.create_hyperparameter_tuning_job(parent=parent, hyperparameter_tuning_job=job_spec)
        return call.call_args.args[0].hyperparameter_tuning_job
