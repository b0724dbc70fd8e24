"""Sweeps with real Optuna, real training on real MNIST, a real SQLite file and a real PostgreSQL server.

A ``quick`` sweep is worked by the CLI in two separate processes (the second resumes the study); a sweep over a log
range of whole numbers completes its trials; a sweep's pruner stops a hopeless trial; three worker processes share one
study on PostgreSQL, and one of them is killed with SIGKILL mid-trial.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import PROJECT
from postgres_fixture import postgres_url  # noqa: F401  (a fixture)

QUICK_TRIALS = 4
SHARED_TRIALS = 6
WORKER_TIMEOUT_S = 240


def cli(*args: str, models, timeout: float = WORKER_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``python -m mnist_core ARGS --models MODELS`` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "mnist_core", *args, "--models", str(models)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout,
                          env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"})


def start_worker(name: str, storage: str, models) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "sweep", "work", name, "--storage", storage, "--models", str(models),
         "--json"], cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"})


def sweep_runs(registry, name: str) -> dict[int, list[str]]:
    """Trial number → ids of the runs in the registry that this sweep's trials saved."""
    found: dict[int, list[str]] = {}
    for record in registry.list_runs():
        if record.sweep and record.sweep["study"] == name:
            found.setdefault(record.sweep["trial"], []).append(record.id)
    return found


def test_unreachable_storage_gives_a_clear_message_without_the_password():
    from mnist_core.sweeps.study import SweepError, open_storage

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SweepError) as refused:
        open_storage(f"postgresql+psycopg://someone:secret@127.0.0.1:{port}/db")
    assert "cannot open the sweep storage" in str(refused.value) and "secret" not in str(refused.value)
    with pytest.raises(SweepError, match="cannot open the sweep storage"):
        open_storage("nosuchdb://x/y")


# --- SQLite, the default ----------------------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m mnist_core ARGS`` in this process: exit code, stdout, stderr."""
    from mnist_core.cli.main import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_queues_every_trial_numbered_in_order_and_they_can_be_claimed(registry):
    """The N waiting trials are inserted in one transaction: each is numbered, waiting, and claimed like any other."""
    import optuna

    from mnist_core.sweeps.spaces import load_space, suggest
    from mnist_core.sweeps.study import claim_waiting_trial, create_sweep, default_storage_url, load_study, open_storage

    url = default_storage_url(registry)
    create_sweep("many", load_space("quick"), 5000, open_storage(url))
    storage = open_storage(url)  # another process's view
    study = load_study("many", storage)
    trials = study.get_trials(deepcopy=False)
    assert [trial.number for trial in trials] == list(range(5000))
    assert {trial.state for trial in trials} == {optuna.trial.TrialState.WAITING}
    trial = optuna.Trial(study, claim_waiting_trial(study, storage))
    spec, config = suggest(trial, load_space("quick"))
    assert trial.number == 0 and config.epochs == 1 and set(trial.params) >= {"learning_rate", "dropout"}
    assert [trial.number for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))] == [0]


def test_quick_sweep_on_sqlite_completes_and_resumes_in_a_new_process(registry, mnist_path, mnist, capsys):
    models = ["--models", str(registry.root)]
    code, _, err = run_cli(capsys, "sweep", "create", "quick-demo", "--space", "quick", "--trials",
                           str(QUICK_TRIALS), *models)
    assert code == 0, err
    assert (registry.root / "sweeps.db").is_file()
    code, _, err = run_cli(capsys, "sweep", "create", "quick-demo", "--space", "quick", "--trials", "2", *models)
    assert code == 2 and "already exists" in err

    first = cli("sweep", "work", "quick-demo", "--trials", "2", "--json", models=registry.root)  # its own process
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["trials_run"] == 2 and not json.loads(first.stdout)["done"]
    code, out, err = run_cli(capsys, "sweep", "work", "quick-demo", "--json", *models)  # another one resumes
    assert code == 0, err
    assert json.loads(out)["trials_run"] == QUICK_TRIALS - 2 and json.loads(out)["done"]

    trials = json.loads(run_cli(capsys, "sweep", "show", "quick-demo", "--json", *models)[1])
    assert [trial["number"] for trial in trials] == list(range(QUICK_TRIALS))
    assert {trial["state"] for trial in trials} == {"complete"}
    runs = sweep_runs(registry, "quick-demo")
    assert {trial["number"]: [trial["run_id"]] for trial in trials} == runs  # each trial saved exactly once
    for trial in trials:
        record = registry.record(trial["run_id"])
        assert record.epochs[-1]["val_accuracy"] == pytest.approx(trial["value"])
        assert record.config["subset_size"] == 5000 and record.config["epochs"] == 1
        assert record.config["learning_rate"] == pytest.approx(trial["params"]["learning_rate"])
        assert record.spec[0]["units"] == trial["params"]["dense_units"]
        assert registry.test_probabilities(record.id, mnist.test_fingerprint) is not None  # Errors needs no re-predict
    best = max(trials, key=lambda trial: trial["value"])
    assert [trial["number"] for trial in trials if trial["best"]] == [best["number"]]
    listed = json.loads(run_cli(capsys, "sweep", "list", "--json", *models)[1])
    assert listed == [{"name": "quick-demo", "planned": QUICK_TRIALS, "running": 0, "complete": QUICK_TRIALS,
                       "pruned": 0, "fail": 0, "waiting": 0, "best_value": best["value"], "done": True}]
    code, _, err = run_cli(capsys, "sweep", "show", "no-such-sweep", *models)
    assert code == 2 and "no sweep named 'no-such-sweep'" in err


def test_a_sweep_over_a_log_range_of_whole_numbers_completes_its_trials(registry, mnist_path, tmp_path, capsys):
    """Issue 25: dense_units {"low": 16, "high": 256, "log": true} was accepted by create, then every trial failed
    ("must be a whole number ... got 105.17")."""
    space = tmp_path / "units.json"
    space.write_text(json.dumps({"template": "dense", "params": {
        "dense_units": {"low": 16, "high": 256, "log": True}, "epochs": 1, "subset_size": 1000,
        "validation_split": 0.2}}))
    models = ["--models", str(registry.root)]
    code, _, err = run_cli(capsys, "sweep", "create", "units", "--space", str(space), "--trials", "2", *models)
    assert code == 0, err
    code, out, err = run_cli(capsys, "sweep", "work", "units", "--data", mnist_path, "--json", *models)
    assert code == 0 and json.loads(out)["trials_run"] == 2, err
    trials = json.loads(run_cli(capsys, "sweep", "show", "units", "--json", *models)[1])
    assert [trial["state"] for trial in trials] == ["complete", "complete"], trials
    for trial in trials:
        units = trial["params"]["dense_units"]
        assert type(units) is int and 16 <= units <= 256
        assert registry.record(trial["run_id"]).spec[0]["units"] == units


def test_a_hopeless_trial_is_pruned_after_its_first_epoch_and_not_saved(registry, mnist):
    from mnist_core.sweeps.study import create_sweep, default_storage_url, load_study, open_storage, trial_rows, work

    space = {"template": "dense", "params": {"learning_rate": {"choices": [3e-3, 1e-7]}, "dense_units": 32,
                                             "epochs": 2, "subset_size": 2000, "validation_split": 0.2}}
    storage = open_storage(default_storage_url(registry))
    study = create_sweep("pruning", space, 1, storage)  # one trial the sampler chooses, then three fixed ones:
    for rate in (3e-3, 3e-3, 1e-7):  # two good ones, then one that cannot learn
        study.enqueue_trial({"learning_rate": rate})
    assert work("pruning", storage, mnist, registry) == 4
    rows = trial_rows(load_study("pruning", storage))
    assert [row.state for row in rows[1:]] == ["complete", "complete", "pruned"]
    assert "pruned after epoch 1" in rows[3].reason
    saved = sweep_runs(registry, "pruning")
    assert set(saved) == {row.number for row in rows if row.state == "complete"}


def test_a_sweep_in_the_job_runner_trains_one_trial_per_job_queued_with_runs_and_stops_after_its_trial(
        registry, mnist):
    from mnist_core.jobs.requests import RunRequest
    from mnist_core.jobs.runner import JobRunner
    from mnist_core.model.config import TrainConfig
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import (
        create_sweep,
        default_storage_url,
        load_study,
        open_storage,
        summarize,
        sweep_request,
    )

    url = default_storage_url(registry)
    create_sweep("background", load_space("quick"), 6, open_storage(url))
    runner = JobRunner(registry, lambda: mnist)
    first = runner.submit(sweep_request("background", url))
    pressed = runner.submit(RunRequest("pressed", "custom", [{"type": "Dense", "units": 16}],
                                       TrainConfig(epochs=1, subset_size=1000, validation_split=0.2, seed=3)))
    assert runner.wait(first, WORKER_TIMEOUT_S).status == "finished"
    assert runner.wait(pressed, WORKER_TIMEOUT_S).status == "finished"
    second = next(brief.id for brief in runner.briefs() if brief.name == "sweep background" and brief.id > pressed)
    views = [runner.view(job_id) for job_id in (first, pressed)]
    assert views[0].record.sweep == {"study": "background", "trial": 0} and views[0].batches
    assert views[0].ended <= views[1].started  # the press trained after the first trial, never beside it
    assert runner.view(second).submitted >= views[0].ended  # the sweep queued itself again, behind the press
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while runner.view(second).latest is None and time.monotonic() < deadline:  # until its trial trains
        time.sleep(0.05)
    runner.stop(second)  # during the second trial: it is finished, none is started after it
    assert runner.wait(second, WORKER_TIMEOUT_S).status == "finished"
    time.sleep(0.5)
    assert [brief.id for brief in runner.briefs() if brief.status in ("queued", "running")] == []
    counts = summarize(load_study("background", open_storage(url))).counts
    assert (counts["complete"], counts["running"], counts["fail"], counts["waiting"]) == (2, 0, 0, 4)
    assert len(sweep_runs(registry, "background")) == 2


def test_a_diverging_trial_fails_with_the_reason_is_not_saved_and_not_retried(registry, mnist):
    from mnist_core.sweeps.study import create_sweep, default_storage_url, load_study, open_storage, trial_rows, work

    space = {"template": "dense", "params": {  # deep relu MLP, SGD at 10: NaN within a few batches
        "dense_blocks": 4, "dense_units": 256, "optimizer": "sgd", "learning_rate": 10.0, "batch_size": 64,
        "epochs": 1, "subset_size": 2000, "validation_split": 0.1}}
    storage = open_storage(default_storage_url(registry))
    create_sweep("diverges", space, 1, storage)
    assert work("diverges", storage, mnist, registry) == 1
    [row] = trial_rows(load_study("diverges", storage))
    assert row.state == "fail" and "loss became nan" in row.reason and row.run_id is None
    assert sweep_runs(registry, "diverges") == {}


def test_a_run_saved_by_a_trial_that_then_failed_is_removed(registry, small_dense_model):
    import optuna

    from mnist_core.store.records import RegistryError, RunRecord
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import create_sweep, default_storage_url, open_storage, remove_orphan_runs

    storage = open_storage(default_storage_url(registry))
    study = create_sweep("orphans", load_space("quick"), 1, storage)
    saved = {}
    for state, value in ((optuna.trial.TrialState.COMPLETE, 0.5), (optuna.trial.TrialState.FAIL, None)):
        run_id = registry.new_id(state.name)
        study.add_trial(optuna.create_trial(state=state, value=value, user_attrs={"run_id": run_id}))
        record = RunRecord(id="", name=state.name, architecture="sweep", spec=[], config={}, status="finished",
                           created="", sweep={"study": "orphans", "trial": study.get_trials()[-1].number})
        saved[state.name] = registry.save_run(small_dense_model, record, run_id).id
    remove_orphan_runs(study, registry)
    assert registry.record(saved["COMPLETE"]).name == "COMPLETE"
    with pytest.raises(RegistryError):
        registry.record(saved["FAIL"])



def fields(trial) -> str:
    """Every field of a ``FrozenTrial``, its dicts in key order, as text (a NaN is never equal to itself)."""
    return repr([(name, sorted(value.items()) if isinstance(value, dict) else value)
                 for name, value in sorted(vars(trial).items())])


@pytest.mark.parametrize("storage_kind", ["sqlite", "postgresql"])
def test_trials_are_read_as_optuna_reads_them(storage_kind, registry, request):
    """The storage's own reading of trials (plain queries) gives exactly Optuna's ``FrozenTrial``s, for every query
    Optuna's cache makes: all trials, some states, the new ones and the unfinished ones; on a study with complete,
    pruned, failed and retried, running and waiting trials, infinite and missing values."""
    import math

    import optuna
    from optuna.storages import RDBStorage

    from helpers import told_trials
    from mnist_core.sweeps.spaces import load_space, suggest
    from mnist_core.sweeps.study import (
        RETRY,
        claim_waiting_trial,
        create_sweep,
        default_storage_url,
        open_storage,
        queue_waiting_trials,
    )

    url = request.getfixturevalue("postgres_url") if storage_kind == "postgresql" else default_storage_url(registry)
    storage, space = open_storage(url), load_space("quick")
    study = create_sweep(f"read-alike-{storage_kind}", space, 3, storage)
    suggest(optuna.Trial(study, claim_waiting_trial(study, storage)), space)  # running, its parameters chosen
    failed = optuna.Trial(study, claim_waiting_trial(study, storage))
    failed.report(math.nan, 1)
    failed.report(-math.inf, 2)
    RETRY(study, study.tell(failed, state=optuna.trial.TrialState.FAIL))  # a waiting retry with system attributes
    study.add_trials(told_trials(space, complete=20, pruned=5))
    study.add_trial(optuna.create_trial(value=math.inf, params={"dropout": 0.1},
                                        distributions={"dropout": optuna.distributions.FloatDistribution(0, 0.5)}))
    queue_waiting_trials(storage, study._study_id, 2)
    study_id, backend = study._study_id, storage.backend
    trials = RDBStorage._get_trials(backend, study_id, None, set(), -1)
    unfinished = {trial._trial_id for trial in trials if not trial.state.is_finished()}
    assert len(trials) == 32 and len(unfinished) == 5 and trials[3].system_attrs
    last_finished = max(trial._trial_id for trial in trials if trial.state.is_finished())
    for query in [(None, set(), -1), ((optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL), set(), -1),
                  (None, unfinished, last_finished - 3), (None, unfinished, -1)]:
        read, optunas = backend._get_trials(study_id, *query), RDBStorage._get_trials(backend, study_id, *query)
        assert list(map(fields, read)) == list(map(fields, optunas)), query

# --- PostgreSQL: many workers -----------------------------------------------------------------------------------


def finished_worker(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=WORKER_TIMEOUT_S)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out)


def test_workers_share_one_study_on_postgresql_and_a_killed_ones_trial_fails_and_is_retried(
        postgres_url, registry, mnist_path):  # noqa: F811
    """Three worker processes on one study; one is killed with SIGKILL while it trains a trial, the other two
    finish the study between them, the killed trial failed and run again by one of them."""
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import create_sweep, load_study, open_storage, trial_rows

    storage = open_storage(postgres_url)
    create_sweep("shared", load_space("quick"), SHARED_TRIALS, storage)
    victim, *survivors = (start_worker("shared", postgres_url, registry.root) for _ in range(3))
    victim_id = f"{socket.gethostname()}:{victim.pid}"
    study = load_study("shared", storage)
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    searched = len(load_space("quick")["params"]) - 3  # epochs, subset_size, validation_split are fixed
    while True:  # wait until the victim has chosen a trial's parameters and is training it
        running = [trial for trial in study.get_trials(deepcopy=False)
                   if trial.state.name == "RUNNING" and trial.user_attrs.get("worker") == victim_id
                   and len(trial.params) == searched]
        if running or victim.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert running, "the victim never ran a trial"
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    results = [finished_worker(worker) for worker in survivors]
    assert [result["trials_run"] >= 1 for result in results] == [True, True]  # both worked on it
    assert sum(result["trials_run"] for result in results) == SHARED_TRIALS  # the victim's one again, not its own
    # what each worker saw as it left is not asserted: the first to leave can leave while the other fails the killed
    # trial and queues its retry (it happened once); the study's final state below is what must hold
    rows = {row.number: row for row in trial_rows(load_study("shared", storage))}
    killed = rows[running[0].number]
    assert killed.state == "fail" and killed.worker == victim_id
    retries = [row for row in rows.values() if row.retry_of == killed.number]
    assert len(retries) == 1 and retries[0].state == "complete" and retries[0].params == killed.params
    assert sorted(rows) == list(range(SHARED_TRIALS + 1))  # the planned trials and the one retry
    complete = {number: row for number, row in rows.items() if row.state == "complete"}
    assert len(complete) == SHARED_TRIALS and set(complete) == set(rows) - {killed.number}
    assert {row.worker for row in complete.values()} == {f"{socket.gethostname()}:{worker.pid}" for worker in survivors}
    # none lost, none saved twice, nothing saved from the killed trial
    assert sweep_runs(registry, "shared") == {number: [row.run_id] for number, row in complete.items()}
