"""azure-ai-ml's own loaders judge a pipeline job YAML and every component it names.

    python -m mlspec.targets.azureml.run_validate <pipeline dir>

Prints nothing and exits 0 when ``load_job`` / ``load_component`` accept every file; otherwise
prints one line (what was rejected and the loader's message) and exits 1. `mlspec run --target
azureml` starts it as a separate process when a run begins, so importing azure-ai-ml (about a
second) overlaps with the first job; the run reports no step before the verdict is in.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path


def first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(t.strip() for t in text[:3])[:400] if text else type(exc).__name__


def validate(pipe_dir: Path) -> str:
    """'' when azure-ai-ml accepts the job and its components, else the reason."""
    import yaml

    logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.ERROR)  # experimental notices
    from azure.ai.ml import load_component, load_job

    try:
        load_job(pipe_dir / "pipeline.yml")
    except Exception as exc:  # the loader's own validation errors
        return f"azure-ai-ml rejects pipeline.yml: {first_line(exc)}"
    job = yaml.safe_load((pipe_dir / "pipeline.yml").read_text(encoding="utf-8"))
    for name, j in (job.get("jobs") or {}).items():
        comp = j.get("component") or j.get("trial")
        if isinstance(comp, str) and comp.startswith("./"):
            try:
                load_component(pipe_dir / comp)
            except Exception as exc:
                return f"azure-ai-ml rejects {comp} (job {name}): {first_line(exc)}"
    return ""


if __name__ == "__main__":
    reason = validate(Path(sys.argv[1]))
    if reason:
        print(reason)
    sys.exit(1 if reason else 0)
