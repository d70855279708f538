"""Where `mlspec apply` reads a stack secret from: one leaf module shared by ``plan`` (which lists
the secrets to set) and ``deploy`` (which reads them), so neither imports the other."""
from __future__ import annotations

import re


def secret_env_var(key: str) -> str:
    """`mlspec:fraud-pagerduty-key` -> MLSPEC_SECRET_FRAUD_PAGERDUTY_KEY (where apply reads it)."""
    return "MLSPEC_SECRET_" + re.sub(r"[^A-Z0-9]", "_", key.split(":", 1)[-1].upper())
