"""The engine in the background: what every page's first visit needs, loaded as the server starts (``warm_up``);
TensorFlow and the default model, preloaded once the first page has been drawn; and the one job runner every session
trains through."""

from __future__ import annotations

import atexit
import importlib
import logging
import pkgutil
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core.data.mnist import IMAGE_SIDE, DataSetError
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import DEFAULT_ID, Registry

if TYPE_CHECKING:
    from mnist_core.jobs.runner import JobRunner
from app_pages.shared.data import data_source
from app_pages.shared.models import cached_evaluation, cached_predictor, model_key, registry_at, shared_registry

ENGINE_PRELOAD_THREAD = "digit-lab-engine-preload"
WARM_UP_THREAD = "digit-lab-warm-up"
HEALTH_PATH = "/_stcore/health"  # what a script polls to learn that the server is up; not a visit
PAGE_WAIT_S = 30.0  # the longest the preload waits for the first page's script before importing TensorFlow anyway
PAGE_SETTLE_S = 0.3  # then this long, so the page's last messages leave before the import holds the interpreter
ENGINE_WAIT_S = 120.0  # the longest a task waits for the preload before loading the engine itself
EXIT_WAIT_S = 60.0  # the longest the process's exit waits for the preload to finish reading a model file
LOG = logging.getLogger("digit_lab")
ENGINE_LOADED = threading.Event()  # set once the preload has tried to load the engine and the default model
# Held while the preload reads the default model's file; the process's exit takes it for good (see end_preload)
MODEL_LOADING = threading.Lock()


class FirstVisit:
    """ASGI middleware (``app.py``) noting the first request of a browser (anything but a health check): from then on
    the warm-up stops, so it does not share the two cores with the browser loading the page and the page's own
    script (on a 2-core machine that made a page opened at once come later than with no warm-up at all)."""

    seen = threading.Event()

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].endswith(HEALTH_PATH):
            FirstVisit.seen.set()
        await self.app(scope, receive, send)


def import_page_parts() -> None:
    """Import every module of the pages' parts (``app_pages/*/*.py`` but the page scripts ``app_pages/NAME/NAME.py``,
    which draw as they run) and with them pandas, Altair, scikit-learn's metrics, Plotly, Optuna: what a page's first
    visit would otherwise import while its user waits. None of them imports TensorFlow."""
    import app_pages

    for module in pkgutil.walk_packages(app_pages.__path__, "app_pages."):
        parts = module.name.split(".")
        if FirstVisit.seen.is_set():
            return
        if not module.ispkg and parts[-1] != parts[-2]:
            importlib.import_module(module.name)


def read_dataset() -> None:
    """Read the data set and its digests (the cache keys of test results), which most pages show or use; a page
    asking for it meanwhile waits for this read."""
    data = data_source().load()
    LOG.debug("read %r (digests %s, %s)", data, data.fingerprint, data.test_fingerprint)


def import_engine() -> None:
    """Import the training engine: TensorFlow and Keras (with h5py, which reading a model file needs)."""
    importlib.import_module("mnist_core.jobs.runs")


def load_default_model() -> None:
    """Load the default model's single-image predictor and run it once on a blank image (its first calls trace
    TensorFlow functions): what the first drawing on the Draw page needs."""
    registry = shared_registry()
    with MODEL_LOADING:
        predictor = cached_predictor(*model_key(registry, registry.default_id() or DEFAULT_ID))
    blank = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    predictor.probabilities(blank)
    predictor.saliency(blank)
    predictor.activations(blank)


def score_default_model() -> None:
    """The default model's test-set evaluation with its scores (scikit-learn's metrics), from the predictions saved
    with it: what the Errors page shows first. Without saved predictions (a run from an old registry) it is left to
    the page: predicting needs TensorFlow."""
    registry, data = shared_registry(), data_source().load()
    run_id = registry.default_id() or DEFAULT_ID
    if registry.test_probabilities(run_id, data.test_fingerprint) is None:
        return
    evaluation = cached_evaluation(model_key(registry, run_id), data.test_fingerprint, registry, data)
    LOG.debug("scored the default model: %r, per digit:\n%s", evaluation, evaluation.per_class())


def run_steps(steps: Iterable[Callable[[], object]]) -> None:
    """Each step in turn. A step that fails is logged and the next one still runs; whatever needs that part loads it
    again and reports why not. No data set or no default model is not a failure: the pages say so when they need
    them."""
    for step in steps:
        try:
            step()
        except (DataSetError, RegistryError, OSError):
            continue
        except Exception:  # a background step must never stop the next ones (a failed import included)
            LOG.exception("preloading (%s) failed; it is loaded again when a page needs it",
                          getattr(step, "__name__", step))


def warm_up() -> None:
    """At the server's start, on a thread of its own, until a browser first asks for a page (``FirstVisit``): import
    the pages' parts, read the data set and score the default model from its saved test predictions, so a page's first
    visit only draws the page. TensorFlow takes seconds more and is left to ``preload_engine``."""
    run_steps(step for step in (import_page_parts, read_dataset, score_default_model) if not FirstVisit.seen.is_set())


def start_warm_up() -> None:
    """``warm_up`` on a thread of its own, so the server answers at once (``app.py``'s lifespan)."""
    threading.Thread(target=warm_up, name=WARM_UP_THREAD, daemon=True).start()


def preload(page_thread: threading.Thread | None) -> None:
    """Wait for the first page's script to end, then import TensorFlow and load the default model."""
    run_steps((lambda: wait_for_page(page_thread), import_engine, load_default_model, ENGINE_LOADED.set))


def wait_for_page(page_thread: threading.Thread | None) -> None:
    """Until the page whose script started the preload has been drawn: its script ended, its messages sent."""
    if page_thread is not None:
        page_thread.join(PAGE_WAIT_S)
        time.sleep(PAGE_SETTLE_S)


@st.cache_resource(show_spinner=False)
def preload_engine() -> None:
    """Once per server process, on a thread of its own, once the first page's script has ended (importing TensorFlow
    holds the interpreter: beside a page's script it delays the page's last messages): import the training engine and
    make the default model ready to predict. No page waits for it, and by the time a user presses Train or draws a
    digit it is usually done (bench/RESULTS.md, section App)."""
    page_thread = threading.current_thread() if get_script_run_ctx() is not None else None
    threading.Thread(target=preload, args=(page_thread,), name=ENGINE_PRELOAD_THREAD, daemon=True).start()


def end_preload() -> None:
    """At the process's exit: a model file the preload is reading is read to the end, and none is started after
    (the lock is kept). The interpreter's exit stops a daemon thread where it is, and one stopped while reading a
    model keeps h5py's lock, which the exit then waits for forever (a test process hung so). Nothing else is waited
    for: an import going on at exit would fail."""
    MODEL_LOADING.acquire(timeout=EXIT_WAIT_S)


atexit.register(end_preload)


def wait_for_engine() -> None:
    """Until the preload has loaded the engine (at most ``ENGINE_WAIT_S``; at once when no preload runs): a background
    task that needs TensorFlow does not import it beside the preload while the page that started the task is still
    being drawn, and finds the default model ready."""
    if any(thread.name == ENGINE_PRELOAD_THREAD for thread in threading.enumerate()):
        ENGINE_LOADED.wait(ENGINE_WAIT_S)


@st.cache_resource
def shared_job_runner(models_root: str) -> JobRunner:
    """The one job runner of this server process for a registry folder, shared by every browser session."""
    from mnist_core.jobs.runner import JobRunner

    return JobRunner(registry_at(models_root), data_source().load)


def job_runner(registry: Registry) -> JobRunner:
    """The shared job runner that saves into ``registry``."""
    return shared_job_runner(str(registry.root))
