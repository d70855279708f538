"""Reading and writing this example's tables, as mlspec's script contract hands them over.

An input directory holds the data as one or more files (csv with a header, parquet or
jsonl); `read_dir` reads all of them. Only the standard library is imported at module
level; pandas is imported where a table is read or written.
"""
from __future__ import annotations

import json
import os

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


def files_in(directory: str) -> list[str]:
    """Data files under `directory`, sorted; hidden and `_`-prefixed entries are bookkeeping."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(names):
            if not name.startswith((".", "_")) and os.path.splitext(name)[1] in SUFFIXES:
                found.append(os.path.join(root, name))
    return found


def read_dir(directory: str):
    """Every data file under `directory` as one DataFrame."""
    import pandas as pd

    readers = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda f: pd.read_json(f, lines=True)}
    parts = [readers[SUFFIXES[os.path.splitext(f)[1]]](f) for f in files_in(directory)]
    if not parts:
        raise SystemExit(f"{directory}: no csv, parquet or jsonl files")
    return pd.concat(parts, ignore_index=True)


def write_parquet(df, directory: str, name: str) -> str:
    """One parquet part in `directory` (the spec declares `output_format = parquet`)."""
    path = os.path.join(directory, f"{name}.parquet")
    df.to_parquet(path, index=False)
    return path


def write_metrics(directory: str, values: dict[str, float]) -> str:
    """`<directory>/evaluation.json` in the contract's shape; mlspec reports it to the cloud."""
    path = os.path.join(directory, "evaluation.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"metrics": {k: {"value": round(float(v), 6)} for k, v in sorted(values.items())}}, f, indent=2)
    return path
