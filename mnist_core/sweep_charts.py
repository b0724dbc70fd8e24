"""Charts of a sweep's trials as pure functions of plain rows (``sweeps.TrialRow.to_dict()``), in Altair: the best
validation accuracy so far by trial, parameters against value in parallel coordinates, and parameter importances."""

from __future__ import annotations

import altair as alt
import pandas as pd

CHART_HEIGHT = 260
VALUE_AXIS = "validation accuracy"
BEST_SO_FAR_TITLE = "Best validation accuracy so far"
PARALLEL_TITLE = "Parameters vs validation accuracy"
IMPORTANCE_TITLE = "Parameter importance"
BAR_STEP = 26  # pixels per parameter in the importance bars


def scored(rows: list[dict]) -> list[dict]:
    """The completed trials (those with a value), in trial order."""
    return sorted((row for row in rows if row["state"] == "complete" and row["value"] is not None),
                  key=lambda row: row["number"])


def best_so_far_chart(rows: list[dict]) -> alt.Chart:
    """Each completed trial's value as a point and the running best as a step line."""
    done = scored(rows)
    frame = pd.DataFrame({"trial": [row["number"] for row in done], "value": [row["value"] for row in done]})
    frame["best so far"] = frame["value"].cummax()
    base = alt.Chart(frame, title=BEST_SO_FAR_TITLE, height=CHART_HEIGHT).encode(
        x=alt.X("trial:Q", title="trial", axis=alt.Axis(format="d", tickMinStep=1)))
    points = base.mark_point(filled=True, opacity=0.6).encode(
        y=alt.Y("value:Q", title=VALUE_AXIS, scale=alt.Scale(zero=False)), tooltip=["trial", "value"])
    line = base.mark_line(interpolate="step-after", color="#f97316").encode(y="best so far:Q")
    return points + line


def axis_positions(values: pd.Series) -> pd.Series:
    """A parameter's values scaled to [0, 1] for its axis: numbers by their range, anything else by its sorted
    distinct values (a single value sits in the middle)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        low, high = numeric.min(), numeric.max()
        return (numeric - low) / (high - low) if high > low else numeric * 0 + 0.5
    levels = sorted(values.astype(str).unique())
    return values.astype(str).map({level: (i / (len(levels) - 1) if len(levels) > 1 else 0.5)
                                   for i, level in enumerate(levels)})


def parallel_frame(rows: list[dict]) -> pd.DataFrame:
    """One row per (trial, axis): the axis's normalised position and the raw value shown in tooltips; the last
    axis is the trial's validation accuracy."""
    done = scored(rows)
    if not done:
        return pd.DataFrame(columns=["trial", "axis", "position", "raw", "value", "order"])
    params = pd.DataFrame([row["params"] for row in done])
    params[VALUE_AXIS] = [row["value"] for row in done]
    pieces = []
    for order, axis in enumerate(params.columns):
        pieces.append(pd.DataFrame({"trial": [row["number"] for row in done], "axis": axis, "order": order,
                                    "position": axis_positions(params[axis]).to_numpy(dtype=float),
                                    "raw": params[axis].astype(str).to_numpy(),
                                    "value": [row["value"] for row in done]}))
    return pd.concat(pieces, ignore_index=True)


def parallel_chart(rows: list[dict]) -> alt.Chart:
    """Parallel coordinates: an axis per parameter (and one for the value), a line per completed trial coloured
    by its validation accuracy."""
    frame = parallel_frame(rows)
    axes = list(dict.fromkeys(frame["axis"]))
    base = alt.Chart(frame, title=PARALLEL_TITLE, height=CHART_HEIGHT).encode(
        x=alt.X("axis:N", sort=axes, title=None, axis=alt.Axis(labelAngle=0, labelLimit=160, labelOverlap=False)),
        y=alt.Y("position:Q", title=None, axis=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("value:Q", title=VALUE_AXIS, scale=alt.Scale(scheme="viridis")),
        detail="trial:N", order="order:O",
        tooltip=[alt.Tooltip("trial:N"), alt.Tooltip("axis:N", title="parameter"),
                 alt.Tooltip("raw:N", title="value")])
    return base.mark_line(opacity=0.7) + base.mark_point(filled=True, size=25)


def importance_chart(importances: dict[str, float]) -> alt.Chart:
    """Horizontal bars of Optuna's parameter importances (they sum to 1), most important first."""
    frame = pd.DataFrame({"parameter": list(importances), "importance": list(importances.values())})
    return alt.Chart(frame, title=IMPORTANCE_TITLE, height=alt.Step(BAR_STEP)).mark_bar().encode(
        x=alt.X("importance:Q", axis=alt.Axis(format="%", tickCount=5)),
        y=alt.Y("parameter:N", sort="-x", title=None), tooltip=["parameter", alt.Tooltip("importance:Q", format=".1%")])
