"""The My digits page's measurement: models side by side on your drawings (all, held out, per digit) next to their
MNIST test accuracy, and the drawings each one misreads."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.my_digits.collection import drawing_tiles
from app_pages.shared.models import model_for, run_label
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry


def model_scores(model, images: np.ndarray, labels: np.ndarray, held: np.ndarray) -> tuple[dict, np.ndarray]:
    """Accuracy on all drawings, on the held-out ones and per digit; and the probabilities."""
    from mnist_core.model.evaluation import predict_probabilities

    probabilities = predict_probabilities(model, images)
    right = probabilities.argmax(axis=1) == labels
    row = {"my digits": right.mean(), "held out": right[held].mean() if held.any() else None}
    row |= {str(d): right[labels == d].mean() if (labels == d).any() else None for d in range(10)}
    return row, probabilities


def misread(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> None:
    """The drawings a model gets wrong, captioned true → predicted (confidence)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if not len(wrong):
        st.caption("Reads every one of your drawings right.")
        return
    drawing_tiles([images[i] for i in wrong],
                  [f"{labels[i]} → {predicted[i]} ({probabilities[i, predicted[i]]:.0%})" for i in wrong])


def measure_view(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """Models side by side on My digits (all, held out, per digit) next to their MNIST test accuracy."""
    runs = {record.id: record for record in listing}
    tuned = [run_id for run_id in runs if runs[run_id].parent is not None][:1]  # the newest fine-tune, if any
    default = [run_id for run_id in dict.fromkeys((registry.default_id(), *tuned)) if run_id in runs] \
        or list(runs)[:1]
    picked = st.multiselect("Models to measure", list(runs), default=default,
                            format_func=lambda run_id: run_label(runs[run_id]))
    items = collection.items()
    if not picked or not items:
        return
    images, labels = collection.arrays(items)
    held = np.array([item.held_out for item in items])
    rows, misreads = [], []
    for run_id in picked:
        model = model_for(registry, run_id)
        if model is not None:
            row, probabilities = model_scores(model, images, labels, held)
            rows.append({"model": runs[run_id].name, "MNIST test": runs[run_id].test_accuracy, **row})
            misreads.append((runs[run_id].name, probabilities))
    percent = st.column_config.NumberColumn(format="percent")
    columns = {key: percent for key in rows[0] if key != "model"} if rows else {}
    st.dataframe(rows, hide_index=True, column_config=columns | {"model": st.column_config.TextColumn(width="medium")})
    for name, probabilities in misreads:
        with st.expander(f"Misread by {name}", expanded=len(misreads) == 1):
            misread(images, labels, probabilities)
