"""Test helpers: lower an IR with the Vertex target and write the artifacts the way the writer does
(JSON indent 2 + final newline, YAML block style in insertion order, text as UTF-8), plus the
scripts the front end would copy into DIR/vertex/code/."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml

from mlspec.targets.base import LowerContext, Lowering
from mlspec.targets.vertex import Vertex

CTX = LowerContext(spec_path="specs/fraud_detection.mlspec", spec_sha256="ab" * 32, project_root_rel="../..",
                   compiler_version="0.1.0")


def lower(irs: list[dict]) -> Lowering:
    return Vertex().lower(irs, CTX)


def serialise(art) -> bytes:
    if art.fmt == "json":
        return (json.dumps(art.content, indent=2, ensure_ascii=False) + "\n").encode()
    if art.fmt == "yaml":
        return yaml.safe_dump(art.content, sort_keys=False, default_flow_style=False, allow_unicode=True).encode()
    return art.content.encode() if isinstance(art.content, str) else art.content


def write(low: Lowering, irs: list[dict], root: Path) -> Path:
    out = root / "vertex"
    for art in low.artifacts:
        p = out / art.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(serialise(art))
    # the writer's manifest carries the compiler version the program turns into the mlspec-version label
    (out / "manifest.json").write_text(json.dumps({"schema_version": "1", "compiler_version": CTX.compiler_version,
                                                   "target": "vertex", "artifacts": []}))
    for f in (irs[0].get("code") or {}).get("files") or []:
        p = out / "code" / f["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("print('user script')\n")
    return out


OVERRIDES = {"calls": {"gcp:secretmanager/getSecretVersion:getSecretVersion": {
    "secretData": "mock-secret-value", "name": "projects/p/secrets/s/versions/1", "version": "1", "id": "s"}}}


@functools.lru_cache(maxsize=None)
def run_env(build: str, env: str) -> dict:
    from mlspec.compiler.plan.harness import run_program

    return run_program(Path(build) / "pulumi", stack=env, overrides=OVERRIDES)
