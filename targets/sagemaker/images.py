"""Framework container image URIs per region, from sagemaker-core's image URI configuration.

Input: a framework name/version from the IR, a region and whether the job needs a GPU.
Output: an ECR image URI, or an :class:`ImageError` with a user-facing message.

The data is the JSON the SageMaker SDK itself uses (``sagemaker/core/image_uri_config/*.json``
of the ``sagemaker-core`` distribution), copied verbatim for the frameworks and tools mlspec uses
into ``images.json`` next to this module, so compiling needs no sagemaker-core (which pulls in
scipy, pandas and numpy). Regenerate it from the installed vendor package with
``python -m mlspec.targets.sagemaker.images`` (sagemaker-core is in the ``vendors`` and ``test``
extras); tests/targets/sagemaker/test_images_data.py fails when the copy is stale. The vendor
folder is located through ``importlib.metadata`` (the distribution's file list) or, failing that,
a scan of ``sys.path`` -- the ``sagemaker`` package is never imported (that costs seconds and
pulls in boto3).
https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html
"""
from __future__ import annotations

import functools
import json
import os
import sys

CONFIG_DIR = ("sagemaker", "core", "image_uri_config")

#: IR framework -> sagemaker-core config file (training scope)
FRAMEWORK_FILES = {"sklearn": "sklearn", "xgboost": "xgboost", "pytorch": "pytorch",
                   "tensorflow": "tensorflow", "huggingface": "huggingface"}
#: every sagemaker-core config file images.json carries (frameworks and SageMaker's own tools)
VENDOR_FILES = tuple(FRAMEWORK_FILES.values()) + ("model-monitor", "clarify")
DATA_FILE = "images.json"


class ImageError(Exception):
    """A framework/version/region the image configuration cannot serve (a user problem)."""


@functools.lru_cache(maxsize=1)
def config_dir() -> str | None:
    """The folder holding the installed sagemaker-core's image URI JSON files, or None (the
    generator's source; compiling reads the packaged copy)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("sagemaker-core")
        for f in dist.files or ():
            parts = tuple(str(f).replace("\\", "/").split("/"))
            if parts[:3] == CONFIG_DIR and parts[-1].endswith(".json"):
                return os.path.dirname(str(dist.locate_file(f)))
    except metadata.PackageNotFoundError:
        pass
    for entry in sys.path:
        cand = os.path.join(entry or ".", *CONFIG_DIR)
        if os.path.isfile(os.path.join(cand, "xgboost.json")):
            return cand
    return None


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE)
    if os.path.isfile(here):  # a plain install: no importlib.resources (and its zipfile import) needed
        with open(here, encoding="utf-8") as f:
            return json.load(f)
    from importlib import resources

    return json.loads(resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8"))


def load(name: str) -> dict:
    """One sagemaker-core image URI configuration (``xgboost``, ``clarify`` ...), from images.json."""
    configs = _data()["configs"]
    if name not in configs:
        raise ImageError(f"sagemaker-core has no image configuration `{name}`")
    return configs[name]


def generate() -> dict:
    """The content of images.json, read from the installed sagemaker-core."""
    folder = config_dir()
    if folder is None:
        raise ImageError("sagemaker-core is not installed; install it (pip install 'mlspec[vendors]') "
                         "to regenerate images.json")
    configs = {}
    for name in VENDOR_FILES:
        with open(os.path.join(folder, f"{name}.json"), encoding="utf-8") as f:
            configs[name] = json.load(f)
    from importlib import metadata

    return {"source": f"sagemaker-core {metadata.version('sagemaker-core')}: sagemaker/core/image_uri_config",
            "configs": configs}


def render(data: dict) -> str:
    """images.json text: the vendor's key order kept, one space indent, final newline."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _domain(region: str) -> str:
    if region.startswith("cn-"):
        return "amazonaws.com.cn"
    return "amazonaws.com"


def _version_key(v: str) -> tuple:
    out = []
    for part in v.replace("-", ".").split("."):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return tuple(out)


def _pick_version(scope: dict, wanted: str) -> str:
    versions = scope["versions"]
    aliases = scope.get("version_aliases", {})
    if wanted in versions:
        return wanted
    if wanted in aliases and aliases[wanted] in versions:
        return aliases[wanted]
    # "1.7" -> newest "1.7-1" / "1.7.x" release of that line
    cands = [v for v in versions if v.startswith(wanted + "-") or v.startswith(wanted + ".")]
    if cands:
        return max(cands, key=_version_key)
    raise ImageError(f"version `{wanted}` is not one SageMaker publishes; known: "
                     + ", ".join(sorted(list(versions) + list(aliases), key=_version_key)[-8:]))


def _registry(entry: dict, region: str, what: str) -> str:
    reg = entry.get("registries", {})
    if region not in reg:
        raise ImageError(f"{what} has no SageMaker image in region `{region}`")
    return f"{reg[region]}.dkr.ecr.{region}.{_domain(region)}/{entry['repository']}"


def _release(framework: str, version: str, scope: str) -> tuple[str, dict, list[str]]:
    """(full version, its image-config entry, its processors) of a framework release."""
    if framework not in FRAMEWORK_FILES:
        raise ImageError(f"framework `{framework}` has no SageMaker-managed image; give `image`")
    cfg = load(FRAMEWORK_FILES[framework])
    sc = cfg.get(scope) or cfg
    full = _pick_version(sc, version)
    entry = sc["versions"][full]
    return full, entry, sc.get("processors") or entry.get("processors") or ["cpu"]


@functools.lru_cache(maxsize=None)  # a pure function of its arguments and the data file; asked once per step
def framework_image(framework: str, version: str, region: str, gpu: bool,
                    scope: str = "training") -> str:
    """The SageMaker framework image for a training/processing job (or `inference`)."""
    full, entry, processors = _release(framework, version, scope)
    proc = "gpu" if gpu and "gpu" in processors else ("cpu" if "cpu" in processors else processors[0])
    what = f"{framework} {version}"
    if framework == "xgboost":
        return f"{_registry(entry, region, what)}:{full}"
    if framework == "huggingface":
        bases = sorted((k for k in entry if k not in ("version_aliases",) and isinstance(entry[k], dict)
                        and "registries" in entry[k]), key=_version_key)
        if not bases:
            raise ImageError(f"{what}: no base framework image")
        base = bases[-1]
        sub = entry[base]
        py = sub.get("py_versions", ["py3"])[-1]
        cv = (sub.get("container_version") or {}).get(proc)
        fw_name = "pytorch" if base.startswith("pytorch") else "tensorflow"
        base_ver = base[len(fw_name):]
        tag = "-".join(x for x in (f"{base_ver}-transformers{full}", proc, py, cv) if x)
        return f"{_registry(sub, region, what)}:{tag}"
    py = entry.get("py_versions", ["py3"])[-1]
    tag = "-".join(x for x in (full, proc, py) if x)
    return f"{_registry(entry, region, what)}:{tag}"


def has_gpu_image(framework: str, version: str, scope: str = "training") -> bool:
    """Whether the framework's image for `version` is published for GPUs (XGBoost's one image
    serves both; scikit-learn's is CPU-only)."""
    return framework == "xgboost" or "gpu" in _release(framework, version, scope)[2]


def tool_image(name: str, region: str) -> str:
    """Images of SageMaker's own tools: `model-monitor` (analyzer) and `clarify`."""
    cfg = load(name)
    if name == "clarify":
        entry = cfg["processing"]["versions"]["1.0"]
        return f"{_registry(entry, region, 'SageMaker Clarify')}:1.0"
    entry = cfg["versions"][""]
    return f"{_registry(entry, region, 'SageMaker Model Monitor')}:latest"


@functools.lru_cache(maxsize=None)
def processing_image(region: str) -> str:
    """The image that runs mlspec's own helper scripts (validation, gate values): scikit-learn."""
    sk = load("sklearn")["training"]
    newest = max((v for v in sk["versions"] if "py3" in sk["versions"][v].get("py_versions", [])),
                 key=_version_key)
    return framework_image("sklearn", newest, region, gpu=False)


def main() -> int:
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(render(generate()))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # python -m mlspec.targets.sagemaker.images
    raise SystemExit(main())
