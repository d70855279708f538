"""Approval mechanisms per cloud: the one place their names live.

Targets, rules (MLS-AWS-069, MLS-GCP-070, MLS-AZ-090, MLS-G-07) and ``mlspec approve /
reject / status`` must agree on these names. They mirror what the targets chose:

- SageMaker (targets/sagemaker): model package ``ModelApprovalStatus``
  PendingManualApproval -> Approved | Rejected, with ``ApprovalDescription`` recording who and
  why; an EventBridge rule on the ``Approved`` state change starts the deploy path.
- Vertex AI (targets/vertex/common.py ``PENDING_ALIAS`` / ``PRODUCTION_ALIAS``): a registered
  version carries the ``pending`` alias; approving moves the ``production`` alias to it (the
  deployment follows ``@production``); rejecting removes ``pending``. Who/why are recorded as
  version labels (Vertex label values: lower-case, <= 63 chars) and in the version description.
- Azure ML (targets/azureml/templates/pulumi/__main__.py): model version tags
  ``mlspec.stage`` = pending_approval -> approved | rejected, ``mlspec.approved_by``,
  ``mlspec.approval_reason``; the Pulumi program deploys only versions tagged approved with an
  approver recorded.

Pure data; no SDK imports.
"""
from __future__ import annotations

APPROVED = "approved"
REJECTED = "rejected"

# SageMaker
SAGEMAKER_PENDING = "PendingManualApproval"
SAGEMAKER_APPROVED = "Approved"
SAGEMAKER_REJECTED = "Rejected"

# Vertex AI (must equal targets/vertex/common.py PENDING_ALIAS / PRODUCTION_ALIAS)
VERTEX_PENDING_ALIAS = "pending"
VERTEX_APPROVED_ALIAS = "production"
VERTEX_LABEL_DECISION = "mlspec-decision"
VERTEX_LABEL_BY = "mlspec-decided-by"

# Azure ML (must equal the tags the azureml target's register helper and Pulumi program use)
AZURE_STAGE_TAG = "mlspec.stage"
AZURE_PENDING_STAGE = "pending_approval"
AZURE_APPROVED_STAGE = "approved"
AZURE_REJECTED_STAGE = "rejected"
AZURE_APPROVAL_TAG = AZURE_STAGE_TAG
AZURE_APPROVED_BY_TAG = "mlspec.approved_by"
AZURE_REASON_TAG = "mlspec.approval_reason"
AZURE_DECIDED_AT_TAG = "mlspec.decided_at"
