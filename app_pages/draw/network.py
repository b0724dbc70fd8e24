"""The Draw page's looks inside: what other models say of the same drawing, and what the network sees in it."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Seen:
    """What the network sees in one input: the input, its saliency map over it (both enlarged), and the first
    hidden layer's name and output (None when the model has none)."""

    input: np.ndarray
    salient: np.ndarray
    hidden: tuple[str, np.ndarray] | None


def what_the_network_sees(predictor, image: np.ndarray) -> Seen:
    """What ``network_view`` shows, worked out before it is drawn. The Draw page calls this right after drawing the
    prediction: TensorFlow releases Python's lock while it runs, so the server sends the prediction meanwhile and the
    browser shows it before the heavier parts of the page arrive."""
    activations = predictor.activations(image)
    return Seen(enlarge(image, ZOOM), enlarge(saliency_overlay(image, predictor.saliency(image)), ZOOM),
                activations[0] if activations else None)


def network_view(seen: Seen) -> None:
    """The input as the network gets it, its saliency map, and the first hidden layer's activations."""
    st.subheader("What the network sees")
    input_column, salient_column, hidden_column = st.columns([1, 1, 2])
    input_column.image(seen.input, caption="the 28×28 input (centred by mass, like MNIST)")
    salient_column.image(seen.salient, caption="saliency: pixels that change the prediction most")
    with hidden_column:
        if seen.hidden is None:
            st.caption("This model has no hidden layer: the pixels go straight to the output.")
            return
        name, values = seen.hidden
        if values.ndim == 3:
            st.image(enlarge(feature_map_grid(values), 4 if values.shape[0] < 20 else 2), width="stretch",
                     caption=f"{values.shape[-1]} feature maps of the first convolution ({name})")
        else:
            st.altair_chart(activation_strip(values), width="stretch")
            st.caption(f"the {len(values)} activations of the first hidden dense layer ({name})")
