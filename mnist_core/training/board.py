"""TensorBoard event files for every run, kept in its folder, so ``tensorboard --logdir models/`` shows every run.

One Keras callback, ``RunBoard``: Keras's own ``TensorBoard`` callback writes the loss, accuracy and learning rate of
each epoch (training and validation) and the model's graph (its layers and how they connect); this subclass adds each
batch's loss, accuracy and learning rate without making training wait for them, and ``write_test_metrics`` adds the
test figures once the run is tested. While a run trains, its events are in its work folder (TensorBoard can follow it
live); the saved run gets a copy.
"""

from __future__ import annotations

import threading
from pathlib import Path

import keras
import tensorflow as tf

TEST_DIR = "test"


class RunBoard(keras.callbacks.TensorBoard):
    """Keras's ``TensorBoard`` callback (epoch metrics, learning rate, graph) plus per-batch metrics written with an
    explicit writer and step, so that it is safe on Keras's callback threads: Keras's own per-batch logging would make
    every batch wait for the callbacks (``async_safe``, see ``training.ProgressReporter``)."""

    async_safe = True

    def __init__(self, log_dir: Path):
        super().__init__(log_dir=str(log_dir), write_graph=True, update_freq="epoch")
        self.epoch, self.lock = 0, threading.Lock()

    def close(self) -> None:
        """Close its event files: Keras does at the end of training, but not when training ends in an exception (a
        full disk), which left them open (a disk that could not be unmounted, a file held until the process ends)."""
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.epoch = epoch  # counts the epochs of a resumed run too, so its steps go on where they were

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps") or 0  # a batch of several steps per call may be reported past the end
        step = self.epoch * steps + min(batch + 1, steps or batch + 1)
        with self.lock, self._train_writer.as_default():
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"batch_{name}", value, step=step)
            tf.summary.scalar("batch_learning_rate", float(self.model.optimizer.learning_rate), step=step)


def write_test_metrics(log_dir: Path, accuracy: float, loss: float, epochs: int) -> None:
    """The run's test accuracy and loss, at the step of its last epoch, beside its training events."""
    writer = tf.summary.create_file_writer(str(Path(log_dir) / TEST_DIR))
    with writer.as_default():
        tf.summary.scalar("test_accuracy", accuracy, step=epochs)
        tf.summary.scalar("test_loss", loss, step=epochs)
    writer.close()
