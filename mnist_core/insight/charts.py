"""Charts of the Insight page, as pure functions of plain data (Altair, no Streamlit): the embedding map, the
robustness curves and the reliability diagram."""

from __future__ import annotations

import altair as alt
import pandas as pd

POINT_SELECTION = "point"  # name of the click selection on the embedding map (carries the test image's index)
MAP_SIZE = 560
CURVE_HEIGHT = 220
POINT_SIZE, WRONG_SIZE = 18, 60
RELIABILITY_SIDE, RELIABILITY_COUNTS_HEIGHT = 280, 90  # with its axes the diagram fits a 390 px phone (320 did not)


def embedding_chart(frame: pd.DataFrame, title: str) -> alt.Chart:
    """Scatter of ``embedding.map_frame`` rows coloured by true digit; with a model's predictions the misclassified
    points are crosses, drawn last so none hides under the others; hovering shows index, true, predicted and
    confidence; a click selects one point by index."""
    with_model = "predicted" in frame.columns
    if with_model:
        frame = frame.sort_values("wrong", kind="stable")
    point = alt.selection_point(name=POINT_SELECTION, fields=["index"], on="click", clear="dblclick")
    tooltip = ["index:Q", "true:N"] + (["predicted:N", alt.Tooltip("confidence:Q", format=".1%")] if with_model else [])
    encoding = dict(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
        color=alt.Color("true:N", title="true digit", scale=alt.Scale(scheme="category10")),
        opacity=alt.condition(point, alt.value(0.85), alt.value(0.25)),
        tooltip=tooltip)
    if with_model:
        encoding["shape"] = alt.Shape("wrong:N", title="misclassified",
                                      scale=alt.Scale(domain=[False, True], range=["circle", "cross"]))
        encoding["size"] = alt.condition(alt.datum.wrong, alt.value(WRONG_SIZE), alt.value(POINT_SIZE))  # no scale:
        # Vega warns of a size scale on a discrete field
    return alt.Chart(frame).mark_point(filled=True).encode(**encoding).add_params(point).properties(
        title=title, width=MAP_SIZE, height=MAP_SIZE)


def robustness_chart(frame: pd.DataFrame, transform: str, unit: str) -> alt.Chart:
    """Accuracy (y) against severity (x) of one transform, one line per model (``frame``: model, severity,
    accuracy rows of that transform). Only the width follows the container: with the whole chart fitted to a
    height, the legend of long run names left the plot a few pixels high."""
    severities = sorted(float(value) for value in frame["severity"].unique())
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("severity:Q", title=unit, axis=alt.Axis(values=severities, format=".3~g")),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("model:N", title="model", scale=alt.Scale(scheme="category10"),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["model:N", alt.Tooltip("severity:Q", format="g"), alt.Tooltip("accuracy:Q", format=".2%")],
    ).properties(title=transform, height=CURVE_HEIGHT, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def reliability_chart(table: pd.DataFrame, title: str) -> alt.VConcatChart:
    """Reliability diagram: each confidence bin's accuracy (bars, over the bin's span) against the diagonal of
    perfect calibration; hovering shows mean confidence, accuracy and count. Under it, as is standard, how many
    predictions fall in each bin (a symlog axis, since nearly all of a good model's are in the top bin): without the
    counts, a bin of 3 predictions looks as badly calibrated as one of 3,000."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        strokeDash=[4, 3], color="#6b7280").encode(x="x:Q", y="y:Q")
    bars = alt.Chart(table).mark_rect(color="#2563eb", opacity=0.75, stroke="white").encode(
        x=alt.X("lower:Q", title="confidence", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        x2="upper:Q",
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y2=alt.datum(0),
        tooltip=[alt.Tooltip("lower:Q", format=".0%", title="from"), alt.Tooltip("upper:Q", format=".0%", title="to"),
                 alt.Tooltip("confidence:Q", format=".2%", title="mean confidence"),
                 alt.Tooltip("accuracy:Q", format=".2%"), "count:Q"])
    counts = alt.Chart(table).mark_rect(color="#6b7280", opacity=0.75, stroke="white").encode(
        x=alt.X("lower:Q", title="confidence", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        x2="upper:Q",
        y=alt.Y("count:Q", title="predictions", scale=alt.Scale(type="symlog"), axis=alt.Axis(format=",d")),
        y2=alt.datum(0),
        tooltip=[alt.Tooltip("lower:Q", format=".0%", title="from"), alt.Tooltip("upper:Q", format=".0%", title="to"),
                 alt.Tooltip("count:Q", title="predictions")])
    return alt.vconcat((bars + diagonal).properties(title=title, width=RELIABILITY_SIDE, height=RELIABILITY_SIDE),
                       counts.properties(width=RELIABILITY_SIDE, height=RELIABILITY_COUNTS_HEIGHT), spacing=6)
