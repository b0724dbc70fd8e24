"""Faults and bad input against the engine: every case must end with a clear message, lose no saved run, and let
no foreign code run. Hostile inputs are real files (PNG, JPEG, GIF, .npz, IDX, CSV, .keras) and real processes
(killed with SIGKILL, started together); nothing under test is mocked.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import PROJECT, save_run
from faults_helpers import (MARKER_ENV, assert_runs_intact, huge_black_png, idx_bytes, save_good_runs, tiny_model,
                            write_idx_folder, write_marker)
from mnist_core.architectures import count_params
from mnist_core.cli import main as cli_main
from mnist_core.config import MAX_LEARNING_RATE, ConfigError, TrainConfig
from mnist_core.data import ENV_VAR, DataSetError, load_mnist
from mnist_core.drawing import EmptyImageError, ImageInputError, image_file_to_mnist, to_mnist
from mnist_core.evaluation import ImagePredictor
from mnist_core.jobs import JobRunner, RunRequest, execute_run
from mnist_core.registry import (DEFAULT_ID, MODEL_FILE, RECORD_FILE, STALE_TEMP_SECONDS, TEMP_PREFIX, Registry,
                                 RegistryError, RunRecord)
from mnist_core.statuses import FAILED, FINISHED
from mnist_core.training import prepare_data

CHILD = Path(__file__).resolve().parent / "faults_child.py"
SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
DIVERGING_SPEC = [{"type": "Dense", "units": 256}] * 4  # deep relu MLP: SGD at 10 blows up to NaN in ~5 batches
DIVERGING_CONFIG = TrainConfig(optimizer="sgd", learning_rate=10.0, batch_size=64, epochs=3, subset_size=2000,
                               validation_split=0.1, seed=42)


@pytest.fixture(scope="module")
def good_template(tmp_path_factory):
    """Two good runs, saved for real once; copied into each test's registry (cheaper than saving them again)."""
    template = Registry(tmp_path_factory.mktemp("good-runs"))
    return template, save_good_runs(template)


@pytest.fixture()
def good(registry, good_template):
    """Two good runs in the registry before the fault; every test checks they survive it."""
    template, saved = good_template
    for run_id in saved:
        shutil.copytree(template.root / run_id, registry.root / run_id)
    return saved


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=5)


def child_env(**extra) -> dict:
    return os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'tests'}"} | extra


# --- hyperparameters ----------------------------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"epochs": 0}, "epochs must be between 1 and 500, got 0"),
    ({"epochs": -3}, "epochs must be between 1 and 500, got -3"),
    ({"epochs": 501}, "epochs must be between 1 and 500"),
    ({"epochs": 2.5}, "epochs must be a whole number, got 2.5"),
    ({"epochs": "3"}, "epochs must be a whole number, got '3'"),
    ({"epochs": True}, "epochs must be a whole number, got True"),
    ({"epochs": None}, "epochs must be a whole number, got None"),
    ({"batch_size": 0}, "batch_size must be between 1"),
    ({"batch_size": 10**6}, "batch_size must be between 1 and 8192"),
    ({"batch_size": False}, "batch_size must be a whole number, got False"),
    ({"learning_rate": 0}, "learning_rate must be above 0"),
    ({"learning_rate": 0.0}, "learning_rate must be above 0"),
    ({"learning_rate": -1e-3}, "learning_rate must be above 0"),
    ({"learning_rate": float("nan")}, "learning_rate must be a number, got nan"),
    ({"learning_rate": float("inf")}, "learning_rate must be a number, got inf"),
    ({"learning_rate": MAX_LEARNING_RATE * 1.01}, f"at most {MAX_LEARNING_RATE}"),
    ({"learning_rate": 1e300}, f"at most {MAX_LEARNING_RATE}"),
    ({"learning_rate": "0.01"}, "learning_rate must be a number, got '0.01'"),
    ({"learning_rate": True}, "learning_rate must be a number, got True"),
    ({"validation_split": 1}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": 1.5}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": -0.1}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": float("nan")}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": "0.1"}, "validation_split must be a fraction"),
    ({"validation_split": True}, "validation_split must be a fraction"),
    ({"optimizer": "adamw"}, "optimizer must be one of adam, rmsprop, sgd, got 'adamw'"),
    ({"optimizer": "ADAM"}, "optimizer must be one of adam, rmsprop, sgd, got 'ADAM'"),
    ({"optimizer": ""}, "optimizer must be one of"),
    ({"optimizer": None}, "optimizer must be one of"),
    ({"lr_schedule": "cosine"}, "lr_schedule must be one of constant, one-cycle"),
    ({"loss": "hinge"}, "loss must be one of"),
    ({"early_stopping": "yes"}, "early_stopping and restore_best must be true or false"),
    ({"early_stopping": 1}, "early_stopping and restore_best must be true or false"),
    ({"restore_best": "no"}, "early_stopping and restore_best must be true or false"),
    ({"patience": 0}, "patience must be between 1"),
    ({"seed": -1}, "seed must be between 0"),
    ({"seed": "42"}, "seed must be a whole number"),
    ({"subset_size": 5}, "subset_size must be between 10"),
    ({"subset_size": "1000"}, "subset_size must be a whole number"),
    ({"steps_per_execution": 0}, "steps_per_execution must be between 1"),
]


@pytest.mark.parametrize("changes, message", BAD_SETTINGS, ids=[repr(c)[1:-1] for c, _ in BAD_SETTINGS])
def test_train_config_refuses_bad_settings_naming_them(changes, message):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**changes)
    assert message in str(error.value)
    with pytest.raises(ConfigError) as again:  # the same through the path JSON records and the CLI take
        TrainConfig().replace(**changes)
    assert message in str(again.value)


def test_numpy_numbers_are_accepted_as_plain_python_values():
    config = TrainConfig(epochs=np.int64(2), batch_size=np.int32(64), learning_rate=np.float32(0.5),
                         validation_split=np.float64(0.2), early_stopping=np.bool_(True))
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()  # run.json can hold it
    assert type(config.epochs) is int and type(config.learning_rate) is float and config.early_stopping is True
    with pytest.raises(ConfigError, match="epochs must be between 1 and 500, got 0"):
        TrainConfig(epochs=np.int64(0))
    with pytest.raises(ConfigError, match="learning_rate must be a number, got nan"):
        TrainConfig(learning_rate=np.float32("nan"))
    with pytest.raises(ConfigError, match="epochs must be a whole number"):
        TrainConfig(epochs=np.array([1, 2]))


def test_unknown_setting_names_are_refused_not_ignored():
    with pytest.raises(ConfigError, match="unknown training setting.*learning_rte"):
        TrainConfig.from_dict({"learning_rte": 0.1})


@pytest.mark.parametrize("changes, message", [
    ({"subset_size": 100, "batch_size": 500}, "batch_size 500 is larger than the 90 training images"),
    ({"batch_size": 8192, "subset_size": 1000, "validation_split": 0.5}, "batch_size 8192 is larger than the 500"),
    ({"subset_size": 100_000}, "subset_size 100000 is larger than the 60000 training images"),
    ({"subset_size": 10, "validation_split": 0.99}, "validation_split 0.99 leaves no training images out of 10"),
])
def test_a_batch_or_split_that_does_not_fit_the_data_is_refused(mnist, changes, message):
    with pytest.raises(ConfigError) as error:
        prepare_data(mnist, TrainConfig(**changes))
    assert message in str(error.value)


CLI_BAD_SETTINGS = [
    (["--epochs", "0"], "epochs must be between 1 and 500, got 0"),
    (["--epochs", "-5"], "epochs must be between 1 and 500, got -5"),
    (["--learning-rate", "0"], "learning_rate must be above 0"),
    (["--learning-rate", "-0.1"], "learning_rate must be above 0"),
    (["--learning-rate", "nan"], "learning_rate must be a number, got nan"),
    (["--learning-rate", "inf"], "learning_rate must be a number, got inf"),
    (["--learning-rate", "1e6"], f"at most {MAX_LEARNING_RATE}"),
    (["--validation-split", "1"], "validation_split must be a fraction in [0, 1)"),
    (["--validation-split", "-0.2"], "validation_split must be a fraction in [0, 1)"),
    (["--batch-size", "0"], "batch_size must be between 1"),
    (["--patience", "0"], "patience must be between 1"),
    (["--subset-size", "100", "--batch-size", "500"], "batch_size 500 is larger than the 95 training images"),
    (["--subset-size", "100000"], "subset_size 100000 is larger than the 60000 training images"),
]


@pytest.mark.parametrize("args, message", CLI_BAD_SETTINGS, ids=[" ".join(a) for a, _ in CLI_BAD_SETTINGS])
def test_cli_refuses_bad_settings_with_exit_2_and_the_setting_named(args, message, registry, good, mnist_path,
                                                                     capsys):
    code = cli_main(["train", "--preset", "dense32-rmsprop", "--data", mnist_path, "--models", str(registry.root),
                     *args])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err + out
    assert_runs_intact(registry, good)


CLI_BAD_TYPES = [
    (["--epochs", "three"], "argument --epochs: invalid int value: 'three'"),
    (["--epochs", "2.5"], "argument --epochs: invalid int value: '2.5'"),
    (["--batch-size", "lots"], "argument --batch-size: invalid int value: 'lots'"),
    (["--learning-rate", "fast"], "argument --learning-rate: invalid float value: 'fast'"),
    (["--validation-split", "ten percent"], "argument --validation-split: invalid float value"),
    (["--optimizer", "adamw"], "argument --optimizer: invalid choice: 'adamw'"),
    (["--early-stopping", "yes"], "unrecognized arguments: yes"),
]


@pytest.mark.parametrize("args, message", CLI_BAD_TYPES, ids=[" ".join(a) for a, _ in CLI_BAD_TYPES])
def test_cli_refuses_strings_where_numbers_belong(args, message, registry, good, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["train", "--preset", "dense32-rmsprop", "--models", str(registry.root), *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and message in err and "Traceback" not in err + out
    assert_runs_intact(registry, good)


def test_cli_as_a_real_process_prints_one_line_not_a_traceback(registry, good, mnist_path):
    """(A bad setting caught after TensorFlow loads is run as a process in test_core_cli; this is argparse's turn.)"""
    done = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--preset", "fast-cnn", "--data", mnist_path,
                           "--models", str(registry.root), "--epochs", "three"], capture_output=True, text=True,
                          cwd=PROJECT, env=child_env(), timeout=120)
    assert done.returncode == 2 and "argument --epochs: invalid int value: 'three'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert_runs_intact(registry, good)


# --- a learning rate so large that the loss becomes NaN -------------------------------------------------------------


def assert_diverged_run_saved(registry, record, steps_per_epoch):
    assert record.status == FAILED
    assert "loss became nan" in record.reason and "epoch 1, batch" in record.reason
    assert "Lower the learning rate" in record.reason
    assert record.test_accuracy is None and record.test_loss is None
    # it stopped at once: part of the first epoch only, the last loss non-finite, the first ones finite
    assert len(record.epochs) == 1 and len(record.batches) < steps_per_epoch
    assert math.isfinite(record.batches[0]["loss"]) and not math.isfinite(record.batches[-1]["loss"])
    stored = json.loads((registry.root / record.id / RECORD_FILE).read_text(encoding="utf-8"))
    assert stored["status"] == FAILED and stored["reason"] == record.reason
    assert len(stored["batches"]) == len(record.batches) and stored["config"] == DIVERGING_CONFIG.to_dict()
    assert [r.id for r in registry.list_runs() if r.status == FAILED] == [record.id]
    registry.load_model(record.id)  # the failed run is kept and still loads (to be inspected)


def steps_per_epoch(config: TrainConfig) -> int:
    train_count = config.subset_size - round(config.subset_size * config.validation_split)
    return math.ceil(train_count / config.batch_size)


def test_a_diverging_run_stops_and_is_saved_as_failed_with_its_history(mnist, registry, good):
    request = RunRequest("diverges", "custom", DIVERGING_SPEC, DIVERGING_CONFIG)
    record = execute_run(request, mnist, registry)
    assert_diverged_run_saved(registry, record, steps_per_epoch(DIVERGING_CONFIG))
    assert_runs_intact(registry, good)


def test_a_diverging_run_in_the_job_runner_fails_with_the_reason_and_is_saved(mnist, registry, good):
    runner = JobRunner(registry, lambda: mnist)
    view = runner.wait(runner.submit(RunRequest("diverges", "custom", DIVERGING_SPEC, DIVERGING_CONFIG)), 120)
    assert view.status == FAILED and view.record is not None and view.reason == view.record.reason
    assert view.batches == view.record.batches  # the live history is the saved one
    assert_diverged_run_saved(registry, view.record, steps_per_epoch(DIVERGING_CONFIG))
    assert_runs_intact(registry, good)


def test_a_diverging_run_in_the_cli_is_saved_and_exits_nonzero(registry, good, mnist_path, tmp_path, capsys):
    spec = tmp_path / "deep.json"
    spec.write_text(json.dumps(DIVERGING_SPEC))
    config = DIVERGING_CONFIG
    code = cli_main(["train", "--spec", str(spec), "--optimizer", "sgd", "--learning-rate", "10", "--batch-size",
                     str(config.batch_size), "--epochs", str(config.epochs), "--subset-size", str(config.subset_size),
                     "--data", mnist_path, "--models", str(registry.root), "--json"])
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert code != 0 and payload["status"] == FAILED and "loss became nan" in err and "Traceback" not in err
    assert_diverged_run_saved(registry, registry.record(payload["run_id"]), steps_per_epoch(config))
    assert_runs_intact(registry, good)


# --- SIGKILL in the middle of saving --------------------------------------------------------------------------------


class Child:
    """A child process whose stdout lines are collected by a thread (so the pipe never fills)."""

    def __init__(self, *args, env=None):
        self.errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty child never blocks
        self.process = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True, cwd=PROJECT, env=env or child_env())
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.lines and text + "\n" not in self.lines:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"child never said {text!r}: {self.stderr()}")
            time.sleep(0.02)

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-3000:]

    def finish(self) -> list[str]:
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return [line.strip() for line in self.lines]


def test_sigkill_while_saving_loses_no_run_and_leaves_nothing_listed(registry, good):
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    saved, doomed, leftovers, delays = set(), set(), set(), []
    for round_ in range(4):  # until a kill has hit a save in progress at least once (nearly always the first)
        children = [Child("save-loop", str(registry.root))]  # (two processes saving at once: further down)
        for child in children:
            child.wait_for("ready")
        for child in children:
            delays.append(round(rng.uniform(0.2, 1.5), 3))
            time.sleep(delays[-1])
            os.kill(child.process.pid, signal.SIGKILL)
        for child in children:
            assert child.process.wait(timeout=30) == -signal.SIGKILL
            for line in child.finish():
                kind, _, run_id = line.partition(" ")
                if kind == "saved":
                    saved.add(run_id)
                elif kind == "deleting":
                    doomed.add(run_id)
        leftovers |= {p.name for p in registry.root.iterdir() if p.name.startswith(TEMP_PREFIX)}
        if leftovers:
            break
    context = f"(seed {seed}, kill delays {delays})"
    assert leftovers, f"no kill landed inside a save {context}"
    fresh = Registry(registry.root)
    listed = {record.id: record for record in fresh.list_runs()}
    assert saved - doomed <= set(listed), f"runs reported saved are missing {context}"
    assert not [run_id for run_id in listed if run_id.startswith(".")], context
    assert not fresh.warnings, f"{fresh.warnings} {context}"
    for run_id in listed:  # every listed run loads: no half-written run is ever visible
        assert fresh.load_model(run_id).output_shape == (None, 10)
    assert_runs_intact(registry, good)
    # leftovers of a save in progress are kept (it may be another process still writing), removed when stale
    assert {p.name for p in registry.root.iterdir() if p.name.startswith(TEMP_PREFIX)} == leftovers
    stale = time.time() - STALE_TEMP_SECONDS - 60
    for path in [*registry.root.glob(f"{TEMP_PREFIX}*"), *registry.root.glob(f"*/{TEMP_PREFIX}*")]:
        os.utime(path, (stale, stale))
    cleaned = Registry(registry.root)
    assert not list(cleaned.root.glob(f"{TEMP_PREFIX}*")) and not list(cleaned.root.glob(f"*/{TEMP_PREFIX}*"))
    assert set(record.id for record in cleaned.list_runs()) == set(listed)


def test_opening_the_registry_while_another_process_saves_never_fails(registry, good):
    """Opening a registry removes stale temporaries; a temporary renamed away under it (a save or delete finishing
    elsewhere) at that moment must not make the constructor fail."""
    stop = threading.Event()

    def other_writer():  # what Registry.save_run and delete in another process do on disk, as fast as possible
        index = 0
        while not stop.is_set():
            temporary = registry.root / f"{TEMP_PREFIX}writer-{index}"
            temporary.mkdir()
            os.rename(temporary, registry.root / f"run-{index % 5}-being-replaced")
            os.rmdir(registry.root / f"run-{index % 5}-being-replaced")
            index += 1

    writer = threading.Thread(target=other_writer, daemon=True)
    writer.start()
    failures, opened, deadline = [], 0, time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            try:
                Registry(registry.root)
            except Exception as error:  # noqa: BLE001 - any failure here is the bug
                failures.append(repr(error))
            opened += 1
    finally:
        stop.set()
        writer.join()
    assert not failures, f"{len(failures)} of {opened} openings failed, e.g. {failures[0]}"
    assert_runs_intact(registry, good)


# --- two runs started at the same moment ------------------------------------------------------------------------------


def two_requests():
    spec_a, spec_b = [{"type": "Dense", "units": 24}], [{"type": "Dense", "units": 12}]
    return [RunRequest("run A (1 epoch)", "custom", spec_a,
                       TrainConfig(epochs=1, subset_size=1200, batch_size=40, validation_split=0.1, seed=1)),
            RunRequest("run B (2 epochs)", "custom", spec_b,
                       TrainConfig(epochs=2, subset_size=800, batch_size=80, validation_split=0.1, seed=2))]


def assert_history_is_its_own(registry, request, record):
    config = request.config
    steps = steps_per_epoch(config)
    assert record.status == FINISHED and record.name == request.name and record.spec == request.spec
    assert record.config == config.to_dict() and record.params == count_params(request.spec)
    assert [row["epoch"] for row in record.epochs] == list(range(1, config.epochs + 1))
    assert len(record.batches) == steps * config.epochs
    assert [row["step"] for row in record.batches] == list(range(1, steps * config.epochs + 1))
    assert registry.load_model(record.id).count_params() == record.params
    stored = registry.record(record.id)
    assert (stored.name, stored.config, len(stored.batches)) == (request.name, config.to_dict(), len(record.batches))


def test_two_threads_submitting_at_once_run_in_turn_and_keep_their_own_history(mnist, registry, good):
    runner = JobRunner(registry, lambda: mnist)
    requests, job_ids = two_requests(), {}
    barrier = threading.Barrier(2)

    def submit(request):
        barrier.wait()
        job_ids[request.name] = runner.submit(request)

    threads = [threading.Thread(target=submit, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    views = [runner.wait(job_ids[request.name], 120) for request in requests]
    for request, view in zip(requests, views):
        assert view.status == FINISHED, view.reason
        assert view.batches == view.record.batches and view.epochs[-1]["epoch"] == request.config.epochs
        assert_history_is_its_own(registry, request, view.record)
    first, second = sorted(views, key=lambda v: v.started)
    assert first.ended <= second.started  # one at a time
    assert len({v.record.id for v in views}) == 2
    assert_runs_intact(registry, good)


def test_two_job_runners_in_one_process_save_side_by_side(mnist, registry, good):
    requests = two_requests()
    runners = [JobRunner(registry, lambda: mnist), JobRunner(Registry(registry.root), lambda: mnist)]
    job_ids = [runner.submit(request) for runner, request in zip(runners, requests)]
    views = [runner.wait(job_id, 120) for runner, job_id in zip(runners, job_ids)]
    for request, view in zip(requests, views):
        assert view.status == FINISHED, view.reason
        assert_history_is_its_own(registry, request, view.record)
    assert_runs_intact(registry, good)


def test_two_processes_training_into_one_registry_both_save(registry, good, mnist_path, tmp_path):
    go = tmp_path / "go"
    settings = [("process A", 24, 1, 1200, 40), ("process B", 12, 2, 800, 80)]
    children = [Child("train", str(registry.root), *map(str, s), str(go), env=child_env(**{ENV_VAR: mnist_path}))
                for s in settings]
    for child in children:
        child.wait_for("ready", timeout=180)
    go.touch()  # both start now
    results = []
    for child in children:
        lines = child.finish()
        assert child.process.returncode == 0, child.stderr()
        results.append(json.loads(lines[-1]))
    for (name, units, epochs, subset, batch), result in zip(settings, results):
        assert result["status"] == FINISHED, result["reason"]
        request = RunRequest(name, "custom", [{"type": "Dense", "units": units}],
                             TrainConfig(epochs=epochs, subset_size=subset, batch_size=batch, validation_split=0.1,
                                         seed=units))
        assert_history_is_its_own(registry, request, registry.record(result["id"]))
    listed = {record.id for record in Registry(registry.root).list_runs()}
    assert {result["id"] for result in results} <= listed
    assert_runs_intact(registry, good)


# --- files dropped into models/ by hand ---------------------------------------------------------------------------


def copy_of_good_run(registry, good, name: str) -> Path:
    source = registry.root / next(iter(good))
    target = registry.root / name
    shutil.copytree(source, target)
    return target


HAND_DROPPED = {
    "empty-folder": (lambda folder: [p.unlink() for p in folder.iterdir()], "no run.json"),
    "truncated-keras": (lambda folder: (folder / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes()[:700]),
                        "model.keras"),
    "no-model-file": (lambda folder: (folder / MODEL_FILE).unlink(), "no model.keras"),
    "json-not-json": (lambda folder: (folder / RECORD_FILE).write_text("{not json", encoding="utf-8"),
                      "unreadable run.json"),
    "json-binary": (lambda folder: (folder / RECORD_FILE).write_bytes(b"\xff\xfe\x00garbage"), "unreadable run.json"),
    "json-a-list": (lambda folder: (folder / RECORD_FILE).write_text("[1, 2]", encoding="utf-8"), "not an object"),
    "json-missing-fields": (lambda folder: (folder / RECORD_FILE).write_text('{"name": "x"}', encoding="utf-8"),
                            "lacks the field(s) id, architecture, spec, config, status, created"),
}
BAD_FIELD_TYPES = {  # a run.json edited by hand with values of the wrong type
    "created-a-number": ({"created": 20240101}, "field 'created'"),
    "created-null": ({"created": None}, "field 'created'"),
    "name-a-number": ({"name": 7}, "field 'name'"),
    "seconds-a-string": ({"seconds": "fast"}, "field 'seconds'"),
    "accuracy-a-string": ({"test_accuracy": "high"}, "field 'test_accuracy'"),
    "epochs-a-string": ({"epochs": "ten"}, "field 'epochs'"),
    "params-a-list": ({"params": [1]}, "field 'params'"),
}


@pytest.mark.parametrize("folder_name", [*HAND_DROPPED, *BAD_FIELD_TYPES])
def test_broken_folders_are_skipped_with_a_warning_naming_them(folder_name, registry, good):
    folder = copy_of_good_run(registry, good, folder_name)
    if folder_name in HAND_DROPPED:
        damage, message = HAND_DROPPED[folder_name]
        damage(folder)
    else:
        changes, message = BAD_FIELD_TYPES[folder_name]
        values = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        (folder / RECORD_FILE).write_text(json.dumps(values | changes), encoding="utf-8")
    listed = registry.list_runs()  # must not raise, whatever the folder holds
    assert folder_name not in {record.id for record in listed}
    warnings = [w for w in registry.warnings if folder_name in w]
    assert len(warnings) == 1 and message in warnings[0], registry.warnings
    assert [record.summary_row() for record in listed]  # every listed record can be shown in a table
    with pytest.raises(RegistryError, match=folder_name):
        registry.record(folder_name)
    assert_runs_intact(registry, good)


def test_a_copied_run_folder_is_listed_under_its_own_folder_name(registry, good):
    """A run.json carries an id; the folder is the truth, so a copy (or an id like '../../etc') cannot alias
    another run or escape the registry."""
    copy = copy_of_good_run(registry, good, "copied-by-hand")
    values = json.loads((copy / RECORD_FILE).read_text(encoding="utf-8"))
    (copy / RECORD_FILE).write_text(json.dumps(values | {"id": "../../etc"}), encoding="utf-8")
    listed = [record.id for record in registry.list_runs() if record.id != DEFAULT_ID]  # the shipped default shows too
    assert sorted(listed) == sorted([*good, "copied-by-hand"])
    assert registry.record("copied-by-hand").id == "copied-by-hand"
    registry.delete("copied-by-hand")
    assert_runs_intact(registry, good)


def lambda_model(marker: Path, kind: str):
    """A real Keras model whose middle layer is code; building or calling it writes ``marker``."""
    layers = keras.layers
    if kind == "python-lambda":
        path = str(marker)
        code = layers.Lambda(lambda x: (open(path, "a").write("the model's code ran\n"), x)[1])
    elif kind == "named-function":
        code = layers.Lambda(write_marker)
    else:
        code = ExecutingLayer()
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), code, layers.Dense(10, activation="softmax")])


@keras.saving.register_keras_serializable(package="faults")
class ExecutingLayer(keras.layers.Layer):
    """A custom layer: its code would run on load if a registry trusted classes from outside Keras."""

    def call(self, x):
        write_marker(x)
        return x


@pytest.mark.parametrize("kind", ["python-lambda", "named-function", "custom-layer"])
def test_a_model_carrying_code_is_refused_and_its_code_never_runs(kind, registry, good, tmp_path, monkeypatch,
                                                                  capsys):
    marker = tmp_path / "code-ran.txt"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    path = tmp_path / "evil.keras"
    lambda_model(marker, kind).save(path)  # saving is allowed (safe_mode applies to loading)
    assert marker.exists()  # building the model ran its code once, here: the marker works
    marker.unlink()
    expected = "Lambda" if kind != "custom-layer" else "ExecutingLayer"

    # 1. dropped into models/ by hand, with a valid run.json
    folder = copy_of_good_run(registry, good, f"dropped-{kind}")
    shutil.copyfile(path, folder / MODEL_FILE)
    with pytest.raises(RegistryError) as error:
        registry.load_model(folder.name)
    assert "refused" in str(error.value) and "code" in str(error.value) and expected in str(error.value)
    # 2. uploaded through import_model
    with pytest.raises(RegistryError) as error:
        registry.import_model("innocent upload", path.read_bytes())
    assert "refused" in str(error.value) and expected in str(error.value)
    # 3. the CLI refuses it too
    assert cli_main(["evaluate", "--model", folder.name, "--models", str(registry.root)]) == 2
    assert "refused" in capsys.readouterr().err

    assert not marker.exists(), "the model's code ran"
    assert "innocent upload" not in {record.name for record in registry.list_runs()}
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*")), "the upload's staging file was left behind"
    assert_runs_intact(registry, good)


@pytest.mark.parametrize("inputs, outputs, message", [
    ((32, 32, 3), 10, "its input shape is (32, 32, 3)"),
    ((28, 28, 1), 5, "its output shape is (5,); expected 10 classes"),
    ((28, 28, 3), 10, "its input shape is (28, 28, 3)"),
], ids=["cifar-input", "five-classes", "colour-input"])
def test_a_model_of_the_wrong_shape_is_refused(inputs, outputs, message, registry, good, tmp_path):
    wrong = keras.Sequential([keras.Input(inputs), keras.layers.Flatten(),
                              keras.layers.Dense(outputs, activation="softmax")])
    path = tmp_path / "wrong.keras"
    wrong.save(path)
    with pytest.raises(RegistryError) as error:
        registry.import_model("wrong shape", path.read_bytes())
    assert "not an MNIST classifier" in str(error.value) and message in str(error.value)
    folder = copy_of_good_run(registry, good, "wrong-shape")
    shutil.copyfile(path, folder / MODEL_FILE)
    with pytest.raises(RegistryError, match=re.escape(message)):
        registry.load_model("wrong-shape")
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*"))
    assert_runs_intact(registry, good)


@pytest.mark.parametrize("content, message", [
    (b"", "not a Keras model file"),
    (b"PK\x03\x04 truncated zip", "not a Keras model file"),
    (b"hello, I am a text file", "not a Keras model file"),
], ids=["empty", "truncated-zip", "text"])
def test_an_upload_that_is_not_a_keras_file_is_refused(content, message, registry, good):
    with pytest.raises(RegistryError, match=message):
        registry.import_model("junk", content)
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*"))
    assert_runs_intact(registry, good)


def test_an_upload_cut_short_is_refused(registry, good, small_dense_model, tmp_path):
    path = tmp_path / "whole.keras"
    small_dense_model.save(path)
    content = path.read_bytes()
    for size in (len(content) // 3, len(content) - 200):
        with pytest.raises(RegistryError, match="not a Keras model file|could not be read"):
            registry.import_model("cut", content[:size])
    assert_runs_intact(registry, good)


# --- run names and run ids ------------------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "traversal": ("../../etc/x", "../../etc/x"),
    "slashes": ("a/b\\c/../d", "a/b\\c/../d"),
    "absolute": ("/etc/passwd", "/etc/passwd"),
    "windows": ("C:\\Windows\\system32", "C:\\Windows\\system32"),
    "dots": ("..", ".."),
    "hidden-temp": (".tmp-looks-like-a-temporary", ".tmp-looks-like-a-temporary"),
    "very-long": ("x" * 10_000, "x" * 120),
    "unicode": ("数字 ✓ ünïcode", "数字 ✓ ünïcode"),
    "only-unicode": ("数字", "数字"),
    "empty": ("", "run"),
    "blank": ("   \t ", "run"),
    "nul-and-newlines": ("first\x00line\nsecond\r\nthird\t!", "first line second third !"),
}


@pytest.mark.parametrize("key", HOSTILE_NAMES)
def test_any_run_name_is_saved_inside_the_registry_with_a_sensible_display_name(key, registry, good, model,
                                                                                 tmp_path):
    name, shown = HOSTILE_NAMES[key]
    before = set(tmp_path.rglob("*"))
    record = save_run(registry, model, name=name)
    assert SAFE_ID.fullmatch(record.id) and len(record.id) <= 80 and not record.id.startswith(".")
    folder = (registry.root / record.id).resolve()
    assert folder.parent == registry.root and folder.is_dir()
    created = set(tmp_path.rglob("*")) - before
    assert all(registry.root in path.resolve().parents for path in created), f"written outside: {created}"
    again = {r.id: r for r in Registry(registry.root).list_runs()}[record.id]
    assert record.name == shown and again.name == shown
    registry.load_model(record.id)
    renamed = registry.rename(record.id, name + " (2)")
    assert renamed.id == record.id and registry.record(record.id).name == renamed.name
    assert_runs_intact(registry, good)


BAD_IDS = ["../x", "..", ".", "/etc", "/etc/passwd", "a/b", "a\\b", "", " ", "x\x00y", "x\n", "~", ".tmp-abc",
           "../victim", "./victim", "victim/..", "%2e%2e", None, 7]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=[repr(i) for i in BAD_IDS])
def test_run_ids_that_are_paths_are_refused_everywhere(bad_id, registry, good, model, tmp_path):
    victim = tmp_path / "victim"  # a run-like folder just outside the registry, which a traversal would reach
    shutil.copytree(registry.root / next(iter(good)), victim)
    calls = {
        "run_dir": lambda: registry.run_dir(bad_id), "record": lambda: registry.record(bad_id),
        "load_model": lambda: registry.load_model(bad_id), "model_path": lambda: registry.model_path(bad_id),
        "export": lambda: registry.export(bad_id), "rename": lambda: registry.rename(bad_id, "pwned"),
        "delete": lambda: registry.delete(bad_id),
        "save_run": lambda: registry.save_run(model, RunRecord(id="", name="x", architecture="custom", spec=[],
                                                               config={}, status="finished", created=""), bad_id),
    }
    if bad_id in (None, ""):
        del calls["save_run"]  # there None and "" mean "make an id", which is tested above
    for name, call in calls.items():
        with pytest.raises(RegistryError) as error:
            call()
        assert "not a valid run id" in str(error.value), f"{name}: {error.value}"
    assert (victim / RECORD_FILE).is_file() and (victim / MODEL_FILE).is_file()
    assert json.loads((victim / RECORD_FILE).read_text(encoding="utf-8"))["name"] != "pwned"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "victim"]
    assert_runs_intact(registry, good)


# --- images -----------------------------------------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def digit_image(mnist, index: int = 0, size: int = 140, invert: bool = False) -> Image.Image:
    pixels = mnist.x_test[index]
    return Image.fromarray(255 - pixels if invert else pixels).resize((size, size), Image.Resampling.BILINEAR)


def assert_valid_input(result: np.ndarray) -> None:
    assert result.shape == (28, 28) and result.dtype == np.float32 and np.isfinite(result).all()
    assert result.min() >= 0.0 and result.max() == 1.0


def canvas(fill=(0, 0, 0, 0), size=280) -> np.ndarray:
    return np.tile(np.array(fill, np.uint8), (size, size, 1))


def dot_canvas():
    drawing = canvas()
    drawing[138:142, 138:142] = 255
    return drawing


REFUSED_IMAGES = {
    "empty-canvas": (lambda mnist: canvas(), EmptyImageError, "nothing is drawn"),
    "single-dot": (lambda mnist: dot_canvas(), EmptyImageError, "only a speck"),
    "white-canvas": (lambda mnist: canvas((255, 255, 255, 255)), EmptyImageError, "nothing is drawn"),
    "white-png": (lambda mnist: encoded(Image.new("RGB", (200, 200), "white")), EmptyImageError, "nothing is drawn"),
    "black-png": (lambda mnist: encoded(Image.new("L", (200, 200), 0)), EmptyImageError, "nothing is drawn"),
    "1x1-png": (lambda mnist: encoded(Image.new("L", (1, 1), 255)), ImageInputError, "only 1×1 pixels"),
    "1x5000-png": (lambda mnist: encoded(Image.new("L", (1, 5000), 0)), ImageInputError, "only 1×5000 pixels"),
    "truncated-png": (lambda mnist: encoded(digit_image(mnist))[:300], ImageInputError, "damaged or truncated"),
    "text-as-png": (lambda mnist: b"This is a text file with a .png name.\n", ImageInputError, "not an image"),
    "empty-file": (lambda mnist: b"", ImageInputError, "not an image"),
    "empty-array": (lambda mnist: np.zeros((0, 0, 4), np.uint8), ImageInputError, "shape"),
    "1d-array": (lambda mnist: np.zeros(784, np.uint8), ImageInputError, "shape"),
}


@pytest.mark.parametrize("case", REFUSED_IMAGES)
def test_images_without_a_digit_are_refused_with_a_clear_message(case, mnist):
    build, error_type, message = REFUSED_IMAGES[case]
    source = build(mnist)
    convert = image_file_to_mnist if isinstance(source, bytes) else to_mnist
    with pytest.raises(error_type) as error:
        convert(source)
    assert message in str(error.value)


def animated_gif(mnist) -> bytes:
    first, second = digit_image(mnist, 0), Image.new("L", (140, 140), 0)
    return encoded(first, "GIF", save_all=True, append_images=[second, digit_image(mnist, 1)], duration=100, loop=0)


ACCEPTED_IMAGES = {  # each must read like the plain PNG of the same digit
    "animated-gif-first-frame": animated_gif,
    "cmyk-jpeg": lambda mnist: encoded(digit_image(mnist).convert("CMYK"), "JPEG", quality=95),
    "16-bit-png": lambda mnist: encoded(Image.fromarray(np.asarray(digit_image(mnist), np.uint16) * 257)),
    "palette-png": lambda mnist: encoded(digit_image(mnist).convert("P")),
    "white-ink-on-transparent-png": lambda mnist: encoded(Image.merge("RGBA", [Image.new("L", (140, 140), 255)] * 3
                                                                      + [digit_image(mnist)])),
    "black-ink-on-transparent-png": lambda mnist: encoded(Image.merge("RGBA", [Image.new("L", (140, 140), 0)] * 3
                                                                      + [digit_image(mnist)])),
    "grey-alpha-png": lambda mnist: encoded(digit_image(mnist).convert("LA")),
    "1-bit-png": lambda mnist: encoded(digit_image(mnist).point(lambda v: 255 if v > 100 else 0).convert("1")),
    "dark-on-light-png": lambda mnist: encoded(digit_image(mnist, invert=True)),
    "int64-array": lambda mnist: np.asarray(digit_image(mnist), np.int64),
    "float-0-1-array": lambda mnist: np.asarray(digit_image(mnist), np.float64) / 255.0,
    "bool-array": lambda mnist: np.asarray(digit_image(mnist)) > 100,
    "one-channel-array": lambda mnist: np.asarray(digit_image(mnist))[..., None],
}


@pytest.mark.parametrize("case", ACCEPTED_IMAGES)
def test_unusual_but_valid_images_give_the_same_mnist_input(case, mnist):
    source = ACCEPTED_IMAGES[case](mnist)
    result = image_file_to_mnist(source) if isinstance(source, bytes) else to_mnist(source)
    assert_valid_input(result)
    reference = image_file_to_mnist(encoded(digit_image(mnist)))
    correlation = np.corrcoef(result.ravel(), reference.ravel())[0, 1]
    assert correlation > (0.9 if case in ("1-bit-png", "bool-array") else 0.98), correlation


def test_gigantic_pngs_are_refused_at_once_without_being_decoded(tmp_path):
    """10000² passes Pillow's own bomb check (a warning only) but not ours; 30000² trips Pillow's hard limit."""
    sides = (10_000, 30_000)
    for side in sides:
        content = huge_black_png(side)  # a valid, fully decodable PNG
        assert len(content) < 2_000_000 and content[12:24] == b"IHDR" + struct.pack(">II", side, side)
        (tmp_path / f"{side}.png").write_bytes(content)
    script = (
        "import json, resource, sys, time\n"
        "from mnist_core.drawing import ImageInputError, image_file_to_mnist\n"
        "for path in sys.argv[1:]:\n"
        "    content = open(path, 'rb').read()\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    started = time.perf_counter()\n"
        "    try:\n"
        "        image_file_to_mnist(content); outcome = 'accepted'\n"
        "    except ImageInputError as error:\n"
        "        outcome = str(error)\n"
        "    print(json.dumps({'outcome': outcome, 'seconds': time.perf_counter() - started,\n"
        "                      'grew_mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))\n")
    done = subprocess.run([sys.executable, "-c", script, *(str(tmp_path / f"{side}.png") for side in sides)],
                          capture_output=True, text=True, cwd=PROJECT, env=child_env(), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    for side, line in zip(sides, done.stdout.splitlines()):
        result = json.loads(line)
        outcome = result["outcome"]
        assert "megapixels" in outcome and (f"{side}×{side}" in outcome or f"{side * side} pixels" in outcome), result
        assert result["seconds"] < 1.0 and result["grew_mb"] < 50, result


def test_a_dark_on_light_png_predicts_like_light_on_dark(mnist, small_dense_model):
    predictor = ImagePredictor(small_dense_model)
    indices = range(12)
    light = np.stack([image_file_to_mnist(encoded(digit_image(mnist, i))) for i in indices])
    dark = np.stack([image_file_to_mnist(encoded(digit_image(mnist, i, invert=True).convert("RGB")))
                     for i in indices])
    np.testing.assert_allclose(dark, light, atol=1e-5)
    light_digits, dark_digits = predictor.batch(light).argmax(axis=1), predictor.batch(dark).argmax(axis=1)
    assert (light_digits == dark_digits).all()
    assert (dark_digits == mnist.y_test[:12]).mean() >= 0.75


# --- the data set missing or malformed ----------------------------------------------------------------------------


def npz(path: Path, **arrays) -> Path:
    small = {"x_train": np.zeros((30, 28, 28), np.uint8), "y_train": np.arange(30) % 10,
             "x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.arange(10)}
    np.savez(path, **{key: value for key, value in (small | arrays).items() if value is not None})
    return path


def idx_folder(path: Path, gz: bool = True, **overrides) -> Path:
    arrays = {"x_train": np.zeros((30, 28, 28), np.uint8), "y_train": np.arange(30) % 10,
              "x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.arange(10)}
    files = write_idx_folder(path, *arrays.values(), gz=gz)
    for key, content in overrides.items():
        files[key].write_bytes(content(files[key].read_bytes()) if callable(content) else content)
    return path


def kaggle_csv(path: Path, rows: int = 20, drop: str | None = None) -> Path:
    frame = pd.DataFrame(np.zeros((rows, 784), np.uint8), columns=[f"pixel{i}" for i in range(784)])
    frame.insert(0, "label", np.arange(rows) % 10)
    frame.drop(columns=[drop] if drop else []).to_csv(path, index=False)
    return path


def put(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def corrupt_gzip(raw: bytes) -> bytes:
    damaged = bytearray(raw)
    damaged[12:40] = bytes(range(200, 228))
    return bytes(damaged)


BAD_DATA = {
    "missing-file": (lambda d: d / "nowhere" / "mnist.npz", "does not exist"),
    "empty-file": (lambda d: put(d / "mnist.npz", b""), "not a readable .npz"),
    "text-file": (lambda d: put(d / "mnist.npz", b"x_train,y_train\n"), "not a readable .npz"),
    "npy-not-npz": (lambda d: np.save(d / "x.npy", np.zeros((3, 28, 28), np.uint8)) or d / "x.npy",
                    "not an .npz archive"),
    "missing-array": (lambda d: npz(d / "m.npz", y_test=None), "lacks the arrays ['y_test']"),
    "wrong-image-shape": (lambda d: npz(d / "m.npz", x_train=np.zeros((30, 32, 32), np.uint8)),
                          "train images have shape (30, 32, 32); expected (N, 28, 28)"),
    "colour-images": (lambda d: npz(d / "m.npz", x_test=np.zeros((10, 28, 28, 3), np.uint8)),
                      "test images have shape (10, 28, 28, 3)"),
    "label-count": (lambda d: npz(d / "m.npz", y_train=np.arange(29) % 10), "expected (30,), one per image"),
    "label-10": (lambda d: npz(d / "m.npz", y_test=np.arange(1, 11)), "test labels range 1..10; expected 0..9"),
    "label-minus-1": (lambda d: npz(d / "m.npz", y_train=np.arange(30) % 10 - 1),
                      "train labels range -1..8; expected 0..9"),
    "float-labels": (lambda d: npz(d / "m.npz", y_train=(np.arange(30) % 10).astype(float)),
                     "train labels have dtype float64; expected integers"),
    "string-images": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), "a")),
                      "train images have dtype <U1; expected uint8"),
    "bool-images": (lambda d: npz(d / "m.npz", x_train=np.zeros((30, 28, 28), bool)),
                    "train images have dtype bool"),
    "pixels-300": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), 300, np.int32)),
                   "train pixels range 300..300; expected 0..255"),
    "nan-pixels": (lambda d: npz(d / "m.npz", x_test=np.full((10, 28, 28), np.nan)), "NaN"),
    "float-0-1-pixels": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), 0.5)), "[0, 1]"),
    "empty-split": (lambda d: npz(d / "m.npz", x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, int)),
                    "test split is empty"),
    "kaggle-missing-column": (lambda d: kaggle_csv(d / "train.csv", drop="pixel783"),
                              "lacks the column(s) pixel783"),
    "kaggle-missing-label": (lambda d: kaggle_csv(d / "train.csv", drop="label"), "lacks the column(s) label"),
    "kaggle-too-few-rows": (lambda d: kaggle_csv(d / "train.csv", rows=50), "more than 7000 are needed"),
    "kaggle-binary": (lambda d: put(d / "train.csv", b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00"), "not a readable CSV"),
    "idx-folder-empty": (lambda d: (d / "idx").mkdir() or d / "idx", "has no train-images-idx3-ubyte"),
    "idx-truncated-gzip": (lambda d: idx_folder(d / "idx", x_train=lambda raw: raw[: len(raw) // 2]),
                           "train-images-idx3-ubyte.gz is not a readable gzip file"),
    "idx-corrupt-gzip": (lambda d: idx_folder(d / "idx", x_test=corrupt_gzip),
                         "t10k-images-idx3-ubyte.gz is not a readable gzip file"),
    "idx-wrong-magic": (lambda d: idx_folder(d / "idx", gz=False, y_train=lambda raw: b"\x00\x00\x0d\x01" + raw[4:]),
                        "not an IDX file of 1 dimension(s)"),
    "idx-images-as-labels": (lambda d: idx_folder(d / "idx", gz=False, y_test=lambda raw: idx_bytes(
        np.zeros((10, 28, 28)))), "not an IDX file of 1 dimension(s)"),
    "idx-truncated-payload": (lambda d: idx_folder(d / "idx", gz=False, x_train=lambda raw: raw[:-100]),
                              "IDX file is truncated"),
    "idx-header-cut": (lambda d: idx_folder(d / "idx", gz=False, y_train=lambda raw: raw[:6]),
                       "shorter than its 8-byte header"),
    "idx-overflowing-header": (lambda d: idx_folder(d / "idx", gz=False, x_train=idx_bytes(
        np.zeros(0), magic=b"\x00\x00\x08\x03", shape=(2**22, 2**21, 2**21))), "IDX file is truncated"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_a_missing_or_malformed_data_set_says_what_was_tried_and_how_to_fix_it(case, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    build, message = BAD_DATA[case]
    path = build(folder)
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DataSetError) as error:
        load_mnist(allow_download=False)
    text = str(error.value)
    assert message in text, text
    assert f"${ENV_VAR}" in text and str(path) in text  # what was tried
    assert "Fix:" in text and ENV_VAR in text.split("Fix:")[1]  # and how to fix it
    with pytest.raises(DataSetError, match=re.escape(message)):  # the same through an explicit path
        load_mnist(path, allow_download=False)


def test_a_pickle_inside_an_npz_is_never_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "unpickled.txt"

    class Payload:
        def __reduce__(self):  # unpickling this calls open(marker, "w"): the marker proves code ran
            return open, (str(marker), "w")

    pickle.loads(pickle.dumps(Payload())).close()
    assert marker.exists()  # the payload works
    marker.unlink()
    path = npz(tmp_path / "mnist.npz", x_train=np.array([Payload()] * 30, dtype=object))
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DataSetError) as error:
        load_mnist(allow_download=False)
    assert "pickle" in str(error.value) and ENV_VAR in str(error.value)
    assert not marker.exists(), "the pickle was loaded"


def test_a_bad_data_set_fails_the_job_cleanly_and_keeps_the_runs(registry, good, tmp_path):
    missing = tmp_path / "gone.npz"
    runner = JobRunner(registry, lambda: load_mnist(missing, allow_download=False))
    request = RunRequest("no data", "custom", [], TrainConfig(epochs=1, subset_size=100))
    view = runner.wait(runner.submit(request), 60)
    assert view.status == FAILED and "does not exist" in view.reason and "Fix:" in view.reason
    assert view.record is None
    assert_runs_intact(registry, good)
    # and the runner is still alive for the next job
    view = runner.wait(runner.submit(request), 60)
    assert view.status == FAILED and "does not exist" in view.reason


def test_the_cli_reports_a_missing_data_set_in_one_line(registry, good, tmp_path, capsys):
    code = cli_main(["train", "--preset", "dense32-rmsprop", "--data", str(tmp_path / "none.npz"), "--models",
                     str(registry.root)])
    out, err = capsys.readouterr()
    assert code == 2 and "does not exist" in err and "MNIST_PATH" in err and "Traceback" not in err
    assert_runs_intact(registry, good)
