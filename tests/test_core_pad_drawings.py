"""The training renderer of drawing-pad digits (mnist_core.training.drawings): inputs shaped and stored like MNIST's,
the same for the same seed, and each glyph really the digit it is labelled (the shipped default model reads most: a
glyph of the wrong digit would be read as another)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import center_of_mass

from mnist_core.model.evaluation import evaluate
from mnist_core.store.registry import DEFAULT_ID, Registry
from mnist_core.training.drawings import STYLES, pad_drawings

PER_DIGIT = 12
LEAST_READ = 0.95  # of these 120 drawings (the MNIST-only default shipped before issue 27 read all of them too)
LEAST_READ_PER_DIGIT = 0.75


def test_drawings_are_centred_mnist_style_bytes_in_digit_order_and_repeat_with_their_seed():
    images, labels = pad_drawings(3, seed=5)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.uint8
    assert labels.tolist() == [digit for digit in range(10) for _ in range(3)]
    assert (images.max(axis=(1, 2)) == 255).all()
    assert all(np.allclose(center_of_mass(image.astype(float)), (13.5, 13.5), atol=1.5) for image in images)
    again, _ = pad_drawings(3, seed=5)
    other, _ = pad_drawings(3, seed=6)
    assert np.array_equal(images, again) and not np.array_equal(images, other)


def test_no_drawings_asked_gives_empty_arrays_that_join_mnist():
    images, labels = pad_drawings(0, seed=1)
    assert images.shape == (0, 28, 28) and images.dtype == np.uint8 and labels.shape == (0,)


def test_every_digit_has_a_style_and_each_drawing_is_read_as_its_label(tmp_path, monkeypatch):
    assert sorted(STYLES) == list(range(10)) and len(STYLES[1]) >= 4  # bare, flagged, footed 1s at least
    monkeypatch.setenv("DIGIT_LAB_MODELS", str(tmp_path))
    images, labels = pad_drawings(PER_DIGIT, seed=0)
    scores = evaluate(Registry().load_model(DEFAULT_ID), images / 255.0, labels)
    per_digit = {digit: float((scores.predicted[labels == digit] == digit).mean()) for digit in range(10)}
    assert scores.accuracy >= LEAST_READ and min(per_digit.values()) >= LEAST_READ_PER_DIGIT, per_digit
