"""The vocabulary of model-version decisions shared by `mlspec approve | reject | status` and the
targets' approval backends (``Target.approval_backend()``, ``targets/<cloud>/approvals.py``).

A backend implements::

    needs: tuple[str, ...]                    # Where fields required to reach the registry
    locate(w, data, config, model) -> None    # fill `w` from the compiled stack data / config
    complete(w) -> None                       # defaults from the environment (e.g. AWS_REGION)
    decide(w, version, decision, reason, by) -> dict   # {"model","version","status","by",...}
    pending(w) -> list[dict]                  # [{"model","version","status","created","id"}]

and raises :class:`DecisionError` (refused: exit 1) or :class:`SettingsError` (exit 2); an
exception from a module named in ``cloud_error_modules`` is a cloud failure (exit 5).
Pure data and helpers; imports nothing of mlspec.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt

APPROVED = "approved"
REJECTED = "rejected"


class DecisionError(Exception):
    """The decision is refused (not pending, pipeline identity, unknown version): exit 1."""


class SettingsError(Exception):
    """A setting needed to reach the cloud is missing: exit 2."""


@dataclasses.dataclass
class Where:
    """How to reach the model registry of one system/environment/target."""

    target: str
    model: str  # the cloud name: SageMaker group, Vertex model resource, Azure model name
    region: str | None = None
    project: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    approvals_required: int = 1
    pipeline_identity: str | None = None  # the pipeline's identity (never an approver)
    workload_identities: list = dataclasses.field(default_factory=list)  # pipeline + job identities
    models: list = dataclasses.field(default_factory=list)  # every model of the spec (status)
    approvals_bucket: str | None = None  # Vertex: where approvers' records live (no automation identity writes it)


def describe(decision: str, who: str, reason: str) -> str:
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{decision} by {who} at {when}: {reason or 'no reason given'}"
