"""A training job's curves in the live panel: loss and accuracy per batch and per epoch, and how far they go. No
chart before the first batch: Vega warns of an "Infinite extent" for every scale of a chart drawn without rows."""

from __future__ import annotations

import streamlit as st

from mnist_core.statuses import ACTIVE

WAITING = "Waiting for the first batch: the curves start with it."


def training_curves(view) -> None:
    """Loss and accuracy per batch (raw and smoothed) and, from the second epoch on (one point makes no curve), per
    epoch (train and validation, best epoch marked); before the first batch, a line saying they are to come."""
    # Altair and pandas are imported only once there are curves to draw: not by the pages that show none (Sweeps).
    from mnist_core.training.charts import batch_chart, epoch_chart

    if not view.batches:
        if view.status in ACTIVE:
            st.caption(WAITING)
        return
    for column, metric in zip(st.columns(2), ("loss", "accuracy"), strict=True):
        with column:
            st.vega_lite_chart(batch_chart(view.batches, metric), width="stretch")
            if len(view.epochs) >= 2:
                st.vega_lite_chart(epoch_chart(view.epochs, metric), width="stretch")
    st.caption(batches_caption(view))


def batches_caption(view) -> str:
    """How far the curves go, in the batches of the chart's axis: points come once per group of batches that Keras
    runs in one call (``steps_per_execution``), so "12 points" would not match an axis running to 384."""
    steps = [row["step"] for row in view.batches] or [0]
    event = view.latest
    total = f" of {event.epochs * event.steps_per_epoch:,}" if getattr(event, "steps_per_epoch", None) else ""
    every = steps[1] - steps[0] if len(steps) > 1 else 1
    return f"{steps[-1]:,}{total} batches trained" + (f"; one point every {every} batches" if every > 1 else "")
