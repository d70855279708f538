"""The security baseline catalogue: every rule id of docs/security.md.

The cross-cloud ids (MLS-G-*) are here; each target declares its cloud's ids and titles
(``Target.baseline_rules()``, ``targets/<cloud>/baseline.py``) and :func:`catalogue` merges them.

Used by the front end to validate `waive` blocks (known id, waivable) and by
`mlspec plan`, whose rule implementations (mlspec.compiler.plan.rules_common and each target's
``rules.py``) key on these ids. A target may declare further ids (``Target.baseline_rules()``);
:func:`catalogue` merges them. Pure data; imports nothing at import time.
"""
from __future__ import annotations

#: rule id -> (waivable, short title) of the cross-cloud rules; a cloud's own are in its target
RULES: dict[str, tuple[bool, str]] = {
    "MLS-G-01": (False, "All data at rest (buckets, volumes, registries, logs, feature/metadata stores, endpoints, data capture) encrypted with a customer-managed key created or referenced by the stack, one key (or key ring) per environment and region"),
    "MLS-G-02": (False, "No public network exposure: private endpoints / VPC-only for workspaces, endpoints, registries, storage, key stores"),
    "MLS-G-03": (False, "One least-privilege identity per component (pipeline orchestrator, training/processing workload, serving endpoint, monitoring); no broad managed/basic roles"),
    "MLS-G-04": (False, "Secrets appear only as references (secret-manager ID, Key Vault URI, Pulumi config key) and are read as Pulumi secrets; no literal secret in spec, generated code, tags/labels, env vars or outputs"),
    "MLS-G-05": (True, "Audit / service logs retained and encrypted (prod: >= 365 days)"),
    "MLS-G-06": (True, "Container images pulled only from the stack's private registry, pinned by digest"),
    "MLS-G-07": (True, "Deployment to prod only after an explicit approval state change by a principal different from the pipeline identity"),
    "MLS-G-08": (True, "Standard tags/labels on every resource: owner, environment, data classification, mlspec version, spec hash"),
    "MLS-G-09": (False, "Security-relevant settings of *pipeline steps* (not visible to IaC scanners) are checked on the compiled pipeline definition and backed by runtime guardrails (IAM conditions / policy)"),
}


_CATALOGUE: dict[str, tuple[bool, str]] | None = None


def catalogue() -> dict[str, tuple[bool, str]]:
    """:data:`RULES` plus the rule ids registered targets declare (``Target.baseline_rules()``),
    so an out-of-tree target brings its own ids without a change here. Loaded on first use."""
    global _CATALOGUE
    if _CATALOGUE is None:
        from mlspec.targets.base import available_targets, get_target

        out = dict(RULES)
        for name in available_targets():
            for rid, entry in (get_target(name).baseline_rules() or {}).items():
                out.setdefault(rid, entry)
        _CATALOGUE = out
    return _CATALOGUE


def is_known(rule: str) -> bool:
    return rule in RULES or rule in catalogue()


def is_waivable(rule: str) -> bool:
    return (RULES.get(rule) or catalogue().get(rule) or (False, ""))[0]
