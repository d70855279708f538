"""Azure resource-name rules for the names mlspec derives from spec ids.

Input: spec names (lower_snake identifiers), the environment and the workspace setting.
Output: names valid for the Azure resource they label, or ``None`` plus a reason so the
target can raise an E5xx diagnostic (SECURITY.md MLS-E031). Deterministic: a too-long name is
shortened with a stable hash suffix, never randomised.

Rules (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules):
- storage account: 3-24, lowercase letters and digits, globally unique
- key vault: 3-24, alphanumerics and hyphens, starts with a letter, no consecutive hyphens
- container registry: 5-50 alphanumerics, globally unique
- ML workspace: 3-33, alphanumerics, hyphens, underscores; starts alphanumeric
- online endpoint: 3-32, letters, digits, hyphens; starts with a letter; unique per region
- online deployment: 3-32, letters, digits, hyphens; starts with a letter
- compute: 2-16, letters, digits, hyphens; starts with a letter
- model / component / schedule names: letters, digits, `_`, `-`, `.`; up to 255
"""
from __future__ import annotations

import hashlib
import re

_ALNUM = re.compile(r"[^a-z0-9]")


def _digest(*parts: str, n: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _squash(text: str) -> str:
    return _ALNUM.sub("", text.lower())


def _fit(base: str, limit: int, *seed: str) -> str:
    """Shorten to `limit` keeping a stable hash of the full name."""
    if len(base) <= limit:
        return base
    h = _digest(base, *seed)
    return base[: limit - len(h)] + h


def kebab(name: str) -> str:
    return re.sub(r"-{2,}", "-", name.lower().replace("_", "-").replace(".", "-")).strip("-")


def storage_account(system: str, env: str, sub: str) -> str:
    """3-24 lowercase alnum, globally unique: prefix + short hash of subscription/system/env."""
    return _fit(_squash(f"st{system}{env}")[:16] + _digest(sub, system, env), 24)


def key_vault(system: str, env: str, sub: str) -> str:
    base = kebab(f"kv-{system}")[:14].strip("-")
    return f"{base}-{_squash(env)[:3]}{_digest(sub, system, env, n=5)}"[:24]


def container_registry(system: str, env: str, sub: str) -> str:
    return _fit(_squash(f"cr{system}{env}") + _digest(sub, system, env), 50)


def workspace(setting: str, env: str) -> str:
    return _fit(kebab(f"{setting}-{env}"), 33)


def endpoint(system: str, name: str, env: str, sub: str) -> str:
    """Endpoint names are unique per region, so they carry a short hash of subscription/system/env."""
    base = kebab(f"{name}-{env}")
    return _fit(f"{base}-{_digest(sub, system, env, n=4)}", 32)


def compute(compute_class: str, spot: bool = False, gpus: int | None = None) -> str:
    """`cpu.medium` -> `cpu-medium`; a GPU count other than the class's one GPU adds `-<n>g`
    (`gpu-large-4g`), the low-priority (spot) cluster `-lp` (all fit the 16-character limit)."""
    base = kebab(compute_class)[:10] if (spot or (gpus and gpus > 1)) else kebab(compute_class)[:16]
    return base + (f"-{gpus}g" if gpus and gpus > 1 else "") + ("-lp" if spot else "")


def identity(system: str, component: str) -> str:
    return _fit(kebab(f"id-{system}-{component}"), 128)


def asset(*parts: str) -> str:
    """Names of Azure ML assets (components, models, schedules): lower snake, <= 255."""
    return _fit("_".join(p.replace("-", "_") for p in parts), 255)


def check(kind: str, name: str) -> str | None:
    """Return a reason when `name` breaks the Azure rule for `kind`, else None."""
    rules = {
        "storage": (r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
        "keyvault": (r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", "3-24 letters, digits and hyphens, starting with a letter"),
        "registry": (r"[a-zA-Z0-9]{5,50}", "5-50 letters and digits"),
        "workspace": (r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", "3-33 letters, digits, `-` and `_`"),
        "endpoint": (r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", "3-32 letters, digits and hyphens, starting with a letter"),
        "deployment": (r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", "3-32 letters, digits and hyphens, starting with a letter"),
        "compute": (r"[a-zA-Z][a-zA-Z0-9-]{1,15}", "2-16 letters, digits and hyphens, starting with a letter"),
        "asset": (r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}", "letters, digits, `_`, `-` and `.`, up to 255"),
    }
    pattern, text = rules[kind]
    return None if re.fullmatch(pattern, name) else f"{kind} names on Azure must be {text}; got `{name}`"
