"""The engine in the background: TensorFlow preloaded after the first page, and the one job runner every
session trains through."""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.data.mnist import IMAGE_SIDE
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import DEFAULT_ID, Registry

if TYPE_CHECKING:
    from mnist_core.jobs.runner import JobRunner
from app_pages.shared.data import data_source
from app_pages.shared.models import cached_predictor, model_key, registry_at, shared_registry

ENGINE_PRELOAD_THREAD = "digit-lab-engine-preload"


def load_engine_and_default_model() -> None:
    """Import the training engine, then load the default model's single-image predictor and run it once on a blank
    image (its first calls trace TensorFlow functions): what the first drawing on the Draw page needs."""
    importlib.import_module("mnist_core.jobs.runs")
    try:
        registry = shared_registry()
        predictor = cached_predictor(*model_key(registry, registry.default_id() or DEFAULT_ID))
    except (RegistryError, OSError):  # no default model: the pages say so when they need it
        return
    blank = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    predictor.probabilities(blank)
    predictor.saliency(blank)
    predictor.activations(blank)


@st.cache_resource(show_spinner=False)
def preload_engine() -> None:
    """Import the training engine (TensorFlow and Keras, a slow import) and make the default model ready to
    predict, once per server process, on a thread of its own, after the first page shown: no page waits for it, and by
    the time a user presses Train or draws a digit it is usually done (the Train page's first visit no longer waits
    for the import; bench/RESULTS.md, section App). A failure is reported by whatever needs the engine or the model,
    which loads it again."""
    threading.Thread(target=load_engine_and_default_model, name=ENGINE_PRELOAD_THREAD, daemon=True).start()


@st.cache_resource
def shared_job_runner(models_root: str) -> JobRunner:
    """The one job runner of this server process for a registry folder, shared by every browser session."""
    from mnist_core.jobs.runner import JobRunner

    return JobRunner(registry_at(models_root), data_source().load)


def job_runner(registry: Registry) -> JobRunner:
    """The shared job runner that saves into ``registry``."""
    return shared_job_runner(str(registry.root))
