"""The Insight commands (robustness, embedding, calibration) run as a user would: a subprocess per command."""

import json
from functools import partial

import pandas as pd
import pytest

from helpers import run_cli, two_at_a_time


@pytest.fixture(scope="module")
def done(cli_run, tmp_path_factory):
    """Every command of this module against the shared CLI run (they only read it), two processes at a time:
    {name: finished process}; the maps are written to ``out``."""
    models, payload = cli_run
    run_id, out = payload["run_id"], tmp_path_factory.mktemp("maps")
    commands = {
        "robustness": ["robustness", "--model", run_id, "--transforms", "occlusion,noise", "--sample", "10000",
                       "--json"],
        "calibration": ["calibration", "--model", run_id, "--json"],
        "embedding": ["embedding", "--model", run_id, "--sample", "500", "--out", str(out / "map.csv"), "--json"],
        "evaluate": ["evaluate", "--model", run_id, "--json"],
        "pixels": ["embedding", "--pixels", "--sample", "300", "--out", str(out / "pixels.csv"), "--json"],
        "bins 0": ["calibration", "--model", run_id, "--bins", "0"],
        "unknown transform": ["robustness", "--model", run_id, "--transforms", "rotate,melt", "--json"],
    }
    return {"out": out} | two_at_a_time({name: partial(run_cli, *args, models=models)
                                         for name, args in commands.items()})


def test_robustness_prints_one_object_per_transform_and_severity(done):
    assert done["robustness"].returncode == 0, done["robustness"].stderr
    rows = [json.loads(line) for line in done["robustness"].stdout.splitlines()]
    assert all(set(row) == {"transform", "severity", "accuracy"} for row in rows)
    assert [row["transform"] for row in rows] == ["occlusion"] * 5 + ["noise"] * 6
    evaluated = json.loads(done["evaluate"].stdout)
    untouched = [row["accuracy"] for row in rows if row["severity"] == 0]
    assert untouched == [pytest.approx(evaluated["test_accuracy"], abs=1e-12)] * 2
    assert min(row["accuracy"] for row in rows) < evaluated["test_accuracy"] - 0.2


def test_robustness_refuses_an_unknown_transform(done):
    refused = done["unknown transform"]
    assert refused.returncode == 2 and refused.stdout == ""
    assert "unknown transform(s) 'melt'" in refused.stderr and "choose from rotate" in refused.stderr


def test_embedding_writes_a_map_of_the_sample(done):
    assert done["embedding"].returncode == 0, done["embedding"].stderr
    payload = json.loads(done["embedding"].stdout)
    assert payload["points"] == 500 and payload["method"] == "pca" and payload["layer"].startswith("dense")
    frame = pd.read_csv(done["out"] / "map.csv")
    assert list(frame.columns) == ["x", "y", "index", "true", "predicted", "confidence", "wrong"]
    assert len(frame) == 500 and frame["index"].is_unique and frame["confidence"].between(0, 1).all()
    assert json.loads(done["pixels"].stdout)["layer"] == "raw pixels"
    assert list(pd.read_csv(done["out"] / "pixels.csv").columns) == ["x", "y", "index", "true"]


def test_calibration_reports_ece_bins_and_temperature(done):
    assert done["calibration"].returncode == 0, done["calibration"].stderr
    payload = json.loads(done["calibration"].stdout)
    assert 0 < payload["ece"] < 1 and sum(row["count"] for row in payload["bins"]) == 10_000
    # one short epoch leaves the model far from calibrated; the temperature fitted on its validation split helps
    assert payload["temperature"] > 0 and 0 <= payload["ece_after"] < payload["ece"] / 2
    bad = done["bins 0"]
    assert bad.returncode == 2 and "at least 1" in bad.stderr
