"""Insight: what a model learned and how far to trust it. An embedding map of the test images (click a point to see
it), a robustness lab (accuracy under rotation, shift, scale, stroke thickness, noise, blur and occlusion, for
several models), the first layer's weights, and the reliability of its confidence. The work is in mnist_core;
long computations (t-SNE, the robustness sweep) run in background threads, shared by all sessions and kept per
model file, so they are computed once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import (cached_evaluation, dataset_or_warning, model_for, model_key, model_picker, run_label,
                              shared_registry)
from mnist_core.background import BackgroundTask
from mnist_core.data import MnistData
from mnist_core.pictures import enlarge
from mnist_core.registry import Registry, RegistryError, RunRecord

VIEWS = ("Embedding map", "Robustness lab", "Weights", "Confidence")
MAP_SAMPLES = (1000, 2000, 5000, 10000)
ROBUSTNESS_SAMPLES = (500, 1000, 2000, 5000, 10000)
DEFAULT_MAP_SAMPLE, DEFAULT_ROBUSTNESS_SAMPLE = 2000, 2000
PROJECTIONS = ("PCA", "t-SNE")
MODEL_SPACE, PIXEL_SPACE = "the model's last hidden layer", "raw pixels (no model)"
PROGRESS_REFRESH_S = 1.0
MAX_TASKS = 32  # background results kept per server (oldest finished ones dropped first)
WEIGHT_PICTURES = 64  # units of a wide first Dense layer shown at most
WEIGHT_PICTURE_PX = 96
CHARTS_PER_ROW = 2
VIEW_KEY, POINT_KEY = "insight.view", "insight.map"


# --- shared, cached work ------------------------------------------------------------------------------------------


@st.cache_resource
def task_store() -> dict:
    """Background tasks of this server process by what they compute (the key names the model file version)."""
    return {}


def task_for(key: tuple, work, name: str) -> BackgroundTask:
    """The task computing ``key``: the one already started (running or done) or a new one running ``work``; a
    failed one is started again."""
    store = task_store()
    task = store.get(key)
    if task is None or (task.done and task.error is not None):
        finished = [old for old, kept in store.items() if kept.done]
        for old in finished[:max(0, len(store) + 1 - MAX_TASKS)]:
            del store[old]
        task = store[key] = BackgroundTask(work, name)
    return task


@st.cache_resource(max_entries=8, show_spinner="Reading the model's last hidden layer…")
def map_inputs(key: tuple | None, data_fingerprint: str, sample: int, _model, _data: MnistData):
    """(sample indices, representation) of the test images: the model's last hidden layer, or the pixels for
    ``key`` None; once per model file version, data set and sample size."""
    from mnist_core.embedding import model_representation, pixel_representation, sample_indices

    indices = sample_indices(_data.y_test, sample)
    images = _data.x_test[indices]
    return indices, pixel_representation(images) if key is None else model_representation(_model, images)


@st.cache_resource(max_entries=8, show_spinner="Projecting with PCA…")
def pca_map(key: tuple | None, data_fingerprint: str, sample: int, _features: np.ndarray) -> np.ndarray:
    from mnist_core.embedding import pca_2d

    return pca_2d(_features)


def show_progress(tasks: dict[str, BackgroundTask], was_running: bool) -> None:
    """A progress bar per running task (label → task); the whole page is redrawn once they have all ended."""
    for label, task in tasks.items():
        if not task.done:
            st.progress(task.progress, text=f"{label}: {task.message} ({task.elapsed:.0f} s)")
    if was_running and all(task.done for task in tasks.values()):
        st.rerun()


def wait_for(tasks: dict[str, BackgroundTask]) -> bool:
    """True when every task has ended; otherwise shows their progress, refreshed every second, and returns False."""
    running = not all(task.done for task in tasks.values())
    st.fragment(show_progress, run_every=PROGRESS_REFRESH_S if running else None)(tasks, running)
    return not running


def task_failed(task: BackgroundTask, what: str) -> bool:
    """True (after an error message) when ``task`` ended with an error."""
    if task.error is None:
        return False
    st.error(f"{what} failed: {task.error}. Change a setting or reload the page to try again.")
    return True


# --- embedding map ------------------------------------------------------------------------------------------------


def map_settings() -> tuple[str, str, int]:
    """The "Space", "Projection" and "Points" choices."""
    space_column, projection_column, sample_column = st.columns([2, 1, 1])
    space = space_column.radio("Space", (MODEL_SPACE, PIXEL_SPACE), horizontal=True, key="insight.space")
    projection = projection_column.radio("Projection", PROJECTIONS, horizontal=True, key="insight.projection",
                                         help="PCA is instant; t-SNE (openTSNE) separates clusters better and takes "
                                              "a while, in the background.")
    sample = sample_column.selectbox("Points", MAP_SAMPLES, index=MAP_SAMPLES.index(DEFAULT_MAP_SAMPLE),
                                     format_func=lambda n: f"{n:,} test images", key="insight.points",
                                     help="A sample keeps each digit's share of the test set.")
    return space, projection, sample


def map_coordinates(key, data: MnistData, sample: int, features: np.ndarray, projection: str):
    """The 2-D coordinates by PCA (at once) or t-SNE (in the background; None while it runs)."""
    if projection == "PCA":
        return pca_map(key, data.fingerprint, sample, features)
    from mnist_core.embedding import tsne_2d

    task = task_for(("tsne", key, data.fingerprint, sample), lambda report: tsne_2d(features, report), "t-SNE")
    if not wait_for({"t-SNE": task}) or task_failed(task, "t-SNE"):
        return None
    st.caption(f"t-SNE took {task.elapsed:.0f} s (computed once per model file and sample size).")
    return task.result


def clicked_image(frame: pd.DataFrame, data: MnistData, index: int) -> None:
    """The clicked test image, enlarged, with its labels and top-3."""
    row = frame[frame["index"] == index].iloc[0]
    picture, facts = st.columns([1, 3])
    picture.image(enlarge(data.x_test[index], 6), caption=f"test image #{index}")
    facts.metric("True digit", int(row["true"]), border=True)
    if "predicted" in frame.columns:
        facts.markdown(f"**Predicted:** {int(row['predicted'])} ({row['confidence']:.1%})  \n"
                       f"**Top 3:** {row['top3']}")


def embedding_view(registry: Registry, run_id: str, data: MnistData) -> None:
    """The embedding map of the chosen space and projection; clicking a point shows that image."""
    from mnist_core.embedding import map_frame
    from mnist_core.insight_charts import POINT_SELECTION, embedding_chart

    space, projection, sample = map_settings()
    model = model_for(registry, run_id)
    if model is None:
        return
    key = model_key(registry, run_id) if space == MODEL_SPACE else None
    indices, representation = map_inputs(key, data.fingerprint, sample, model, data)
    if representation.is_logits:
        st.info("This model (softmax regression) has no hidden layer, so the map shows its logits: the ten scores "
                "before the softmax.")
    coordinates = map_coordinates(key, data, sample, representation.features, projection)
    if coordinates is None:
        return
    probabilities = None
    if key is not None:
        probabilities = cached_evaluation(key, data.fingerprint, registry, data).probabilities[indices]
    frame = map_frame(coordinates, indices, data.y_test[indices], probabilities)
    title = f"{projection} of {representation.layer} · {len(frame):,} test images"
    marks = ("Crosses: misclassified. " if probabilities is not None else
             "Raw pixels, no model: compare with a model's map. ")
    st.caption(f"Colour: true digit. {marks}Hover for details; click a point to see the image (double-click clears).")
    event = st.altair_chart(embedding_chart(frame, title), on_select="rerun", selection_mode=POINT_SELECTION,
                            key=f"{POINT_KEY}.{space}.{projection}.{sample}")
    points = event.selection.get(POINT_SELECTION) or []
    if points:
        clicked_image(frame, data, int(points[0]["index"]))


# --- robustness lab -----------------------------------------------------------------------------------------------


def lab_settings(runs: list[RunRecord], run_id: str, test_count: int) -> tuple[list[str], list[str], int, int]:
    """The "Models", "Transforms", "Test images" and "Example image" choices."""
    from mnist_core.robustness import TRANSFORMS

    labels = {record.id: run_label(record) for record in runs}
    models = st.multiselect("Models", list(labels), default=[run_id], format_func=labels.get,
                            help="One curve per model.", key="insight.lab_models")
    transforms = st.multiselect("Transforms", list(TRANSFORMS), default=list(TRANSFORMS), key="insight.transforms")
    sample_column, example_column = st.columns(2)
    sample = sample_column.selectbox("Test images", ROBUSTNESS_SAMPLES,
                                     index=ROBUSTNESS_SAMPLES.index(DEFAULT_ROBUSTNESS_SAMPLE),
                                     format_func=lambda n: f"{n:,} (stratified sample)", key="insight.sample")
    example = example_column.number_input("Example image", min_value=0, max_value=test_count - 1, value=0, step=1,
                                          help="The test image shown transformed under each chart.")
    return models, transforms, sample, int(example)


def sweep_task(registry: Registry, run_id: str, data: MnistData, sample: int, transforms: list[str]):
    """The background task sweeping one model, or None after an error saying why the model cannot be used."""
    from mnist_core.embedding import sample_indices
    from mnist_core.robustness import robustness_curves

    model = model_for(registry, run_id)
    if model is None:
        return None
    try:
        key = model_key(registry, run_id)
    except (RegistryError, OSError) as error:
        st.error(f"The model {run_id!r} disappeared: {error}")
        return None
    indices = sample_indices(data.y_test, sample)
    images, labels = data.x_test[indices], data.y_test[indices]
    return task_for(("robustness", key, data.fingerprint, sample, tuple(transforms)),
                    lambda report: robustness_curves(model, images, labels, transforms, report), "robustness")


def curves_and_examples(results: pd.DataFrame, data: MnistData, example: int) -> None:
    """One chart per transform (a line per model), each with the example image at every severity beneath it."""
    from mnist_core.insight_charts import robustness_chart
    from mnist_core.robustness import TRANSFORMS, example_strip

    names = list(dict.fromkeys(results["transform"]))
    for start in range(0, len(names), CHARTS_PER_ROW):
        for column, name in zip(st.columns(CHARTS_PER_ROW), names[start:start + CHARTS_PER_ROW], strict=False):
            transform = TRANSFORMS[name]
            with column:
                st.altair_chart(robustness_chart(results[results["transform"] == name], name, transform.unit),
                                width="stretch")
                strip = example_strip(data.x_test[example], transform)
                st.image([enlarge(picture, 2) for _, picture in strip],
                         caption=[f"{severity:g}" for severity, _ in strip])


def robustness_view(registry: Registry, runs: list[RunRecord], run_id: str, data: MnistData) -> None:
    """Accuracy of the chosen models under each transform as severity grows."""
    models, transforms, sample, example = lab_settings(runs, run_id, len(data.y_test))
    if not models or not transforms:
        st.info("Pick at least one model and one transform.")
        return
    labels = {record.id: f"{record.name} ({record.id})" for record in runs}
    tasks = {labels[chosen]: sweep_task(registry, chosen, data, sample, transforms) for chosen in models}
    tasks = {label: task for label, task in tasks.items() if task is not None}
    if not tasks or not wait_for(tasks):
        return
    failed = [label for label, task in tasks.items() if task_failed(task, f"The sweep of {label}")]
    frames = [task.result.assign(model=label) for label, task in tasks.items() if label not in failed]
    if not frames:
        return
    results = pd.concat(frames, ignore_index=True)
    st.caption(f"Accuracy on {sample:,} test images; severity 0 is the untouched images, the model's accuracy on "
               f"them. Below each chart: test image #{example} at each severity. Computed once per model file.")
    curves_and_examples(results, data, example)
    with st.expander("All figures"):
        st.dataframe(results.pivot_table(index=["transform", "severity"], columns="model", values="accuracy",
                                         sort=False))


# --- weights ------------------------------------------------------------------------------------------------------


def weights_view(registry: Registry, run_id: str) -> None:
    """The first Dense layer's units as 28×28 pictures (softmax regression: the class templates) or the first
    Conv2D layer's kernels, blue negative, white zero, red positive, on one shared scale."""
    from mnist_core.weights import diverging_rgb, first_layer_weights

    model = model_for(registry, run_id)
    if model is None:
        return
    weights = first_layer_weights(model)
    if weights is None:
        st.info("This model's first weighted layer does not see the 784 pixels directly, so its weights cannot be "
                "drawn as pictures.")
        return
    explanation = {"templates": "Softmax regression: one template per digit. An image's score for a digit is the "
                                "sum of its pixels weighted by that template.",
                   "dense": "Each unit of the first Dense layer weighs all 784 pixels: its weights drawn as a 28×28 "
                            "picture show the pattern it responds to.",
                   "conv": "The kernels of the first convolution layer, enlarged: each slides over the image looking "
                           "for the small pattern it shows."}
    st.markdown(explanation[weights.kind])
    pictures, titles = weights.pictures[:WEIGHT_PICTURES], weights.titles[:WEIGHT_PICTURES]
    limit = float(np.abs(weights.pictures).max())
    shown = f"{len(pictures)} of {len(weights.pictures)}" if len(pictures) < len(weights.pictures) else len(pictures)
    st.caption(f"Layer {weights.layer}: {shown} pictures. Blue: negative weight, white: 0, red: positive; one scale "
               f"for all, ±{limit:.3g}.")
    zoom = max(1, WEIGHT_PICTURE_PX // pictures.shape[1])
    st.image([enlarge(diverging_rgb(picture, limit), zoom) for picture in pictures], caption=titles)


# --- confidence ---------------------------------------------------------------------------------------------------


def calibration_of(registry: Registry, record: RunRecord, data: MnistData, temperature_scaling: bool) -> None:
    """One model's reliability diagram and ECE on the test set, and, when asked and possible, after temperature
    scaling fitted on its validation split."""
    from mnist_core.calibration import (
        expected_calibration_error,
        fit_temperature,
        held_out_split,
        reliability_table,
        with_temperature,
    )
    from mnist_core.evaluation import predict_probabilities
    from mnist_core.insight_charts import reliability_chart

    model = model_for(registry, record.id)
    if model is None:
        return
    probabilities = cached_evaluation(model_key(registry, record.id), data.fingerprint, registry, data).probabilities
    st.text(run_label(record))
    before, after = st.columns(2)
    with before:
        st.metric("ECE on the test set", f"{expected_calibration_error(probabilities, data.y_test):.4f}", border=True)
        st.altair_chart(reliability_chart(reliability_table(probabilities, data.y_test), "as trained"))
    if not temperature_scaling:
        return
    held_out = held_out_split(data, record.config)
    with after:
        if held_out is None:
            st.info("This run kept no validation split (or its settings are unknown), so there is nothing to fit a "
                    "temperature on without touching the test set.")
            return
        temperature = fit_temperature(predict_probabilities(model, held_out[0]), held_out[1])
        scaled = with_temperature(probabilities, temperature)
        st.metric(f"ECE after temperature scaling (T = {temperature:.3f})",
                  f"{expected_calibration_error(scaled, data.y_test):.4f}", border=True)
        st.altair_chart(reliability_chart(reliability_table(scaled, data.y_test), f"temperature {temperature:.3f}"))


def confidence_view(registry: Registry, runs: list[RunRecord], run_id: str, data: MnistData) -> None:
    """Reliability diagrams and ECE of the chosen models."""
    records = {record.id: record for record in runs}
    models = st.multiselect("Models", list(records), default=[run_id], format_func=lambda i: run_label(records[i]),
                            key="insight.confidence_models")
    temperature_scaling = st.checkbox("Temperature scaling (fitted on the run's validation split)",
                                      key="insight.temperature")
    st.caption("Bars: accuracy of the predictions in each confidence bin; dashed: perfect calibration. ECE: the "
               "average gap, weighted by how many predictions fall in each bin (0 is perfect).")
    for chosen in models:
        calibration_of(registry, records[chosen], data, temperature_scaling)


def insight_page() -> None:
    """Model picker, the view switch and the chosen view."""
    st.title("Insight")
    data = dataset_or_warning()
    registry = shared_registry()
    runs = registry.list_runs() if data is not None else []
    run_id = model_picker(runs) if data is not None else None
    if run_id is None:
        return
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key=VIEW_KEY) or VIEWS[0]
    if view == VIEWS[0]:
        embedding_view(registry, run_id, data)
    elif view == VIEWS[1]:
        robustness_view(registry, runs, run_id, data)
    elif view == VIEWS[2]:
        weights_view(registry, run_id)
    else:
        confidence_view(registry, runs, run_id, data)


insight_page()
