"""Synthetic drawing-pad digits to train on: glyphs of several everyday writing styles (1s with a long flag or a
foot, crossed 7s, open and closed 4s, 9s with a straight or a curved stem, ...) drawn as strokes with a round brush
on a pad-sized canvas, slanted, turned, sized and as thick or thin as the pad allows, then made into 28×28 inputs
exactly as the Draw page does (``to_mnist``). MNIST's writers rarely draw some of these styles, and models trained on
MNIST alone read them badly.

Only for training: models are judged on drawings by another renderer with its own glyphs, ranges and seeds
(``tests/stroke_hand.py``), never on these."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.data.drawing import to_mnist
from mnist_core.data.inputs import PIXEL_MAX

PAD_SIDE = 280  # the Draw page's canvas, in pixels
SLANT_DEGREES = (-15.0, 30.0)  # shear: the top leans right (positive) or left
TURN_DEGREES = (-12.0, 12.0)
HEIGHT_SHARE = (0.35, 0.85)  # of the canvas
WIDTH_SHARE = (0.4, 0.85)  # of the height
BRUSH_PX = (5, 45)  # thin pen to thick marker
MOST_BRUSH_SHARE = 0.22  # of the height: a thicker brush would fill a small digit
WOBBLE = 0.025  # random wobble of every stroke point, as a share of the glyph box
POINTS_PER_ARC = 16
SEED_OFFSET = 7_919  # drawings of run seed s use generator seed s + this, apart from the run's other draws


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[tuple[float, float]]:
    """Points of an elliptic arc from angle ``start`` to ``end`` (degrees; 0 is right, 90 is down)."""
    angles = np.radians(np.linspace(start, end, POINTS_PER_ARC))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


def figure_eight() -> list[tuple[float, float]]:
    """One stroke that crosses itself in the middle (an 8 written without lifting the pen)."""
    turns = np.linspace(0, 2 * np.pi, 2 * POINTS_PER_ARC)
    return list(zip(0.5 + 0.4 * np.sin(2 * turns), 0.5 - 0.5 * np.cos(turns), strict=True))


# Each digit: its styles, each a list of strokes (polylines) in a unit box, x to the right, y downwards.
STYLES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[arc(0.5, 0.5, 0.45, 0.5, -90, 270)], [arc(0.5, 0.5, 0.42, 0.5, -110, 265)]],
    1: [[[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.05, 0.45), (0.55, 0.0), (0.55, 1.0)]],  # long up-stroke (flag)
        [[(0.3, 0.18), (0.55, 0.0), (0.55, 1.0)]],
        [[(0.15, 0.3), (0.55, 0.0), (0.55, 1.0)], [(0.2, 1.0), (0.9, 1.0)]],  # flag and foot
        [[(0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]]],
    2: [[arc(0.5, 0.3, 0.4, 0.28, 190, 340) + [(0.1, 1.0), (0.95, 1.0)]],
        [arc(0.5, 0.3, 0.38, 0.3, 200, 360) + [(0.2, 0.9), (0.3, 0.82), (0.35, 0.95), (0.95, 0.95)]]],
    3: [[arc(0.45, 0.26, 0.4, 0.26, -160, 90), arc(0.45, 0.74, 0.45, 0.26, -90, 160)],
        [[(0.1, 0.0), (0.9, 0.0), (0.4, 0.42)] + arc(0.45, 0.72, 0.45, 0.28, -90, 160)]],
    4: [[[(0.7, 1.0), (0.7, 0.0), (0.05, 0.68), (0.95, 0.68)]],
        [[(0.3, 0.0), (0.1, 0.6), (0.9, 0.6)], [(0.7, 0.15), (0.7, 1.0)]]],  # open
    5: [[[(0.85, 0.0), (0.25, 0.0), (0.2, 0.42)] + arc(0.5, 0.68, 0.4, 0.3, -130, 150)],
        [[(0.25, 0.0), (0.2, 0.42)] + arc(0.5, 0.68, 0.4, 0.3, -130, 150), [(0.25, 0.0), (0.85, 0.02)]]],
    6: [[[(0.75, 0.0), (0.4, 0.2), (0.2, 0.5)] + arc(0.5, 0.7, 0.32, 0.3, 180, -180)],
        [[(0.65, 0.0), (0.3, 0.35)] + arc(0.5, 0.72, 0.35, 0.28, 200, -160)]],
    7: [[[(0.05, 0.03), (0.95, 0.03), (0.35, 1.0)]],
        [[(0.05, 0.03), (0.95, 0.03), (0.4, 1.0)], [(0.3, 0.52), (0.85, 0.52)]],  # crossed
        [[(0.05, 0.2), (0.05, 0.03), (0.95, 0.03), (0.45, 1.0)]]],
    8: [[figure_eight()],
        [arc(0.5, 0.26, 0.32, 0.26, 0, 360), arc(0.5, 0.74, 0.4, 0.26, -90, 270)]],
    9: [[arc(0.45, 0.3, 0.35, 0.3, 0, 360), [(0.8, 0.3), (0.8, 1.0)]],  # straight stem
        [arc(0.45, 0.3, 0.35, 0.3, 10, 370) + [(0.72, 0.7), (0.5, 1.0)]]],  # curved stem
}


def glyph_matrix(slant: float, turn: float) -> np.ndarray:
    """2×2 matrix: shear by ``slant`` degrees (the top leans right), then turn by ``turn`` degrees."""
    shear = np.array([[1.0, -np.tan(np.radians(slant))], [0.0, 1.0]])
    angle = np.radians(turn)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ shear


def draw_pad(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One pad canvas (grey, white ink on black) of ``digit`` in a random style, slant, turn, size, place and
    brush."""
    styles = STYLES[digit]
    strokes = styles[rng.integers(len(styles))]
    height = rng.uniform(*HEIGHT_SHARE) * PAD_SIDE
    size = np.array([height * rng.uniform(*WIDTH_SHARE), height])
    brush = int(min(rng.integers(BRUSH_PX[0], BRUSH_PX[1] + 1), MOST_BRUSH_SHARE * height))
    matrix = glyph_matrix(rng.uniform(*SLANT_DEGREES), rng.uniform(*TURN_DEGREES))
    centre = PAD_SIDE / 2 + rng.uniform(-1, 1, size=2) * np.maximum((PAD_SIDE - 1.2 * size) / 2, 0)
    canvas = Image.new("L", (PAD_SIDE, PAD_SIDE), 0)
    pen = ImageDraw.Draw(canvas)
    radius = brush / 2
    for stroke in strokes:
        unit = np.asarray(stroke) + rng.normal(0.0, WOBBLE, size=(len(stroke), 2))
        points = ((unit - 0.5) * size) @ matrix.T + centre
        pen.line([tuple(point) for point in points], fill=255, width=brush, joint="curve")
        for x, y in (points[0], points[-1]):  # round ends, as a brush leaves
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas)


def pad_drawings(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_digit`` drawings of every digit as 28×28 uint8 inputs (as MNIST's images are stored) and their labels,
    in digit order; the same ``seed`` gives the same drawings."""
    rng = np.random.default_rng(seed + SEED_OFFSET)
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_digit)
    images = np.stack([np.rint(to_mnist(draw_pad(int(label), rng)) * PIXEL_MAX) for label in labels]) \
        if per_digit else np.zeros((0, 28, 28))
    return images.astype(np.uint8), labels
