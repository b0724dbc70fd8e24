"""The Models page's comparison of runs (curves and a table), and what the user picked there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from app_pages.shared.models import run_label, short_label
from app_pages.shared.state import kept
from mnist_core.store.records import RunRecord
from mnist_core.training.charts import comparison_chart

COMPARED_ON_START = 2


@dataclass
class ModelsChoices:
    """What a user picked on the Models page, by run id: kept while they move around the app, and while other
    sessions save, rename or delete runs."""

    run: str | None = None
    compared: list | None = None  # None: the newest runs with curves
    deleting: str | None = None  # the run whose "Delete" awaits its confirmation
    imported: set = field(default_factory=set)  # uploads already imported (a rerun must not import them twice)


def labels_version(labels: dict) -> str:
    """A short digest of a picker's labels, so a renamed run gives the picker a new widget (see ``kept``)."""
    return digest(sorted(labels.items()))


def digest(values) -> str:
    """A short digest of plain values (their ``repr``): what a widget or a cached result is keyed on."""
    return hashlib.sha1(repr(values).encode()).hexdigest()[:10]


@st.cache_resource(max_entries=16, show_spinner=False)
def comparison_spec(version: str, metric: str, _curves: dict[str, list[dict]]) -> dict:
    """The comparison chart's Vega-Lite spec, built (Altair's build and validation) once per set of curves
    (``version``: their digest) and shared by every session, not on every visit of the page."""
    return comparison_chart(_curves, metric).to_dict()


def comparison(runs: list[RunRecord], choices: ModelsChoices) -> None:
    """Overlaid epoch curves and a metrics table of the runs picked in "Compare runs"."""
    st.subheader("Compare runs")
    labels = {record.id: run_label(record) for record in runs}
    by_id = {record.id: record for record in runs}
    with_curves = [record.id for record in runs if record.epochs]
    picked = kept(st.multiselect, choices, "compared", "Compare runs", list(labels), format_func=labels.get,
                  version=labels_version(labels),
                  clean=lambda ids: with_curves[:COMPARED_ON_START] if ids is None else [i for i in ids if i in by_id])
    if not picked:
        st.caption("Pick runs to overlay their learning curves.")
        return
    chosen = [by_id[run_id] for run_id in picked]
    curves = {short_label(record): record.epochs for record in chosen}
    if any(curves.values()):
        version = digest(curves)
        for tab, metric in zip(st.tabs(["Accuracy", "Loss"]), ("accuracy", "loss"), strict=True):
            tab.vega_lite_chart(comparison_spec(version, metric, curves), width="stretch")
    else:
        st.caption("The picked runs have no per-epoch history (uploaded models).")
    st.dataframe(pd.DataFrame([metrics_row(record) for record in chosen]), hide_index=True, column_config={
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "best validation accuracy": st.column_config.NumberColumn(
            format="percent", help="Best epoch on the held-out validation images; empty: the run held none out."),
        "last training accuracy": st.column_config.NumberColumn(
            format="percent", help="Last epoch, on the images it trained on (optimistic)."),
        "params": st.column_config.NumberColumn(format="localized")})


def metrics_row(record: RunRecord) -> dict:
    """One run's results and main settings, for the comparison table."""
    config = record.config or {}
    validation = [row["val_accuracy"] for row in record.epochs if "val_accuracy" in row]
    return {"name": short_label(record), "architecture": record.architecture, "params": record.params,
            "test accuracy": record.test_accuracy, "test loss": record.test_loss,
            "best validation accuracy": max(validation, default=None),  # None: the run held no validation data out
            "last training accuracy": record.epochs[-1].get("accuracy") if record.epochs else None,
            "epochs": len(record.epochs), "seconds": round(record.seconds, 1), "optimizer": config.get("optimizer"),
            "learning rate": config.get("learning_rate"), "batch size": config.get("batch_size"),
            "training images": config.get("subset_size"), "status": record.status}  # None: all of them
