"""The command line, run as a user would: a subprocess per command, JSON output, errors on stderr."""

import json
import os
import signal
import subprocess
import sys
import time

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


def test_a_run_killed_mid_training_is_listed_interrupted_and_resumes_to_a_normal_record(tmp_path):
    models = tmp_path / "models"
    env = os.environ | {"DIGIT_LAB_MODELS": str(models)}
    training = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "dense32-rmsprop", "--subset-size", "1000",
         "--epochs", "6", "--batch-size", "32", "--name", "killed", "--json"],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(json.loads(path.read_text())["epochs"] for path in models.glob(".partial-*/partial.json")):
            assert training.poll() is None and time.monotonic() < deadline, "no epoch was checkpointed"
            time.sleep(0.05)
    finally:
        training.send_signal(signal.SIGKILL)
        training.wait()

    listed = json.loads(cli("list", "--json", models=models).stdout)
    (interrupted,) = [row for row in listed if row["status"] == "interrupted"]
    assert interrupted["name"] == "killed" and 1 <= interrupted["epochs"] < 6

    done = cli("train", "--resume", interrupted["id"], "--json", models=models)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["run_id"] == interrupted["id"] and payload["status"] == "finished"
    assert f"resumed after epoch {interrupted['epochs']}" in payload["reason"]
    record = json.loads((models / interrupted["id"] / "run.json").read_text())
    assert [row["epoch"] for row in record["epochs"]] == list(range(1, 7))
    steps = [row["step"] for row in record["batches"]]
    steps_per_epoch = max(row["step"] for row in record["batches"] if row["epoch"] == 1)
    assert steps == sorted(set(steps)) and steps[-1] == 6 * steps_per_epoch  # every batch, each once
    assert record["test_accuracy"] == payload["test_accuracy"] > 0.7
    relisted = json.loads(cli("list", "--json", models=models).stdout)
    assert [row["status"] for row in relisted if row["id"] == interrupted["id"]] == ["finished"]
    assert not list(models.glob(".partial-*"))


@pytest.mark.parametrize("args, message", [
    (("train", "--resume", "nothing-here"), "no interrupted run 'nothing-here'"),
    (("train", "--resume", "x", "--epochs", "3"), "leave out epochs"),
])
def test_resume_refuses_unknown_runs_and_new_settings(args, message, tmp_path):
    done = cli(*args, models=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
