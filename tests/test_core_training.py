"""The training function and the job runner, on small real subsets of MNIST."""

import json
import math
import threading
import zipfile

import numpy as np
import pytest

from faults_helpers import assert_runs_intact, steps_per_epoch
from mnist_core.cli.main import main as cli_main
from mnist_core.jobs.requests import RunRequest
from mnist_core.jobs.runner import JobRunner
from mnist_core.jobs.runs import WorkFolderCheckpoint, execute_run
from mnist_core.model.architectures import build_model
from mnist_core.model.config import TrainConfig
from mnist_core.model.precision import cpu_flags, resolved_precision
from mnist_core.statuses import FAILED, FINISHED, QUEUED, STOPPED
from mnist_core.store.files import RECORD_FILE
from mnist_core.store.registry import DEFAULT_ID
from mnist_core.training.loop import compile_model, make_dataset, prepare_data, train, training_dataset

DENSE = [{"type": "Dense", "units": 32}]
TINY = TrainConfig(epochs=2, subset_size=1200, validation_split=0.25, batch_size=100, seed=11)
DIVERGING_SPEC = [{"type": "Dense", "units": 256}] * 4  # deep relu MLP: SGD at 10 blows up to NaN in ~5 batches
DIVERGING_CONFIG = TrainConfig(optimizer="sgd", learning_rate=10.0, batch_size=64, epochs=3, subset_size=2000,
                               validation_split=0.1, seed=42)


def test_events_report_batches_and_epochs_with_speed_and_eta(mnist):
    events = []
    result = train(DENSE, TINY, prepare_data(mnist, TINY), on_event=events.append)
    batches = [e for e in events if e.kind == "batch"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(batches) == 2 * 9 and len(epochs) == 2  # 900 training images / batch 100
    assert set(epochs[-1].metrics) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(e.samples_per_s > 0 and e.elapsed >= 0 for e in batches)
    assert math.isnan(batches[0].eta) or batches[0].eta > batches[-1].eta
    assert batches[-1].fraction_done == 1.0
    assert result.status == FINISHED and [row["epoch"] for row in result.epochs] == [1, 2]
    assert result.epochs[-1]["loss"] < result.epochs[0]["loss"]


def test_same_seed_and_config_give_the_same_history(mnist):
    first = train(DENSE, TINY, prepare_data(mnist, TINY))
    second = train(DENSE, TINY, prepare_data(mnist, TINY))
    assert first.epochs and [{k: v for k, v in r.items() if k != "seconds"} for r in first.epochs] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in second.epochs]
    other = train(DENSE, TINY.replace(seed=12), prepare_data(mnist, TINY.replace(seed=12)))
    assert other.epochs[0]["loss"] != first.epochs[0]["loss"]


def test_pad_drawings_join_the_images_trained_on_but_not_the_validation_or_test_images(mnist):
    plain = prepare_data(mnist, TINY)
    drawn = prepare_data(mnist, TINY.replace(drawings_per_digit=4))
    assert len(drawn.y_train) == len(plain.y_train) + 40
    assert np.array_equal(drawn.x_train[:len(plain.y_train)], plain.x_train)
    assert drawn.x_train.dtype == plain.x_train.dtype and np.bincount(drawn.y_train[len(plain.y_train):]).tolist() \
        == [4] * 10
    assert np.array_equal(drawn.x_val, plain.x_val) and np.array_equal(drawn.x_test, plain.x_test)


def test_a_stop_request_ends_training_after_the_current_batch(mnist):
    stop = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event)
        if event.kind == "batch" and event.step == 3:
            stop.set()

    result = train(DENSE, TINY, prepare_data(mnist, TINY), on_event, stop)
    assert result.status == STOPPED and "after batch 3" in result.reason
    assert len([e for e in seen if e.kind == "batch"]) == 3


def test_the_pipeline_has_autotune_switched_off(mnist, small_dense_model):
    dataset = make_dataset(mnist.x_test[:10], mnist.y_test[:10], 5, small_dense_model)
    assert dataset.options().autotune.enabled is False
    images, labels = next(iter(dataset))
    assert images.shape == (5, 784) and float(images.numpy().max()) <= 1.0


def test_the_shuffled_pipeline_gives_every_image_once_per_epoch_with_its_label_in_a_new_order_each_epoch(
        mnist, small_dense_model):
    images, labels = mnist.x_test[:50], mnist.y_test[:50]
    by_pixels = {image.tobytes(): label for image, label in zip(images, labels, strict=True)}
    dataset = make_dataset(images, labels, 16, small_dense_model, one_hot=True, shuffle_seed=7)

    def one_epoch(dataset) -> list[bytes]:
        seen = []
        for batch_images, batch_labels in dataset:
            assert batch_images.shape[0] <= 16
            for image, label in zip(batch_images.numpy(), batch_labels.numpy(), strict=True):
                key = np.rint(image * 255).astype(np.uint8).tobytes()
                assert label.argmax() == by_pixels[key] and label.sum() == 1.0
                seen.append(key)
        return seen

    first, second = one_epoch(dataset), one_epoch(dataset)
    assert sorted(first) == sorted(second) == sorted(by_pixels) and len(first) == 50
    assert first != second and first != list(by_pixels)
    again = make_dataset(images, labels, 16, small_dense_model, one_hot=True, shuffle_seed=7)
    assert one_epoch(again) == first and one_epoch(again) == second  # the same seed, the same orders


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_a_compiled_model_traces_its_training_step_once(mnist, steps_per_execution):
    """Optimizer slots created while the step is traced make TensorFlow trace it twice (0.4-0.8 s per run)."""
    config = TINY.replace(steps_per_execution=steps_per_execution)
    data = prepare_data(mnist, config)
    model = build_model(DENSE)
    compile_model(model, config, total_steps=9)
    traced = []
    step = model.train_step
    model.train_step = lambda batch: traced.append(1) or step(batch)
    model.fit(training_dataset(data.x_train, data.y_train, config, model), epochs=1, verbose=0, shuffle=False)
    assert len(traced) == 1 and int(model.optimizer.iterations) == 9


def test_label_smoothing_trains_against_softened_one_hot_targets(mnist):
    config = TINY.replace(label_smoothing=0.2)
    result = train(DENSE, config, prepare_data(mnist, config))  # class numbers would not fit a categorical loss
    assert result.status == FINISHED and result.epochs[-1]["accuracy"] > 0.3  # chance is 0.1
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=6).astype(np.float32)
    labels = rng.integers(0, 10, size=6)
    targets = np.eye(10)[labels] * (1 - 0.2) + 0.2 / 10
    expected = -(targets * np.log(probabilities)).sum(axis=1).mean()
    assert float(result.model.loss(np.eye(10, dtype=np.float32)[labels], probabilities)) == pytest.approx(expected,
                                                                                                          rel=1e-5)


def test_a_mixed_bfloat16_run_is_saved_in_bfloat16_and_loads_computing_in_what_this_cpu_runs_natively(mnist,
                                                                                                      registry):
    runner = JobRunner(registry, lambda: mnist)
    config = TINY.replace(precision="mixed_bfloat16", subset_size=3000)
    spec = [{"type": "Conv2D", "filters": 8}, {"type": "Flatten"}, *DENSE]
    done = runner.wait(runner.submit(RunRequest("bf16", "custom", spec, config)), 120)
    assert done.status == FINISHED
    assert done.record.config["precision"] == "mixed_bfloat16" and done.record.test_accuracy > 0.8
    with zipfile.ZipFile(registry.model_path(done.record.id)) as archive:
        saved = json.loads(archive.read("config.json"))["config"]["layers"]
    assert [layer["config"]["dtype"]["config"]["name"] for layer in saved[1:3]] == ["mixed_bfloat16"] * 2
    model = registry.load_model(done.record.id)
    hidden, output = model.layers[0], model.layers[-1]
    native = resolved_precision("auto", cpu_flags())
    assert hidden.dtype_policy.name == native and hidden.compute_dtype == native.removeprefix("mixed_")
    assert hidden.variable_dtype == "float32" and output.compute_dtype == "float32"
    probabilities = model(mnist.x_test[:20, :, :, None] / 255.0).numpy()
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_an_auto_precision_run_records_and_computes_in_what_this_cpu_runs_natively(mnist, registry):
    native = resolved_precision("auto", cpu_flags())  # the oracle reads /proc/cpuinfo itself, uncached
    record = execute_run(RunRequest("auto", "custom", DENSE, TINY.replace(precision="auto", epochs=1)), mnist,
                         registry)
    assert native in ("float32", "mixed_bfloat16") and record.config["precision"] == native
    assert registry.load_model(record.id).layers[0].dtype_policy.name == native


def test_runner_trains_one_at_a_time_in_order_and_saves_each_run(mnist, registry):
    runner = JobRunner(registry, lambda: mnist)
    long_config = TINY.replace(epochs=3, subset_size=3000)
    first = runner.submit(RunRequest("first", "custom", DENSE, long_config))
    second = runner.submit(RunRequest("second", "custom", DENSE, TINY))
    assert runner.view(second).status == QUEUED and runner.view(second).queue_position in (1, 2)
    live = runner.view(first)  # readable while it trains
    assert isinstance(live.batches, list)
    done_first, done_second = runner.wait(first, 120), runner.wait(second, 120)
    assert done_first.status == done_second.status == FINISHED
    assert done_first.ended <= done_second.started
    assert len(done_first.epochs) == 3 and len(done_second.epochs) == 2
    saved = {record.name: record for record in registry.list_runs() if record.id != DEFAULT_ID}
    assert set(saved) == {"first", "second"}
    assert saved["first"].test_accuracy > 0.8 and len(saved["first"].epochs) == 3


def test_runner_cancels_a_queued_run_and_stops_a_running_one(mnist, registry):
    runner = JobRunner(registry, lambda: mnist)
    running = runner.submit(RunRequest("long", "custom", DENSE, TINY.replace(epochs=50, subset_size=3000)))
    queued = runner.submit(RunRequest("never", "custom", DENSE, TINY))
    runner.stop(queued)
    while not runner.view(running).batches:
        threading.Event().wait(0.05)
    runner.stop(running)
    stopped = runner.wait(running, 60)
    assert stopped.status == STOPPED and runner.view(queued).status == STOPPED
    (saved,) = [r for r in registry.list_runs() if r.id != DEFAULT_ID]
    assert saved.status == "stopped" and np.isfinite(saved.test_accuracy)


def test_a_stop_after_the_last_batch_of_an_epoch_says_the_epoch_had_finished(mnist):
    config = TINY.replace(epochs=3, subset_size=100, batch_size=100, validation_split=0.0)  # one batch per epoch
    stop = threading.Event()
    stop.set()
    result = train(DENSE, config, prepare_data(mnist, config), stop_event=stop)
    assert result.status == STOPPED and result.reason == "stopped on request after epoch 1 (it had finished)."
    assert [row["epoch"] for row in result.epochs] == [1]


def stop_in_epoch(epoch: int, step: int = 2):
    """A stop event and an ``on_event`` that sets it at ``step`` of ``epoch`` (so earlier epochs end normally)."""
    stop = threading.Event()

    def on_event(event):
        if event.kind == "batch" and event.epoch == epoch and event.step == step:
            stop.set()

    return stop, on_event


def test_a_resumed_run_goes_on_from_its_last_checkpoint_with_the_step_count_and_history(mnist, registry):
    from mnist_core.training.progress import History

    config = TINY.replace(epochs=3, lr_schedule="one-cycle", steps_per_execution=2)
    data = prepare_data(mnist, config)
    partial = registry.start_partial("resumable", "custom", DENSE, config.to_dict(), 0)
    stop, on_event = stop_in_epoch(2)
    history = History()
    cut = train(DENSE, config, data, on_event, stop, history, WorkFolderCheckpoint(partial, history))
    assert cut.status == STOPPED and partial.epochs_done == 1  # the cut-short epoch 2 is not checkpointed
    saved_epoch = dict(partial.values["epochs"][0])
    partial.release()  # as if the process had died

    resumed_partial = registry.claim_partial(partial.run_id)
    history = History(resumed_partial.values["epochs"], resumed_partial.values["batches"])
    resumed = train(DENSE, config, data, None, None, history, WorkFolderCheckpoint(resumed_partial, history))
    steps_per_epoch = math.ceil(len(data.y_train) / config.batch_size)
    assert resumed.status == FINISHED and "resumed after epoch 1" in resumed.reason
    assert [row["epoch"] for row in resumed.epochs] == [1, 2, 3] and resumed.epochs[0] == saved_epoch
    uninterrupted = train(DENSE, config, data)
    assert [row["step"] for row in resumed.batches] == [row["step"] for row in uninterrupted.batches]
    assert int(resumed.model.optimizer.iterations) == 3 * steps_per_epoch  # the one-cycle schedule went on
    assert resumed.epochs[-1]["loss"] < resumed.epochs[0]["loss"]
    assert resumed_partial.epochs_done == 3  # every full epoch is checkpointed


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


