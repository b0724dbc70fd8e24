"""Digits drawn as polylines of a simple stroke font with a canvas brush on a 280×280 black canvas (RGBA, white ink,
like the Draw page's canvas), with random jitter. Nothing here comes from MNIST. Two sets:

- ``hand``: a hand the default model reads badly, for the My digits tests and the fine-tune benchmark: leaned far
  over (sheared 30-40° and rotated 20-30° more), 7s crossed and 1s with a long flag;
- ``everyday_drawings``: what people draw on the canvas, for judging a model meant for the Draw page: several
  writing styles per digit, slanted either way, off-centre, large and small, strokes 8-40 px (the slider's range).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
BRUSH = 20  # the Draw page's default stroke width
LEAN_DEGREES = (30.0, 40.0)  # how far the hand leans over (shear), picked per drawing
TILT_DEGREES = (20.0, 30.0)  # and rotated the same way: 50-70° in all (the default model reads 57-70%)
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


def render(strokes: list, matrix: np.ndarray, size: tuple[float, float], centre: np.ndarray, brush: int,
           rng: np.random.Generator) -> np.ndarray:
    """Draw ``strokes`` (unit box) jittered, scaled to ``size`` (width, height), transformed by ``matrix`` and placed
    at ``centre`` with a round brush ``brush`` px wide; one RGBA canvas."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        unit = np.asarray(stroke) + rng.normal(0.0, JITTER, size=(len(stroke), 2))
        points = ((unit - 0.5) * np.array(size)) @ matrix.T + centre
        pen.line([tuple(point) for point in points], fill=(255, 255, 255, 255), width=brush, joint="curve")
        radius = brush / 2
        for x, y in (points[0], points[-1]):  # round caps, as a brush leaves
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, 255))
    return np.asarray(image)


def draw_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One canvas drawing of ``digit`` in the leaning hand."""
    matrix = affine_for(rng.uniform(*LEAN_DEGREES), rng.uniform(*TILT_DEGREES))
    height, width = rng.uniform(150, 190), rng.uniform(95, 125)
    centre = np.array([CANVAS / 2, CANVAS / 2]) + rng.uniform(-15, 15, size=2)
    return render(STROKES[digit], matrix, (width, height), centre, BRUSH, rng)


def hand(per_digit: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_digit`` drawings of every digit (RGBA canvases) and their labels, in digit order."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_digit)
    return [draw_digit(int(label), rng) for label in labels], labels


# Other common ways of writing some digits (the font above is one style, with a flagged and footed 1 and a crossed
# 7): a bare 1, a 1 with a short flag, a 1 with a long up-stroke, an uncrossed 7, an open 4, a 9 with a straight stem,
# a 5 with its bar as a second stroke, a 2 with a loop at its foot.
OTHER_STYLES = {
    1: [[[(0.5, 0.0), (0.5, 1.0)]], [[(0.25, 0.25), (0.6, 0.0), (0.6, 1.0)]],
        [[(0.1, 0.5), (0.6, 0.0), (0.6, 1.0)]]],
    2: [[[(0.15, 0.25), (0.4, 0.0), (0.75, 0.05), (0.8, 0.35), (0.3, 0.85), (0.2, 1.0), (0.35, 0.88),
          (0.9, 0.95)]]],
    4: [[[(0.25, 0.0), (0.1, 0.6), (0.9, 0.6)], [(0.65, 0.25), (0.65, 1.0)]]],
    5: [[[(0.25, 0.02), (0.2, 0.45), (0.6, 0.4), (0.85, 0.6), (0.75, 0.92), (0.15, 0.95)],
         [(0.25, 0.02), (0.85, 0.02)]]],
    7: [[[(0.05, 0.02), (0.95, 0.02), (0.4, 1.0)]]],
    9: [[[(0.8, 0.3), (0.5, 0.45), (0.2, 0.3), (0.3, 0.05), (0.7, 0.05), (0.8, 0.3)], [(0.8, 0.3), (0.8, 1.0)]]],
}
SLANT_DEGREES = (-10.0, 25.0)  # right-handed writing leans right; some lean a little left
ROTATION_DEGREES = (-10.0, 10.0)
HEIGHT_PX = (110.0, 230.0)  # of the 280 px canvas
BRUSH_PX = (8, 40)  # the Draw page's stroke-width slider


def everyday_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One canvas drawing of ``digit`` in a randomly picked style, slant, size, place and stroke width."""
    styles = [STROKES[digit], *OTHER_STYLES.get(digit, [])]
    strokes = styles[rng.integers(len(styles))]
    height = rng.uniform(*HEIGHT_PX)
    width = height * rng.uniform(0.45, 0.75)
    brush = int(min(rng.integers(BRUSH_PX[0], BRUSH_PX[1] + 1), height / 5))  # a thick brush needs a large digit
    reach = (CANVAS - np.array([width, height]) * 1.2) / 2  # how far from the centre it still fits
    centre = CANVAS / 2 + rng.uniform(-1, 1, size=2) * np.maximum(reach, 0)
    matrix = affine_for(rng.uniform(*SLANT_DEGREES), rng.uniform(*ROTATION_DEGREES))
    return render(strokes, matrix, (width, height), centre, brush, rng)


def everyday_drawings(per_digit: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_digit`` everyday canvas drawings of every digit and their labels, in digit order."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_digit)
    return [everyday_digit(int(label), rng) for label in labels], labels
