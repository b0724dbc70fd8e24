"""The Draw page's looks inside: what other models say of the same drawing, and what the network sees in it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.shared.models import predictor_for, short_label
from mnist_core.data.pictures import enlarge, feature_map_grid, saliency_overlay
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry
from mnist_core.training.charts import activation_strip

ZOOM = 8  # 28×28 pictures shown at 224×224


def comparison(registry: Registry, listing: list[RunRecord], run_id: str, image: np.ndarray) -> None:
    """What the models picked in "Compare with" (from ``listing``) predict for the same input."""
    runs = {record.id: record for record in listing if record.id != run_id}
    picked = st.multiselect("Compare with", list(runs), format_func=lambda other: short_label(runs[other]),
                            help="Other models' readings of the same drawing, in a table below.")
    rows = []
    for other in picked:
        predictor = predictor_for(registry, other)
        if predictor is not None:
            probabilities = predictor.probabilities(image)
            rows.append({"model": short_label(runs[other]), "prediction": int(probabilities.argmax()),
                         "confidence": float(probabilities.max()), "architecture": runs[other].architecture})
    if rows:
        st.dataframe(rows, hide_index=True,
                     column_config={"confidence": st.column_config.NumberColumn(format="percent")})


def network_view(predictor, image: np.ndarray) -> None:
    """The input as the network gets it, its saliency map, and the first hidden layer's activations."""
    st.subheader("What the network sees")
    seen, salient, hidden = st.columns([1, 1, 2])
    seen.image(enlarge(image, ZOOM), caption="the 28×28 input (centred by mass, like MNIST)")
    salient.image(enlarge(saliency_overlay(image, predictor.saliency(image)), ZOOM),
                  caption="saliency: pixels that change the prediction most")
    with hidden:
        activations = predictor.activations(image)
        if not activations:
            st.caption("This model has no hidden layer: the pixels go straight to the output.")
            return
        name, values = activations[0]
        if values.ndim == 3:
            st.image(enlarge(feature_map_grid(values), 4 if values.shape[0] < 20 else 2), width="stretch",
                     caption=f"{values.shape[-1]} feature maps of the first convolution ({name})")
        else:
            st.altair_chart(activation_strip(values), width="stretch")
            st.caption(f"the {len(values)} activations of the first hidden dense layer ({name})")
