"""The Train page's curves of a run: loss and accuracy per batch and per epoch, and how far they go."""

from __future__ import annotations

import streamlit as st


def training_curves(view) -> None:
    """Loss and accuracy per batch (raw and smoothed) and, from the second epoch on (one point makes no curve), per
    epoch (train and validation, best epoch marked)."""
    if not view.batches:
        return
    # pandas and Altair come with the charts: imported here, the Train page's first visit without a run skips them
    from mnist_core.training.charts import (
        batch_chart_spec,
        batch_frame,
        epoch_chart_frame,
        epoch_chart_spec,
        epoch_splits,
    )

    for column, metric in zip(st.columns(2), ("loss", "accuracy"), strict=True):
        with column:
            st.vega_lite_chart(batch_frame(view.batches, metric), batch_chart_spec(metric), width="stretch")
            if len(view.epochs) >= 2:
                frame = epoch_chart_frame(view.epochs, metric)
                st.vega_lite_chart(frame, epoch_chart_spec(metric, epoch_splits(frame)), width="stretch")
    st.caption(batches_caption(view))


def batches_caption(view) -> str:
    """How far the curves go, in the batches of the chart's axis: points come once per group of batches that Keras
    runs in one call (``steps_per_execution``), so "12 points" would not match an axis running to 384."""
    steps = [row["step"] for row in view.batches] or [0]
    event = view.latest
    total = f" of {event.epochs * event.steps_per_epoch:,}" if getattr(event, "steps_per_epoch", None) else ""
    every = steps[1] - steps[0] if len(steps) > 1 else 1
    return f"{steps[-1]:,}{total} batches trained" + (f"; one point every {every} batches" if every > 1 else "")
