"""The Sweeps page's charts: Optuna's own figures of the watched sweep, one at a time, drawn once per state of its
trials and shared by every session."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.state import kept
from app_pages.shared.text import plain
from app_pages.sweeps.state import SweepsChoices
from mnist_core.sweeps.charts import CHARTS, CONTOUR, IMPORTANCES, PARALLEL, SLICE, ChartUnavailable, sweep_figure

PARAMS_KEY = "sweeps.chart_params"  # + the chart's name: the parameters it draws


@st.cache_resource(max_entries=12, show_spinner="Drawing the chart…")
def cached_figure(url: str, name: str, stamp: tuple, chart: str, params: tuple[str, ...], _study):
    """Optuna's figure of the sweep, drawn once per state of its trials (``SweepStorage.stamp``), shared by every
    session."""
    return sweep_figure(_study, chart, list(params) or None)


def chart_params(chart: str, names: list[str]) -> tuple[str, ...]:
    """The parameters the chart draws, picked by the user: one for a slice, two for a contour, any for parallel
    coordinates and importances (all, until some are picked)."""
    key = f"{PARAMS_KEY}.{chart}"
    if chart == SLICE:
        return (st.selectbox("Parameter", names, key=key),)
    if chart == CONTOUR:
        across, up = st.columns(2)
        x = across.selectbox("Across", names, key=f"{key}.x")
        y = up.selectbox("Up", [name for name in names if name != x], key=f"{key}.y")
        return (x, y) if y else ()
    if chart in (PARALLEL, IMPORTANCES):
        return tuple(st.multiselect("Parameters", names, key=key, placeholder="all parameters"))
    return ()


def sweep_charts(storage_url: str, name: str, stamp: tuple, study, rows: list[dict], choices: SweepsChoices) -> None:
    """Optuna's chart picked by the user (one at a time, so only that one is drawn), kept until the trials change."""
    chart = kept(st.segmented_control, choices, "chart", "Chart", CHARTS) or PARALLEL
    names = sorted({param for row in rows if row["state"] == "complete" for param in row["params"]})
    params = chart_params(chart, names) if names else ()
    try:
        figure, caption = cached_figure(storage_url, name, stamp, chart, params, study)
    except ChartUnavailable as error:
        st.caption(plain(error))
        return
    st.plotly_chart(figure, width="stretch", key=f"sweeps.figure.{chart}")
    st.caption(caption)
