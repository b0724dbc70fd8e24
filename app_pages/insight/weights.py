"""The Insight page's weights view: the first layer's weights drawn as pictures (softmax regression's class
templates, a first Dense layer's units or a first Conv2D layer's kernels)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.shared.models import model_for
from mnist_core.data.pictures import enlarge
from mnist_core.store.registry import Registry

WEIGHT_PICTURES = 64  # units of a wide first Dense layer shown at most
WEIGHT_PICTURE_PX = 96
EXPLANATIONS = {"templates": "Softmax regression: one template per digit. An image's score for a digit is the sum of "
                             "its pixels weighted by that template.",
                "dense": "Each unit of the first Dense layer weighs all 784 pixels: its weights drawn as a 28×28 "
                         "picture show the pattern it responds to.",
                "conv": "The kernels of the first convolution layer, enlarged: each slides over the image looking for "
                        "the small pattern it shows."}


def weights_view(registry: Registry, run_id: str) -> None:
    """The first Dense layer's units as 28×28 pictures (softmax regression: the class templates) or the first
    Conv2D layer's kernels, blue negative, white zero, red positive, on one shared scale."""
    from mnist_core.insight.weights import diverging_rgb, first_layer_weights

    model = model_for(registry, run_id)
    if model is None:
        return
    weights = first_layer_weights(model)
    if weights is None:
        st.info("This model's first weighted layer does not see the 784 pixels directly, so its weights cannot be "
                "drawn as pictures.")
        return
    st.markdown(EXPLANATIONS[weights.kind])
    pictures, titles = weights.pictures[:WEIGHT_PICTURES], weights.titles[:WEIGHT_PICTURES]
    limit = float(np.abs(weights.pictures).max())
    shown = f"{len(pictures)} of {len(weights.pictures)}" if len(pictures) < len(weights.pictures) else len(pictures)
    st.caption(f"Layer {weights.layer}: {shown} pictures. Blue: negative weight, white: 0, red: positive; one scale "
               f"for all, ±{limit:.3g}.")
    zoom = max(1, WEIGHT_PICTURE_PX // pictures.shape[1])
    st.image([enlarge(diverging_rgb(picture, limit), zoom) for picture in pictures], caption=titles)
