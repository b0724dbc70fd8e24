"""A model's predictions: class probabilities for many images (scored by ``scores``), and for one image its
probabilities, hidden activations and saliency map."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mnist_core.data.inputs import as_model_input
from mnist_core.model.scores import Evaluation

BULK_BATCH = 1000


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for many images, in batches (``model.predict`` is right for bulk work)."""
    return np.asarray(model.predict(as_model_input(images, model), batch_size=BULK_BATCH, verbose=0), dtype=np.float64)


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    return Evaluation(predict_probabilities(model, images), np.asarray(labels, dtype=np.int64))


class ImagePredictor:
    """Fast single-image inference (a compiled call, not ``model.predict``), activations and saliency."""

    def __init__(self, model):
        self.model = model
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
        self._probabilities = tf.function(lambda x: model(x, training=False), input_signature=signature)
        self._saliency = tf.function(self._input_gradient, input_signature=signature)
        self._hidden = self._hidden_model()
        # compiled too: run eagerly, the hidden model took ten times as long as the prediction on each stroke
        self._hidden_outputs = None if self._hidden is None else tf.function(
            lambda x: self._hidden(x, training=False), input_signature=signature)

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
        outputs = self._hidden_outputs(as_model_input(image[None], self.model))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        names = [name for name in self._hidden.output_names] if hasattr(self._hidden, "output_names") else []
        names = names if len(names) == len(outputs) else [f"layer {i + 1}" for i in range(len(outputs))]
        return [(name, np.asarray(output)[0]) for name, output in zip(names, outputs, strict=True)]
