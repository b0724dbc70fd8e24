"""The engine in the background: TensorFlow preloaded after the first page, and the one job runner every
session trains through."""

from __future__ import annotations

import importlib
import threading
import time
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


PRELOAD_AFTER_QUIET_S = 3.0  # no page shown for this long: the browser has drawn the last one, the user reads it


class EnginePreload:
    """``load_engine_and_default_model`` on a thread of its own, started once no page has been shown for
    ``PRELOAD_AFTER_QUIET_S``, or at once when a page asks for it. A failure is reported by whatever needs the engine
    or the model, which loads it again."""

    def __init__(self):
        self.at_once = threading.Event()
        self.last_page = time.monotonic()
        threading.Thread(target=self.run, name=ENGINE_PRELOAD_THREAD, daemon=True).start()

    def page_shown(self, at_once: bool) -> None:
        self.last_page = time.monotonic()
        if at_once:
            self.at_once.set()

    def run(self) -> None:
        while not self.at_once.wait(self.last_page + PRELOAD_AFTER_QUIET_S - time.monotonic()):
            if time.monotonic() >= self.last_page + PRELOAD_AFTER_QUIET_S:
                break
        load_engine_and_default_model()


@st.cache_resource(show_spinner=False)
def engine_preload() -> EnginePreload:
    """The server's one engine preload."""
    return EnginePreload()


def preload_engine(at_once: bool) -> None:
    """Import the training engine (TensorFlow and Keras, a slow import) and make the default model ready to predict,
    in the background: at once when the page just shown needs it next (a stroke on Draw, a press of Train), else once
    no page has been shown for a few seconds. Importing TensorFlow holds the interpreter for a second or more at a
    time, during which the server sends the browsers nothing (a page's scripts, its charts, the end of its script
    run): started after any page, it held back the first visits of pages like Sweeps and Models by seconds. No page
    waits for it, and by the time a user presses Train or draws a digit it is usually done (bench/RESULTS.md, section
    App)."""
    engine_preload().page_shown(at_once)


@st.cache_resource
def shared_job_runner(models_root: str) -> JobRunner:
    """The one job runner of this server process for a registry folder, shared by every browser session."""
    from mnist_core.jobs.runner import JobRunner

    return JobRunner(registry_at(models_root), data_source().load)


def job_runner(registry: Registry) -> JobRunner:
    """The shared job runner that saves into ``registry``."""
    return shared_job_runner(str(registry.root))
