"""The run registry: atomic saves without optimizer state, listing, safe loading, rename, delete, import."""

import json
import os
import time
import zipfile

import numpy as np
import pytest

from helpers import save_run
from mnist_core.registry import (DEFAULT_ID, MODEL_FILE, PROJECT_MODELS, RECORD_FILE, STALE_TEMP_SECONDS, Registry,
                                 RegistryError)


def test_a_saved_run_lists_and_loads_with_the_same_predictions(registry, small_dense_model, test_sample):
    record = save_run(registry, small_dense_model, name="first try", accuracy=0.9)
    listed = [r for r in registry.list_runs() if r.id == record.id]
    assert listed and listed[0].name == "first try" and listed[0].versions["keras"].startswith("3.")
    loaded = registry.load_model(record.id)
    images = test_sample[0][:8].reshape(8, 784) / 255.0
    np.testing.assert_allclose(loaded(images).numpy(), small_dense_model(images).numpy(), atol=1e-6)
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".")]


def test_models_are_saved_without_optimizer_state(registry, small_cnn_model):
    assert small_cnn_model.optimizer is not None and small_cnn_model.optimizer.variables
    record = save_run(registry, small_cnn_model)
    with zipfile.ZipFile(registry.model_path(record.id)) as archive:
        config = json.loads(archive.read("config.json"))
        assert not config.get("compile_config")
        assert "optimizer" not in archive.read("model.weights.h5").decode("latin-1")


def test_rename_changes_the_display_name_only(registry, small_dense_model):
    record = save_run(registry, small_dense_model, name="old")
    registry.rename(record.id, "  new name ✓ ")
    assert registry.record(record.id).name == "new name ✓"


def test_delete_removes_the_run_but_never_the_default(registry, small_dense_model):
    record = save_run(registry, small_dense_model)
    registry.delete(record.id)
    assert record.id not in [r.id for r in registry.list_runs()]
    with pytest.raises(RegistryError, match="no run"):
        registry.load_model(record.id)
    with pytest.raises(RegistryError, match="cannot be deleted"):
        registry.delete(DEFAULT_ID)


def test_import_accepts_an_mnist_classifier_and_export_returns_it(registry, small_cnn_model, tmp_path):
    path = tmp_path / "mine.keras"
    small_cnn_model.save(path)
    record = registry.import_model("uploaded one", path.read_bytes())
    assert record.status == "uploaded" and record.params == small_cnn_model.count_params()
    assert registry.export(record.id)[:2] == b"PK"


def test_best_run_is_the_most_accurate(registry, small_dense_model):
    save_run(registry, small_dense_model, name="worse", accuracy=0.5)
    save_run(registry, small_dense_model, name="better", accuracy=0.999)  # above the shipped default's
    assert registry.best_run().name == "better"


def test_the_shipped_default_model_is_listed_when_the_registry_has_none(registry):
    if not (PROJECT_MODELS / DEFAULT_ID / MODEL_FILE).is_file():
        pytest.fail("models/default is missing: train it with the command in the README.")
    assert registry.default_id() == DEFAULT_ID
    default = registry.record(DEFAULT_ID)
    assert default.test_accuracy >= 0.994
    assert (PROJECT_MODELS / DEFAULT_ID / MODEL_FILE).stat().st_size <= 2 * 1024 * 1024
    model = registry.load_model(DEFAULT_ID)
    assert model.output_shape == (None, 10)
    assert json.loads((PROJECT_MODELS / DEFAULT_ID / RECORD_FILE).read_text())["status"] == "finished"


def test_a_run_in_training_is_hidden_from_runs_and_interrupted_only_once_its_owner_is_gone(registry,
                                                                                             small_dense_model):
    from mnist_core.statuses import INTERRUPTED

    partial = registry.start_partial("long run", "custom", [{"type": "Dense", "units": 64}], {"epochs": 5}, 123)
    assert partial.run_id not in [run.id for run in registry.list_runs()] and not registry.warnings
    assert registry.list_interrupted() == []  # its owner (this test) still holds it
    with pytest.raises(RegistryError, match=f"process {os.getpid()}"):
        registry.claim_partial(partial.run_id)
    partial.save_epoch(small_dense_model, [{"epoch": 1, "loss": 0.5}], [{"step": 1, "epoch": 1, "loss": 0.7}], 2.5)
    partial.release()  # the owner dies

    (listed,) = registry.list_interrupted()
    assert (listed.id, listed.name, listed.status, listed.params) == (partial.run_id, "long run", INTERRUPTED, 123)
    assert listed.epochs == [{"epoch": 1, "loss": 0.5}] and "after epoch 1 of 5" in listed.reason
    claimed = registry.claim_partial(partial.run_id)
    assert registry.list_interrupted() == []  # taken over by the resume
    assert claimed.checkpoint_path.name == "epoch-1.weights.h5" and claimed.checkpoint_path.is_file()
    assert claimed.values["owner"]["pid"] == os.getpid()
    claimed.release()
    registry.discard_interrupted(partial.run_id)
    assert registry.list_interrupted() == [] and not list(registry.root.glob(".partial-*"))
    with pytest.raises(RegistryError, match="no interrupted run"):
        registry.claim_partial(partial.run_id)


def test_a_new_checkpoint_replaces_the_old_only_once_it_is_complete(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 3}, 0)
    for epoch in (1, 2):
        partial.save_epoch(small_dense_model, [{"epoch": e} for e in range(1, epoch + 1)], [], float(epoch))
    names = sorted(path.name for path in partial.folder.iterdir())
    assert names == ["epoch-2.weights.h5", "owner.lock", "partial.json"]
    assert json.loads((partial.folder / "partial.json").read_text())["checkpoint"] == "epoch-2.weights.h5"
    partial.release()


def test_stale_temporary_cleanup_leaves_runs_in_training_alone(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 3}, 0)
    partial.save_epoch(small_dense_model, [{"epoch": 1}], [], 1.0)
    old = time.time() - 2 * STALE_TEMP_SECONDS
    for path in [partial.folder, *partial.folder.iterdir()]:
        os.utime(path, (old, old))
    Registry(registry.root)  # cleans stale temporaries on start
    assert partial.checkpoint_path.is_file() and (partial.folder / "partial.json").is_file()
    partial.release()
    assert [record.id for record in registry.list_interrupted()] == [partial.run_id]


def test_leftovers_of_a_run_saved_just_before_its_process_died_are_removed(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 1}, 0)
    record = save_run_as(registry, small_dense_model, partial.run_id)
    partial.release()
    assert registry.list_interrupted() == [] and not partial.folder.exists()
    assert [run.id for run in registry.list_runs()].count(record.id) == 1


def save_run_as(registry, model, run_id):
    from mnist_core.registry import RunRecord

    record = RunRecord(id="", name="run", architecture="custom", spec=[], config={}, status="finished", created="",
                       params=int(model.count_params()))
    return registry.save_run(model, record, run_id=run_id)


def test_saved_test_probabilities_come_back_only_for_the_same_test_split(registry, small_dense_model, mnist):
    from mnist_core.data import fingerprint
    from mnist_core.evaluation import evaluate
    from mnist_core.registry import RunRecord

    images, labels = mnist.x_test[:300], mnist.y_test[:300]
    evaluation = evaluate(small_dense_model, images, labels)
    record = RunRecord(id="", name="with predictions", architecture="custom", spec=[], config={}, status="finished",
                       created="")
    saved = registry.save_run(small_dense_model, record, test_predictions=(evaluation.probabilities,
                                                                           fingerprint(images, labels)))
    back = registry.test_probabilities(saved.id, fingerprint(images, labels))
    np.testing.assert_allclose(back, evaluation.probabilities, rtol=1e-6, atol=1e-7)  # stored as float32
    assert registry.test_probabilities(saved.id, fingerprint(mnist.x_test[:299], mnist.y_test[:299])) is None
    plain_run = registry.save_run(small_dense_model, RunRecord(id="", name="none", architecture="custom", spec=[],
                                                               config={}, status="finished", created=""))
    assert registry.test_probabilities(plain_run.id, fingerprint(images, labels)) is None
