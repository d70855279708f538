"""The portable script contract (compiler/contract.py): one command line on every cloud."""
import pytest

from mlspec.compiler.contract import script_argv, script_flags, param_text, input_name


def _train(**kw):
    step = {"name": "train", "kind": "train", "inputs": ["step.split.outputs.train", "dataset.extra"],
            "hyperparameters": {"n_estimators": 300, "eta": 0.05, "objective": "binary:logistic"}}
    step.update(kw)
    return step


def test_train_flags_in_contract_order():
    argv = script_argv(_train(), {"train": "/i/train", "extra": "/i/extra", "model": "/m", "metrics": "/x"})
    assert argv == ["--train", "/i/train", "--extra", "/i/extra", "--model", "/m", "--metrics", "/x",
                    "--eta", "0.05", "--n_estimators", "300", "--objective", "binary:logistic"]


def test_evaluate_gets_data_model_and_metrics():
    step = {"name": "ev", "kind": "evaluate", "data": "step.split.outputs.test", "model": "step.train.outputs.model"}
    flags = script_flags(step)
    assert [(f.name, f.role) for f in flags] == [("test", "input"), ("model", "model_in"), ("metrics", "metrics")]
    assert flags[1].ref == "step.train.outputs.model"


def test_process_outputs_and_named_inputs():
    step = {"name": "p", "kind": "process", "inputs": ["step.a.data", "step.b.data"],
            "input_names": ["yellow", "green"], "outputs": ["train", "val"], "args": {"seed": True}}
    paths = {n: f"/d/{n}" for n in ("yellow", "green", "train", "val")}
    assert script_argv(step, paths) == ["--yellow", "/d/yellow", "--green", "/d/green", "--train", "/d/train",
                                        "--val", "/d/val", "--seed", "true"]


def test_collision_is_refused():
    step = {"name": "p", "kind": "process", "inputs": ["step.a.data", "step.b.data"], "outputs": []}
    with pytest.raises(ValueError, match="--data"):
        script_flags(step)


def test_tune_trial_values_merge_with_fixed_hyperparameters():
    step = _train(kind="tune", hyperparameters={"depth": 6})
    flags = [f for f in script_flags(step, trial={"lr": 0.01}) if f.role == "param"]
    assert [(f.name, f.value) for f in flags] == [("depth", "6"), ("lr", "0.01")]


@pytest.mark.parametrize("value,text", [(True, "true"), (False, "false"), (3, "3"), (0.5, "0.5"), ("x", "x")])
def test_param_text(value, text):
    assert param_text(value) == text


def test_input_name_rule():
    assert input_name("dataset.transactions") == "transactions"
    assert input_name("step.split.outputs.val") == "val"
    assert input_name("step.validate.data") == "data"
