"""How good a model is and where it goes wrong: test metrics, confusion matrix, per-class scores, errors,
and for one image its probabilities, hidden activations and saliency map."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .data import NUM_CLASSES
from .inputs import as_model_input

EPSILON = 1e-7  # probability floor for the log-loss, as Keras uses
BULK_BATCH = 1000


@dataclass(frozen=True, repr=False)
class Evaluation:
    """Probabilities of a model on a labelled set, with the figures derived from them."""

    probabilities: np.ndarray  # N×10
    labels: np.ndarray

    def __repr__(self) -> str:
        return f"Evaluation(n={len(self.labels)}, accuracy={self.accuracy:.4f}, loss={self.loss:.4f})"

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean())

    @property
    def loss(self) -> float:
        chosen = self.probabilities[np.arange(len(self.labels)), self.labels]
        return float(-np.log(np.clip(chosen, EPSILON, 1.0)).mean())

    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predicted)

    def per_class(self) -> pd.DataFrame:
        return per_class_metrics(self.confusion())

    def errors(self) -> pd.DataFrame:
        return misclassified(self.probabilities, self.labels)


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for many images, in batches (``model.predict`` is right for bulk work)."""
    return np.asarray(model.predict(as_model_input(images, model), batch_size=BULK_BATCH, verbose=0), dtype=np.float64)


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    return Evaluation(predict_probabilities(model, images), np.asarray(labels, dtype=np.int64))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10×10 counts: row = true class, column = predicted class."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def per_class_metrics(confusion: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (0 where a class is never predicted or never present)."""
    hits = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        recall = np.where(actual > 0, hits / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame({"digit": np.arange(NUM_CLASSES), "precision": precision, "recall": recall, "f1": f1,
                         "support": actual})


def misclassified(probabilities: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """One row per wrong prediction: test index, true and predicted digit, confidence, top-3; most confident first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    top3 = np.argsort(-probabilities[wrong], axis=1)[:, :3]
    frame = pd.DataFrame({
        "index": wrong,
        "true": labels[wrong],
        "predicted": predicted[wrong],
        "confidence": probabilities[wrong, predicted[wrong]],
        "top3": [", ".join(f"{d}: {probabilities[i, d]:.1%}" for d in row) for i, row in zip(wrong, top3)],
    })
    return frame.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


class ImagePredictor:
    """Fast single-image inference (a compiled call, not ``model.predict``), activations and saliency."""

    def __init__(self, model):
        self.model = model
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
        self._probabilities = tf.function(lambda x: model(x, training=False), input_signature=signature)
        self._saliency = tf.function(self._input_gradient, input_signature=signature)
        self._hidden = self._hidden_model()

    def __repr__(self) -> str:
        return f"ImagePredictor({self.model.name}, input={self.model.input_shape[1:]})"

    def batch(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N×10) for N images of 28×28 in [0, 1] or 0..255."""
        return self._probabilities(as_model_input(images, self.model)).numpy().astype(np.float64)

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The 10 class probabilities of one 28×28 image."""
        return self.batch(image[None])[0]

    def _input_gradient(self, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            probabilities = self.model(x, training=False)
            top = tf.reduce_max(probabilities, axis=1)
        return tape.gradient(top, x)

    def saliency(self, image: np.ndarray) -> np.ndarray:
        """|d p(predicted class) / d pixel| as a 28×28 map scaled to [0, 1]."""
        gradient = np.abs(self._saliency(as_model_input(image[None], self.model)).numpy()).reshape(image.shape)
        peak = gradient.max()
        return gradient / peak if peak > 0 else gradient

    def _hidden_model(self):
        """A model returning what the interesting hidden layers output: each conv layer, else each dense layer."""
        layers = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)]
        if not layers:
            layers = [layer for layer in self.model.layers[:-1] if isinstance(layer, keras.layers.Dense)]
        if not layers:
            return None
        return keras.Model(self.model.inputs, [layer.output for layer in layers])

    def activations(self, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(layer name, output) per conv layer (H×W×C) or hidden dense layer (units,); empty for softmax regression."""
        if self._hidden is None:
            return []
        outputs = self._hidden(as_model_input(image[None], self.model), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        names = [name for name in self._hidden.output_names] if hasattr(self._hidden, "output_names") else []
        names = names if len(names) == len(outputs) else [f"layer {i + 1}" for i in range(len(outputs))]
        return [(name, np.asarray(output)[0]) for name, output in zip(names, outputs)]
