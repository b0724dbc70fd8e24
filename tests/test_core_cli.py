"""The command line, run as a user would: a subprocess per command, JSON output, errors on stderr."""

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial

import pandas as pd
import pytest
from PIL import Image

from faults_helpers import NO_TENSORFLOW_PEAK_KB, assert_runs_intact, child_env, measured_cli
from helpers import PROJECT, run_cli, two_at_a_time
from mnist_core.cli.main import main as cli_main

ERRORS = [
    (("train", "--preset", "fast-cnn", "--epochs", "0"), "epochs must be between 1"),
    (("evaluate", "--model", "../../etc"), "not a valid run id"),
    (("predict", "missing.png", "--model", "nothing"), "no run 'nothing'"),
]
REFUSED_RESUMES = [
    (("train", "--resume", "nothing-here"), "no interrupted run 'nothing-here'"),
    (("train", "--resume", "x", "--epochs", "3"), "leave out epochs"),
]


@pytest.fixture(scope="module")
def done(cli_run, mnist, tmp_path_factory):
    """The commands of this module that only read the shared CLI run (or an empty registry of their own), two
    processes at a time: {name or refused arguments: finished process, or measured_cli's result for the refused
    ones}; ``digits`` and ``submission`` are their files."""
    models, payload = cli_run
    files = tmp_path_factory.mktemp("files")
    digits = [files / f"digit{index}.png" for index in range(3)]
    for index, path in enumerate(digits):
        Image.fromarray(mnist.x_test[index]).resize((112, 112)).save(path)
    pd.DataFrame(mnist.x_test[:20].reshape(20, -1), columns=[f"pixel{i}" for i in range(784)]).to_csv(
        files / "test.csv", index=False)
    run_id = payload["run_id"]
    commands = {
        "evaluate": partial(run_cli, "evaluate", "--model", run_id, "--json", models=models),
        "kaggle": partial(run_cli, "kaggle", str(files / "test.csv"), "--out", str(files / "submission.csv"),
                          "--model", run_id, models=models),
        "predict": partial(run_cli, "predict", *map(str, digits), "--model", run_id, "--json", models=models),
        "list": partial(run_cli, "list", "--json", models=models),
    } | {args: partial(measured_cli, *args, env=os.environ | {"DIGIT_LAB_MODELS": str(tmp_path_factory.mktemp("none"))})
         for args, _ in ERRORS + REFUSED_RESUMES}
    return {"digits": digits, "submission": files / "submission.csv"} | two_at_a_time(commands)


def test_presets_lists_names_and_descriptions(tmp_path):
    done = run_cli("presets", "--json", models=tmp_path)
    rows = json.loads(done.stdout)
    assert {"softmax-regression", "keras-docs-cnn", "fast-cnn", "best-cnn"} <= {row["name"] for row in rows}


def test_the_cli_starts_without_tensorflow_or_optuna():
    """Every command pays for what ``import mnist_core.cli.main`` loads; the heavy libraries come with the commands."""
    heavy = "{'tensorflow', 'keras', 'optuna', 'sqlalchemy'}"
    probe = f"import sys, mnist_core.cli.main; print(sorted({heavy} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_train_reports_run_accuracy_loss_and_seconds(cli_run):
    models, payload = cli_run
    assert set(payload) >= {"run_id", "test_accuracy", "test_loss", "seconds"}
    assert 0.5 < payload["test_accuracy"] <= 1 and payload["seconds"] > 0
    assert (models / payload["run_id"] / "model.keras").is_file()


def test_list_and_evaluate_see_the_same_run(cli_run, done):
    payload = cli_run[1]
    listed = json.loads(done["list"].stdout)
    assert payload["run_id"] in [row["id"] for row in listed]
    evaluated = json.loads(done["evaluate"].stdout)
    assert abs(evaluated["test_accuracy"] - payload["test_accuracy"]) < 1e-9


def test_predict_prints_one_json_object_per_image(done, mnist):
    rows = [json.loads(line) for line in done["predict"].stdout.splitlines()]
    assert [row["file"] for row in rows] == list(map(str, done["digits"]))
    assert all(len(row["probabilities"]) == 10 and row["digit"] in range(10) for row in rows)
    assert sum(row["digit"] == label for row, label in zip(rows, mnist.y_test[:3], strict=True)) >= 2


def test_kaggle_writes_a_submission(done):
    assert done["kaggle"].returncode == 0, done["kaggle"].stderr
    submission = pd.read_csv(done["submission"])
    assert list(submission.columns) == ["ImageId", "Label"] and submission.ImageId.tolist() == list(range(1, 21))


@pytest.mark.parametrize("args, message", ERRORS)
def test_errors_go_to_stderr_with_a_nonzero_exit(args, message, done):
    refused = done[args]
    assert refused["rc"] != 0 and message in refused["err"] and "Traceback" not in refused["err"]


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

    listed = json.loads(run_cli("list", "--json", models=models).stdout)
    (interrupted,) = [row for row in listed if row["status"] == "interrupted"]
    assert interrupted["name"] == "killed" and 1 <= interrupted["epochs"] < 6

    done = run_cli("train", "--resume", interrupted["id"], "--json", models=models)
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
    relisted = json.loads(run_cli("list", "--json", models=models).stdout)
    assert [row["status"] for row in relisted if row["id"] == interrupted["id"]] == ["finished"]
    assert not list(models.glob(".partial-*"))


@pytest.mark.parametrize("args, message", REFUSED_RESUMES)
def test_resume_refuses_unknown_runs_and_new_settings(args, message, done):
    refused = done[args]
    assert refused["rc"] == 2 and message in refused["err"] and "Traceback" not in refused["err"]


def test_bad_settings_and_unknown_runs_are_refused_before_tensorflow_loads(done):
    """A mistyped setting or run id costs no TensorFlow import (seconds): the process never grows to its size."""
    for args, _ in [*ERRORS, REFUSED_RESUMES[1]]:
        assert done[args]["peak_kb"] <= NO_TENSORFLOW_PEAK_KB, (args, done[args]["peak_kb"])


# --- bad settings, in process: exit 2 and one line naming the setting ------------------------------------------------


CLI_BAD_SETTINGS = [
    (["--epochs", "0"], "epochs must be between 1 and 500, got 0"),
    (["--epochs", "-5"], "epochs must be between 1 and 500, got -5"),
    (["--learning-rate", "0"], "learning_rate must be above 0"),
    (["--learning-rate", "-0.1"], "learning_rate must be above 0"),
    (["--learning-rate", "nan"], "learning_rate must be a number, got nan"),
    (["--learning-rate", "inf"], "learning_rate must be a number, got inf"),
    (["--learning-rate", "1e6"], "learning_rate must be above 0 and at most 10, got 1000000.0"),
    (["--validation-split", "1"], "validation_split must be between 0 and 0.9, got 1.0"),
    (["--validation-split", "-0.2"], "validation_split must be between 0 and 0.9"),
    (["--batch-size", "0"], "batch_size must be between 1"),
    (["--patience", "0"], "patience must be between 1"),
    (["--subset-size", "100", "--batch-size", "500"], "batch_size 500 is larger than the 95 training images"),
    (["--subset-size", "100000"], "subset_size 100000 is larger than the 60000 training images"),
    (["--label-smoothing", "0.9"], "label_smoothing must be between 0 and 0.5"),
    (["--epochs", "1000000000"], "epochs must be between 1 and 500, got 1000000000"),
    (["--epochs", "9" * 400], "epochs must be between 1 and 500, got 999999999999999999...9999999999999999999."),
    (["--steps-per-execution", "0"], "steps_per_execution must be between 1 and 1000"),
    (["--loss", "mean_squared_error", "--label-smoothing", "0.1"], "label_smoothing applies to the cross-entropy"),
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


# --- user errors against bugs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bug", [RuntimeError, ValueError, OSError, KeyError])
def test_an_unexpected_exception_is_a_bug_not_a_user_error(bug, registry, good, monkeypatch, capsys):
    """Only DigitLabError is the user's fault (one line, exit 2); a ValueError or OSError from a bug propagates."""
    from mnist_core.store.registry import Registry

    def broken(self, *args):
        raise bug("injected bug")

    monkeypatch.setattr(Registry, "list_runs", broken)
    with pytest.raises(bug, match="injected bug"):
        cli_main(["list", "--models", str(registry.root)])
    assert "error:" not in capsys.readouterr().err


def test_a_bug_in_a_real_process_exits_1_with_its_traceback(tmp_path):
    script = ("import sys\n"
              "from mnist_core.cli import main\n"
              "from mnist_core.store import registry\n"
              "def broken(self, *args):\n"
              "    raise ValueError('injected bug')\n"
              "registry.Registry.list_runs = broken\n"
              "sys.exit(main.main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "list", "--models", str(tmp_path)], capture_output=True,
                          text=True, cwd=PROJECT, env=child_env(), timeout=120)
    assert done.returncode == 1 and "Traceback" in done.stderr and "ValueError: injected bug" in done.stderr
    assert "error: injected bug" not in done.stderr


def test_files_named_on_the_command_line_that_cannot_be_used_are_user_errors(registry, mnist, tmp_path, capsys):
    """A missing spec, model or output folder: exit 2 and one line naming the file, no traceback."""
    test_csv = tmp_path / "test.csv"
    pd.DataFrame(mnist.x_test[:5].reshape(5, -1), columns=[f"pixel{i}" for i in range(784)]).to_csv(test_csv,
                                                                                                    index=False)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    binary_space = tmp_path / "space.json"
    binary_space.write_bytes(b"\xff\xfe\x00 not text")
    cases = [
        (["train", "--spec", str(tmp_path / "nowhere.json")], "nowhere.json: cannot be read"),
        (["import", str(tmp_path / "nowhere.keras")], "nowhere.keras: cannot be read"),
        (["kaggle", str(test_csv), "--out", str(tmp_path / "no-folder" / "submission.csv")],
         "submission.csv: cannot be written"),
        (["sweep", "create", "s", "--trials", "1", "--space", str(binary_space)], "space.json: cannot be read"),
        (["list", "--models", str(not_a_folder)], "cannot be used"),
    ]
    for args, message in cases:
        models = [] if "--models" in args else ["--models", str(registry.root)]
        code = cli_main([*args, *models])
        out, err = capsys.readouterr()
        assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "no-folder").exists()


# --- the settings table and the machine's limits ------------------------------------------------------------------


def test_every_training_setting_is_a_flag_of_train_made_from_the_table(capsys):
    from mnist_core.cli.main import given_settings, parser
    from mnist_core.model.config import SETTINGS

    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    usage = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.flag in usage and setting.help.split()[0] in usage, setting.name
        if setting.kind is bool:
            given = [setting.flag if not setting.default else "--no-" + setting.flag[2:]]
            wanted = not setting.default
        else:
            wanted = setting.choices[-1] if setting.choices else setting.kind(setting.high)
            given = [setting.flag, str(wanted)]
        args = parser().parse_args(["train", "--spec", "s.json", *given])
        assert given_settings(args) == {setting.name: wanted}, setting.name
        if setting.choices:
            with pytest.raises(SystemExit):
                parser().parse_args(["train", "--spec", "s.json", setting.flag, "not-a-choice"])
    assert "invalid choice: 'not-a-choice'" in capsys.readouterr().err


def test_a_network_too_large_for_this_machine_is_refused_before_training(registry, good, tmp_path, monkeypatch,
                                                                          capsys):
    """One error line saying what would fit, exit 2, before MNIST or TensorFlow load (no --data is given: a data set
    would be needed only if the check passed), and nothing is written."""
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "4096")
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "no-mnist-here.npz"))
    cases = {
        "wide.json": ([{"type": "Conv2D", "filters": 256, "kernel_size": 3, "padding": "same"}],
                      ["--batch-size", "8192"],
                      "error: this network needs ~24.6 GB per batch of 8,192 to train; this machine allows 4.0 GB; "
                      "try batch_size <= 1,319, or fewer filters or units."),
        "dense.json": ([{"type": "Dense", "units": 8192}, {"type": "Dense", "units": 8192}], [],
                       "error: this network holds 73,629,706 parameters; at most 8,000,000 are allowed here"),
        "long.json": ([{"type": "Dropout", "rate": 0.1}] * 10_000, [], "error: a spec may have at most 297 layers"),
        "huge.json": ('[{"type": "Dense", "units": ' + "9" * 400 + "}]", [],
                      "error: layer 1 (Dense): units must be between 1 and 8192, got 999999999999999999...99"),
        "digits.json": ('[{"type": "Dense", "units": ' + "9" * 5000 + "}]", [],
                        "holds a number with too many digits to be a setting."),
        "deep.json": ("[" * 100_000 + "]" * 100_000, [], "deep.json is nested too deeply (at most 8 levels)."),
    }
    for name, (spec, flags, message) in cases.items():
        (tmp_path / name).write_text(spec if isinstance(spec, str) else json.dumps(spec))
        code = cli_main(["train", "--spec", str(tmp_path / name), *flags, "--models", str(registry.root)])
        out, err = capsys.readouterr()
        assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err + out, (name, err)
    assert_runs_intact(registry, good)
    assert not list(registry.root.glob(".partial-*"))


def test_resume_is_refused_when_this_machine_allows_less_and_the_run_stays_resumable(mnist, mnist_path, registry,
                                                                                   monkeypatch, capsys):
    from helpers import interrupted_run
    from mnist_core.model.config import TrainConfig

    config = TrainConfig(epochs=2, subset_size=500, batch_size=50, validation_split=0.0, seed=1)
    run_id = interrupted_run(mnist, registry, [{"type": "Dense", "units": 16}], config)
    monkeypatch.setenv("DIGIT_LAB_MAX_PARAMS", "1000")  # the owner allows less than when the run started
    code = cli_main(["train", "--resume", run_id, "--models", str(registry.root), "--data", mnist_path])
    err = capsys.readouterr().err
    assert code == 2 and "error: this network holds 12,730 parameters; at most 1,000 are allowed here" in err, err
    assert [record.id for record in registry.list_interrupted()] == [run_id]  # its checkpoint is kept
    monkeypatch.delenv("DIGIT_LAB_MAX_PARAMS")
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "a lot")
    code = cli_main(["train", "--resume", run_id, "--models", str(registry.root), "--data", mnist_path])
    assert code == 2 and "error: $DIGIT_LAB_MEMORY_BUDGET_MB: memory_budget_mb must be a whole number, got 'a lot'" \
        in capsys.readouterr().err
    assert [record.id for record in registry.list_interrupted()] == [run_id]


def test_sweep_create_refuses_a_bad_space_in_one_line(registry, tmp_path, capsys):
    cases = {
        "middle.json": ({"template": "dense", "params": {"epochs": {"choices": [1, 10**9, 2]}}},
                        "error: parameter 'epochs': epochs must be between 1 and 500, got 1000000000."),
        "split.json": ({"template": "dense", "params": {"validation_split": {"choices": [0.1, 0.0, 0.2]}}},
                       "error: validation_split must be above 0"),
        "huge.json": ('{"template": "dense", "params": {"dense_units": ' + "9" * 400 + "}}",
                      "error: parameter 'dense_units': dense_units must be between 1 and 8192"),
        "deep.json": ('{"template": "dense", "params": {"epochs": ' + "[" * 50_000 + "]" * 50_000 + "}}",
                      "error: the search space is nested too deeply"),
        "wide.json": ({"template": "dense", "params": {"dense_units": {"choices": [8192, 16]},
                                                       "dense_blocks": {"low": 1, "high": 3}}},
                      "error: with dense_units=8192, dense_blocks=2, batch_size=128: the network cannot be trained"),
    }
    for name, (space, message) in cases.items():
        (tmp_path / name).write_text(space if isinstance(space, str) else json.dumps(space))
        code = cli_main(["sweep", "create", name, "--space", str(tmp_path / name), "--trials", "2", "--models",
                         str(registry.root)])
        out, err = capsys.readouterr()
        assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err + out, (name, err)


def test_default_makes_a_run_the_default_of_list_and_the_commands(cli_run):
    models, payload = cli_run
    try:
        chosen = run_cli("default", payload["run_id"], "--json", models=models)
        assert chosen.returncode == 0, chosen.stderr
        assert json.loads(chosen.stdout)["run_id"] == payload["run_id"]
        listed = json.loads(run_cli("list", "--json", models=models).stdout)
        assert [row["id"] for row in listed if row["default"]] == [payload["run_id"]]
        evaluated = json.loads(run_cli("evaluate", "--json", models=models).stdout)  # no --model: the default
        assert abs(evaluated["test_accuracy"] - payload["test_accuracy"]) < 1e-9
        refused = run_cli("default", "no-such-run", models=models)
        assert refused.returncode == 2 and refused.stderr.startswith("error: no run 'no-such-run'")
    finally:
        (models / "default-run.json").unlink(missing_ok=True)  # the other tests use the shipped default
