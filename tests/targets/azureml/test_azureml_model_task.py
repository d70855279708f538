"""models[].task (issue 10 item 2) on Azure ML: the model monitors' `ml_task` follows the monitored
model's task, not the baseline's label column type; checked with azure-ai-ml's schedule loader."""
from __future__ import annotations

import copy

import pytest
import yaml

import az_helpers


@pytest.mark.parametrize("task,ml_task", [("regression", "regression"),
                                          ("multiclass_classification", "classification"),
                                          ("binary_classification", "classification")])
def test_monitor_ml_task_follows_the_model_task(max_irs, tmp_path, task, ml_task):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        for m in ir["models"]:
            m["task"] = task
    root = az_helpers.write(az_helpers.lower(irs), irs, tmp_path)
    monitors = sorted((root / "prod" / "monitors").glob("*.yml"))
    assert monitors
    for path in monitors:
        doc = yaml.safe_load(path.read_text())
        assert doc["create_monitor"]["monitoring_target"]["ml_task"] == ml_task, path.name
        sched = az_helpers.load("azureml-schedule", path)
        assert str(sched.create_monitor.monitoring_target.ml_task).lower().endswith(ml_task)
    import json
    stack = json.loads((root / "pulumi" / "stacks" / "prod.json").read_text())
    assert {m["task"] for m in stack["monitors"]} == {ml_task.capitalize()}


def test_a_model_without_task_falls_back_to_the_label_type(max_irs, tmp_path):
    irs = copy.deepcopy(max_irs)
    for ir in irs:
        for m in ir["models"]:
            m["task"] = None
        for d in ir["datasets"]:
            for c in d["schema"]:
                if c["role"] == "label":
                    c["type"] = "float"
    root = az_helpers.write(az_helpers.lower(irs), irs, tmp_path)
    for path in sorted((root / "prod" / "monitors").glob("*.yml")):
        assert yaml.safe_load(path.read_text())["create_monitor"]["monitoring_target"]["ml_task"] == "regression"
