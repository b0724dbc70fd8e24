"""Runs end to end and the job runner: checkpoints in the registry while a run trains, resumption of an interrupted
run, one history shared by the live view and the saved run, and only the last few jobs' history kept in memory."""

import json
import subprocess
import sys
import threading
import time

import pytest

from faults_helpers import Child, assert_runs_intact, child_env, steps_per_epoch
from helpers import PROJECT, interrupted_run
from mnist_core.data.mnist import ENV_VAR
from mnist_core.jobs.requests import RunRequest, resume_request
from mnist_core.jobs.runner import LIVE_JOBS_KEPT, JobRunner
from mnist_core.jobs.runs import execute_run
from mnist_core.model.architectures import SpecError, count_params
from mnist_core.model.config import TrainConfig
from mnist_core.statuses import FINISHED, INTERRUPTED, QUEUED
from mnist_core.store.registry import DEFAULT_ID, Registry

DENSE = [{"type": "Dense", "units": 32}]
TINY = TrainConfig(epochs=2, subset_size=1200, validation_split=0.25, batch_size=100, seed=11)


def own_runs(registry):
    return [record for record in registry.list_runs() if record.id != DEFAULT_ID]


def test_a_run_leaves_only_its_saved_record_behind(mnist, registry):
    record = execute_run(RunRequest("plain", "custom", DENSE, TINY), mnist, registry)
    assert record.status == FINISHED and [row["epoch"] for row in record.epochs] == [1, 2]
    assert record.data_fingerprint == mnist.fingerprint  # so its validation split is replayed on this data set only
    assert [run.id for run in own_runs(registry)] == [record.id]
    assert registry.list_interrupted() == [] and not list(registry.root.glob(".partial-*"))


def test_a_checkpointed_run_counts_each_second_of_training_once(mnist, registry):
    config = TINY.replace(epochs=4, subset_size=12000, batch_size=32)  # training is most of the call's wall time
    started = time.perf_counter()
    record = execute_run(RunRequest("timed", "custom", DENSE, config), mnist, registry)
    wall = time.perf_counter() - started
    epochs_total = sum(row["seconds"] for row in record.epochs)
    # the record's seconds are the fit's: at least its epochs, and never more time than passed (each checkpoint records
    # the seconds so far; adding those again once had runs report about double, more than the whole call took)
    assert epochs_total <= record.seconds <= wall


def test_a_network_that_cannot_be_built_leaves_nothing(mnist, registry):
    with pytest.raises(SpecError):
        execute_run(RunRequest("bad", "custom", [{"type": "Dense", "units": 0}], TINY), mnist, registry)
    assert own_runs(registry) == [] and registry.list_interrupted() == []
    assert not [path.name for path in registry.root.iterdir() if not path.name.startswith(".tmp-")]


def test_an_interrupted_run_resumed_by_the_runner_ends_as_a_normal_run(mnist, registry):
    config = TINY.replace(epochs=3)
    run_id = interrupted_run(mnist, registry, DENSE, config)
    (interrupted,) = registry.list_interrupted()
    assert interrupted.status == INTERRUPTED and len(interrupted.epochs) == 1
    runner = JobRunner(registry, lambda: mnist)
    done = runner.wait(runner.submit(resume_request(interrupted)), 120)
    assert done.status == FINISHED and done.resume_id == run_id, done.reason
    (saved,) = own_runs(registry)
    assert saved.id == run_id and saved.name == "cut" and saved.config == config.to_dict()
    assert [row["epoch"] for row in saved.epochs] == [1, 2, 3] and saved.epochs[0] == interrupted.epochs[0]
    assert saved.test_accuracy > 0.5 and registry.list_interrupted() == []


def test_the_live_history_is_the_saved_history(mnist, registry):
    runner = JobRunner(registry, lambda: mnist)
    done = runner.wait(runner.submit(RunRequest("one history", "custom", DENSE, TINY.replace(steps_per_execution=3))),
                       120)
    assert done.status == FINISHED and done.batches and done.epochs
    saved = registry.record(done.record.id)
    assert done.batches == saved.batches and done.epochs == saved.epochs


def test_the_runner_keeps_the_last_jobs_history_and_reads_older_ones_from_the_registry(mnist, registry):
    runner = JobRunner(registry, lambda: mnist)
    config = TINY.replace(epochs=1, subset_size=600)
    jobs = [runner.submit(RunRequest(f"run {index}", "custom", DENSE, config)) for index in range(LIVE_JOBS_KEPT + 1)]
    views = [runner.wait(job, 120) for job in jobs]
    assert all(view.status == FINISHED for view in views)
    oldest, newest = views[0], views[-1]
    assert runner.view(oldest.id).batches == registry.record(oldest.record.id).batches  # read back
    registry.delete(oldest.record.id)
    registry.delete(newest.record.id)
    assert runner.view(oldest.id).batches == []  # nothing of it in memory any more
    assert runner.view(newest.id).batches == newest.batches  # still live


def test_the_runner_finds_a_queued_or_running_identical_request(mnist, registry):
    runner = JobRunner(registry, lambda: mnist)
    request = RunRequest("same", "custom", DENSE, TINY.replace(epochs=50, subset_size=3000))
    first = runner.submit(request)
    second = runner.submit(RunRequest("other", "custom", DENSE, TINY))
    assert runner.same_request(request).id == first
    assert runner.same_request(RunRequest("another name", "custom", DENSE, TINY)).id == second  # queued, names aside
    assert runner.same_request(RunRequest("other", "custom", DENSE, TINY.replace(seed=5))) is None  # other settings
    assert runner.briefs()[0][:4] == (second, "other", QUEUED, None) and runner.briefs()[1].id == first
    runner.stop(second)
    runner.stop(first)
    runner.wait(first, 60)
    assert runner.same_request(request) is None  # ended: a new identical run is no duplicate


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
    for request, view in zip(requests, views, strict=True):
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
    job_ids = [runner.submit(request) for runner, request in zip(runners, requests, strict=True)]
    views = [runner.wait(job_id, 120) for runner, job_id in zip(runners, job_ids, strict=True)]
    for request, view in zip(requests, views, strict=True):
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
    for (name, units, epochs, subset, batch), result in zip(settings, results, strict=True):
        assert result["status"] == FINISHED, result["reason"]
        request = RunRequest(name, "custom", [{"type": "Dense", "units": units}],
                             TrainConfig(epochs=epochs, subset_size=subset, batch_size=batch, validation_split=0.1,
                                         seed=units))
        assert_history_is_its_own(registry, request, registry.record(result["id"]))
    listed = {record.id for record in Registry(registry.root).list_runs()}
    assert {result["id"] for result in results} <= listed
    assert_runs_intact(registry, good)


def test_the_job_runner_loads_no_tensorflow():
    """Pages create the runner: it must not make them wait for TensorFlow (4-5 s); its thread imports it per run."""
    probe = "import sys, mnist_core.jobs.runner; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- tasks: jobs that compute a value (t-SNE, robustness) ---------------------------------------------------------


def test_a_task_reports_progress_keeps_its_value_and_two_asks_at_once_share_one_job(mnist, registry):
    from mnist_core.jobs.requests import task_request

    release, started = threading.Event(), []

    def work(report):
        started.append(threading.current_thread().name)
        report(2.0, "half way")  # clipped to 1
        release.wait(30)
        return {"answer": 42}

    runner = JobRunner(registry, lambda: mnist)
    asked = []
    askers = [threading.Thread(target=lambda: asked.append(runner.submit_once(task_request("t", ("map", 1), work))))
              for _ in range(8)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert len(set(asked)) == 1  # one job however many sessions asked at the same moment
    deadline = time.monotonic() + 30
    while runner.view(asked[0]).latest is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.view(asked[0]).latest.message == "half way" and runner.view(asked[0]).latest.fraction_done == 1.0
    release.set()
    view = runner.wait(asked[0], 30)
    assert view.status == FINISHED and view.value == {"answer": 42} and len(started) == 1
    assert started[0] == "digit-lab-trainer"  # on the runner's one worker, not beside it
    assert runner.submit_once(task_request("t", ("map", 1), work)) == asked[0]  # kept: not computed again


def test_a_task_waits_for_the_training_before_it_and_a_failed_one_is_computed_again(mnist, registry):
    from mnist_core.jobs.requests import task_request

    runner = JobRunner(registry, lambda: mnist)
    training = runner.submit(RunRequest("first", "custom", DENSE, TINY))
    seen = []

    def work(report):
        seen.append(runner.view(training).status)
        if len(seen) == 1:
            raise ValueError("bad sample")
        return 7

    failed = runner.wait(runner.submit_once(task_request("t", ("robustness", 2), work)), 120)
    assert failed.status == "failed" and "bad sample" in failed.reason and failed.value is None
    assert seen == [FINISHED]  # it ran once the training had ended, never beside it
    again = runner.wait(runner.submit_once(task_request("t", ("robustness", 2), work)), 30)
    assert again.id != failed.id and again.value == 7


def test_a_light_task_runs_beside_a_training_and_a_heavy_one_waits_for_it(mnist, registry):
    from mnist_core.jobs.requests import task_request

    runner = JobRunner(registry, lambda: mnist)
    training = runner.submit(RunRequest("long", "custom", DENSE, TINY.replace(epochs=200, subset_size=3000)))
    while runner.view(training).latest is None:
        time.sleep(0.05)
    light = runner.wait(runner.submit_once(task_request("saliency", ("s", 1), lambda report: "map", light=True)), 30)
    assert light.value == "map" and runner.view(training).status == "running"  # done while the training goes on
    heavy = runner.submit_once(task_request("t-SNE", ("t", 1), lambda report: "embedding"))
    time.sleep(0.5)
    assert runner.view(heavy).status == QUEUED and runner.view(heavy).queue_position == 1
    runner.stop(training)
    assert runner.wait(heavy, 60).value == "embedding"
