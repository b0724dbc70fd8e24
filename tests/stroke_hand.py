"""A synthetic "hand" the default model reads badly, for the My digits tests and the fine-tune benchmark: digits
drawn as polylines of a simple stroke font with a canvas-sized brush on a 280×280 black canvas, leaned far over
(sheared 30-40° and rotated 20-30° more) with random jitter, 7s crossed and 1s with a long flag, as RGBA canvas drawings.
Nothing here comes from MNIST."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
BRUSH = 20  # the Draw page's default stroke width
LEAN_DEGREES = (30.0, 40.0)  # how far the hand leans over (shear), picked per drawing
TILT_DEGREES = (20.0, 30.0)  # and rotated the same way: 50-70° in all (the default model reads about half)
JITTER = 0.03  # random wobble of every stroke point, as a share of the glyph box

# Each digit: strokes (polylines) in a unit box, x to the right, y downwards.
STROKES = {
    0: [[(0.5, 0.0), (0.2, 0.15), (0.1, 0.5), (0.2, 0.85), (0.5, 1.0), (0.8, 0.85), (0.9, 0.5), (0.8, 0.15),
         (0.5, 0.0)]],
    1: [[(0.2, 0.3), (0.6, 0.0), (0.6, 1.0)], [(0.3, 1.0), (0.9, 1.0)]],
    2: [[(0.15, 0.25), (0.35, 0.02), (0.7, 0.02), (0.85, 0.25), (0.75, 0.5), (0.15, 1.0), (0.9, 1.0)]],
    3: [[(0.15, 0.08), (0.75, 0.02), (0.8, 0.3), (0.4, 0.48)], [(0.4, 0.48), (0.85, 0.65), (0.8, 0.95),
                                                                 (0.15, 0.95)]],
    4: [[(0.65, 1.0), (0.65, 0.0), (0.05, 0.7), (0.95, 0.7)]],
    5: [[(0.85, 0.02), (0.25, 0.02), (0.2, 0.45), (0.6, 0.4), (0.85, 0.6), (0.75, 0.92), (0.15, 0.95)]],
    6: [[(0.75, 0.0), (0.3, 0.3), (0.15, 0.7), (0.35, 0.98), (0.7, 0.95), (0.8, 0.7), (0.55, 0.5), (0.2, 0.65)]],
    7: [[(0.05, 0.02), (0.95, 0.02), (0.4, 1.0)], [(0.35, 0.5), (0.85, 0.5)]],
    8: [[(0.5, 0.48), (0.2, 0.3), (0.25, 0.05), (0.75, 0.05), (0.8, 0.3), (0.5, 0.48), (0.15, 0.72),
         (0.3, 0.97), (0.7, 0.97), (0.85, 0.72), (0.5, 0.48)]],
    9: [[(0.8, 0.3), (0.5, 0.5), (0.2, 0.35), (0.3, 0.05), (0.7, 0.05), (0.8, 0.3), (0.7, 1.0)]],
}


def affine_for(lean: float, tilt: float) -> np.ndarray:
    """2×2 matrix: lean the glyph to the right by shearing (top moves right), then tilt it."""
    shear = np.array([[1.0, -np.tan(np.radians(lean))], [0.0, 1.0]])
    angle = np.radians(tilt)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ shear


def draw_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One RGBA canvas drawing (white ink on black, like the Draw page's canvas) of ``digit`` in this hand."""
    matrix = affine_for(rng.uniform(*LEAN_DEGREES), rng.uniform(*TILT_DEGREES))
    height, width = rng.uniform(150, 190), rng.uniform(95, 125)
    centre = np.array([CANVAS / 2, CANVAS / 2]) + rng.uniform(-15, 15, size=2)
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for stroke in STROKES[digit]:
        unit = np.asarray(stroke) + rng.normal(0.0, JITTER, size=(len(stroke), 2))
        local = (unit - 0.5) * np.array([width, height])
        points = local @ matrix.T + centre
        pen.line([tuple(point) for point in points], fill=(255, 255, 255, 255), width=BRUSH, joint="curve")
        radius = BRUSH / 2
        for x, y in (points[0], points[-1]):  # round caps, as a brush leaves
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, 255))
    return np.asarray(image)


def hand(per_digit: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_digit`` drawings of every digit (RGBA canvases) and their labels, in digit order."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_digit)
    return [draw_digit(int(label), rng) for label in labels], labels
