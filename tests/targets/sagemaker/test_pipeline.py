"""Pipeline definitions: botocore request shapes per step, graph checks, gates, security."""
from __future__ import annotations

import datetime
import json
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from mlspec.targets.sagemaker import SageMaker, storage

from . import fixtures as fx

SM = botocore.session.get_session().get_service_model("sagemaker")
STEP_OPS = {"Training": "CreateTrainingJob", "Processing": "CreateProcessingJob", "ClarifyCheck": "CreateProcessingJob",
            "QualityCheck": "CreateProcessingJob",
            "Tuning": "CreateHyperParameterTuningJob", "Transform": "CreateTransformJob", "Model": "CreateModel",
            "RegisterModel": "CreateModelPackage"}
GENERATED = {"TrainingJobName", "ProcessingJobName", "HyperParameterTuningJobName", "TransformJobName", "ModelName"}
EXPR = {"Get", "Std:Join", "Std:JsonGet"}


@pytest.fixture(scope="module")
def lowering():
    return SageMaker().lower(fx.environments(), fx.CTX)


def definitions(lowering):
    return {a.path: a.content for a in lowering.artifacts if a.kind == "sagemaker-pipeline"}


def all_steps(steps):
    for s in steps:
        yield s
        if s["Type"] == "Condition":
            yield from all_steps(s["Arguments"]["IfSteps"])
            yield from all_steps(s["Arguments"]["ElseSteps"])


def placeholder(shape):
    t = shape.type_name
    lo = int(shape.metadata.get("min", 1) or 1)
    return {"string": "x" * lo, "integer": lo, "long": lo, "float": 1.0, "double": 1.0, "boolean": True,
            "timestamp": datetime.datetime(2020, 1, 1), "list": [], "map": {}, "structure": {}}.get(t, "x")


def concrete(value, shape):
    """Replace pipeline expressions with a value of the type the API expects there."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPR:
        return placeholder(shape)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: concrete(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [concrete(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: concrete(v, shape.value) for k, v in value.items()}
    return value


def enum_errors(value, shape, path):
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPR:
        return []
    out = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                out += enum_errors(v, shape.members[k], f"{path}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            out += enum_errors(v, shape.member, f"{path}[{i}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            out.append(f"{path}: longer than {shape.metadata['max']}")
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} not in enum")
        if "pattern" in shape.metadata:
            try:
                if not re.fullmatch(shape.metadata["pattern"], value):
                    out.append(f"{path}: {value!r} does not match {shape.metadata['pattern']}")
            except re.error:
                pass
    return out


def test_every_step_matches_the_sagemaker_api(lowering):
    defs = definitions(lowering)
    assert set(defs) == {"pipelines/dev/training.json", "pipelines/prod/training.json"}
    for path, d in defs.items():
        assert d["Version"] == "2020-12-01"
        for s in all_steps(d["Steps"]):
            if s["Type"] not in STEP_OPS:
                continue
            shape = SM.operation_model(STEP_OPS[s["Type"]]).input_shape
            args = concrete(s["Arguments"], shape)
            for m in GENERATED & set(shape.required_members):
                args.setdefault(m, "generated")
            report = ParamValidator().validate(args, shape)
            assert not report.has_errors(), f"{path} {s['Name']}: {report.generate_report()}"
            assert not enum_errors(s["Arguments"], shape, s["Name"])


def test_graph_names_references_and_no_cycles(lowering):
    for d in definitions(lowering).values():
        params = {p["Name"]: p for p in d["Parameters"]}
        steps = {s["Name"]: s for s in all_steps(d["Steps"])}
        assert len(steps) == len(list(all_steps(d["Steps"])))
        for name, s in steps.items():
            assert re.fullmatch(r"[A-Za-z0-9\-_]{1,64}", name)
            text = json.dumps(s)
            for ref in re.findall(r'"Get": "([^"]+)"', text):
                root, _, rest = ref.partition(".")
                if root == "Parameters":
                    assert rest in params, (name, ref)
                elif root == "Steps":
                    assert rest.split(".")[0] in steps, (name, ref)
                else:
                    assert root == "Execution"
            for dep in s.get("DependsOn", []):
                assert dep in steps
        for p in params.values():
            assert isinstance(p["DefaultValue"], str)


def test_security_of_every_job_step(lowering):
    """MLS-AWS-068: VPC, isolation, transit encryption, KMS on volumes and outputs."""
    for d in definitions(lowering).values():
        for s in all_steps(d["Steps"]):
            a = s["Arguments"]
            if s["Type"] in ("Processing", "ClarifyCheck", "QualityCheck"):
                net = a["NetworkConfig"]
                assert net["EnableInterContainerTrafficEncryption"] is True
                # only Clarify jobs that query a shadow endpoint (SHAP, post-training bias) are
                # not isolated; a DATA_BIAS check reads only its data
                endpoint = s["Type"] == "ClarifyCheck" and s["CheckType"] != "DATA_BIAS"
                assert net["EnableNetworkIsolation"] is (not endpoint)
                assert net["VpcConfig"]["Subnets"] and net["VpcConfig"]["SecurityGroupIds"]
                cluster = a["ProcessingResources"]["ClusterConfig"]
                if storage.has_local_storage(cluster["InstanceType"]):  # NVMe: the API refuses a volume key
                    assert "VolumeKmsKeyId" not in cluster
                else:
                    assert cluster["VolumeKmsKeyId"] == {"Get": "Parameters.KmsKeyId"}
                assert a["ProcessingOutputConfig"]["KmsKeyId"] == {"Get": "Parameters.KmsKeyId"}
            if s["Type"] in ("Training", "Tuning"):
                t = a if s["Type"] == "Training" else a["TrainingJobDefinition"]
                assert t["EnableNetworkIsolation"] is True and t["EnableInterContainerTrafficEncryption"] is True
                assert t["VpcConfig"]["Subnets"]
                assert t["OutputDataConfig"]["KmsKeyId"]
                local = storage.has_local_storage(t["ResourceConfig"]["InstanceType"])
                assert ("VolumeKmsKeyId" in t["ResourceConfig"]) is not local
            if s["Type"] == "Model":
                assert a["EnableNetworkIsolation"] is True and a["VpcConfig"]["Subnets"]
            if s["Type"] == "Transform":
                local = storage.has_local_storage(a["TransformResources"]["InstanceType"])
                assert a["TransformOutput"]["KmsKeyId"] and ("VolumeKmsKeyId" in a["TransformResources"]) is not local
            for v in (a.get("Environment") or {}).values():
                assert "secret" not in str(v).lower()


def test_gates_conditions_fail_steps_and_champion(lowering):
    d = definitions(lowering)["pipelines/prod/training.json"]
    steps = {s["Name"]: s for s in all_steps(d["Steps"])}
    gate = steps["GateQuality"]
    conds = gate["Arguments"]["Conditions"]
    assert [c["Type"] for c in conds] == ["GreaterThanOrEqualTo", "GreaterThanOrEqualTo", "Not"]
    assert conds[0]["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.f1.value" and conds[0]["RightValue"] == 0.95
    assert conds[1]["RightValue"]["Std:JsonGet"]["Path"] == "clauses.c1.right"
    fail = gate["Arguments"]["ElseSteps"][0]
    assert fail["Type"] == "Fail" and "gate `quality` failed" in fail["Arguments"]["ErrorMessage"]
    # the register step only runs when the gate holds, and then only within the bias limit
    assert [s["Name"] for s in gate["Arguments"]["IfSteps"]] == ["FairnessCheck"]
    assert "Register" in [s["Name"] for s in steps["FairnessCheck"]["Arguments"]["IfSteps"]]
    # the champion is really read: the gate-values step mounts the champion record
    values = steps["GateQualityValues"]
    champ = [i for i in values["Arguments"]["ProcessingInputs"] if i["InputName"] == "champion"][0]
    assert "champion" in json.dumps(champ["S3Input"]["S3Uri"])
    assert values["PropertyFiles"][0]["FilePath"] == "values.json"
    # bias limit check
    assert steps["FairnessCheck"]["Arguments"]["Conditions"][0]["RightValue"] == 0.1
    # DPL is a pre-training metric: Clarify's DataBias check (no model, no shadow endpoint)
    assert steps["Fairness"]["Type"] == "ClarifyCheck" and steps["Fairness"]["CheckType"] == "DATA_BIAS"
    assert "ModelName" not in steps["Fairness"]
    assert steps["Explain"]["CheckType"] == "MODEL_EXPLAINABILITY" and "ModelName" in steps["Explain"]


def test_clarify_analysis_configs_read_the_declared_data_format(lowering):
    """Clarify reads the prepared output in its declared format (item 10): column names come
    from the data (csv header row, parquet schema), the positive label from the model."""
    files = {a.path.rsplit("/", 2)[-2]: a.content for a in lowering.artifacts
             if a.path.startswith("config/prod/") and a.path.endswith("/analysis_config.json")}
    bias = files["fairness"]
    assert bias["dataset_type"] == "application/x-parquet"  # prepare's `test` output is parquet
    assert "headers" not in bias and bias["label"] == "is_fraud"
    assert bias["label_values_or_threshold"] == [1] and bias["facet"] == [{"name_or_index": "country"}]
    assert bias["methods"] == {"pre_training_bias": {"methods": ["DPL"]}} and "predictor" not in bias
    shap = files["explain"]
    assert shap["dataset_type"] == "application/x-parquet" and shap["predictor"]["instance_type"]
    # the registered package files the DPL report as the pre-training report
    reg = [s for s in all_steps(definitions(lowering)["pipelines/prod/training.json"]["Steps"])
           if s["Type"] == "RegisterModel"][0]["Arguments"]
    assert set(reg["ModelMetrics"]["Bias"]) == {"PreTrainingReport"}


def test_clarify_refuses_data_it_cannot_read():
    ir = fx.maximal_ir()
    prep = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "prepare")
    prep["output_formats"] = {"train": "csv", "test": "jsonl"}
    low = SageMaker().lower([ir], fx.CTX)
    assert {(d.code, d.ir_id) for d in low.diagnostics} >= {("E505", "step.fairness"), ("E505", "step.explain")}
    assert "output_format = parquet" in low.diagnostics[0].hint


def test_drift_baseline_refuses_data_it_cannot_read():
    """No honest baseline without a readable training input: E505 names the monitor."""
    ir = fx.maximal_ir()
    prep = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "prepare")
    prep["output_formats"] = {"train": "tfrecord", "test": "parquet"}
    low = SageMaker().lower([ir], fx.CTX)
    drift = [d for d in low.diagnostics if d.ir_id == "monitor.data_drift"]
    assert [d.code for d in drift] == ["E505"] and "tfrecord" in drift[0].summary
    assert "output_format" in drift[0].hint


def test_register_approval_and_lineage(lowering):
    prod = definitions(lowering)["pipelines/prod/training.json"]
    dev = definitions(lowering)["pipelines/dev/training.json"]
    # the status is a literal: a pipeline parameter could be overridden by whoever starts a run
    assert "ModelApprovalStatus" not in {p["Name"] for p in prod["Parameters"] + dev["Parameters"]}
    reg = [s for s in all_steps(prod["Steps"]) if s["Type"] == "RegisterModel"][0]["Arguments"]
    assert reg["ModelApprovalStatus"] == "PendingManualApproval"
    assert [s for s in all_steps(dev["Steps"]) if s["Type"] == "RegisterModel"][0]["Arguments"][
        "ModelApprovalStatus"] == "Approved"
    md = reg["CustomerMetadataProperties"]
    assert md["mlspec:spec-sha256"] == "ab" * 32 and md["mlspec:code-sha256"] == "cd" * 32
    assert md["data:transactions"] == "2026-11-01" and md["hp:max_depth"] == "6"
    assert "ModelQuality" in reg["ModelMetrics"] and "Bias" in reg["ModelMetrics"]
    assert prod["PipelineExperimentConfig"]["TrialName"] == {"Get": "Execution.PipelineExecutionId"}


def test_monitor_baseline_step(lowering):
    d = definitions(lowering)["pipelines/prod/training.json"]
    steps = {s["Name"]: s for s in all_steps(d["Steps"])}
    b = steps["DataDriftBaseline"]
    assert b["Type"] == "QualityCheck" and b["CheckType"] == "DATA_QUALITY"
    assert "baselines" in json.dumps(b["Arguments"]["ProcessingOutputConfig"])
    # issue 12 item 10: the baseline is what the endpoint receives -- the served model's training
    # input (prepare's `train` output, csv) without the label -- never the raw dataset read as csv
    feats = steps["DataDriftFeatures"]["Arguments"]
    data = next(i for i in feats["ProcessingInputs"] if i["InputName"] == "data")["S3Input"]["S3Uri"]
    assert data == {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    assert feats["AppSpecification"]["ContainerArguments"] == ["--format", "csv", "--label", "is_fraud",
                                                              "--drop", "transaction_id"]  # role = id
    src = b["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert src == {"Get": "Steps.DataDriftFeatures.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri"}
    assert json.loads(b["Arguments"]["Environment"]["dataset_format"]) == {"csv": {"header": True}}
    cons = next(a.content for a in lowering.artifacts if a.kind == "monitor-constraints")
    assert cons["binary_classification_constraints"]["f1"] == {"threshold": 0.9,
                                                               "comparison_operator": "LessThanThreshold"}


def test_bias_monitor_config_is_written_from_what_the_endpoint_receives(lowering):
    """Issue 12 item 10 (bias_drift): the monitor's analysis config is not the baseline
    dataset's raw columns: the training pipeline's baseline_features step reads the served
    model's training input and writes the config (headers = those columns, then the label)
    where the ModelBias job definition's ConfigUri points."""
    d = definitions(lowering)["pipelines/prod/training.json"]
    steps = {s["Name"]: s for s in all_steps(d["Steps"])}
    feats = steps["BiasDriftFeatures"]["Arguments"]
    ins = {i["InputName"]: i["S3Input"] for i in feats["ProcessingInputs"]}
    assert ins["data"]["S3Uri"] == {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    assert feats["AppSpecification"]["ContainerArguments"] == [
        "--format", "csv", "--label", "is_fraud", "--drop", "transaction_id",
        "--bias-config", "/opt/ml/processing/input/config/spec.json"]
    out = feats["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in out] == ["analysis_config"]
    assert out[0]["S3Output"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [
        "s3:/", {"Get": "Parameters.MonitoringBucket"}, "baselines", "bias-drift"]}}
    assert out[0]["S3Output"]["LocalPath"] == "/opt/ml/processing/output/analysis_config"
    spec = next(a.content for a in lowering.artifacts
                if a.path == "config/prod/fraud-detection-prod-training/monitor-bias_drift-bias/spec.json")
    assert spec == {"label": "is_fraud", "label_values_or_threshold": [1], "facet": [{"name_or_index": "country"}],
                    "methods": {"post_training_bias": {"methods": ["DPPL"]}}}  # headers come from the data
    assert not [a for a in lowering.artifacts if a.path.startswith("config/prod/monitors/bias")]
    stack = next(a.content for a in lowering.artifacts if a.path == "pulumi/stacks/prod.json")
    m = next(x for x in stack["monitors"] if x["kind"] == "bias_drift")
    assert (m["config_bucket"], m["config_key"]) == ("monitoring", "baselines/bias-drift/analysis_config.json")
    # the endpoint returns the probability in column 0: Clarify thresholds it into the label
    assert (m["probability_attribute"], m["probability_threshold"], m["inference_attribute"]) == ("0", 0.5, None)


def test_bias_monitor_without_a_training_pipeline_is_refused():
    ir = fx.maximal_ir()
    for p in ir["pipelines"]:
        p["steps"] = [s for s in p["steps"] if s["kind"] != "register"]
    low = SageMaker().lower([ir], fx.CTX)
    bias = [d for d in low.diagnostics if d.ir_id == "monitor.bias_drift"]
    assert [d.code for d in bias] == ["E505"] and "cannot derive the columns" in bias[0].summary


def _s3_literals(node, found):
    """Literal parts of every `Std:Join` that builds an s3:// URI."""
    if isinstance(node, dict):
        j = node.get("Std:Join")
        if isinstance(j, dict) and j.get("Values") and j["Values"][0] == "s3:/":
            found += [v for v in j["Values"][1:] if isinstance(v, str)]
        for v in node.values():
            _s3_literals(v, found)
    elif isinstance(node, list):
        for v in node:
            _s3_literals(v, found)
    return found


def test_s3_keys_use_only_safe_characters(lowering):
    """S3's object key guidelines list `#` (and `%`, `{`, `^`, ...) among the characters to
    avoid; helper steps' ids (`step.fairness#limits`) must not leak into keys."""
    for path, d in definitions(lowering).items():
        for part in _s3_literals(d, []):
            assert re.fullmatch(r"[0-9A-Za-z!_.*'()/=-]*", part), (path, part)


def test_gpu_trained_model_is_served_with_the_image_of_its_serving_instances():
    """Issue 12 item 11: a model trained on a GPU but served on CPU instances is registered with
    its framework's CPU inference image, and the package's supported instance types cover every
    variant that serves it (an A/B arm on another endpoint included) and the batch jobs."""
    ir = fx.maximal_ir()
    train = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "train")
    train["framework"] = {"name": "pytorch", "version": "2.1"}
    for m in ir["models"]:  # a pytorch container serves an xgboost file only through serving code
        m["serve"] = {"entry_point": "fraud/src/serve.py", "requirements": None, "code_dir": "fraud/src"}
    assert train["compute"]["class"].startswith("gpu.")
    ab = next(e for e in ir["endpoints"] if e["name"] == "ab")
    ab["model"] = "model.challenger"  # fraud_scorer is only arm `a` of this endpoint, on cpu.large
    ab["compute"] = {"class": "cpu.large", "instance_count": 2, "accelerators": 0}
    low = SageMaker().lower([ir], fx.CTX)
    assert not [d for d in low.diagnostics if d.severity == "error"]
    d = definitions(low)["pipelines/prod/training.json"]
    reg = next(s for s in all_steps(d["Steps"]) if s["Type"] == "RegisterModel")["Arguments"]
    spec = reg["InferenceSpecification"]
    assert "pytorch-inference" in spec["Containers"][0]["Image"] and "-cpu-" in spec["Containers"][0]["Image"]
    assert "ml.m5.2xlarge" in spec["SupportedRealtimeInferenceInstanceTypes"]  # the A/B arm
    assert "ml.m5.xlarge" in spec["SupportedRealtimeInferenceInstanceTypes"]   # the other endpoints
    batch_types = {fx.CPU["class"]: "ml.m5.xlarge"}
    assert set(spec["SupportedTransformInstanceTypes"]) <= set(batch_types.values())
    # the training job keeps the GPU image
    tr = next(s for s in all_steps(d["Steps"]) if s["Name"] == "Train")["Arguments"]
    assert "-gpu-" in tr["AlgorithmSpecification"]["TrainingImage"]
    # the same model served only on GPU instances gets the GPU inference image
    for e in ir["endpoints"]:
        e["compute"] = {"class": "gpu.medium", "instance_count": 2, "accelerators": 1}
    for b in ir.get("batch") or []:
        b["compute"] = {"class": "gpu.medium", "instance_count": 1, "accelerators": 1}
    low = SageMaker().lower([ir], fx.CTX)
    reg = next(s for s in all_steps(definitions(low)["pipelines/prod/training.json"]["Steps"])
               if s["Type"] == "RegisterModel")["Arguments"]
    assert "-gpu-" in reg["InferenceSpecification"]["Containers"][0]["Image"]
    assert reg["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == ["ml.g5.2xlarge"]


@pytest.mark.parametrize("total,expect", [(21600, 21600), (60, 120)])
def test_max_total_runtime_limits_the_whole_tuning_job(total, expect):
    """issue 10 `max_total_runtime_s`: the tuning job's ResourceLimits.MaxRuntimeInSeconds (each
    trial keeps its own StoppingCondition); below SageMaker's 120 s minimum it is raised, W505."""
    ir = fx.maximal_ir()
    tune = next(s for s in ir["pipelines"][0]["steps"] if s["name"] == "tune")
    tune["max_runtime_s"], tune["max_total_runtime_s"] = 60, total
    low = SageMaker().lower([ir], fx.CTX)
    st = next(s for s in all_steps(definitions(low)["pipelines/prod/training.json"]["Steps"]) if s["Name"] == "Tune")
    assert st["Arguments"]["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] == expect
    assert st["Arguments"]["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] == 60
    shape = SM.operation_model("CreateHyperParameterTuningJob").input_shape
    args = concrete(st["Arguments"], shape)
    args.setdefault("HyperParameterTuningJobName", "generated")
    report = ParamValidator().validate(args, shape)
    assert not report.has_errors(), report.generate_report()
    warned = [d for d in low.diagnostics if d.code == "W505" and d.ir_id == "step.tune" and "120 s" in d.summary]
    assert len(warned) == (expect != total)
