"""A SageMaker Clarify DataBias (pre-training bias) job run locally with `smclarify`.

`smclarify` is the open-source library behind SageMaker Clarify's bias metrics. This module is
the part of the Clarify processing container that a local run can honestly reproduce: it reads
the job's `analysis_config.json` exactly as the generated pipeline passes it, loads the dataset
the way Clarify does for the config's `dataset_type`, computes the `pre_training_bias` methods
for every facet with smclarify, and writes `analysis.json` in Clarify's layout:

    {"version": "1.0",
     "pre_training_bias_metrics": {"label": ..., "label_value_or_threshold": ...,
                                   "facets": {"<facet>": [{"value_or_threshold": ...,
                                                           "metrics": [{"name", "description", "value"}]}]}}}

What needs the model (post-training bias, SHAP: Clarify queries a shadow endpoint) is refused
with `Unsupported`; a config Clarify would reject raises `ConfigError` with the reason.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATASET_TYPES = ("text/csv", "application/x-parquet")


class ConfigError(Exception):
    """The analysis config or the data is something the Clarify job would fail on."""


class Unsupported(Exception):
    """The analysis needs what only SageMaker has (a shadow endpoint of the model)."""


def read_config(config_dir: Path) -> dict:
    files = sorted(p for p in config_dir.rglob("*") if p.is_file())
    if len(files) != 1 or files[0].name != "analysis_config.json":
        raise ConfigError("the `analysis_config` input must hold exactly one analysis_config.json, found "
                          + (", ".join(p.name for p in files) or "nothing"))
    try:
        cfg = json.loads(files[0].read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"analysis_config.json is not JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ConfigError("analysis_config.json must be a JSON object")
    return cfg


def load_dataset(cfg: dict, data_dir: Path):
    """Every file under the dataset input, as Clarify reads the config's `dataset_type`."""
    import pandas as pd

    kind = cfg.get("dataset_type")
    if kind not in DATASET_TYPES:
        raise Unsupported(f"dataset_type {kind!r} (the local engine reads {', '.join(DATASET_TYPES)})")
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ConfigError("the dataset input is empty")
    headers = cfg.get("headers")
    frames = []
    for f in files:
        if kind == "text/csv":
            if headers:
                df = pd.read_csv(f, header=None)
                if [str(v) for v in df.iloc[0].tolist()] == [str(h) for h in headers]:
                    raise ConfigError(f"{f.name} starts with a header row, and the analysis config also lists "
                                      "`headers`: Clarify would read that row as data")
            else:
                df = pd.read_csv(f)  # column names from the file's header row
        else:
            df = pd.read_parquet(f)
        if headers:
            if len(headers) != df.shape[1]:
                raise ConfigError(f"{f.name} has {df.shape[1]} columns, and the analysis config lists "
                                  f"{len(headers)} headers")
            df.columns = list(headers)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    # smclarify predates pandas' string dtype: hand it text columns as Python objects, as the
    # Clarify container's own pandas reads them
    return df.astype({c: object for c in df.columns if pd.api.types.is_string_dtype(df[c]) and df[c].dtype != object})


def _column(df, ref: Any, what: str) -> str:
    if isinstance(ref, int) and not isinstance(ref, bool):
        if not 0 <= ref < df.shape[1]:
            raise ConfigError(f"{what} index {ref} is outside the dataset's {df.shape[1]} columns")
        return df.columns[ref]
    if ref not in df.columns:
        raise ConfigError(f"{what} `{ref}` is not a column of the dataset (columns: {', '.join(map(str, df.columns))})")
    return ref


def analyze(cfg: dict, data_dir: Path, out_dir: Path) -> dict:
    """Run the config's pre-training bias analysis; writes and returns analysis.json."""
    from smclarify.bias.report import FacetColumn, LabelColumn, StageType, bias_report

    methods = cfg.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise ConfigError("analysis_config.json has no `methods`")
    needs_model = sorted(set(methods) & {"post_training_bias", "shap", "pdp"})
    if needs_model:
        raise Unsupported(f"{', '.join(needs_model)}: Clarify queries a shadow endpoint of the model")
    wanted = (methods.get("pre_training_bias") or {}).get("methods")
    if not wanted:
        raise ConfigError("methods.pre_training_bias.methods is empty")
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    if cfg.get("label") is None:
        raise ConfigError("bias metrics need `label`")
    facets = cfg.get("facet") or []
    if not facets:
        raise ConfigError("bias metrics need at least one `facet`")
    df = load_dataset(cfg, data_dir)
    label = _column(df, cfg["label"], "label")
    positive = cfg.get("label_values_or_threshold")
    group = cfg.get("group_variable")
    group_series = df[_column(df, group, "group_variable")] if group is not None else None
    report: dict[str, list] = {}
    for facet in facets:
        name = _column(df, facet.get("name_or_index"), "facet")
        values = facet.get("value_or_threshold")
        report[str(name)] = bias_report(
            df, FacetColumn(name, values), LabelColumn(label, df[label], positive),
            StageType.PRE_TRAINING, metrics=wanted, group_variable=group_series)
    doc = {"version": "1.0", "pre_training_bias_metrics": {
        "label": str(label), "facets": report,
        "label_value_or_threshold": ",".join(map(str, positive)) if isinstance(positive, list) else str(positive)}}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "analysis.json").write_text(json.dumps(doc, indent=2, default=_json_default), encoding="utf-8")
    return doc


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def max_abs(doc: dict, metric: str) -> tuple[float, int]:
    """(largest |value|, count) of a metric over every facet value: what the run reports."""
    vals = [abs(m["value"]) for facet in (doc.get("pre_training_bias_metrics") or {}).get("facets", {}).values()
            for entry in facet for m in entry.get("metrics") or []
            if m.get("name") == metric and isinstance(m.get("value"), (int, float))]
    return (max(vals) if vals else 0.0), len(vals)
