"""Errors: how a model does on the 10,000 test images, which digits it confuses (click a confusion-matrix cell to
see those images), per-class scores, and every misclassified image with its probabilities and saliency map."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.insight.tasks import task_failed, task_for, wait_for
from app_pages.shared.data import dataset_or_warning
from app_pages.shared.engine import wait_for_engine
from app_pages.shared.models import cached_evaluation, cached_predictor, model_key, model_picker, shared_registry
from app_pages.shared.state import kept, page_state, set_kept
from app_pages.shared.text import plain
from app_pages.shared.widgets import image_grid
from mnist_core.data.mnist import NUM_CLASSES, MnistData
from mnist_core.data.pictures import enlarge, saliency_overlay
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import Registry
from mnist_core.training.charts import CONFUSION_SELECTION, confusion_chart, probability_chart

ALL = "All"
DIGIT_CHOICES = [ALL, *range(NUM_CLASSES)]
SORT_ORDERS = ("Most confident first", "Least confident first")
IMAGES_PER_PAGE = 30


@dataclass
class ErrorsChoices:
    """What a user picked on the Errors page: the digit filters, the order, the page of images and the confusion
    cell last clicked; kept while they move around the app."""

    true: object = ALL
    predicted: object = ALL
    most_confident_first: str = SORT_ORDERS[0]
    page: int = 1
    cell: list = field(default_factory=list)


def evaluation_of(registry: Registry, run_id: str, data: MnistData):
    """The picked model's test-set ``Evaluation``, or None after saying why there is none."""
    try:
        return cached_evaluation(model_key(registry, run_id), data.test_fingerprint, registry, data)
    except (RegistryError, OSError) as error:
        st.error(plain(f"The model {run_id!r} cannot be tested: {error}"))
        return None


def headline(evaluation) -> None:
    """Test accuracy, loss and the number of mistakes."""
    accuracy, loss, mistakes = st.columns(3)
    accuracy.metric("Test accuracy", f"{evaluation.accuracy:.2%}", border=True)
    loss.metric("Test loss", f"{evaluation.loss:.4f}", border=True)
    mistakes.metric("Misclassified", f"{int((evaluation.predicted != evaluation.labels).sum()):,}"
                    f" of {len(evaluation.labels):,}", border=True)


def reset_page(choices: ErrorsChoices) -> None:
    """Back to the first page of images (after the filters change)."""
    set_kept(choices, "page", 1)


def confusion_and_scores(evaluation, choices: ErrorsChoices) -> None:
    """Confusion-matrix heatmap (clicking a cell sets the two digit filters) beside the per-class scores."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Confusion matrix")
        st.caption("Rows: true digit, columns: predicted digit. Click a cell to list those images below.")
        event = st.altair_chart(confusion_chart(evaluation.confusion()), on_select="rerun", key="errors.confusion",
                                selection_mode=CONFUSION_SELECTION)
        cells = event.selection.get(CONFUSION_SELECTION) or []
        if cells and cells != choices.cell:
            set_kept(choices, "true", cells[0]["true"])
            set_kept(choices, "predicted", cells[0]["predicted"])
            reset_page(choices)
        choices.cell = cells
    with right:
        st.subheader("Per-class scores")
        st.dataframe(evaluation.per_class(), hide_index=True, column_config={
            name: st.column_config.NumberColumn(format="%.3f") for name in ("precision", "recall", "f1")})


def error_filters(choices: ErrorsChoices) -> tuple:
    """The "True digit", "Predicted digit" and sort-order choices."""
    true_column, predicted_column, order_column = st.columns([1, 1, 2])
    with true_column:
        true = kept(st.selectbox, choices, "true", "True digit", DIGIT_CHOICES, on_change=reset_page,
                    args=(choices,))
    with predicted_column:
        predicted = kept(st.selectbox, choices, "predicted", "Predicted digit", DIGIT_CHOICES, on_change=reset_page,
                         args=(choices,))
    with order_column:
        order = kept(st.radio, choices, "most_confident_first", "Sort by confidence", SORT_ORDERS, horizontal=True,
                     on_change=reset_page, args=(choices,))
    return true, predicted, order == SORT_ORDERS[0]


def filtered_errors(errors: pd.DataFrame, true, predicted, most_confident_first: bool) -> pd.DataFrame:
    """The misclassified images matching the digit filters ("All" matches any), sorted by confidence."""
    if true != ALL:
        errors = errors[errors["true"] == true]
    if predicted != ALL:
        errors = errors[errors["predicted"] == predicted]
    return errors.sort_values("confidence", ascending=not most_confident_first, kind="stable")


def page_of(errors: pd.DataFrame, choices: ErrorsChoices) -> pd.DataFrame:
    """The rows of the page picked in "Page"."""
    pages = max(1, math.ceil(len(errors) / IMAGES_PER_PAGE))
    page = kept(st.number_input, choices, "page", "Page", min_value=1, max_value=pages, step=1, width=160,
                help=f"{pages} page(s) of {IMAGES_PER_PAGE} images", clean=lambda number: min(max(1, number), pages))
    return errors.iloc[(page - 1) * IMAGES_PER_PAGE: page * IMAGES_PER_PAGE]


def saliency_or_reason(key: tuple, image: np.ndarray) -> np.ndarray | str:
    """The saliency overlay of ``image`` for the model file ``key`` names, or why that model cannot be loaded (a
    reason, not an exception: a background task that raised would be started again on every run). It waits for the
    engine preload, which loads TensorFlow once the page has been drawn."""
    wait_for_engine()
    try:
        return saliency_overlay(image, cached_predictor(*key).saliency(image))
    except (RegistryError, OSError) as error:
        return f"the model could not be loaded: {error}"


def saliency_task(registry: Registry, run_id: str, image: np.ndarray):
    """The background task working out ``image``'s saliency map for the run's model (loading the model needs
    TensorFlow, slow on a fresh server), so the page is complete without it; None (after a message) when the run's
    model file is gone."""
    try:
        key = model_key(registry, run_id)
    except (RegistryError, OSError) as error:
        st.error(plain(f"The model {run_id!r} cannot be loaded: {error}"))
        return None
    return task_for(("saliency", key, image.tobytes()), lambda report: saliency_or_reason(key, image), "saliency",
                    light=True)


def inspection(registry: Registry, run_id: str, data: MnistData, evaluation, shown: pd.DataFrame) -> None:
    """For the image picked in "Inspect image": the picture, its probabilities (from the test-set evaluation) and its
    saliency map (once the model has worked it out)."""
    rows = {int(row["index"]): row for _, row in shown.iterrows()}
    index = st.selectbox("Inspect image", list(rows), format_func=lambda i: (
        f"#{i}: true {rows[i]['true']}, predicted {rows[i]['predicted']} ({rows[i]['confidence']:.1%})"))
    image = data.x_test[index] / 255.0
    picture, probabilities, saliency = st.columns([1, 2, 1])
    picture.image(enlarge(image, 6), caption=f"test image #{index}, labelled {rows[index]['true']}")
    with probabilities:
        st.markdown(f"**Top 3:** {rows[index]['top3']}")
        st.vega_lite_chart(probability_chart(evaluation.probabilities[index]), width="stretch")
    with saliency:
        job = saliency_task(registry, run_id, image)
        views = wait_for({"Saliency map": job}) if job is not None else None
        if views is None or task_failed(views["Saliency map"], "The saliency map"):
            return
        overlay = views["Saliency map"].value
        if isinstance(overlay, str):
            st.error(plain(f"No saliency map: {overlay}"))
        else:
            st.image(enlarge(overlay, 6), caption="saliency: the pixels that move the prediction most")


def misclassified_images(registry: Registry, run_id: str, data: MnistData, evaluation,
                         choices: ErrorsChoices) -> None:
    """Filters, the count caption, a page of misclassified images and the inspector for one of them."""
    st.subheader("Misclassified test images")
    errors = filtered_errors(evaluation.errors(), *error_filters(choices))
    st.caption(f"Showing {len(errors)} misclassified images")
    if errors.empty:
        st.info("No misclassified images match these filters.")
        return
    shown = page_of(errors, choices)
    tiles = shown[["index", "true", "predicted", "confidence"]].itertuples(index=False, name=None)
    image_grid(data.x_test[shown["index"].to_numpy()],
               [f"#{index}: {true}→{predicted} ({confidence:.0%})" for index, true, predicted, confidence in tiles])
    inspection(registry, run_id, data, evaluation, shown)


def errors_page() -> None:
    """Model picker, headline figures, confusion matrix, per-class scores and the misclassified images."""
    st.title("Errors")
    data = dataset_or_warning()
    registry = shared_registry()
    run_id = model_picker(registry.list_runs()) if data is not None else None
    evaluation = evaluation_of(registry, run_id, data) if run_id is not None else None
    if evaluation is None:
        return
    choices = page_state(ErrorsChoices)
    headline(evaluation)
    confusion_and_scores(evaluation, choices)
    misclassified_images(registry, run_id, data, evaluation, choices)


errors_page()
