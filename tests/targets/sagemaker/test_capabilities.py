"""Capability verdicts, naming rules and image URIs of the SageMaker target."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mlspec.compiler.features import FEATURES
from mlspec.targets.base import NATIVE, EMULATED, UNSUPPORTED
from mlspec.targets.sagemaker import images, naming
from mlspec.targets.sagemaker.capabilities import CAPABILITIES


def test_every_feature_has_a_verdict_with_a_doc():
    assert set(CAPABILITIES) == set(FEATURES)
    for feature, v in CAPABILITIES.items():
        assert v.level in (NATIVE, EMULATED, UNSUPPORTED), feature
        assert v.doc.startswith("https://"), feature
        assert v.note or v.alternatives, feature
        if v.level == UNSUPPORTED:
            assert v.alternatives, feature


def test_naming_rules():
    long = "x" * 80
    assert naming.SAGEMAKER_NAME.match(naming.sm_name("fraud_detection", "prod", long))
    assert len(naming.sm_name(long)) == 63
    assert naming.sm_name(long) == naming.sm_name(long)
    assert naming.step_name("input_drift", "check") == "InputDriftCheck"
    assert naming.STEP_NAME.match(naming.step_name(long, long))
    assert len(naming.bucket_prefix("fraud_detection", "production", "monitoring-reports")) <= 33


@pytest.mark.parametrize("cron,aws", [
    ("0 3 * * MON", "cron(0 3 ? * MON *)"),
    ("*/15 * * * *", "cron(*/15 * * * ? *)"),
    ("0 0 1 * *", "cron(0 0 1 * ? *)"),
    ("30 2 * * 1-5", "cron(30 2 ? * 2-6 *)"),
    ("0 6 * * 0", "cron(0 6 ? * 1 *)"),
])
def test_cron_to_aws(cron, aws):
    assert naming.cron_to_aws(cron) == aws


def test_images_come_from_sagemaker_core_config():
    assert images.config_dir() is not None
    uri = images.framework_image("xgboost", "1.7", "us-east-1", gpu=False)
    assert uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert images.framework_image("xgboost", "1.7", "eu-west-1", gpu=False).startswith("141502667606.dkr.ecr.eu-west-1")
    assert ":2.3.0-gpu-py311" in images.framework_image("pytorch", "2.3", "us-east-1", gpu=True)
    assert images.tool_image("model-monitor", "us-east-1").endswith("sagemaker-model-monitor-analyzer:latest")
    with pytest.raises(images.ImageError, match="not one SageMaker publishes"):
        images.framework_image("xgboost", "0.1", "us-east-1", gpu=False)
    with pytest.raises(images.ImageError, match="region"):
        images.framework_image("xgboost", "1.7", "mars-north-1", gpu=False)


def test_images_do_not_import_the_sagemaker_sdk():
    code = ("import sys; from mlspec.targets.sagemaker import images; "
            "images.framework_image('sklearn', '1.2', 'us-east-1', False); "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('sagemaker', 'boto3', 'botocore', 'pulumi', 'pulumi_aws')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docs_are_generated_from_the_capability_table():
    from pathlib import Path

    from mlspec.targets.sagemaker import docgen

    doc = Path(__file__).resolve().parents[3] / "docs" / "targets" / "sagemaker.md"
    assert doc.read_text(encoding="utf-8") == docgen.render(), \
        "stale: python -m mlspec.targets.sagemaker.docgen > docs/targets/sagemaker.md"
    for feature in FEATURES:
        assert docgen.RESOURCES.get(feature), feature
