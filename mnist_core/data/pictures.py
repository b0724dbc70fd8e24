"""Pictures for the pages as NumPy arrays: sharp enlargements, saliency overlays and feature-map grids.
Pure functions of plain data (no Streamlit, no Altair), so a page that only shows images loads quickly."""

from __future__ import annotations

import math

import numpy as np

SALIENCY_COLOUR = np.array([255, 60, 20], dtype=np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A picture in [0, 1] (float) or 0..255 as uint8."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """A small picture scaled up by repeating pixels, so it stays sharp in the browser."""
    return np.repeat(np.repeat(to_uint8(image), factor, axis=0), factor, axis=1)


def saliency_overlay(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """RGB picture of the digit in grey with the saliency map (0..1) laid over it in orange-red."""
    grey = to_uint8(image).astype(np.float32)[..., None] * 0.6
    weight = np.clip(np.asarray(saliency, dtype=np.float32), 0.0, 1.0)[..., None]
    return np.clip(grey * (1 - weight) + SALIENCY_COLOUR * weight, 0, 255).astype(np.uint8)


def feature_map_grid(maps: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """The channels of an H×W×C activation as one picture: a grid of maps, each scaled to its own 0..255."""
    maps = np.asarray(maps, dtype=np.float32)
    height, width, channels = maps.shape
    rows = math.ceil(channels / columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 255, dtype=np.uint8)
    for channel in range(channels):
        feature = maps[..., channel]
        span = feature.max() - feature.min()
        scaled = (feature - feature.min()) / span if span > 0 else np.zeros_like(feature)
        top, left = channel // columns * (height + gap), channel % columns * (width + gap)
        grid[top:top + height, left:left + width] = to_uint8(scaled)
    return grid
