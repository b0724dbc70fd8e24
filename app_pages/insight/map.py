"""The Insight page's embedding map: the test images projected to 2-D (PCA or t-SNE) from a model's last hidden
layer or the raw pixels, worked out by a task of the job runner (the page never waits for TensorFlow) and kept per
model file version, data set contents, sample size and projection; clicking a point shows that image."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.insight.state import MAP_SAMPLES, MODEL_SPACE, PIXEL_SPACE, PROJECTIONS, InsightChoices
from app_pages.insight.tasks import task_failed, task_for, wait_for
from app_pages.shared.engine import wait_for_engine
from app_pages.shared.models import cached_evaluation, cached_model, model_key
from app_pages.shared.state import kept
from app_pages.shared.text import plain
from mnist_core.data.mnist import MnistData
from mnist_core.data.pictures import enlarge
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import Registry

POINT_KEY = "insight.map"


def map_work(key: tuple | None, data: MnistData, sample: int, projection: str):
    """What the map task computes, off the page's thread (the model, and TensorFlow with it, load there): the sample's
    indices, the layer the features come from, and their 2-D coordinates by PCA or t-SNE."""

    def work(report):
        from mnist_core.insight.embedding import (  # scikit-learn and openTSNE: on the task's thread, not the page's
            model_representation,
            pca_2d,
            pixel_representation,
            sample_indices,
            tsne_2d,
        )

        indices = sample_indices(data.y_test, sample)
        images = data.x_test[indices]
        report(0.0, "reading the model's last hidden layer" if key else "reading the pixels")
        if key is not None:
            wait_for_engine()  # TensorFlow: loaded by the preload once the page has been drawn
        representation = (pixel_representation(images) if key is None else
                          model_representation(cached_model(*key), images))  # the model every view shares
        coordinates = pca_2d(representation.features) if projection == "PCA" else tsne_2d(representation.features,
                                                                                             report)
        return indices, representation, coordinates

    return work


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
    space, projection, sample = map_settings(choices)
    try:
        key = model_key(registry, run_id) if space == MODEL_SPACE else None
    except (RegistryError, OSError) as error:
        st.error(plain(f"The model {run_id!r} cannot be loaded: {error}"))
        return
    job = task_for(("map", key, data.fingerprint, sample, projection),
                   map_work(key, data, sample, projection), f"{projection} map")
    views = wait_for({f"{projection} map": job})
    if views is None or task_failed(views[f"{projection} map"], f"The {projection} map"):
        return
    from mnist_core.insight.charts import POINT_SELECTION, embedding_chart  # Altair and scikit-learn: once the map
    from mnist_core.insight.embedding import map_frame  # is ready, not on the first visit that starts its task

    indices, representation, coordinates = views[f"{projection} map"].value
    if representation.is_logits:
        st.info("This model (softmax regression) has no hidden layer, so the map shows its logits: the ten scores "
                "before the softmax.")
    if projection != "PCA":
        st.caption(f"t-SNE took {views[f'{projection} map'].seconds:.0f} s (computed once per model file and sample "
                   "size).")
    probabilities = None
    if key is not None:
        probabilities = cached_evaluation(key, data.test_fingerprint, registry, data).probabilities[indices]
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
