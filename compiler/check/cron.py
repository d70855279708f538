"""Cron schedules: `cron("0 3 * * MON")` or `cron("0 3 * * MON", "Europe/Berlin")`.

Checks the five standard fields (minute hour day-of-month month day-of-week) with
`*`, lists, ranges, steps and JAN-DEC / SUN-SAT names, and returns the IR schedule.
Each cloud accepts this common subset (targets translate, e.g. SageMaker's `?`).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlspec.compiler import ast
from mlspec.compiler.check.policy import check_string

if TYPE_CHECKING:
    from mlspec.compiler.check.ctx import Ctx
    from mlspec.compiler.check.values import Body

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_FIELDS = (("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))
_TZ = re.compile(r"(UTC|[A-Z][A-Za-z_]+(/[A-Z][A-Za-z_+-]+){1,2})")


def _value(tok: str, lo: int, hi: int, names: list[str] | None) -> int | None:
    if names and tok.upper() in names:
        return names.index(tok.upper()) + (1 if names is _MONTHS else 0)
    if tok.isdigit():
        n = int(tok)
        return n if lo <= n <= hi else None
    return None


def field_error(expr: str) -> str | None:
    """Why a 5-field cron expression is invalid, or None."""
    parts = expr.split()
    if len(parts) != 5:
        return f"a cron expression has 5 fields (minute hour day-of-month month day-of-week); found {len(parts)}"
    for text, (fname, lo, hi, names) in zip(parts, _FIELDS):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"bad step `/{step}` in the {fname} field"
            if base == "*":
                continue
            a, dash, b = base.partition("-")
            va = _value(a, lo, hi, names)
            if va is None:
                return f"`{a}` is not a valid {fname} ({lo}-{hi})"
            if dash:
                vb = _value(b, lo, hi, names)
                if vb is None:
                    return f"`{b}` is not a valid {fname} ({lo}-{hi})"
                if vb < va:
                    return f"the range `{base}` in the {fname} field runs backwards"
    return None


def _expand(text: str, lo: int, hi: int, names: list[str] | None) -> set[int]:
    """The values one (already validated) field matches."""
    out: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        every = int(step) if step else 1
        if base == "*":
            a, b = lo, hi
        else:
            first, dash, last = base.partition("-")
            a = _value(first, lo, hi, names)  # type: ignore[assignment]
            b = _value(last, lo, hi, names) if dash else (hi if step else a)  # type: ignore[assignment]
        out.update(range(a, b + 1, every))
    return out


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February 29 fires in leap years


def never_fires(expr: str) -> str | None:
    """Why a valid expression never fires (a day of month no chosen month has), or None.

    When the day-of-week field is restricted too, cron fires on either day, so only a
    schedule whose day-of-week starts with `*` can be impossible."""
    parts = expr.split()
    dom, month, dow = parts[2], parts[3], parts[4]
    if dom.startswith("*") or not dow.startswith("*"):
        return None
    days = _expand(dom, 1, 31, None)
    months = _expand(month, 1, 12, _MONTHS)
    if any(d <= _DAYS_IN_MONTH[m - 1] for m in months for d in days):
        return None
    shown = ", ".join(_MONTHS[m - 1].title() for m in sorted(months))
    return f"no month it names ({shown}) has day {', '.join(str(d) for d in sorted(days))}"


def _time_zone_error(name: str) -> str | None:
    """Why `name` is not a time zone of the IANA database, or None (also None when this
    machine has no time zone database to ask)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = zoneinfo.available_timezones()
    if not known:
        return None
    from mlspec.compiler.check.values import did_you_mean

    return did_you_mean(name, known) or "see the IANA time zone database for names such as `Europe/Berlin`"


def read_schedule(ctx: "Ctx", body: "Body", attr: str) -> dict | None:
    c = body.call(attr, "cron")
    if c is None:
        return None
    if not c.args or not isinstance(c.args[0], ast.Str) or len(c.args) > 2:
        ctx.sink.error("E305", f"`{attr}` expects `cron(\"<minute> <hour> <day> <month> <weekday>\")`", c.span,
                       hint='for example `cron("0 3 * * MON")`')
        return None
    expr = c.args[0]
    if not check_string(ctx.sink, expr, attr, body.where):
        return None
    why = field_error(expr.value)
    if why:
        ctx.sink.error("E305", f"invalid cron expression `{expr.value}`: {why}", expr.span,
                       hint='for example `cron("0 3 * * MON")` runs at 03:00 every Monday')
        return None
    never = never_fires(expr.value)
    if never:
        ctx.sink.error("E305", f"the cron expression `{expr.value}` never fires: {never}", expr.span,
                       hint="check the day and month fields; `L` (last day of the month) is not portable across "
                            "the clouds, so use `28` or a day every month has")
        return None
    tz = "UTC"
    if len(c.args) == 2:
        t = c.args[1]
        if not isinstance(t, ast.Str) or not _TZ.fullmatch(t.value):
            ctx.sink.error("E305", "the time zone of a cron schedule must be an IANA name such as "
                                   "`\"Europe/Berlin\"`", t.span)
            return None
        why = _time_zone_error(t.value)
        if why:
            ctx.sink.error("E305", f"`{t.value}` is not a known time zone", t.span, hint=why)
            return None
        tz = t.value
    return {"cron": " ".join(expr.value.split()), "timezone": tz}
