"""Images as a model takes them: pixels scaled to [0, 1] by one rule (training, evaluation and the app alike) and
shaped like the model's input. No TensorFlow here, so light modules can use it."""

from __future__ import annotations

import numpy as np

PIXEL_MAX = 255.0  # MNIST pixels are bytes 0..255; every model sees them divided by this


def scaled_pixels(images) -> np.ndarray:
    """uint8 images (0..255) as float32 in [0, 1]; float images are taken to be in [0, 1] already."""
    x = np.asarray(images)
    return x.astype(np.float32) / PIXEL_MAX if x.dtype == np.uint8 else x.astype(np.float32)


def as_model_input(images, model) -> np.ndarray:
    """uint8 (0..255) or float ([0, 1]) images, N×28×28, as float32 in the model's input shape (784, 28×28, 28×28×1)."""
    x = scaled_pixels(images)
    return x.reshape((len(x), *model.input_shape[1:]))
