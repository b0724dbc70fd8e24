"""Fine-tune a saved model on MNIST plus My digits: start from its weights, train its dense classifier layers
briefly (the feature layers stay as they are, which keeps MNIST accuracy far better than training every layer;
figures in bench/RESULTS.md, section Finetune) on a stratified MNIST subset mixed with the training part of My digits
(over-sampled, randomly shifted and turned, so a few dozen drawings matter), and save the result as a new run that
records its parent and its accuracy on the held-out part of My digits and on MNIST test, before and after."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from contextlib import closing

import keras
import numpy as np

from mnist_core.data.mnist import MnistData, stratified_subset
from mnist_core.jobs.requests import RunRequest
from mnist_core.jobs.runs import finish_run
from mnist_core.model.config import ConfigError, TrainConfig
from mnist_core.model.evaluation import evaluate
from mnist_core.store.my_digits import MyDigits, MyDigitsError
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry
from mnist_core.training.board import RunBoard
from mnist_core.training.loop import FINISHED, PreparedData, train
from mnist_core.training.progress import History, ProgressEvent

FINETUNE_CONFIG = TrainConfig(optimizer="adam", learning_rate=1e-3, batch_size=64, epochs=2, validation_split=0.0,
                              seed=7)
MNIST_IMAGES = 3000  # MNIST training images mixed in, so the model keeps reading MNIST
MINE_SHARE = 0.25  # share of each epoch's images that are (repeated, augmented) My digits
MAX_REPEATS = 40  # a drawing is repeated at most this many times per epoch
ROTATION = 10 / 360  # random turn of a repeated drawing: ±10° (keras RandomRotation factor, a share of a circle)
SHIFT = 2 / 28  # random shift: ±2 pixels


class FinetuneError(ConfigError):
    """A fine-tune that cannot run (no usable drawings, a model without trainable layers); the message says why.
    A ``ConfigError``, so the job runner reports it as a failed job with this message."""


def lineage(base_name: str, base_id: str, trained_on: int, held_out: int) -> str:
    """Where a fine-tune came from, for its record's reason: the base by name and id (once, when they are the same:
    not "default (default)")."""
    base = base_name if base_name == base_id else f"{base_name} ({base_id})"
    return f"fine-tuned from {base} on {trained_on} of my digits ({held_out} held out)"


def finetune_request(registry: Registry, base_id: str, epochs: int = FINETUNE_CONFIG.epochs,
                     learning_rate: float = FINETUNE_CONFIG.learning_rate) -> RunRequest:
    """A job for the job runner (or ``execute_finetune`` directly) that fine-tunes run ``base_id``."""
    base = registry.record(base_id)
    config = FINETUNE_CONFIG.replace(epochs=epochs, learning_rate=learning_rate)
    return RunRequest(f"{base.name} + my digits", base.architecture, base.spec or [], config,
                      execute=functools.partial(execute_finetune, base_id))


def training_items(digits: MyDigits) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, held-out images, held-out labels); refuses sets too small to learn from."""
    try:
        problem = digits.finetune_problem()
        trained, held = digits.split()
        x_mine, y_mine = digits.arrays(trained)
        x_held, y_held = digits.arrays(held)
    except (MyDigitsError, OSError, ValueError) as error:
        raise FinetuneError(f"My digits cannot be read: {error}") from None
    if problem:
        raise FinetuneError(problem)
    return x_mine, y_mine, x_held, y_held


def augmented_repeats(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` copies of the drawings (cycled), each randomly turned and shifted a little, as uint8 images."""
    order = np.resize(np.arange(len(labels)), count)
    augment = keras.Sequential([keras.layers.RandomRotation(ROTATION, fill_mode="constant", seed=seed),
                                keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="constant", seed=seed + 1)])
    moved = np.asarray(augment(images[order][..., None], training=True))[..., 0]
    return np.clip(np.rint(moved * 255), 0, 255).astype(np.uint8), labels[order]


def training_mix(data: MnistData, x_mine: np.ndarray, y_mine: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified MNIST subset plus My digits repeated to ``MINE_SHARE`` of the whole (uint8 images, labels)."""
    keep = stratified_subset(data.y_train, min(MNIST_IMAGES, len(data.y_train)), seed)
    wanted = round(MINE_SHARE / (1 - MINE_SHARE) * len(keep))
    x_extra, y_extra = augmented_repeats(x_mine, y_mine, min(wanted, MAX_REPEATS * len(y_mine)), seed)
    return np.concatenate([data.x_train[keep], x_extra]), np.concatenate([data.y_train[keep], y_extra])


def classifier_layers(model) -> Callable | None:
    """Which layers a fine-tune trains: the Dense ones (None, i.e. every layer, when the model has none)."""
    if any(isinstance(layer, keras.layers.Dense) and layer.trainable_weights for layer in model.layers):
        return lambda layer: isinstance(layer, keras.layers.Dense)
    return None


def accuracy_or_none(model, images: np.ndarray, labels: np.ndarray) -> float | None:
    return evaluate(model, images, labels).accuracy if len(labels) else None


def execute_finetune(base_id: str, request: RunRequest, data: MnistData, registry: Registry,
                     on_event: Callable[[ProgressEvent], None] | None = None,
                     stop_event: threading.Event | None = None, history: History | None = None) -> RunRecord:
    """Fine-tune run ``base_id`` as ``request`` says (its config: optimizer, learning rate, batch size, epochs, seed)
    on MNIST + My digits of ``registry``; save and return the new run (stopped and failed ones too, like any run).
    Its ``seconds`` are the whole fine-tune but the final test: measuring before, training, measuring the held-out
    drawings after. MNIST test after is the run's own test accuracy."""
    started = time.perf_counter()
    config = request.config
    base = registry.record(base_id)
    model = registry.load_model(base_id)
    if not model.trainable_weights:
        raise FinetuneError(f"the model {base_id!r} has no trainable layers, so it cannot be fine-tuned. "
                            "Pick a model trained here, or upload one whose layers are trainable.")
    x_mine, y_mine, x_held, y_held = training_items(MyDigits(registry))
    keras.utils.set_random_seed(config.seed)
    x_mix, y_mix = training_mix(data, x_mine, y_mine, config.seed)
    before = {"mine": accuracy_or_none(model, x_held, y_held), "test": evaluate(model, data.x_test, data.y_test)}
    nothing = np.zeros((0, *x_mix.shape[1:]), x_mix.dtype), np.zeros(0, y_mix.dtype)
    prepared = PreparedData(x_mix, y_mix, *nothing, data.x_test, data.y_test, data.fingerprint)
    with registry.scratch_folder() as board, closing(RunBoard(board)) as events:
        result = train(base.spec or [], config, prepared, on_event, stop_event, history, start_model=model,
                       trains_layer=classifier_layers(model), callbacks=[events])
        after_mine = accuracy_or_none(result.model, x_held, y_held)
        result.seconds = time.perf_counter() - started
        record = RunRecord(
            id="", name=request.name, architecture=base.architecture, spec=base.spec, config=config.to_dict(),
            status=result.status, created="", parent=base_id,
            reason=lineage(base.name, base_id, len(y_mine), len(y_held)) if result.status == FINISHED else "",
            finetune={"base_name": base.name, "trained_on": len(y_mine), "held_out": len(y_held),
                      "mnist_images": min(MNIST_IMAGES, len(data.y_train)), "images_per_epoch": len(y_mix),
                      "mine_accuracy_before": before["mine"], "mine_accuracy_after": after_mine,
                      "test_accuracy_before": before["test"].accuracy})
        return finish_run(result, record, prepared, registry, board)
