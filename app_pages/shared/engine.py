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


PRELOAD_DELAY_S = 3.0  # after a page whose next step needs no engine: by then the browser has drawn it


@st.cache_resource(show_spinner=False)
def engine_preload() -> threading.Event:
    """Start ``load_engine_and_default_model`` once per server process, on a thread of its own that first waits
    ``PRELOAD_DELAY_S`` or until the event returned is set. A failure is reported by whatever needs the engine or
    the model, which loads it again."""
    at_once = threading.Event()

    def preload() -> None:
        at_once.wait(PRELOAD_DELAY_S)
        load_engine_and_default_model()

    threading.Thread(target=preload, name=ENGINE_PRELOAD_THREAD, daemon=True).start()
    return at_once


def preload_engine(at_once: bool) -> None:
    """Import the training engine (TensorFlow and Keras, a slow import) and make the default model ready to predict,
    in the background after the page shown: at once when the page's next step needs it (a stroke on Draw, a press of
    Train), else a few seconds later. Importing TensorFlow holds the interpreter for a second or more at a time, during
    which the server sends the browser nothing (the page's scripts, its charts, the end of its script run): started
    at once, it delayed a page like Sweeps or Models by seconds on its first visit. No page waits for it, and by the
    time a user presses Train or draws a digit it is usually done (bench/RESULTS.md, section App)."""
    started = engine_preload()
    if at_once:
        started.set()


@st.cache_resource
def shared_job_runner(models_root: str) -> JobRunner:
    """The one job runner of this server process for a registry folder, shared by every browser session."""
    from mnist_core.jobs.runner import JobRunner

    return JobRunner(registry_at(models_root), data_source().load)


def job_runner(registry: Registry) -> JobRunner:
    """The shared job runner that saves into ``registry``."""
    return shared_job_runner(str(registry.root))
