"""containers.json's serving map is exactly what the installed google-cloud-aiplatform ships."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from mlspec.targets.vertex import containers


def _prediction_source() -> str:
    spec = importlib.util.find_spec("google.cloud.aiplatform")
    return Path(spec.submodule_search_locations[0], "constants", "prediction.py").read_text(encoding="utf-8")


def test_committed_data_matches_installed_sdk_source():
    assert containers.generate(_prediction_source()) == containers.data()


def test_matches_sdk_runtime_map():
    from google.cloud.aiplatform.constants import prediction

    sdk = {r: {f: {a: dict(v) for a, v in fa.items()} for f, fa in rf.items()}
           for r, rf in prediction._SERVING_CONTAINER_URI_MAP.items()}
    assert sdk == containers.data()["serving"]


def test_selection_follows_sdk_closest_match():
    from google.cloud.aiplatform.helpers import container_uri_builders as b

    for fw, ver, region in [("xgboost", "1.7", "us-central1"), ("sklearn", "1.1", "europe-west4"),
                            ("pytorch", "2.0", "asia-east1"), ("tensorflow", "2.12", "us-east1")]:
        want = b._get_closest_match_prebuilt_container_uri(fw, ver, region=region)
        assert containers.serving_image(fw, ver, region) == want


def test_training_entries_have_a_serving_counterpart():
    serving = containers.data()["serving"]["us"]
    for fw, by_acc in containers.data()["training"]["images"].items():
        for acc, versions in by_acc.items():
            assert fw in serving and acc in serving[fw], (fw, acc)
            for uri in versions.values():
                assert uri.startswith("{multi_region}-docker.pkg.dev/vertex-ai/training/")


def test_unknown_version_is_none():
    assert containers.serving_image("xgboost", "99.0", "us-central1") is None
    assert containers.training_image("nonexistent", "1", "us-central1") is None
