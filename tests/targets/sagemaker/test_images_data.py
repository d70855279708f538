"""targets/sagemaker/images.json is sagemaker-core's own image URI configuration, copied verbatim:
regenerated here from the installed vendor package (sagemaker-core is in the test extra), the
committed file must match byte for byte. Stale? run `python -m mlspec.targets.sagemaker.images`."""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from mlspec.targets.sagemaker import images

DATA = Path(images.__file__).with_name(images.DATA_FILE)


def test_images_json_is_current_with_the_installed_sagemaker_core():
    metadata.distribution("sagemaker-core")  # part of the test extra: its absence is a failure
    assert images.config_dir() is not None
    assert DATA.read_text(encoding="utf-8") == images.render(images.generate()), \
        "run: python -m mlspec.targets.sagemaker.images"


def test_images_json_holds_the_vendor_files_unchanged():
    data = json.loads(DATA.read_text(encoding="utf-8"))
    assert list(data["configs"]) == list(images.VENDOR_FILES)
    for name in images.VENDOR_FILES:
        vendor = Path(images.config_dir(), f"{name}.json").read_text(encoding="utf-8")
        assert data["configs"][name] == json.loads(vendor)


def test_compile_reads_the_packaged_copy_not_the_vendor_package(monkeypatch):
    images._data.cache_clear()
    images.config_dir.cache_clear()
    images.framework_image.cache_clear()  # results are cached per arguments: read the data again
    monkeypatch.setattr(images, "config_dir", lambda: None)  # as in a compile-only install
    try:
        uri = images.framework_image("xgboost", "1.7", "eu-west-1", gpu=False)
    finally:
        images._data.cache_clear()
        images.framework_image.cache_clear()
    assert uri.startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-")
