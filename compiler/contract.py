"""The portable script contract: the one command line every target gives a user script.

A user script (a `process` script, a `train`/`tune` entry point, an `evaluate` script)
receives exactly the argument vector :func:`script_argv` describes, on every cloud, in
this order:

1. one ``--<name> <dir>`` per data input, in declared order (``inputs`` of process /
   train / tune; ``data`` of evaluate); the name is :func:`input_name` of the input;
2. one ``--<name> <dir>`` per declared output of a ``process`` step, in declared order;
3. ``--model <dir>``: for ``train``/``tune`` an empty directory the script writes its model
   into; for ``evaluate`` the *extracted* model directory of the model it scores;
4. ``--metrics <dir>``: for ``evaluate`` (which must write ``evaluation.json`` there) and
   for ``train``/``tune`` (which may; a tune step's objective is read from it);
   ``--checkpoints <dir>``: for a ``train``/``tune`` step with ``spot = true``, a directory
   that survives an interruption (restored before a restarted job runs);
5. one ``--<key> <value>`` per ``args`` / ``hyperparameters`` entry (for a tune trial, the
   fixed hyperparameters plus the trial's sampled values), sorted by key.

Every directory is a local directory. ``evaluation.json`` is
``{"metrics": {"<name>": {"value": <number>}}}``. Targets render these flags with their
own placeholders for the directories (or pass them to mlspec's launcher wrapper, which
renders them); :func:`script_argv` with concrete paths is what the script finally sees.

This module is pure (no I/O, no imports of targets or SDKs): targets, ``mlspec run`` and
the tests share it, so the contract is defined once.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

#: bumped when the command line a script receives changes
CONTRACT_VERSION = 2

#: flags the contract itself uses; an input, output or parameter may not take these names
RESERVED_FLAGS = frozenset({"model", "metrics", "checkpoints"})

#: kinds whose user script receives the contract's command line
SCRIPT_KINDS = frozenset({"process", "train", "tune", "evaluate"})

METRICS_FILE = "evaluation.json"


@dataclasses.dataclass(frozen=True)
class Flag:
    """One ``--name value`` pair of a script's command line.

    role: ``input`` (a data directory), ``output`` (an empty directory to write),
    ``model_out`` (empty directory for the trained model), ``model_in`` (extracted model
    directory), ``metrics`` (directory for evaluation.json), ``checkpoints`` (a directory
    kept across spot interruptions) or ``param`` (a value).
    ref: the IR reference an input or ``model_in`` reads (``dataset.x``,
    ``step.s.outputs.o``); the output name for ``output``; None otherwise.
    value: the rendered text of a ``param``; None for directories.
    """

    name: str
    role: str
    ref: str | None = None
    value: str | None = None

    @property
    def is_path(self) -> bool:
        return self.role != "param"


def input_name(ref: str) -> str:
    """Default flag name of a data input: the dataset's name or the step output's name.

    ``dataset.transactions`` -> ``transactions``; ``step.split.outputs.val`` -> ``val``;
    ``step.validate.data`` (short form) -> ``data``. Never renamed by a target.
    """
    return ref.rsplit(".", 1)[-1]


def param_text(value: Any) -> str:
    """How a parameter value is written on the command line (the same on every cloud)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _inputs(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(flag name, ref) of the step's data inputs, in declared order."""
    kind = step["kind"]
    if kind in ("evaluate",):
        refs = [step["data"]]
        names = step.get("input_names") or [input_name(step["data"])]
    else:
        refs = list(step.get("inputs") or [])
        names = step.get("input_names") or [input_name(r) for r in refs]
    return list(zip(names, refs))


def script_flags(step: Mapping[str, Any], trial: Mapping[str, Any] | None = None) -> list[Flag]:
    """The flags of a script step's command line, in contract order.

    ``trial``: for a tune step, the sampled hyperparameter values of one trial.
    Raises ValueError when two flags would share a name (the checker reports that as a
    spec error before any target runs).
    """
    kind = step["kind"]
    if kind not in SCRIPT_KINDS:
        raise ValueError(f"step kind {kind!r} runs no user script")
    flags = [Flag(n, "input", ref=r) for n, r in _inputs(step)]
    if kind == "process":
        flags += [Flag(o, "output", ref=o) for o in step.get("outputs") or []]
    if kind in ("train", "tune"):
        flags.append(Flag("model", "model_out"))
        flags.append(Flag("metrics", "metrics"))
        if step.get("spot"):
            flags.append(Flag("checkpoints", "checkpoints"))
    if kind == "evaluate":
        flags.append(Flag("model", "model_in", ref=step["model"]))
        flags.append(Flag("metrics", "metrics"))
    params: dict[str, Any] = dict(step.get("args") or step.get("hyperparameters") or {})
    if trial:
        params.update(trial)
    flags += [Flag(k, "param", value=param_text(params[k])) for k in sorted(params)]
    seen: set[str] = set()
    for f in flags:
        if f.name in seen:
            raise ValueError(f"step {step.get('name')!r}: two command-line flags named --{f.name}")
        seen.add(f.name)
    return flags


def script_argv(step: Mapping[str, Any], paths: Mapping[str, str],
                trial: Mapping[str, Any] | None = None) -> list[str]:
    """The argument vector after the script path: ``paths`` maps each path flag's name to
    its local directory."""
    argv: list[str] = []
    for f in script_flags(step, trial):
        argv += [f"--{f.name}", paths[f.name] if f.is_path else (f.value or "")]
    return argv
