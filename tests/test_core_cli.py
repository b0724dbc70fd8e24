"""The command line, run as a user would: a subprocess per command, JSON output, errors on stderr."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image

from helpers import PROJECT


def cli(*args, models):
    env = os.environ | {"DIGIT_LAB_MODELS": str(models)}
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny real run made through the CLI, shared by the commands that need a model."""
    models = tmp_path_factory.mktemp("models")
    done = cli("train", "--preset", "dense32-rmsprop", "--subset-size", "2000", "--epochs", "1", "--name",
               "cli run", "--json", models=models)
    assert done.returncode == 0, done.stderr
    return models, json.loads(done.stdout)


def test_presets_lists_names_and_descriptions(tmp_path):
    done = cli("presets", "--json", models=tmp_path)
    rows = json.loads(done.stdout)
    assert {"softmax-regression", "keras-docs-cnn", "fast-cnn", "best-cnn"} <= {row["name"] for row in rows}


def test_train_reports_run_accuracy_loss_and_seconds(trained):
    models, payload = trained
    assert set(payload) >= {"run_id", "test_accuracy", "test_loss", "seconds"}
    assert 0.5 < payload["test_accuracy"] <= 1 and payload["seconds"] > 0
    assert (models / payload["run_id"] / "model.keras").is_file()


def test_list_and_evaluate_see_the_same_run(trained):
    models, payload = trained
    listed = json.loads(cli("list", "--json", models=models).stdout)
    assert payload["run_id"] in [row["id"] for row in listed]
    evaluated = json.loads(cli("evaluate", "--model", payload["run_id"], "--json", models=models).stdout)
    assert abs(evaluated["test_accuracy"] - payload["test_accuracy"]) < 1e-9


def test_predict_prints_one_json_object_per_image(trained, mnist, tmp_path):
    models, payload = trained
    files = []
    for index in range(3):
        files.append(tmp_path / f"digit{index}.png")
        Image.fromarray(mnist.x_test[index]).resize((112, 112)).save(files[-1])
    done = cli("predict", *map(str, files), "--model", payload["run_id"], "--json", models=models)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["file"] for row in rows] == list(map(str, files))
    assert all(len(row["probabilities"]) == 10 and row["digit"] in range(10) for row in rows)
    assert sum(row["digit"] == label for row, label in zip(rows, mnist.y_test[:3])) >= 2


def test_kaggle_writes_a_submission(trained, mnist, tmp_path):
    models, payload = trained
    pd.DataFrame(mnist.x_test[:20].reshape(20, -1), columns=[f"pixel{i}" for i in range(784)]).to_csv(
        tmp_path / "test.csv", index=False)
    out = tmp_path / "submission.csv"
    done = cli("kaggle", str(tmp_path / "test.csv"), "--out", str(out), "--model", payload["run_id"], models=models)
    assert done.returncode == 0, done.stderr
    submission = pd.read_csv(out)
    assert list(submission.columns) == ["ImageId", "Label"] and submission.ImageId.tolist() == list(range(1, 21))


@pytest.mark.parametrize("args, message", [
    (("train", "--preset", "fast-cnn", "--epochs", "0"), "epochs must be between 1"),
    (("evaluate", "--model", "../../etc"), "not a valid run id"),
    (("predict", "missing.png", "--model", "nothing"), "no run 'nothing'"),
])
def test_errors_go_to_stderr_with_a_nonzero_exit(args, message, tmp_path):
    done = cli(*args, models=tmp_path)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
