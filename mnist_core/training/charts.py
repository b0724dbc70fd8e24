"""Charts and labels for the pages, as pure functions of plain data (Altair, no Streamlit), so everything a page
shows about training, errors and predictions can be unit-tested; pictures (NumPy images) are in ``pictures``."""

from __future__ import annotations

import copy
import functools
import math

import altair as alt
import numpy as np
import pandas as pd

from mnist_core.data.mnist import NUM_CLASSES

SMOOTHING = 0.9  # weight of the past in the exponential moving average of per-batch curves
MAX_BATCH_POINTS = 600  # per-batch rows drawn at most; longer histories are thinned evenly
RAW_OPACITY = 0.25
CHART_HEIGHT = 220
SPLITS, SPLIT_COLOURS = ("train", "validation"), ["#2563eb", "#f97316"]
METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}
VALUE_FORMAT = ".3~f"  # loss and accuracy on axes: 0.799, not 0.798903
CONFUSION_SELECTION = "cell"  # name of the click selection on the confusion heatmap


# --- training curves --------------------------------------------------------------------------------------------


def smooth(values, weight: float = SMOOTHING) -> np.ndarray:
    """Debiased exponential moving average, as TensorBoard draws it (pandas' ``ewm`` with ``adjust=True``): the
    first points are not pulled towards 0."""
    return pd.Series(values, dtype="float64").ewm(alpha=1 - weight, adjust=True).mean().to_numpy()


def smoothing_weight(count: int) -> float:
    """Moving-average weight spanning about a tenth of ``count`` points (none for a handful), at most ``SMOOTHING``."""
    return min(SMOOTHING, max(0.0, 1 - 10 / max(count, 1)))


def thin(frame: pd.DataFrame, limit: int = MAX_BATCH_POINTS) -> pd.DataFrame:
    """At most ``limit`` rows spread evenly over the frame, always keeping the last one."""
    if len(frame) <= limit:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, limit).round().astype(int))
    return frame.iloc[keep]


def batch_frame(batches: list[dict], metric: str) -> pd.DataFrame:
    """The rows of ``batch_chart_spec``'s chart: per batch, the raw ``metric`` and its moving average (finite values
    only, at most ``MAX_BATCH_POINTS`` rows)."""
    rows = [row for row in batches if metric in row and math.isfinite(row[metric])]
    frame = pd.DataFrame({"batch": [row["step"] for row in rows], "raw": [row[metric] for row in rows]})
    frame["smoothed"] = smooth(frame["raw"], smoothing_weight(len(frame))) if len(frame) else []
    return thin(frame)


def batch_chart(batches: list[dict], metric: str) -> dict:
    """Vega-Lite spec of the per-batch training ``metric`` chart with its rows (``batch_frame``): the raw values
    faint and their moving average as a solid line. Built on a spec made once per metric: the live view redraws
    both curves every 2 s while a run trains, and building them anew in Altair (which validates each chart) would
    take CPU from the interpreter the run trains with."""
    return with_rows(_batch_chart_spec(metric), batch_frame(batches, metric))


@functools.cache
def _batch_chart_spec(metric: str) -> dict:
    shape = pd.DataFrame({"batch": [0], "raw": [0.0], "smoothed": [0.0]})  # only to build the spec; taken out below
    base = alt.Chart(shape).encode(x=alt.X("batch:Q", title="batch", axis=alt.Axis(format="d")))
    title = METRIC_TITLES.get(metric, metric)
    raw = base.mark_line(opacity=RAW_OPACITY, color="#2563eb").encode(
        y=alt.Y("raw:Q", title=title, axis=alt.Axis(format=VALUE_FORMAT)))
    line = base.mark_line(color="#2563eb").encode(
        y="smoothed:Q", tooltip=["batch:Q", alt.Tooltip("smoothed:Q", format=".4f")])
    spec = (raw + line).properties(title=f"{title} per batch (train)", height=CHART_HEIGHT).to_dict()
    for key in ("data", "datasets", "config"):  # the rows come with each drawing; Streamlit themes the chart itself
        spec.pop(key, None)
    return spec


LIVE_ROWS = "rows"  # the name of the dataset a live chart's spec carries


def with_rows(spec: dict, frame: pd.DataFrame) -> dict:
    """A copy of ``spec`` that draws ``frame``, given as a named dataset: Streamlit puts a named dataset into the
    chart it creates, whereas the ``data`` argument of ``st.vega_lite_chart`` is inserted only after Vega has drawn
    the chart once without rows (and warned "Infinite extent" for each field); later drawings replace the rows of
    the same name in the chart already shown."""
    return copy.deepcopy(spec) | {"data": {"name": LIVE_ROWS}, "datasets": {LIVE_ROWS: frame}}


def best_epoch(epochs: list[dict]) -> int | None:
    """The epoch with the lowest validation loss (training loss when there is no validation set)."""
    key = "val_loss" if any("val_loss" in row for row in epochs) else "loss"
    scored = [(row[key], row["epoch"]) for row in epochs if key in row and math.isfinite(row[key])]
    return min(scored)[1] if scored else None


def epoch_frame(epochs: list[dict], metric: str) -> pd.DataFrame:
    """Long table (epoch, split, value) of ``metric`` on the training and, if present, the validation set."""
    rows = [{"epoch": row["epoch"], "split": split, "value": row[key]}
            for row in epochs
            for split, key in (("train", metric), ("validation", f"val_{metric}"))
            if key in row and math.isfinite(row[key])]
    return pd.DataFrame(rows, columns=["epoch", "split", "value"])


def epoch_splits(frame: pd.DataFrame) -> tuple[str, ...]:
    """The sets that rows of ``epoch_frame`` measure, train first (train alone when there are none)."""
    return tuple(split for split in SPLITS if (frame["split"] == split).any()) or SPLITS[:1]


def epoch_chart_frame(epochs: list[dict], metric: str) -> pd.DataFrame:
    """The rows of ``epoch_chart_spec``'s chart: ``epoch_frame`` with a ``best`` column, true on the first row of the
    best epoch (where the chart draws its dashed rule)."""
    frame = epoch_frame(epochs, metric)
    best = best_epoch(epochs)
    frame["best"] = (frame["epoch"] == best) & ~frame["epoch"].duplicated()
    return frame


def epoch_chart(epochs: list[dict], metric: str) -> dict:
    """Vega-Lite spec of the per-epoch ``metric`` chart with its rows (``epoch_chart_frame``): one line with points
    per split the rows measure, and a dashed rule at the best epoch. Built on a spec made once per metric and splits,
    for the same reason as ``batch_chart``."""
    frame = epoch_chart_frame(epochs, metric)
    return with_rows(_epoch_chart_spec(metric, epoch_splits(frame)), frame)


@functools.cache
def _epoch_chart_spec(metric: str, splits: tuple[str, ...]) -> dict:
    title = METRIC_TITLES.get(metric, metric)
    shape = pd.DataFrame({"epoch": [1], "split": [splits[0]], "value": [0.0], "best": [True]})  # taken out below
    base = alt.Chart(shape).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False), axis=alt.Axis(format=VALUE_FORMAT)),
        color=alt.Color("split:N", title=None, scale=alt.Scale(domain=list(splits),
                                                                range=SPLIT_COLOURS[:len(splits)])),
        tooltip=["epoch:Q", "split:N", alt.Tooltip("value:Q", format=".4f")])
    rule = alt.Chart(shape).transform_filter("datum.best").transform_calculate(
        label="'best epoch ' + datum.epoch").mark_rule(strokeDash=[4, 3], color="#16a34a").encode(
        x="epoch:Q", tooltip=["label:N"])
    chart = alt.layer(base.mark_line(), base.mark_point(filled=True, size=50), rule)
    spec = chart.properties(title=f"{title} per epoch", height=CHART_HEIGHT).to_dict()
    for key in ("data", "datasets", "config"):  # the rows come with each drawing; Streamlit themes the chart itself
        spec.pop(key, None)
    return spec


def comparison_chart(curves: dict[str, list[dict]], metric: str) -> alt.LayerChart:
    """Per-epoch ``metric`` of several runs (name → epoch rows) overlaid, one clearly distinct colour per run,
    validation dashed; the runs' legend under the plot with whole names, the splits' above it (side by side under
    it, the second ran off a phone's screen). The plot keeps its height whatever the legends take (the width alone
    follows the page). When one run is much longer than another, the epoch axis is logarithmic and ends at the
    longest run, so a 2-epoch run is not squeezed into a corner by a 30-epoch one."""
    frames = [epoch_frame(epochs, metric).assign(run=name) for name, epochs in curves.items()]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["epoch", "split", "value", "run"])
    title = METRIC_TITLES.get(metric, metric)
    lengths = [len(epochs) for epochs in curves.values() if epochs]
    logarithmic = bool(lengths) and max(lengths) >= LOG_EPOCHS_RATIO * min(lengths)
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", title="epoch" + (" (log scale)" if logarithmic else ""),
                scale=alt.Scale(type="log", nice=False) if logarithmic else alt.Undefined,
                axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False), axis=alt.Axis(format=VALUE_FORMAT)),
        color=alt.Color("run:N", title="run", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", columns=1, labelLimit=600, symbolType="stroke")),
        tooltip=["run:N", "epoch:Q", "split:N", alt.Tooltip("value:Q", format=".4f")])
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash(  # points have no dash: the splits' legend shows lines
        "split:N", title=None, scale=alt.Scale(domain=list(SPLITS)),
        legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeColor="#374151", symbolStrokeWidth=2)))
    return alt.layer(lines, base.mark_point(filled=True, size=30)).properties(
        title=f"{title} per epoch", height=COMPARISON_HEIGHT,
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


LOG_EPOCHS_RATIO = 4  # the longest run this many times the shortest: the epoch axis becomes logarithmic
COMPARISON_HEIGHT = 300


# --- data and evaluation ----------------------------------------------------------------------------------------


def class_count_chart(labels: np.ndarray) -> alt.Chart:
    """Bar chart of how many images each digit has."""
    counts = np.bincount(np.asarray(labels), minlength=NUM_CLASSES)
    frame = pd.DataFrame({"digit": [str(d) for d in range(NUM_CLASSES)], "images": counts})
    return alt.Chart(frame).mark_bar(color="#2563eb").encode(
        x=alt.X("digit:N", title="digit", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("images:Q", title="images"), tooltip=["digit:N", "images:Q"],
    ).properties(height=CHART_HEIGHT)


def confusion_chart(matrix: np.ndarray) -> alt.Chart:
    """Heatmap of the confusion matrix (row = true, column = predicted) with counts, and a click selection of one
    cell named ``CONFUSION_SELECTION`` carrying its ``true`` and ``predicted`` digits. Colours show the errors:
    the diagonal is greyed so the misclassifications stand out."""
    matrix = np.asarray(matrix)
    frame = pd.DataFrame([{"true": t, "predicted": p, "count": int(matrix[t, p]), "correct": t == p}
                          for t in range(NUM_CLASSES) for p in range(NUM_CLASSES)])
    frame["errors"] = np.where(frame["correct"], 0, frame["count"])
    cell = alt.selection_point(name=CONFUSION_SELECTION, fields=["true", "predicted"], on="click")
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true digit"))
    tiles = base.mark_rect(stroke="white").encode(
        color=alt.condition("datum.correct", alt.value("#e5e7eb"),
                            alt.Color("errors:Q", title="errors", scale=alt.Scale(scheme="oranges"))),
        opacity=alt.condition(cell, alt.value(1.0), alt.value(0.35)),
        tooltip=["true:O", "predicted:O", "count:Q"],
    ).add_params(cell)
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(f"datum.errors > {max(1, int(frame['errors'].max()) // 2)}", alt.value("white"),
                            alt.value("#111827")))
    return (tiles + text).properties(width=360, height=360)


def probability_frame(probabilities: np.ndarray) -> pd.DataFrame:
    """The rows of ``probability_chart``'s chart: each digit, its probability and whether it is the predicted
    one."""
    probabilities = np.asarray(probabilities, dtype=float)
    return pd.DataFrame({"digit": [str(d) for d in range(NUM_CLASSES)], "probability": probabilities,
                         "predicted": np.arange(NUM_CLASSES) == probabilities.argmax()})


def probability_chart(probabilities: np.ndarray) -> dict:
    """Vega-Lite spec of the bar chart of the 10 class probabilities with the predicted digit highlighted, its rows
    (``probability_frame``) carried as ``with_rows`` does for the live charts. The spec is built once: the Draw page
    redraws the chart after every stroke, and building it anew in Altair (which validates each chart) took longer
    than the prediction."""
    return with_rows(_probability_chart_spec(), probability_frame(probabilities))


@functools.cache
def _probability_chart_spec() -> dict:
    spec = alt.Chart(probability_frame(np.eye(NUM_CLASSES)[0])).mark_bar().encode(
        x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.condition("datum.predicted", alt.value("#2563eb"), alt.value("#9ca3af")),
        tooltip=["digit:N", alt.Tooltip("probability:Q", format=".2%")],
    ).properties(height=180).to_dict()
    for key in ("data", "datasets", "config"):  # the rows come with each drawing; Streamlit themes the chart itself
        spec.pop(key, None)
    return spec


def activation_strip(values: np.ndarray) -> alt.Chart:
    """A dense layer's activations as a heat strip, one cell per unit."""
    values = np.asarray(values, dtype=float).ravel()
    frame = pd.DataFrame({"unit": np.arange(len(values)), "activation": values})
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("unit:O", axis=None),
        color=alt.Color("activation:Q", scale=alt.Scale(scheme="viridis"), legend=alt.Legend(orient="bottom")),
        tooltip=["unit:O", alt.Tooltip("activation:Q", format=".3f")],
    ).properties(height=40)
