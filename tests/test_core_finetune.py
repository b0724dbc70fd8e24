"""Fine-tuning on MNIST + My digits with real MNIST, real Keras models (the shipped default and small ones trained
here) and a hand the default model reads badly (tests/stroke_hand.py); through the real job runner and the CLI."""

from __future__ import annotations

import io
import json
import os
import time

import keras
import numpy as np
import pytest
from PIL import Image

from faults_helpers import NO_TENSORFLOW_PEAK_KB, measured_cli
from helpers import run_cli, save_run, two_at_a_time
from mnist_core.data.drawing import to_mnist
from mnist_core.jobs.finetune import FinetuneError, execute_finetune, finetune_request, lineage
from mnist_core.jobs.runner import JobRunner
from mnist_core.model.evaluation import evaluate
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.registry import DEFAULT_ID, Registry
from stroke_hand import hand

PER_DIGIT = 10  # drawings of each digit put into My digits, as the issue asks
TARGET = 0.97  # accuracy on other drawings of the same hand after fine-tuning
MAX_MNIST_DROP = 0.002  # MNIST test accuracy may drop by at most 0.2 points


def fill(registry, per_digit: int, seed: int, digits=range(10)) -> MyDigits:
    collection = MyDigits(registry)
    canvases, labels = hand(per_digit, seed)
    for canvas, label in zip(canvases, labels, strict=True):
        if label in digits:
            collection.add(int(label), to_mnist(canvas), canvas)
    return collection


@pytest.fixture(scope="module")
def other_drawings():
    """Twenty more drawings per digit of the same hand, never put into My digits."""
    canvases, labels = hand(20, seed=2)
    return np.stack([to_mnist(canvas) for canvas in canvases]), labels


def test_fine_tuning_the_default_model_teaches_it_the_hand_and_keeps_mnist(registry, mnist, other_drawings):
    collection = fill(registry, PER_DIGIT, seed=1)
    runner = JobRunner(registry, lambda: mnist)
    view = runner.wait(runner.submit(finetune_request(registry, DEFAULT_ID)), timeout=600)
    assert view.status == "finished", view.reason
    record = view.record
    base, tuned = registry.load_model(DEFAULT_ID), registry.load_model(record.id)
    x_other, y_other = other_drawings
    before, after = evaluate(base, x_other, y_other).accuracy, evaluate(tuned, x_other, y_other).accuracy
    print(f"other drawings of the hand: {before:.1%} -> {after:.1%}")
    assert before < 0.8 and after >= TARGET
    test_before, test_after = (evaluate(model, mnist.x_test, mnist.y_test).accuracy for model in (base, tuned))
    assert test_before - test_after <= MAX_MNIST_DROP
    trained, held = collection.split()
    x_held, y_held = collection.arrays(held)
    assert record.parent == DEFAULT_ID
    assert record.reason.startswith(f"fine-tuned from {registry.record(DEFAULT_ID).name}")
    assert f"on {len(trained)} of my digits ({len(held)} held out)" in record.reason
    assert record.finetune["trained_on"] == len(trained) and record.finetune["held_out"] == len(held)
    assert record.finetune["mine_accuracy_before"] == pytest.approx(evaluate(base, x_held, y_held).accuracy)
    assert record.finetune["mine_accuracy_after"] == pytest.approx(evaluate(tuned, x_held, y_held).accuracy)
    assert record.finetune["test_accuracy_before"] == pytest.approx(test_before)
    assert record.test_accuracy == pytest.approx(test_after)
    assert registry.test_probabilities(record.id, mnist.test_fingerprint) is not None  # Errors needs no re-predict
    assert Registry(registry.root).record(record.id).finetune == record.finetune  # survives the round trip to disk
    assert len(view.epochs) == record.config["epochs"] and view.batches  # live progress reached the runner


@pytest.fixture()
def small_cnn_run(registry, small_cnn_model):
    return save_run(registry, small_cnn_model, name="small cnn").id


def weights_by_layer(model) -> dict:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.get_weights()}


def test_the_lineage_names_the_base_once_when_its_name_is_its_id():
    assert lineage("default", "default", 80, 20) == "fine-tuned from default on 80 of my digits (20 held out)"
    assert lineage("mine", "20261202-mine-1a2b", 8, 2).startswith("fine-tuned from mine (20261202-mine-1a2b) on 8 ")


def test_a_fine_tune_starts_from_the_given_weights_and_trains_only_the_classifier(registry, mnist, small_cnn_run):
    fill(registry, 3, seed=5)
    base = weights_by_layer(registry.load_model(small_cnn_run))
    still = finetune_request(registry, small_cnn_run, epochs=1, learning_rate=1e-12)
    unchanged = weights_by_layer(registry.load_model(execute_finetune(small_cnn_run, still, mnist, registry).id))
    for name, arrays in base.items():
        for start, end in zip(arrays, unchanged[name], strict=True):
            np.testing.assert_allclose(end, start, atol=1e-6)
    moved = finetune_request(registry, small_cnn_run, epochs=1)
    record = execute_finetune(small_cnn_run, moved, mnist, registry)
    tuned = registry.load_model(record.id)
    after = weights_by_layer(tuned)
    for layer in tuned.layers:
        if layer.name in base:
            changed = any(not np.allclose(a, b) for a, b in zip(base[layer.name], after[layer.name], strict=True))
            assert changed == isinstance(layer, keras.layers.Dense), layer.name
    assert all(layer.trainable for layer in tuned.layers)  # saved ready to be trained again


def test_stop_ends_a_fine_tune_after_the_current_batch_and_saves_it(registry, mnist, small_cnn_run):
    fill(registry, 3, seed=9)
    runner = JobRunner(registry, lambda: mnist)
    job_id = runner.submit(finetune_request(registry, small_cnn_run, epochs=50))
    deadline = time.monotonic() + 120
    while runner.view(job_id).latest is None and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop(job_id)
    view = runner.wait(job_id, timeout=120)
    assert view.status == "stopped" and "stopped on request during epoch" in view.reason
    assert len(view.record.epochs) < 50 and view.record.parent == small_cnn_run
    assert view.record.test_accuracy is not None
    assert (view.epochs, view.batches) == (view.record.epochs, view.record.batches)  # one history, live and saved


def test_a_set_with_too_few_drawings_or_one_digit_is_refused(registry, mnist, small_cnn_run):
    request = finetune_request(registry, small_cnn_run)
    with pytest.raises(FinetuneError, match="add at least 5"):
        execute_finetune(small_cnn_run, request, mnist, registry)
    fill(registry, 12, seed=6, digits={4})
    with pytest.raises(FinetuneError, match="only the digit 4"):
        execute_finetune(small_cnn_run, request, mnist, registry)
    assert [record.id for record in registry.list_runs() if record.parent] == []


def test_a_model_without_trainable_layers_fails_as_a_job_with_the_reason(registry, mnist, small_cnn_model, tmp_path):
    frozen = keras.models.clone_model(small_cnn_model)
    frozen.trainable = False
    path = tmp_path / "frozen.keras"
    frozen.save(path)
    run_id = registry.import_model("frozen upload", path.read_bytes()).id
    fill(registry, 2, seed=7)
    runner = JobRunner(registry, lambda: mnist)
    view = runner.wait(runner.submit(finetune_request(registry, run_id)), timeout=120)
    assert view.status == "failed" and "no trainable layers" in view.reason


def test_cli_finetune_prints_the_figures_and_predict_uses_the_new_run(tmp_path, other_drawings):
    models = tmp_path / "models"
    fill(Registry(models), 3, seed=8)

    def cli(*args):
        return run_cli(*args, models=models)

    done = two_at_a_time({"tuned": lambda: cli("finetune", "--model", DEFAULT_ID, "--epochs", "1", "--json"),
                          "refused": lambda: measured_cli("finetune", "--model", "no-such-run",  # it only reads
                                                          env=os.environ | {"DIGIT_LAB_MODELS": str(models)})})
    result, refused = done["tuned"], done["refused"]
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"run_id", "mine_accuracy_before", "mine_accuracy_after", "test_accuracy_before", "test_accuracy_after",
            "seconds"} <= set(payload)
    assert payload["parent"] == DEFAULT_ID and payload["seconds"] > 0 and payload["test_accuracy_after"] > 0.98
    assert Registry(models).record(payload["run_id"]).finetune["trained_on"] == payload["trained_on"]
    image = tmp_path / "digit.png"
    buffer = io.BytesIO()
    Image.fromarray((other_drawings[0][0] * 255).astype(np.uint8)).save(buffer, format="PNG")
    image.write_bytes(buffer.getvalue())
    predicted = cli("predict", "--model", payload["run_id"], str(image), "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["digit"] in range(10)
    assert refused["rc"] == 2 and "no-such-run" in refused["err"] and "Traceback" not in refused["err"]
    assert refused["peak_kb"] <= NO_TENSORFLOW_PEAK_KB  # refused before TensorFlow loads
