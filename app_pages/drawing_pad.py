"""The drawing pad: a small ``st.components.v2`` canvas (white ink on black, Undo and Clear) that sends its picture
the moment the pen lifts. It replaced streamlit-drawable-canvas, whose frontend waits 200 ms after every stroke
before sending, which alone was more than the Draw page's whole latency goal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.drawing import image_from_data_url

HTML = """
<div class="pad">
  <canvas aria-label="Drawing pad: draw one digit"></canvas>
  <div class="tools">
    <button type="button" data-action="undo" aria-label="Undo last stroke">Undo</button>
    <button type="button" data-action="clear" aria-label="Clear drawing">Clear</button>
  </div>
</div>
"""
CSS = """
.pad { display: inline-flex; flex-direction: column; gap: 0.5rem; }
canvas { touch-action: none; cursor: crosshair; border-radius: 0.5rem; background: #000; }
.tools { display: flex; gap: 0.5rem; }
button {
  font: inherit; padding: 0.25rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
  color: var(--st-text-color); background: var(--st-secondary-background-color);
  border: 1px solid var(--st-border-color, rgba(128, 128, 128, 0.4));
}
button:hover { border-color: var(--st-primary-color); color: var(--st-primary-color); }
"""
PAD = st.components.v2.component("digit_lab.drawing_pad", html=HTML, css=CSS,
                                 js=Path(__file__).with_name("drawing_pad.js").read_text(encoding="utf-8"))


def drawing_pad(side: int, stroke_width: int, key: str) -> np.ndarray | None:
    """A ``side``-pixel square pad; its RGBA pixels after each stroke, None while it is empty.

    The picture arrives as a PNG data URL and is decoded with the same checks as an uploaded file, since anything on
    the websocket could have sent it: one that fails them raises ``ImageInputError``."""
    result = PAD(data={"side": side, "strokeWidth": stroke_width}, key=key, default={"png": None},
                 on_png_change=lambda: None)
    url = result.get("png")
    if not url:
        return None
    return np.asarray(image_from_data_url(str(url)).convert("RGBA"))
