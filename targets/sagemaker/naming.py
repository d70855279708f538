"""SageMaker / AWS resource-name rules.

Input: qualified spec ids and names (lower_snake identifiers, already checked by the front end).
Output: names valid for the AWS service they are used with. Pure; never imports a cloud SDK.

Rules (vendor docs):
- SageMaker entity names (pipelines, model package groups, endpoints, job definitions,
  monitoring schedules, models): ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (63 chars), pipeline
  step names ``^[A-Za-z0-9\\-_]{1,64}$``.
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreatePipeline.html
- S3 bucket names: 3-63 lower-case letters, digits, hyphens; globally unique, so the program
  appends the account id and region at deploy time (``bucket_name`` leaves room for both).
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
- IAM role names: 64 chars ``[\\w+=,.@-]``.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
Long names are shortened deterministically: a prefix plus an 8-hex sha256 of the full name.
"""
from __future__ import annotations

import hashlib
import re

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


def _shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return name[: limit - 9].rstrip("-") + "-" + digest


def kebab(*parts: str) -> str:
    """Join parts as lower-case kebab (`fraud_detection`, `prod` -> `fraud-detection-prod`)."""
    text = "-".join(p for p in parts if p)
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return re.sub(r"-{2,}", "-", text)


def sm_name(*parts: str, limit: int = 63) -> str:
    """A SageMaker entity name (63 chars, alnum and single hyphens)."""
    name = _shorten(kebab(*parts), limit)
    if not SAGEMAKER_NAME.match(name):  # pragma: no cover - kebab() guarantees the charset
        raise ValueError(f"cannot form a SageMaker name from {parts!r}")
    return name


def step_name(*parts: str) -> str:
    """A pipeline step name: PascalCase of the parts (`train` -> `Train`), <= 64 chars."""
    text = "".join(w[:1].upper() + w[1:] for p in parts for w in re.split(r"[^A-Za-z0-9]+", p) if w)
    return _shorten(text, 64)


def param_name(*parts: str) -> str:
    """A pipeline parameter name (same rule as a step name)."""
    return step_name(*parts)


def bucket_prefix(system: str, env: str, purpose: str) -> str:
    """The compile-time part of a bucket name; the program appends `-<account>-<region>`.

    12 (account) + 16 (longest region, e.g. ap-southeast-5x) + 2 hyphens leave 33 chars.
    """
    return _shorten(kebab(system, env, purpose), 33)


def role_name(system: str, env: str, component: str) -> str:
    """An IAM role name (64 chars)."""
    return _shorten(kebab(system, env, component), 64)


def alarm_name(*parts: str) -> str:
    """A CloudWatch alarm name (255 chars; kept short and readable)."""
    return _shorten(kebab(*parts), 200)


def cron_to_aws(cron: str) -> str:
    """A 5-field Unix cron (`0 3 * * MON`) as an AWS 6-field cron expression.

    AWS needs `?` in one of day-of-month / day-of-week, numbers weekdays 1-7 from Sunday,
    and a year field. https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    """
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"expected a 5-field cron expression, got {cron!r}")
    minute, hour, dom, month, dow = fields

    def shift(tok: str) -> str:
        return re.sub(r"\d+", lambda m: str(int(m.group()) % 7 + 1), tok)

    if dow == "*":
        dow = "?"
    else:
        dow = shift(dow)
        if dom == "*":
            dom = "?"
    return f"cron({minute} {hour} {dom} {month} {dow} *)"
