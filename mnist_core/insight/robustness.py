"""Robustness lab: a model's accuracy as the test images are rotated, shifted, scaled, thinned or thickened, made
noisy, blurred or partly hidden, at growing severity. The warps are scipy.ndimage's; severity 0 is the untouched
image in every transform, so that point is the model's plain accuracy on the images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.data.mnist import IMAGE_SIDE
from mnist_core.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

# scipy.ndimage and pandas are imported by the functions that use them: every CLI command imports this module for the
# transforms' names in its help, and these two cost it about a second on 2 busy cores.

CENTRE = (IMAGE_SIDE - 1) / 2
LINEAR = 1  # spline order of the warps: bilinear, no ringing outside [0, 1]
NOISE_SEED = 0
Progress = Callable[[float, str], None]


def rotate(images: np.ndarray, degrees: float) -> np.ndarray:
    """Each image turned by ``degrees`` (anticlockwise) about its centre, corners filled with background."""
    from scipy import ndimage

    return ndimage.rotate(images, degrees, axes=(2, 1), reshape=False, order=LINEAR, mode="constant")


def shift(images: np.ndarray, pixels: float) -> np.ndarray:
    """Each image moved ``pixels`` to the right (ink leaving the frame is lost)."""
    from scipy import ndimage

    return ndimage.shift(images, (0, 0, pixels), order=LINEAR, mode="constant")


def scale(images: np.ndarray, change: float) -> np.ndarray:
    """Each image enlarged by the factor 1 + ``change`` about its centre (−0.5: half the size)."""
    from scipy import ndimage

    factor = 1.0 + change
    return ndimage.affine_transform(images, (1.0, 1 / factor, 1 / factor),
                                    offset=(0.0, CENTRE * (1 - 1 / factor), CENTRE * (1 - 1 / factor)),
                                    order=LINEAR, mode="constant")


def thickness(images: np.ndarray, pixels: float) -> np.ndarray:
    """Strokes made thicker (``pixels`` > 0: grey dilation) or thinner (< 0: grey erosion) by a square of side
    ``|pixels|`` + 1."""
    from scipy import ndimage

    side = int(abs(pixels)) + 1
    morphology = ndimage.grey_dilation if pixels > 0 else ndimage.grey_erosion
    return morphology(images, size=(1, side, side))


def noise(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` (on the 0..1 scale) added to every pixel, clipped to [0, 1];
    the same seed every time, so results are repeatable."""
    rng = np.random.default_rng(NOISE_SEED)
    return np.clip(images + rng.normal(0.0, sigma, images.shape).astype(images.dtype), 0.0, 1.0)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` pixels."""
    from scipy import ndimage

    return ndimage.gaussian_filter(images, sigma=(0, sigma, sigma), mode="constant")


def occlusion(images: np.ndarray, pixels: float) -> np.ndarray:
    """A horizontal bar ``pixels`` high across the middle of each image painted with background (the ink under
    it hidden)."""
    hidden = images.copy()
    top = int(round(CENTRE - pixels / 2 + 0.5))
    hidden[:, top:top + int(pixels), :] = 0.0
    return hidden


@dataclass(frozen=True)
class Transform:
    """A named image transform, the severities it is tried at (0, untouched, is always tried too) and their unit."""

    name: str
    apply: Callable[[np.ndarray, float], np.ndarray]
    severities: tuple[float, ...]
    unit: str


TRANSFORMS = {transform.name: transform for transform in (
    Transform("rotate", rotate, (-60, -40, -20, 20, 40, 60), "degrees"),
    Transform("shift", shift, (2, 4, 6, 8), "pixels to the right"),
    Transform("scale", scale, (-0.5, -0.25, 0.25, 0.5), "size change (0.5 = 1.5×)"),
    Transform("thickness", thickness, (-2, -1, 1, 2), "pixels (− thinner, + thicker)"),
    Transform("noise", noise, (0.1, 0.2, 0.3, 0.4, 0.5), "noise σ"),
    Transform("blur", blur, (0.5, 1.0, 1.5, 2.0), "blur σ (pixels)"),
    Transform("occlusion", occlusion, (2, 4, 6, 8), "bar height (pixels)"),
)}


def transforms_named(names) -> list[Transform]:
    """The transforms called ``names`` (all of them for None), or ``UsageError`` naming the unknown ones."""
    if names is None:
        return list(TRANSFORMS.values())
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown or not names:
        raise UsageError(f"unknown transform(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"choose from {', '.join(TRANSFORMS)}.")
    return [TRANSFORMS[name] for name in names]


def as_unit_floats(images: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1] (uint8 0..255 is divided by 255)."""
    images = np.asarray(images)
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)


def robustness_curves(model, images: np.ndarray, labels: np.ndarray, names=None,
                      on_progress: Progress | None = None) -> pd.DataFrame:
    """Accuracy of ``model`` on ``images`` under each transform at each severity: columns transform, severity (0 =
    untouched, the same plain accuracy for every transform) and accuracy; transforms in the order asked, severities
    ascending. ``on_progress(fraction, text)`` is called before each severity."""
    import pandas as pd

    from mnist_core.model.evaluation import predict_probabilities

    chosen = transforms_named(names)
    images, labels = as_unit_floats(images), np.asarray(labels)
    steps = 1 + sum(len(transform.severities) for transform in chosen)

    def accuracy(batch: np.ndarray) -> float:
        return float((predict_probabilities(model, batch).argmax(axis=1) == labels).mean())

    untouched = accuracy(images)
    rows, done = [], 1
    for transform in chosen:
        for severity in sorted((0, *transform.severities)):
            if severity == 0:
                rows.append({"transform": transform.name, "severity": 0.0, "accuracy": untouched})
                continue
            if on_progress is not None:
                on_progress(done / steps, f"{transform.name} at {severity:g} ({transform.unit})")
            rows.append({"transform": transform.name, "severity": float(severity),
                         "accuracy": accuracy(transform.apply(images, severity))})
            done += 1
    if on_progress is not None:
        on_progress(1.0, "done")
    return pd.DataFrame(rows, columns=["transform", "severity", "accuracy"])


def example_strip(image: np.ndarray, transform: Transform) -> list[tuple[float, np.ndarray]]:
    """(severity, transformed picture in [0, 1]) for one image at 0 and each severity of ``transform``, in order."""
    severities = sorted((0.0, *transform.severities))
    image = as_unit_floats(image)[None]
    return [(severity, image[0] if severity == 0 else transform.apply(image, severity)[0]) for severity in severities]
