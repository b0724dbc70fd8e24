"""Kaggle: turn the "Digit Recognizer" competition's test.csv into a submission.csv with a saved model."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st

from app_pages.shared.models import model_for, model_key, model_picker, shared_registry
from app_pages.shared.text import plain
from app_pages.shared.widgets import image_grid
from mnist_core.data.mnist import DataSetError, read_kaggle_test, submission_csv
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import Registry

PREVIEW_IMAGES = 12


@st.cache_data(max_entries=2, show_spinner="Reading test.csv…")
def kaggle_images(file_id: str, _content: bytes) -> np.ndarray:
    """The images of an uploaded test.csv, read once per upload; raises ``DataSetError`` for a bad file."""
    return read_kaggle_test(io.BytesIO(_content))


@st.cache_data(max_entries=4, show_spinner="Predicting every image…")
def predicted_labels(file_id: str, key: tuple, _model, _images: np.ndarray) -> np.ndarray:
    """The model's digit for every image of an upload, computed once per upload and model file version."""
    from mnist_core.model.evaluation import predict_probabilities

    return predict_probabilities(_model, _images).argmax(axis=1)


def test_images() -> tuple[str, np.ndarray] | None:
    """The "Upload Kaggle test.csv" uploader; (upload id, images), or None when nothing usable is uploaded."""
    upload = st.file_uploader("Upload Kaggle test.csv", type=["csv"],
                              help="The competition's test.csv: a header pixel0..pixel783 and one row per image.")
    if upload is None:
        return None
    try:
        return upload.file_id, kaggle_images(upload.file_id, upload.getvalue())
    except DataSetError as error:
        st.error(plain(f"{upload.name} is not a Kaggle test.csv: {error}"))
        return None


def submission(registry: Registry, run_id: str, file_id: str, images: np.ndarray) -> None:
    """Predictions for the uploaded images: a preview, the class counts and the "Download submission.csv" button."""
    from mnist_core.training.charts import class_count_chart  # Altair and pandas: not before a file is predicted

    model = model_for(registry, run_id)
    if model is None:
        return
    try:
        labels = predicted_labels(file_id, model_key(registry, run_id), model, images)
    except (RegistryError, OSError) as error:
        st.error(plain(f"The model {run_id!r} disappeared while predicting: {error}"))
        return
    st.success(f"Predicted {len(labels):,} images.")
    st.download_button("Download submission.csv", submission_csv(labels), file_name="submission.csv",
                       mime="text/csv", type="primary", on_click="ignore", icon=":material/download:")
    preview = labels[:PREVIEW_IMAGES]
    image_grid(images[:PREVIEW_IMAGES], [f"{i + 1}: {label}" for i, label in enumerate(preview)])
    st.altair_chart(class_count_chart(labels).properties(title="Predicted digits"), width="stretch")


def kaggle_page() -> None:
    """Uploader and model picker, then the submission."""
    st.title("Kaggle submission")
    st.markdown("Upload the [Digit Recognizer](https://www.kaggle.com/competitions/digit-recognizer) test set "
                "and download a `submission.csv` (`ImageId,Label`) predicted by a saved model.")
    registry = shared_registry()
    run_id = model_picker(registry.list_runs())
    uploaded = test_images()
    if run_id is not None and uploaded is not None:
        submission(registry, run_id, *uploaded)


kaggle_page()
