"""Runs end to end and the job runner: checkpoints in the registry while a run trains, resumption of an interrupted
run, one history shared by the live view and the saved run, and only the last few jobs' history kept in memory."""

import pytest

from helpers import interrupted_run
from mnist_core.architectures import SpecError
from mnist_core.config import TrainConfig
from mnist_core.jobs import LIVE_JOBS_KEPT, JobRunner, RunRequest, execute_run, resume_request
from mnist_core.registry import DEFAULT_ID
from mnist_core.statuses import FINISHED, INTERRUPTED, QUEUED

DENSE = [{"type": "Dense", "units": 32}]
TINY = TrainConfig(epochs=2, subset_size=1200, validation_split=0.25, batch_size=100, seed=11)


def own_runs(registry):
    return [record for record in registry.list_runs() if record.id != DEFAULT_ID]


def test_a_run_leaves_only_its_saved_record_behind(mnist, registry):
    record = execute_run(RunRequest("plain", "custom", DENSE, TINY), mnist, registry)
    assert record.status == FINISHED and [row["epoch"] for row in record.epochs] == [1, 2]
    assert [run.id for run in own_runs(registry)] == [record.id]
    assert registry.list_interrupted() == [] and not list(registry.root.glob(".partial-*"))


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
    assert runner.briefs()[0] == (second, "other", QUEUED, None) and runner.briefs()[1].id == first
    runner.stop(second)
    runner.stop(first)
    runner.wait(first, 60)
    assert runner.same_request(request) is None  # ended: a new identical run is no duplicate
