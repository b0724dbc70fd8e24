"""The test images as points in 2-D: what a model's last hidden layer makes of them (or the raw pixels), projected
by PCA (instant) or t-SNE (openTSNE, FFT-accelerated, with progress), to see how well the classes come apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from mnist_core.data.inputs import as_model_input, scaled_pixels
from mnist_core.data.mnist import stratified_subset
from mnist_core.errors import UsageError

PCA_DIMENSIONS_BEFORE_TSNE = 50  # the usual first step: t-SNE's neighbour search on 50 PCA components, not 784 pixels
TSNE_EARLY_ITERATIONS, TSNE_ITERATIONS = 250, 500  # openTSNE's defaults, named so progress can count them
TSNE_CALLBACK_EVERY = 25
SAMPLE_SEED = 0
LOGITS_LAYER = "logits (no hidden layer)"
PIXELS_LAYER = "raw pixels"

Progress = Callable[[float, str], None]


@dataclass(frozen=True, repr=False)
class Representation:
    """Feature vectors (N×D) of some images and which layer they come from."""

    features: np.ndarray
    layer: str

    def __repr__(self) -> str:
        return f"Representation({self.layer!r}, {self.features.shape})"

    @property
    def is_logits(self) -> bool:
        return self.layer == LOGITS_LAYER


def sample_indices(labels: np.ndarray, size: int | None, seed: int = SAMPLE_SEED) -> np.ndarray:
    """All indices (``size`` None or ≥ the count), else a class-stratified sample of ``size`` indices, sorted."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    if size < 1:
        raise UsageError(f"the sample size must be at least 1, got {size}.")
    return stratified_subset(labels, size, seed)


def pixel_representation(images: np.ndarray) -> Representation:
    """The images themselves, 784 values in [0, 1] each: the starting point the network has to untangle."""
    return Representation(scaled_pixels(images).reshape(len(images), -1), PIXELS_LAYER)


def model_representation(model, images: np.ndarray) -> Representation:
    """What the model's last hidden layer outputs for ``images`` (the penultimate layer, named after the layer a
    Dropout before the output repeats at inference); a model whose only layer is
    the output layer (softmax regression) has none, so its logits (inputs × kernel + bias, before the softmax)."""
    import keras

    from mnist_core.model.evaluation import BULK_BATCH

    x = as_model_input(images, model)
    hidden = next((layer for layer in reversed(model.layers[:-1]) if not isinstance(layer, keras.layers.Dropout)),
                  None)
    if hidden is None:
        output = model.layers[-1]
        logits = x.reshape(len(x), -1) @ np.asarray(output.kernel) + np.asarray(output.bias)
        return Representation(logits.astype(np.float32), LOGITS_LAYER)
    extractor = keras.Model(model.inputs, hidden.output)
    features = np.asarray(extractor.predict(x, batch_size=BULK_BATCH, verbose=0), dtype=np.float32)
    return Representation(features.reshape(len(features), -1), hidden.name)


def pca_2d(features: np.ndarray) -> np.ndarray:
    """The first two principal components (N×2) of ``features``."""
    return PCA(n_components=2, svd_solver="full").fit_transform(np.asarray(features, dtype=np.float64))


def tsne_2d(features: np.ndarray, on_progress: Progress | None = None, seed: int = SAMPLE_SEED,
            n_jobs: int = -1) -> np.ndarray:
    """A t-SNE map (N×2) of ``features`` with openTSNE (after PCA to 50 dimensions); ``on_progress(fraction, text)``
    is called as the optimisation goes (openTSNE reports every few iterations; the neighbour search is not)."""
    from openTSNE import TSNE

    features = np.asarray(features, dtype=np.float64)
    if features.shape[1] > PCA_DIMENSIONS_BEFORE_TSNE:
        features = PCA(n_components=PCA_DIMENSIONS_BEFORE_TSNE, random_state=seed).fit_transform(features)
    total = (TSNE_EARLY_ITERATIONS + TSNE_ITERATIONS) // TSNE_CALLBACK_EVERY
    calls = []

    def report(iteration, error, embedding) -> bool:
        calls.append(iteration)
        if on_progress is not None:
            on_progress(len(calls) / total, f"iteration {len(calls) * TSNE_CALLBACK_EVERY} of "
                                            f"{TSNE_EARLY_ITERATIONS + TSNE_ITERATIONS}")
        return False

    if on_progress is not None:
        on_progress(0.0, "finding each image's nearest neighbours")
    tsne = TSNE(n_components=2, early_exaggeration_iter=TSNE_EARLY_ITERATIONS, n_iter=TSNE_ITERATIONS,
                perplexity=min(30.0, (len(features) - 1) / 3), n_jobs=n_jobs, random_state=seed, callbacks=report,
                callbacks_every_iters=TSNE_CALLBACK_EVERY)
    return np.asarray(tsne.fit(features), dtype=np.float64)


def map_frame(coordinates: np.ndarray, indices: np.ndarray, labels: np.ndarray,
              probabilities: np.ndarray | None = None) -> pd.DataFrame:
    """One row per point: x, y, test index, true digit and, with a model's ``probabilities`` (N×10, same order),
    predicted digit, its confidence, whether it is wrong, and the top-3 as text."""
    frame = pd.DataFrame({"x": coordinates[:, 0], "y": coordinates[:, 1], "index": np.asarray(indices),
                          "true": np.asarray(labels)})
    if probabilities is not None:
        predicted = probabilities.argmax(axis=1)
        top3 = np.argsort(-probabilities, axis=1)[:, :3]
        frame["predicted"] = predicted
        frame["confidence"] = probabilities[np.arange(len(predicted)), predicted]
        frame["wrong"] = predicted != frame["true"].to_numpy()
        frame["top3"] = [", ".join(f"{d}: {p[d]:.1%}" for d in row) for p, row in zip(probabilities, top3, strict=True)]
    return frame
