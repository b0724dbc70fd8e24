"""What a model's first layer looks for: each unit of a first Dense layer as a 28×28 weight picture (for softmax
regression the ten class templates), or the kernels of a first Conv2D layer; shown with a diverging colour map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.data.mnist import IMAGE_SIDE, NUM_PIXELS

# Diverging colour map (ColorBrewer RdBu, reversed): negative weights blue, zero white, positive red.
DIVERGING_STOPS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
DIVERGING_COLOURS = np.array([[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]], float)


@dataclass(frozen=True, repr=False)
class FirstLayerWeights:
    """The first weighted layer's pictures (K×H×W, one per unit or kernel), their titles and what they are."""

    layer: str
    kind: str  # "dense", "templates" (the output layer itself: softmax regression) or "conv"
    pictures: np.ndarray
    titles: list[str]

    def __repr__(self) -> str:
        return f"FirstLayerWeights({self.layer!r}, {self.kind}, {self.pictures.shape})"


def first_layer_weights(model) -> FirstLayerWeights | None:
    """The pictures of the model's first Dense or Conv2D layer (augmentation layers are skipped); None when that
    layer cannot be drawn as pictures (a Dense layer after something other than the 784 pixels)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = np.asarray(layer.kernel)  # kh×kw×channels×filters; the first conv layer sees 1 channel
            pictures = np.moveaxis(kernel[:, :, 0, :], -1, 0)
            return FirstLayerWeights(layer.name, "conv", pictures, [f"filter {i}" for i in range(len(pictures))])
        if isinstance(layer, keras.layers.Dense):
            kernel = np.asarray(layer.kernel)  # inputs×units
            if kernel.shape[0] != NUM_PIXELS:
                return None
            pictures = kernel.T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
            output = layer is model.layers[-1]
            titles = [f"digit {i}" if output else f"unit {i}" for i in range(len(pictures))]
            return FirstLayerWeights(layer.name, "templates" if output else "dense", pictures, titles)
    return None


def diverging_rgb(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """RGB uint8 picture of ``values`` with zero white, −``limit`` deep blue and +``limit`` deep red (``limit``:
    the largest absolute value unless given), so pictures sharing a limit can be compared."""
    values = np.asarray(values, dtype=np.float64)
    limit = float(np.abs(values).max()) if limit is None else float(limit)
    scaled = values / limit if limit > 0 else np.zeros_like(values)
    channels = [np.interp(np.clip(scaled, -1, 1), DIVERGING_STOPS, DIVERGING_COLOURS[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)
