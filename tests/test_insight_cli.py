"""The Insight commands (robustness, embedding, calibration) run as a user would: a subprocess per command."""

import json

import pandas as pd
import pytest

from helpers import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny real run (with a validation split) made through the CLI."""
    models = tmp_path_factory.mktemp("models")
    done = run_cli("train", "--preset", "dense32-rmsprop", "--subset-size", "2000", "--epochs", "1",
               "--validation-split", "0.2", "--json", models=models)
    assert done.returncode == 0, done.stderr
    return models, json.loads(done.stdout)["run_id"]


def test_robustness_prints_one_object_per_transform_and_severity(trained):
    models, run_id = trained
    done = run_cli("robustness", "--model", run_id, "--transforms", "occlusion,noise", "--sample", "10000", "--json",
               models=models)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(set(row) == {"transform", "severity", "accuracy"} for row in rows)
    assert [row["transform"] for row in rows] == ["occlusion"] * 5 + ["noise"] * 6
    evaluated = json.loads(run_cli("evaluate", "--model", run_id, "--json", models=models).stdout)
    untouched = [row["accuracy"] for row in rows if row["severity"] == 0]
    assert untouched == [pytest.approx(evaluated["test_accuracy"], abs=1e-12)] * 2
    assert min(row["accuracy"] for row in rows) < evaluated["test_accuracy"] - 0.2


def test_robustness_refuses_an_unknown_transform(trained):
    models, run_id = trained
    done = run_cli("robustness", "--model", run_id, "--transforms", "rotate,melt", "--json", models=models)
    assert done.returncode == 2 and done.stdout == ""
    assert "unknown transform(s) 'melt'" in done.stderr and "choose from rotate" in done.stderr


def test_embedding_writes_a_map_of_the_sample(trained, tmp_path):
    models, run_id = trained
    out = tmp_path / "map.csv"
    done = run_cli("embedding", "--model", run_id, "--sample", "500", "--out", str(out), "--json", models=models)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["points"] == 500 and payload["method"] == "pca" and payload["layer"].startswith("dense")
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["x", "y", "index", "true", "predicted", "confidence", "wrong"]
    assert len(frame) == 500 and frame["index"].is_unique and frame["confidence"].between(0, 1).all()
    pixels = run_cli("embedding", "--pixels", "--sample", "300", "--out", str(out), "--json", models=models)
    assert json.loads(pixels.stdout)["layer"] == "raw pixels"
    assert list(pd.read_csv(out).columns) == ["x", "y", "index", "true"]


def test_calibration_reports_ece_bins_and_temperature(trained):
    models, run_id = trained
    done = run_cli("calibration", "--model", run_id, "--json", models=models)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert 0 < payload["ece"] < 1 and sum(row["count"] for row in payload["bins"]) == 10_000
    # one short epoch leaves the model far from calibrated; the temperature fitted on its validation split helps
    assert payload["temperature"] > 0 and 0 <= payload["ece_after"] < payload["ece"] / 2
    bad = run_cli("calibration", "--model", run_id, "--bins", "0", models=models)
    assert bad.returncode == 2 and "at least 1" in bad.stderr
