"""The data set every page and the job runner use: uploaded, else configured, read once per server."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import streamlit as st

from mnist_core.data.mnist import ENV_VAR, DataSetError, MnistData
from mnist_core.data.sources import load_mnist

if TYPE_CHECKING:
    pass
from app_pages.shared.navigation import HOME_PAGE
from app_pages.shared.text import plain


class DataSetSource:
    """Where every page and the job runner get MNIST: a data set uploaded on the Home page (kept in memory for this
    server process until it restarts), else the configured one ($MNIST_PATH or the Keras cache), read from disk once
    per path and shared read-only (so a run does not pay a fresh read)."""

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
