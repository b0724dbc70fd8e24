"""TensorBoard event files: every run writes them beside its record, TensorBoard's own reader finds every run of a
registry, and the registry's listing, renaming and deleting handle the event folder."""

import pytest

from mnist_core.model.config import TrainConfig
from mnist_core.store.files import BOARD_DIR

TINY = TrainConfig(subset_size=1000, epochs=2, batch_size=100, validation_split=0.1, seed=5, lr_schedule="one-cycle")
SPEC = [{"type": "Conv2D", "filters": 4, "kernel_size": 5}, {"type": "MaxPooling2D"}, {"type": "Flatten"},
        {"type": "Dense", "units": 16}]
PER_EPOCH = ("epoch_loss", "epoch_accuracy")
PER_BATCH = ("batch_loss", "batch_accuracy", "batch_learning_rate")


@pytest.fixture()
def two_runs(registry, mnist):
    """Two real runs saved in ``registry``."""
    from mnist_core.jobs.requests import RunRequest
    from mnist_core.jobs.runs import execute_run

    return [execute_run(RunRequest(name, "custom", SPEC, TINY.replace(seed=seed)), mnist, registry)
            for name, seed in (("first", 1), ("second", 2))]


def read_back(root) -> dict:
    """Every run TensorBoard finds under ``root`` (as ``tensorboard --logdir root`` walks it), loaded by its
    ``EventAccumulator``: {run path relative to root: accumulator}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.io_wrapper import GetLogdirSubdirectories

    found = {}
    for folder in GetLogdirSubdirectories(str(root)):
        accumulator = EventAccumulator(folder, size_guidance={"tensors": 0})
        accumulator.Reload()
        found[str(folder)[len(str(root)) + 1:]] = accumulator
    return found


def values(accumulator, tag: str) -> dict[int, float]:
    from tensorboard.util.tensor_util import make_ndarray

    return {event.step: float(make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)}


def test_tensorboard_reads_back_every_run_of_a_registry(two_runs, registry):
    found = read_back(registry.root)
    assert set(found) == {f"{record.id}/{BOARD_DIR}/{part}" for record in two_runs
                          for part in ("train", "validation", "test")}
    for record in two_runs:
        train, validation, test = (found[f"{record.id}/{BOARD_DIR}/{part}"] for part in ("train", "validation",
                                                                                        "test"))
        tags = train.Tags()["tensors"]
        assert set(PER_EPOCH + PER_BATCH) | {"epoch_learning_rate", "keras"} <= set(tags)
        assert train.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"  # the model graph
        epoch_loss = values(train, "epoch_loss")
        assert epoch_loss == pytest.approx({0: record.epochs[0]["loss"], 1: record.epochs[1]["loss"]}, rel=1e-5)
        steps = sorted(values(train, "batch_loss"))
        assert steps == list(range(1, 19)) == [row["step"] for row in record.batches]  # 9 batches an epoch
        assert values(validation, "epoch_accuracy")[1] == pytest.approx(record.epochs[1]["val_accuracy"], rel=1e-5)
        assert values(test, "test_accuracy") == pytest.approx({2: record.test_accuracy}, rel=1e-6)
        assert values(test, "test_loss") == pytest.approx({2: record.test_loss}, rel=1e-6)
        rates = values(train, "batch_learning_rate")
        assert max(rates.values()) == pytest.approx(TINY.learning_rate) and rates[18] < rates[9] < rates[4]  # one-cycle


def test_listing_renaming_and_deleting_handle_the_event_folder(two_runs, registry):
    first, second = two_runs
    skipped = []
    assert {record.id for record in registry.list_runs(skipped)} >= {first.id, second.id}
    assert not registry.list_interrupted(skipped) and not skipped
    assert not list(registry.root.glob(".partial-*"))  # the work folders, events included, are gone once saved
    registry.rename(first.id, "renamed")
    assert registry.record(first.id).name == "renamed" and f"{first.id}/{BOARD_DIR}/train" in read_back(registry.root)
    registry.delete(second.id)
    assert not any(run.startswith(second.id) for run in read_back(registry.root))
    assert [record.id for record in registry.list_runs() if record.id in (first.id, second.id)] == [first.id]
