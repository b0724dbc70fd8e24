"""The Insight page's embedding map: the test images projected to 2-D (PCA at once, t-SNE in the background) from
a model's last hidden layer or the raw pixels; clicking a point shows that image. Cached per model file version,
data set contents and sample size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.insight.state import MAP_SAMPLES, MODEL_SPACE, PIXEL_SPACE, PROJECTIONS, InsightChoices
from app_pages.insight.tasks import task_failed, task_for, wait_for
from app_pages.shared.models import cached_evaluation, model_for, model_key
from app_pages.shared.state import kept
from mnist_core.data.mnist import MnistData
from mnist_core.data.pictures import enlarge
from mnist_core.store.registry import Registry

POINT_KEY = "insight.map"


@st.cache_resource(max_entries=8, show_spinner="Reading the model's last hidden layer…")
def map_inputs(key: tuple | None, data_fingerprint: str, sample: int, _model, _data: MnistData):
    """(sample indices, representation) of the test images: the model's last hidden layer, or the pixels for
    ``key`` None; once per model file version, data set and sample size."""
    from mnist_core.insight.embedding import model_representation, pixel_representation, sample_indices

    indices = sample_indices(_data.y_test, sample)
    images = _data.x_test[indices]
    return indices, pixel_representation(images) if key is None else model_representation(_model, images)


@st.cache_resource(max_entries=8, show_spinner="Projecting with PCA…")
def pca_map(key: tuple | None, data_fingerprint: str, sample: int, _features: np.ndarray) -> np.ndarray:
    """The PCA projection of ``map_inputs``' features, once per model file version, data set and sample size."""
    from mnist_core.insight.embedding import pca_2d

    return pca_2d(_features)


def map_settings(choices: InsightChoices) -> tuple[str, str, int]:
    """The "Space", "Projection" and "Points" choices."""
    space_column, projection_column, sample_column = st.columns([2, 1, 1])
    with space_column:
        space = kept(st.radio, choices, "space", "Space", (MODEL_SPACE, PIXEL_SPACE), horizontal=True)
    with projection_column:
        projection = kept(st.radio, choices, "projection", "Projection", PROJECTIONS, horizontal=True,
                          help="PCA is instant; t-SNE (openTSNE) separates clusters better and takes a while, in "
                               "the background.")
    with sample_column:
        sample = kept(st.selectbox, choices, "points", "Points", MAP_SAMPLES,
                      format_func=lambda n: f"{n:,} test images", help="A sample keeps each digit's share of the "
                                                                       "test set.")
    return space, projection, sample


def map_coordinates(key, data: MnistData, sample: int, features: np.ndarray, projection: str):
    """The 2-D coordinates by PCA (at once) or t-SNE (in the background; None while it runs)."""
    if projection == "PCA":
        return pca_map(key, data.fingerprint, sample, features)
    from mnist_core.insight.embedding import tsne_2d

    job = task_for(("tsne", key, data.fingerprint, sample), lambda report: tsne_2d(features, report), "t-SNE")
    views = wait_for({"t-SNE": job})
    if views is None or task_failed(views["t-SNE"], "t-SNE"):
        return None
    st.caption(f"t-SNE took {views['t-SNE'].seconds:.0f} s (computed once per model file and sample size).")
    return views["t-SNE"].value


def clicked_image(frame: pd.DataFrame, data: MnistData, index: int) -> None:
    """The clicked test image, enlarged, with its labels and top-3."""
    row = frame[frame["index"] == index].iloc[0]
    picture, facts = st.columns([1, 3])
    picture.image(enlarge(data.x_test[index], 6), caption=f"test image #{index}")
    facts.metric("True digit", int(row["true"]), border=True)
    if "predicted" in frame.columns:
        facts.markdown(f"**Predicted:** {int(row['predicted'])} ({row['confidence']:.1%})  \n"
                       f"**Top 3:** {row['top3']}")


def embedding_view(registry: Registry, run_id: str, data: MnistData, choices: InsightChoices) -> None:
    """The embedding map of the chosen space and projection; clicking a point shows that image."""
    from mnist_core.insight.charts import POINT_SELECTION, embedding_chart
    from mnist_core.insight.embedding import map_frame

    space, projection, sample = map_settings(choices)
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
                            key=f"{POINT_KEY}.{space}.{projection}.{sample}.{data.fingerprint}")  # new data, no click
    points = event.selection.get(POINT_SELECTION) or []
    if points:
        clicked_image(frame, data, int(points[0]["index"]))
