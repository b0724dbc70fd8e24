"""The one training function used by the dashboard and the CLI: progress events, stop requests, NaN guard, seeds.

Data reaches Keras through a ``tf.data`` pipeline with autotuning switched off: on small CPU machines the autotune
thread stalls ``fit`` for many seconds at the start of many epochs (``bench/EPOCH_FLOOR.md``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from mnist_core.data.inputs import PIXEL_MAX
from mnist_core.data.mnist import NUM_CLASSES, MnistData, stratified_subset, validation_split
from mnist_core.model.architectures import build_model
from mnist_core.model.config import OPTIMIZER_CLASSES, WARMUP_FRACTION, TrainConfig, check_fits_data, one_hot_labels
from mnist_core.statuses import FAILED, FINISHED, STOPPED
from mnist_core.training.drawings import pad_drawings
from mnist_core.training.progress import History, ProgressEvent

PREFETCH_BATCHES = 2


@dataclass
class TrainResult:
    """What a run produced: the model (weights as trained, or as restored by early stopping) and how it went."""

    model: object
    status: str
    reason: str
    epochs: list[dict] = field(default_factory=list)  # per-epoch metrics, in order
    batches: list[dict] = field(default_factory=list)  # per-batch train loss/accuracy with a global step
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"TrainResult(status={self.status!r}, epochs={len(self.epochs)}, seconds={self.seconds:.1f})"


@dataclass(frozen=True)
class PreparedData:
    """Training, validation and test arrays, already subset and split as the config asks."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str | None = None  # fingerprint of the data set these come from


def prepare_data(data: MnistData, config: TrainConfig) -> PreparedData:
    """Apply the subset and the validation split of ``config`` and add its pad drawings to the images trained on (not
    to the validation or test images); raises ``ConfigError`` when the batch cannot fit."""
    check_fits_data(config, len(data.y_train))
    x, y = data.x_train, data.y_train
    if config.subset_size is not None:
        keep = stratified_subset(y, config.subset_size, config.seed)
        x, y = x[keep], y[keep]
    fit_index, val_index = validation_split(len(y), config.validation_split, config.seed)
    drawn_x, drawn_y = pad_drawings(config.drawings_per_digit, config.seed)
    return PreparedData(np.concatenate([x[fit_index], drawn_x]), np.concatenate([y[fit_index], drawn_y]),
                        x[val_index], y[val_index], data.x_test, data.y_test, data.fingerprint)


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, model,
                 one_hot: bool = False, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Batched ``tf.data`` pipeline with autotune off (it stalled epoch starts). Only the image indices are shuffled
    and each batch is gathered at once: shuffling the images themselves filled a 60,000-image buffer before the first
    batch of every epoch (~0.3 s) in the same order. Images stay uint8 in memory until a batch is cast."""
    all_images = tf.constant(images.reshape((len(images), *model.input_shape[1:])))
    all_labels = tf.constant(labels.astype(np.int32))
    order = tf.data.Dataset.range(len(images))
    if shuffle_seed is not None:
        order = order.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)

    def gather(index):
        x, y = tf.gather(all_images, index), tf.gather(all_labels, index)
        return tf.cast(x, tf.float32) / PIXEL_MAX, (tf.one_hot(y, NUM_CLASSES) if one_hot else y)

    dataset = order.batch(batch_size).map(gather).prefetch(PREFETCH_BATCHES)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def one_cycle(peak: float, total_steps: int):
    """The one-cycle schedule as Keras's ``CosineDecay`` with a linear warm-up from 0 to ``peak``."""
    warmup = int(total_steps * WARMUP_FRACTION)
    return keras.optimizers.schedules.CosineDecay(0.0, max(1, total_steps - warmup), alpha=0.0,
                                                  warmup_target=peak, warmup_steps=warmup)


def make_optimizer(config: TrainConfig, total_steps: int):
    rate = one_cycle(config.learning_rate, total_steps) if config.lr_schedule == "one-cycle" else config.learning_rate
    return getattr(keras.optimizers, OPTIMIZER_CLASSES[config.optimizer])(learning_rate=rate)


def training_dataset(images: np.ndarray, labels: np.ndarray, config: TrainConfig, model) -> tf.data.Dataset:
    """The shuffled pipeline that ``config`` trains ``model`` on (its batch size, seed and label form)."""
    return make_dataset(images, labels, config.batch_size, model, one_hot_labels(config), config.seed)


def make_loss(config: TrainConfig):
    """The loss to compile: Keras's name for it, or the smoothing cross-entropy when labels are smoothed."""
    if config.label_smoothing > 0:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return config.loss


def compile_model(model, config: TrainConfig, total_steps: int) -> None:
    """Compile ``model`` for ``config`` and create its optimizer's slots now: left to ``fit``, they are created while
    the training step is traced, and TensorFlow then traces the step a second time."""
    one_hot = one_hot_labels(config)
    accuracy = keras.metrics.CategoricalAccuracy if one_hot else keras.metrics.SparseCategoricalAccuracy
    model.compile(optimizer=make_optimizer(config, total_steps), loss=make_loss(config),
                  metrics=[accuracy(name="accuracy")], steps_per_execution=config.steps_per_execution)
    model.optimizer.build(model.trainable_variables)


def distribution_strategy():
    """All visible GPUs through ``MirroredStrategy`` when there are several, else TensorFlow's default device."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


class ProgressReporter(keras.callbacks.Callback):
    """Turns Keras callbacks into history rows and ``ProgressEvent``s.

    ``async_safe`` lets Keras run the batch hook on its callback thread pool, so the training loop never waits for
    it (this keeps the reporting cost near zero); a lock serialises the hooks and late arrivals are not re-emitted.
    Keras finishes every pending batch hook before ``on_epoch_end``.
    """

    async_safe = True

    def __init__(self, on_event: Callable[[ProgressEvent], None] | None, epochs: int, steps_per_epoch: int,
                 batch_size: int, samples_per_epoch: int, history: History | None = None):
        super().__init__()
        self.on_event, self.history = on_event, history or History()
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.batch_size, self.samples_per_epoch = batch_size, samples_per_epoch
        self.first_step = len(self.history.epochs) * steps_per_epoch  # steps done before this process (resumed)
        self.started = self.epoch_started = 0.0
        self.epoch = 0
        self.last_step = 0  # global step of the newest batch event emitted
        self.lock = threading.Lock()

    @property
    def epoch_rows(self) -> list[dict]:
        return self.history.snapshot()[0]

    @property
    def batch_rows(self) -> list[dict]:
        return self.history.snapshot()[1]

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_started = epoch + 1, time.perf_counter()

    def emit(self, kind: str, step: int, metrics: dict, samples_this_epoch: int) -> None:
        now = time.perf_counter()
        elapsed = now - self.started
        speed = samples_this_epoch / max(now - self.epoch_started, 1e-9)
        done = (self.epoch - 1) * self.steps_per_epoch + step
        remaining = self.epochs * self.steps_per_epoch - done
        done_here = done - self.first_step
        eta = elapsed / done_here * remaining if done_here > 0 else float("nan")
        if self.on_event is not None:
            self.on_event(ProgressEvent(kind, self.epoch, self.epochs, step, self.steps_per_epoch, metrics,
                                        speed, elapsed, eta))

    def on_train_batch_end(self, batch, logs=None):
        step = min(batch + 1, self.steps_per_epoch)  # a group of steps in one call may be reported past the end
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        global_step = (self.epoch - 1) * self.steps_per_epoch + step
        with self.lock:
            self.history.add_batch({"step": global_step, "epoch": self.epoch, **metrics})
            if global_step > self.last_step:
                self.last_step = global_step
                self.emit("batch", step, metrics, min(step * self.batch_size, self.samples_per_epoch))

    def on_epoch_end(self, epoch, logs=None):
        metrics = {key: float(value) for key, value in (logs or {}).items() if key != "learning_rate"}
        row = {"epoch": epoch + 1, **metrics, "seconds": time.perf_counter() - self.epoch_started}
        self.history.add_epoch(row)
        self.emit("epoch", self.steps_per_epoch, metrics, self.samples_per_epoch)


class StopOnRequest(keras.callbacks.Callback):
    """Ends training after the current batch once ``stop_event`` is set, keeping when (the run's reason)."""

    async_safe = True

    def __init__(self, stop_event: threading.Event):
        super().__init__()
        self.stop_event, self.reason, self.epoch, self.lock = stop_event, "", 0, threading.Lock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        with self.lock:
            if self.stop_event.is_set() and not self.reason:
                steps = (self.params or {}).get("steps")
                self.reason = (f"stopped on request after epoch {self.epoch} (it had finished)." if batch + 1 == steps
                               else f"stopped on request during epoch {self.epoch}, after batch {batch + 1}.")
                self.model.stop_training = True


class StopOnDivergence(keras.callbacks.Callback):
    """Ends training when the loss becomes NaN or infinite, keeping where it first did (the run's failure reason).
    Not Keras's ``TerminateOnNaN``: it prints to stdout, which breaks the CLI's ``--json``, and keeps no reason."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.failure, self.epoch, self.lock = "", 0, threading.Lock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def check(self, logs: dict | None, where: str) -> None:
        loss = (logs or {}).get("loss")
        with self.lock:
            if loss is not None and not math.isfinite(float(loss)) and not self.failure:
                self.failure = (f"loss became {float(loss)} at {where}: training diverged. "
                                "Lower the learning rate (or use Adam) and try again.")
                self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.check(logs, f"epoch {self.epoch}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self.check(logs, f"the end of epoch {epoch + 1}")


@dataclass
class Watch:
    """The callbacks every training uses, one job each: report progress, stop on request, stop on divergence."""

    reporter: ProgressReporter
    stopper: StopOnRequest
    guard: StopOnDivergence

    @property
    def callbacks(self) -> list:
        return [self.reporter, self.stopper, self.guard]

    def outcome(self) -> tuple[str, str] | None:
        """(status, reason) of a run that failed or was stopped; None when it ran its course."""
        if self.guard.failure:
            return FAILED, self.guard.failure
        return (STOPPED, self.stopper.reason) if self.stopper.reason else None


def watch(on_event: Callable[[ProgressEvent], None] | None, stop_event: threading.Event | None, epochs: int,
          steps_per_epoch: int, batch_size: int, samples_per_epoch: int, history: History | None = None) -> Watch:
    """The progress reporter, the stop button and the divergence guard of one training."""
    return Watch(ProgressReporter(on_event, epochs, steps_per_epoch, batch_size, samples_per_epoch, history),
                 StopOnRequest(stop_event or threading.Event()), StopOnDivergence())


class Checkpoint(Protocol):
    """What ``train`` needs of a checkpointing callback (the caller's, e.g. a run's work folder): a Keras callback
    that saves at epoch ends, and puts its last saved state back into a compiled model before training starts."""

    seconds_before: float  # training seconds spent before this process, in the epochs already checkpointed

    def restore(self, model) -> int:
        """Load the last checkpoint into ``model``; the number of epochs it holds (0 when there is none)."""


@contextmanager
def training_only(model, trains_layer: Callable | None):
    """Inside, only the layers ``trains_layer(layer)`` accepts are trainable (all as they are when it is None);
    the model keeps its own flags after, so what is saved is the model as it was built."""
    flags = [layer.trainable for layer in model.layers]
    if trains_layer is not None:
        for layer in model.layers:
            layer.trainable = layer.trainable and bool(trains_layer(layer))
    try:
        yield model
    finally:
        for layer, flag in zip(model.layers, flags, strict=True):
            layer.trainable = flag


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping on a loss that goes on counting its patience from the epochs a resumed run finished before:
    Keras's own starts from nothing at every ``fit``. (The best weights of those earlier epochs were not kept; with
    ``restore_best`` the best of the epochs trained in this process is restored.)"""

    def __init__(self, earlier_losses: list[float], **kwargs):
        super().__init__(**kwargs)
        self.earlier_losses = earlier_losses

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for epoch, loss in enumerate(self.earlier_losses):  # Keras's rule: wait grows, an improvement resets it
            self.wait += 1
            if self.best is None or loss < self.best - self.min_delta:
                self.best, self.best_epoch, self.wait = loss, epoch, 0


def train(spec: list[dict], config: TrainConfig, data: PreparedData,
          on_event: Callable[[ProgressEvent], None] | None = None,
          stop_event: threading.Event | None = None, history: History | None = None,
          checkpoint: Checkpoint | None = None, start_model=None, trains_layer: Callable | None = None,
          callbacks: Sequence = ()) -> TrainResult:
    """Build ``spec`` (or go on from ``start_model``, training only the layers ``trains_layer`` accepts), train it
    under ``config`` on ``data`` and return the model with its history.

    Same spec, config and data give the same history on CPU. ``stop_event`` ends training after the current batch
    (status "stopped"); a non-finite loss ends it with status "failed" and the reason. Rows are added to
    ``history`` as they come. A ``checkpoint`` callback is restored from before training and called at each epoch
    end; a run that has checkpoints goes on after its last epoch (its ``history`` must then hold those epochs).
    ``callbacks`` are the caller's other Keras callbacks (e.g. its TensorBoard logs).
    """
    stop_event, history = stop_event or threading.Event(), history or History()
    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = math.ceil(len(data.y_train) / config.batch_size)
    with distribution_strategy().scope():
        model = start_model if start_model is not None else build_model(spec, precision=config.precision)
    with training_only(model, trains_layer):
        with distribution_strategy().scope():
            compile_model(model, config, steps_per_epoch * config.epochs)
            initial_epoch = checkpoint.restore(model) if checkpoint is not None else 0
        train_set = training_dataset(data.x_train, data.y_train, config, model)
        val_set = make_dataset(data.x_val, data.y_val, 1024, model, one_hot_labels(config)) if len(data.y_val) \
            else None
        run = watch(on_event, stop_event, config.epochs, steps_per_epoch, config.batch_size, len(data.y_train),
                    history)
        callbacks = run.callbacks + ([checkpoint] if checkpoint is not None else []) + list(callbacks)
        if config.early_stopping:
            monitor = "val_loss" if val_set is not None else "loss"
            earlier = [row[monitor] for row in history.snapshot()[0][:initial_epoch]
                       if isinstance(row.get(monitor), (int, float))]
            callbacks.append(ResumedEarlyStopping(earlier, monitor=monitor, patience=config.patience,
                                                  restore_best_weights=config.restore_best))
        started = time.perf_counter()
        model.fit(train_set, validation_data=val_set, epochs=config.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=0, shuffle=False)  # the pipeline shuffles
    seconds = time.perf_counter() - started + (checkpoint.seconds_before if checkpoint is not None else 0.0)
    epochs, batches = history.snapshot()
    if run.outcome() is not None:
        status, reason = run.outcome()
    elif len(epochs) < config.epochs:
        status, reason = FINISHED, f"early stopping after epoch {len(epochs)} (no improvement for {config.patience})."
    else:
        status, reason = FINISHED, f"trained {config.epochs} epoch(s)" + (
            f", resumed after epoch {initial_epoch}." if initial_epoch else ".")
    return TrainResult(model, status, reason, epochs, batches, seconds)
