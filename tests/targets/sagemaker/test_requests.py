"""Every SageMaker API request a build makes, judged by botocore's service model, including the
constraints botocore's own validator skips (patterns, maximum lengths, list and map sizes):
the pipeline steps (CreateTrainingJob, CreateProcessingJob, CreateHyperParameterTuningJob,
CreateTransformJob, CreateModel, CreateModelPackage) of the maximal fixture and of every
example spec, and the instance-storage data the builder uses for VolumeKmsKeyId."""
from __future__ import annotations

import json
import os

import botocore.session
import pytest

from mlspec.compiler import api
from mlspec.targets.sagemaker import SageMaker, requests, storage
from mlspec.targets.sagemaker.lower import metadata_text

from . import fixtures as fx
from testkit import ROOT, SPECS


def definitions(irs):
    low = SageMaker().lower(irs, fx.CTX)
    assert not [d for d in low.diagnostics if "inference id" not in d.summary], low.diagnostics  # the join_on W505
    return {a.path: a.content for a in low.artifacts if a.kind == "sagemaker-pipeline"}


def test_the_validator_checks_what_botocore_skips():
    # the JSON-quoted hyperparameter of the old lineage metadata: a pattern botocore never checks
    md = {"hp:objective": json.dumps("reg:squarederror")}
    problems = requests.check_request("CreateModelPackage", {"ModelPackageGroupName": "g",
                                                             "CustomerMetadataProperties": md})
    assert any("does not match the pattern" in p for p in problems), problems
    too_many = {f"k{i}": "v" for i in range(51)}
    problems = requests.check_request("CreateModelPackage", {"ModelPackageGroupName": "g",
                                                             "CustomerMetadataProperties": too_many})
    assert any("51 entries, at most 50" in p for p in problems)
    long_value = {"k": "v" * 257}
    assert requests.check_request("CreateModelPackage", {"ModelPackageGroupName": "g",
                                                         "CustomerMetadataProperties": long_value})
    bad = requests.check_request("CreateTrainingJob", {
        "AlgorithmSpecification": {"TrainingInputMode": "Fil", "TrainingImage": "i"},
        "RoleArn": "not-an-arn", "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 0, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 0}, "Bogus": 1}, skip_required=("TrainingJobName",))
    text = "\n".join(bad)
    assert "`Fil` is not one of" in text and "RoleArn" in text and "below the minimum 1" in text
    assert "unknown member `Bogus`" in text


def test_every_step_request_of_the_fixture_is_accepted():
    for path, d in definitions(fx.environments()).items():
        assert requests.check_definition(d, path) == []


def test_lineage_metadata_fits_for_any_hyperparameters():
    """String, list, long and many hyperparameters: CreateModelPackage accepts the metadata."""
    irs = fx.environments()
    for ir in irs:
        train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
        train["hyperparameters"] = {"objective": "reg:squarederror", "layers": [64, 32], "note": "x" * 400,
                                    "quoted": 'a "b"', "flag": True, "empty": "",
                                    **{f"z{i:02d}": i for i in range(60)}}
    for path, d in definitions(irs).items():
        assert requests.check_definition(d, path) == []
        reg = [s for s in requests.steps(d) if s["Type"] == "RegisterModel"][0]["Arguments"]
        md = reg["CustomerMetadataProperties"]
        assert md["hp:objective"] == "reg:squarederror" and md["hp:flag"] == "true"
        assert md["hp:layers"].startswith("b32:") and md["hp:note"].startswith("sha256:")
        assert len(md) <= 50 and "mlspec:hp-sha256" in md and "hp:z00" in md and "hp:z59" not in md


def test_metadata_text_round_trips_what_it_can():
    assert metadata_text("été 2026") == "été 2026"
    assert metadata_text(0.25) == "0.25"
    import base64
    enc = metadata_text({"a": 1})
    assert json.loads(base64.b32decode(enc[4:])) == {"a": 1}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_step_request_of_every_example_is_accepted(spec, tmp_path):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = api.compile_spec(str(spec.relative_to(ROOT)), ["sagemaker"], out=tmp_path)
    finally:
        os.chdir(cwd)
    assert res.ok
    found = 0
    for p in sorted((tmp_path / "sagemaker" / "pipelines").rglob("*.json")):
        assert requests.check_definition(json.loads(p.read_text()), p.name) == []
        found += 1
    assert found


# ------------------------------------------------------------------------ instance storage (VolumeKmsKeyId)

#: instance types AWS documents with NVMe instance store (EC2 "Instance store volumes") and without
LOCAL = ["ml.m5d.large", "ml.g5.xlarge", "ml.g5.12xlarge", "ml.p4d.24xlarge", "ml.g4dn.xlarge", "ml.c5d.xlarge",
         "ml.p5.48xlarge", "ml.trn1.2xlarge", "ml.g6.xlarge", "ml.r5d.large"]
EBS_ONLY = ["ml.m5.large", "ml.m5.xlarge", "ml.r5.2xlarge", "ml.c5.xlarge", "ml.p3.2xlarge", "ml.inf2.xlarge",
            "ml.t3.medium"]


def test_instance_storage_table():
    for t in LOCAL:
        assert storage.has_local_storage(t), t
    for t in EBS_ONLY:
        assert not storage.has_local_storage(t), t


def test_instance_storage_data_is_regenerated_from_the_vendor_data():
    """The shipped file equals what botocore's instance-type enums and EC2's instance data give."""
    shipped = json.loads((ROOT / "targets" / "sagemaker" / "instance_storage.json").read_text())
    assert shipped == storage.generate()
    model = botocore.session.get_session().get_service_model("sagemaker")
    for enum in storage.ENUMS:  # every instance type SageMaker accepts is classified
        assert set(model.shape_for(enum).enum) <= set(shipped["local_storage"])


def test_gpu_jobs_omit_the_volume_key_and_the_deny_spares_them():
    irs = fx.environments()
    d = definitions(irs)["pipelines/prod/training.json"]
    train = [s for s in requests.steps(d) if s["Name"] == "Train"][0]["Arguments"]
    assert train["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"  # gpu.small: instance-store NVMe
    assert "VolumeKmsKeyId" not in train["ResourceConfig"] and train["OutputDataConfig"]["KmsKeyId"]
    tune = [s for s in requests.steps(d) if s["Name"] == "Tune"][0]["Arguments"]
    assert tune["TrainingJobDefinition"]["ResourceConfig"]["VolumeKmsKeyId"]  # ml.m5: EBS, keyed
    low = SageMaker().lower(irs, fx.CTX)
    pol = [st for a in low.artifacts if a.path.startswith("iam/prod/pipeline") for st in a.content["Statement"]]
    deny = next(s for s in pol if s["Sid"] == "DenyJobsWithoutVolumeKeySet")
    spared = deny["Condition"]["ForAllValues:StringNotEquals"]["sagemaker:InstanceTypes"]
    assert "ml.g4dn.xlarge" in spared and "ml.m5.xlarge" not in spared
