"""Prebuilt Vertex AI container images per framework, without importing the Vertex SDK.

Serving images come from google-cloud-aiplatform's own constants
(``google/cloud/aiplatform/constants/prediction.py``: ``*_CONTAINER_URIS`` and
``CONTAINER_URI_PATTERN``, the data behind ``aiplatform.helpers.get_prebuilt_prediction_container_uri``).
:func:`extract_serving_map` reads that *source file* with :mod:`ast` (no import) and builds the same
region -> framework -> accelerator -> version -> uri map the SDK builds; the result is committed as
``containers.json`` (regenerate with ``python -m mlspec.targets.vertex.containers``), and a test
proves the committed data equals what the installed SDK ships. Version selection follows the SDK's
``_get_closest_match_prebuilt_container_uri`` (exact, else the closest higher version).

Training images: the SDK has no constant list of prebuilt *training* containers, so the
``training`` section of ``containers.json`` is transcribed from Vertex's documentation
(https://cloud.google.com/vertex-ai/docs/training/pre-built-containers); a test checks that each
entry's framework/version also has an SDK serving container. A step's ``image`` always wins.

Never imports google.cloud.aiplatform; reads only its own package data at call time.
"""
from __future__ import annotations

import ast
import functools
import json
import re
from importlib import resources
from typing import Any

DOC = "https://cloud.google.com/vertex-ai/docs/predictions/pre-built-containers"
TRAINING_DOC = "https://cloud.google.com/vertex-ai/docs/training/pre-built-containers"
_LISTS = ("SKLEARN_CONTAINER_URIS", "TF_CONTAINER_URIS", "XGBOOST_CONTAINER_URIS", "PYTORCH_CONTAINER_URIS")
#: mlspec framework name -> the SDK's framework key (the SDK stores tf/tf2 as "tensorflow").
FRAMEWORK_KEYS = {"sklearn": "sklearn", "xgboost": "xgboost", "tensorflow": "tensorflow",
                  "pytorch": "pytorch", "huggingface": "pytorch"}


def _literal_strings(node: ast.AST) -> str:
    """Evaluate a string literal or implicit/explicit concatenation of literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_strings(node.left) + _literal_strings(node.right)
    raise ValueError(f"not a string literal: {ast.dump(node)[:80]}")


def extract_serving_map(source: str) -> dict[str, Any]:
    """Parse prediction.py's source; return {region: {framework: {accelerator: {version: uri}}}}."""
    tree = ast.parse(source)
    lists: dict[str, list[str]] = {}
    pattern = None
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name in _LISTS:
            lists[name] = [ast.literal_eval(e) for e in node.value.elts]
        elif name == "CONTAINER_URI_PATTERN" and isinstance(node.value, ast.Call):
            pattern = re.compile(_literal_strings(node.value.args[0]))
    if pattern is None or set(lists) != set(_LISTS):
        raise ValueError("prediction.py no longer has the expected constants")
    out: dict[str, Any] = {}
    for name in _LISTS:
        for uri in lists[name]:
            m = pattern.match(uri)
            region, framework, accelerator, version = m[1], m[2], m[3], m[4].replace("-", ".")
            if framework in ("tf", "tf2"):
                framework = "tensorflow"
            out.setdefault(region, {}).setdefault(framework, {}).setdefault(accelerator, {})[version] = uri
    return _sorted(out)


def _sorted(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _sorted(d[k]) for k in sorted(d)}
    return d


@functools.lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("containers.json").read_text(encoding="utf-8")
    return json.loads(text)


def _vkey(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def _closest(versions: dict[str, str], wanted: str | None) -> str | None:
    """Exact version, else the closest higher one (the SDK's rule), else None; None = newest."""
    if wanted is None:
        return versions[max(versions, key=_vkey)] if versions else None
    if wanted in versions:
        return versions[wanted]
    w = _vkey(wanted)
    higher = sorted((v for v in versions if _vkey(v) >= w), key=_vkey)
    return versions[higher[0]] if higher else None


def multi_region(region: str) -> str:
    """`us-central1` -> `us` (the SDK keys images by the Artifact Registry multi-region)."""
    head = region.split("-", 1)[0]
    return head if head in ("us", "europe", "asia") else "us"


def newest_serving_image(framework: str, region: str, gpu: bool = False) -> str | None:
    return serving_image(framework, None, region, gpu)  # type: ignore[arg-type]


def newest_training_image(framework: str, region: str, gpu: bool = False) -> str | None:
    return training_image(framework, None, region, gpu)  # type: ignore[arg-type]


def serving_image(framework: str, version: str, region: str, gpu: bool = False) -> str | None:
    key = FRAMEWORK_KEYS.get(framework)
    by_fw = data()["serving"].get(multi_region(region), {}).get(key or "", {})
    for acc in (("gpu", "cpu") if gpu else ("cpu",)):
        uri = _closest(by_fw.get(acc, {}), None if framework == "huggingface" else version)
        if uri:
            return uri
    return None


def training_image(framework: str, version: str, region: str, gpu: bool = False) -> str | None:
    key = FRAMEWORK_KEYS.get(framework)
    by_fw = data()["training"]["images"].get(key or "", {})
    for acc in (("gpu", "cpu") if gpu else ("cpu",)):
        tmpl = _closest(by_fw.get(acc, {}), None if framework == "huggingface" else version)
        if tmpl:
            return tmpl.replace("{multi_region}", multi_region(region))
    return None


def generate(prediction_source: str) -> dict[str, Any]:
    """The content of containers.json for a given prediction.py source."""
    current = data()
    return {"serving_source": "google-cloud-aiplatform: google/cloud/aiplatform/constants/prediction.py",
            "serving": extract_serving_map(prediction_source),
            "training": current["training"]}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import importlib.util
    import pathlib

    spec = importlib.util.find_spec("google.cloud.aiplatform")
    src = pathlib.Path(spec.submodule_search_locations[0], "constants", "prediction.py").read_text()
    out = pathlib.Path(__file__).with_name("containers.json")
    out.write_text(json.dumps(generate(src), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
