"""Widgets and cached resources shared by the pages: the data set, the run registry, loaded models and the one job
runner that every browser session trains through. Nothing here imports TensorFlow at import time."""

from __future__ import annotations

import importlib
import os
import re
import threading
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import streamlit as st

from mnist_core.data import ENV_VAR, IMAGE_SIDE, DataSetError, MnistData, load_mnist
from mnist_core.pictures import enlarge
from mnist_core.registry import DEFAULT_ID, MODELS_ENV, PROJECT_MODELS, Registry, RegistryError, RunRecord

if TYPE_CHECKING:
    from mnist_core.evaluation import ImagePredictor
    from mnist_core.jobs import JobRunner

PageState = TypeVar("PageState")
HOME_PAGE, TRAIN_PAGE = "app_pages/home.py", "app_pages/train.py"
RUN_PARAM = "run"  # query parameter of a link that opens a page on one run: /errors?run=RUN_ID
FLASH_KEY = "flash_message"
TRAIN_HINT = "Train one on the Train page, or from a terminal: `python -m mnist_core train --preset fast-cnn`."


MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=^&])")
# What GitHub-flavoured Markdown turns into a link even when every character is escaped: addresses and e-mails.
LINK_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*|www\.\S*|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)


def code_span(text: str) -> str:
    """``text`` as Markdown inline code, fenced by more backticks than it holds in a row."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text) -> str:
    """``text`` for the elements that render Markdown (titles, captions, messages, help), shown as typed: Markdown
    characters escaped, and anything Markdown would make a link of (an address, an e-mail) as inline code, so a run
    name or file name never becomes a link, an image, a colour or HTML."""
    text, pieces, done = str(text), [], 0
    for match in LINK_LIKE.finditer(text):
        pieces += [MARKDOWN_SYNTAX.sub(r"\\\1", text[done:match.start()]), code_span(match.group())]
        done = match.end()
    return "".join(pieces) + MARKDOWN_SYNTAX.sub(r"\\\1", text[done:])


# --- the data set -----------------------------------------------------------------------------------------------


class DataSetSource:
    """Where every page and the job runner get MNIST: a data set uploaded on the Home page (kept in memory for this
    server process until it restarts), else the configured one ($MNIST_PATH or the Keras cache), read from disk once
    per path and shared read-only (so a run does not pay a fresh read, ~0.2-0.5 s)."""

    def __init__(self):
        self.uploaded: MnistData | None = None
        self._configured: tuple[str | None, MnistData] | None = None  # ($MNIST_PATH it was read for, the data)
        self._lock = threading.Lock()

    def has_data(self) -> bool:
        """Whether ``load`` answers from memory."""
        configured = self._configured
        return self.uploaded is not None or (configured is not None and configured[0] == os.environ.get(ENV_VAR))

    def load(self) -> MnistData:
        """The data set for training and for the pages; safe to call from any thread (no Streamlit calls). A read
        that fails raises ``DataSetError`` and is not kept, so a fixed path or a finished download is picked up."""
        if self.uploaded is not None:
            return self.uploaded
        path = os.environ.get(ENV_VAR)
        with self._lock:
            if self._configured is None or self._configured[0] != path:
                data = load_mnist(allow_download=False)
                for array in (data.x_train, data.y_train, data.x_test, data.y_test):
                    array.flags.writeable = False
                self._configured = path, data
            return self._configured[1]


@st.cache_resource
def data_source() -> DataSetSource:
    """The one data-set source of this server process."""
    return DataSetSource()


def load_dataset() -> MnistData:
    """The data set every page uses (uploaded, else configured); raises ``DataSetError`` with how to fix it."""
    source = data_source()
    if source.has_data():
        return source.load()
    with st.spinner("Loading MNIST…"):
        return source.load()


def dataset_or_warning() -> MnistData | None:
    """The data set, or None after showing why it is missing and a link to the Home page to upload it."""
    try:
        return load_dataset()
    except DataSetError as error:
        st.error(f"No data set, so this part of the page is unavailable.\n\n{plain(error)}")
        st.page_link(HOME_PAGE, label="Upload mnist.npz or a Kaggle train.csv on the Home page", icon="⬆️")
        return None


# --- registry and models ----------------------------------------------------------------------------------------


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


def model_picker(runs: list[RunRecord]) -> str | None:
    """The "Model" selectbox of ``runs`` (a registry listing): the run named by the page's ``?run=`` link if there is
    one, else the default model, preselected; None (with a hint) when there are none."""
    if not runs:
        st.info(f"No trained model yet. {TRAIN_HINT}")
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon="🏋️")
        return None
    labels = {record.id: run_label(record) for record in runs}
    ids = list(labels)
    preferred = next((run_id for run_id in (st.query_params.get(RUN_PARAM), DEFAULT_ID) if run_id in ids), ids[0])
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
    from mnist_core.evaluation import ImagePredictor

    return ImagePredictor(cached_model(root, run_id, modified))


@st.cache_resource(max_entries=4, show_spinner="Predicting the test images…")
def cached_evaluation(key: tuple, data_fingerprint: str, _registry: Registry, _data: MnistData):
    """The run's ``Evaluation`` on the test set: from the probabilities saved with the run when it was tested on this
    test split, else predicted once per model file version and data set contents."""
    from mnist_core.scores import Evaluation

    _root, run_id, _modified = key
    saved = _registry.test_probabilities(run_id, _data.test_fingerprint)
    if saved is not None:
        return Evaluation(saved, _data.y_test)
    from mnist_core.evaluation import evaluate  # TensorFlow, only when the run saved no predictions

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


# --- training ---------------------------------------------------------------------------------------------------

ENGINE_PRELOAD_THREAD = "digit-lab-engine-preload"


def load_engine_and_default_model() -> None:
    """Import the training engine, then load the default model's single-image predictor and run it once on a blank
    image (its first calls trace TensorFlow functions): what the first drawing on the Draw page needs."""
    importlib.import_module("mnist_core.runs")
    try:
        predictor = cached_predictor(*model_key(shared_registry(), DEFAULT_ID))
    except (RegistryError, OSError):  # no default model: the pages say so when they need it
        return
    blank = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    predictor.probabilities(blank)
    predictor.saliency(blank)
    predictor.activations(blank)


@st.cache_resource(show_spinner=False)
def preload_engine() -> None:
    """Import the training engine (TensorFlow and Keras: 4.2-4.9 s on 2 cores) and make the default model ready to
    predict, once per server process, on a thread of its own, after the first page shown: no page waits for it, and by
    the time a user presses Train or draws a digit it is usually done (the Train page's first visit waited for the
    import before: 6.5-7.1 s, now 2.4-3.5 s). A failure is reported by whatever needs the engine or the model, which
    loads it again."""
    threading.Thread(target=load_engine_and_default_model, name=ENGINE_PRELOAD_THREAD, daemon=True).start()


@st.cache_resource
def shared_job_runner(models_root: str) -> JobRunner:
    """The one job runner of this server process for a registry folder, shared by every browser session."""
    from mnist_core.jobs import JobRunner

    return JobRunner(registry_at(models_root), data_source().load)


def job_runner(registry: Registry) -> JobRunner:
    """The shared job runner that saves into ``registry``."""
    return shared_job_runner(str(registry.root))


# --- widget state ---------------------------------------------------------------------------------------------


def page_state(kind: type[PageState]) -> PageState:
    """This session's one state object of a page: a dataclass of what the user chose there, created with its
    defaults on the first visit, so the choices survive moving around the app."""
    return st.session_state.setdefault(kind.__name__, kind())


def kept(widget, state, field: str, *args, clean=None, version: str = "", **kwargs):
    """``widget(*args, key=..., **kwargs)`` bound to ``state.field``: it shows the stored choice when the page comes
    back (Streamlit forgets the widgets a page did not show), and the user's choice is stored there. ``clean`` turns
    a stored value that no longer fits (a run since deleted) into one that does. A new ``version`` (e.g. of the
    options' labels) makes a new widget with the stored choice: a browser goes on showing a keyed widget's old labels.
    Pass no default to the widget: the state object holds it."""
    key = f"{type(state).__name__}.{field}" + (f".{version}" if version else "")
    value = st.session_state.get(key, getattr(state, field))
    st.session_state[key] = clean(value) if clean is not None else value
    value = widget(*args, key=key, **kwargs)
    setattr(state, field, value)
    return value


def kept_widget(widget, key: str, default, *args, **kwargs):
    """``widget(*args, key=key, **kwargs)``, showing the value it had when the user left the page (Streamlit forgets
    the state of widgets a page does not show), ``default`` the first time; returns the widget's value."""
    st.session_state.setdefault(key, st.session_state.get(f"{key}.kept", default))
    value = widget(*args, key=key, **kwargs)
    st.session_state[f"{key}.kept"] = value
    return value


def forget_widget(key: str) -> None:
    """Let a ``kept_widget`` start again from the default it is given next."""
    st.session_state.pop(key, None)
    st.session_state.pop(f"{key}.kept", None)


# --- small widgets ----------------------------------------------------------------------------------------------


def image_grid(images, captions: list[str], zoom: int = 3) -> None:
    """Small grey-scale pictures side by side, enlarged without blur, each with its caption."""
    if len(images):
        st.image([enlarge(image, zoom) for image in images], caption=captions)


def flash(kind: str, text: str) -> None:
    """Keep a message (shown as text, never as Markdown) to show on the next run (``kind``: success, warning or
    error), e.g. from a button callback."""
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    """Show, once, the message kept by ``flash``."""
    if FLASH_KEY in st.session_state:
        kind, text = st.session_state.pop(FLASH_KEY)
        getattr(st, kind)(plain(text))
