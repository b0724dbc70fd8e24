"""The run registry and its models, loaded once per model file version and shared by every session."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import streamlit as st

from mnist_core.data.mnist import MnistData
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import DEFAULT_ID, MODELS_ENV, PROJECT_MODELS, Registry

if TYPE_CHECKING:
    from mnist_core.model.evaluation import ImagePredictor
from app_pages.shared.navigation import RUN_PARAM, TRAIN_HINT, TRAIN_PAGE
from app_pages.shared.text import plain


@st.cache_resource
def registry_at(root: str) -> Registry:
    """One registry object per folder for this server process (opening one creates the folder and clears the
    temporaries a crash left, which needs doing once, not on every rerun)."""
    return Registry(root)


def shared_registry() -> Registry:
    """This server's registry: ``$DIGIT_LAB_MODELS``, else the project's ``models/``."""
    return registry_at(os.environ.get(MODELS_ENV) or str(PROJECT_MODELS))


def run_label(record: RunRecord) -> str:
    """How a run is named in pickers: name, test accuracy and id."""
    accuracy = "untested" if record.test_accuracy is None else f"{record.test_accuracy:.2%}"
    return f"{record.name} · {accuracy} · {record.id}"


def short_label(record: RunRecord) -> str:
    """A run's name with the end of its id (names repeat; ids are long), where a whole label does not fit: chart
    legends, a multiselect's tags."""
    return f"{record.name} ({record.id[-4:]})" if record.id != DEFAULT_ID else f"{record.name} (shipped)"


def model_picker(runs: list[RunRecord]) -> str | None:
    """The "Model" selectbox of ``runs`` (a registry listing): the run named by the page's ``?run=`` link if there is
    one, else the user's default model (``Registry.default_id``), preselected; None (with a hint) when there are
    none."""
    if not runs:
        st.info(f"No trained model yet. {TRAIN_HINT}")
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon="🏋️")
        return None
    labels = {record.id: run_label(record) for record in runs}
    ids = list(labels)
    default = shared_registry().default_id()
    preferred = next((run_id for run_id in (st.query_params.get(RUN_PARAM), default) if run_id in ids), ids[0])
    return st.selectbox("Model", ids, index=ids.index(preferred), format_func=labels.get)


def model_key(registry: Registry, run_id: str) -> tuple[str, str, float]:
    """Cache key of a run's model: registry folder, run id and the model file's modification time, so a renamed,
    deleted or replaced run is never served stale; raises ``RegistryError`` or ``OSError``."""
    return str(registry.root), run_id, registry.model_path(run_id).stat().st_mtime


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def cached_model(root: str, run_id: str, modified: float):
    """A run's Keras model, loaded once per model file version."""
    return registry_at(root).load_model(run_id)


@st.cache_resource(max_entries=8, show_spinner="Preparing the model for single images…")
def cached_predictor(root: str, run_id: str, modified: float) -> ImagePredictor:
    """A compiled single-image predictor for a run's model, built once per model file version."""
    from mnist_core.model.evaluation import ImagePredictor

    return ImagePredictor(cached_model(root, run_id, modified))


@st.cache_resource(max_entries=4, show_spinner="Predicting the test images…")
def cached_evaluation(key: tuple, test_fingerprint: str, _registry: Registry, _data: MnistData):
    """The run's ``Evaluation`` on the test set: from the probabilities saved with the run when it was tested on this
    test split, else predicted once per model file version and test split contents (keyed by the test split's digest,
    not the whole data set's: hashing the training images too cost the Errors page's first visit ~0.1 s)."""
    from mnist_core.model.scores import Evaluation

    _root, run_id, _modified = key
    saved = _registry.test_probabilities(run_id, _data.test_fingerprint)
    if saved is not None:
        return Evaluation(saved, _data.y_test)
    from mnist_core.model.evaluation import evaluate  # TensorFlow, only when the run saved no predictions

    return evaluate(cached_model(*key), _data.x_test, _data.y_test)


def load_or_explain(loader, registry: Registry, run_id: str):
    """``loader(*model_key)``, or None after an error that says which model failed and what to do."""
    try:
        return loader(*model_key(registry, run_id))
    except (RegistryError, OSError) as error:
        st.error(f"The model {plain(repr(run_id))} could not be loaded: {plain(error)}\n\nPick another model, or "
                 "delete this one on the Models page and train a new one.")
        return None


def model_for(registry: Registry, run_id: str):
    """The run's Keras model (cached), or None after showing why it cannot be loaded."""
    return load_or_explain(cached_model, registry, run_id)


def predictor_for(registry: Registry, run_id: str) -> ImagePredictor | None:
    """The run's single-image predictor (cached), or None after showing why it cannot be loaded."""
    return load_or_explain(cached_predictor, registry, run_id)
