"""Shared by the probe scripts: what a script received, in a cloud-neutral record.

A record holds the command line (flag names in order; every value that names a file or a
directory replaced by the sorted listing of what is there, hidden files included, so a
cloud that adds files to a data or model directory shows), the model directory's contents
and the metrics a script read. The probe's own `record_*.json` files are left out of
listings: they are the probe's bookkeeping, written into an output directory because that
is the only place a script may write.
"""
import json
import os
import sys

RECORD_PREFIX = "record_"


def listing(path):
    """Relative file names under a directory (sorted), or the file name for a file."""
    if not os.path.exists(path):
        return "<missing>"
    if os.path.isfile(path):
        return [os.path.basename(path)]
    out = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            if not (f.startswith(RECORD_PREFIX) and f.endswith(".json")):
                out.append(os.path.relpath(os.path.join(root, f), path).replace(os.sep, "/"))
    return sorted(out)


def parse(argv):
    """--name value pairs, in order (values kept as given)."""
    pairs = []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--") and i + 1 < len(argv):
            pairs.append((argv[i][2:], argv[i + 1]))
            i += 2
        else:
            pairs.append((None, argv[i]))
            i += 1
    return pairs


def record(step, out_dir, **extra):
    """Write record_<step>.json into out_dir: argv with every path replaced by its listing."""
    argv = []
    for name, value in parse(sys.argv[1:]):
        shown = {"listing": listing(value)} if (os.path.isabs(value) or os.path.exists(value)) else value
        argv.append([name, shown])
    doc = {"step": step, "argv": argv, "cwd_has_helper": os.path.exists("_record.py") or os.path.exists(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "_record.py")), **extra}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{RECORD_PREFIX}{step}.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
    return doc


def flags(argv=None):
    return {n: v for n, v in parse(sys.argv[1:] if argv is None else argv) if n}


def read_rows(directory):
    """Every csv file under `directory` (with a header), in path order."""
    import csv

    rows = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".csv"):
                with open(os.path.join(root, name), newline="", encoding="utf-8") as fh:
                    rows += list(csv.DictReader(fh))
    return rows


def write_metrics(directory, metrics):
    """The contract's metrics file: <dir>/evaluation.json."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "evaluation.json"), "w", encoding="utf-8") as fh:
        json.dump({"metrics": {k: {"value": v} for k, v in metrics.items()}}, fh, sort_keys=True)
