"""Home: what Digit Lab does, whether the data set is there (with an upload when it is not), the models, the pages.
No TensorFlow here, so the first page is ready in a few seconds."""

import os

import streamlit as st

from app_pages.shared.data import data_source, load_dataset
from app_pages.shared.models import run_label, shared_registry
from app_pages.shared.navigation import TRAIN_HINT
from app_pages.shared.text import plain
from mnist_core.data.download import download_mnist, download_origin
from mnist_core.data.mnist import ENV_VAR, DataSetError, read_uploaded_dataset
from mnist_core.store.registry import DEFAULT_ID

PAGE_LINKS = [
    ("app_pages/data/data.py", "Data", ":material/grid_view:", "browse the 70,000 handwritten digits by class"),
    ("app_pages/train/train.py", "Train", ":material/model_training:",
     "pick or build a network and watch it learn, live"),
    ("app_pages/models/models.py", "Models", ":material/inventory_2:",
     "compare, rename, delete, download and upload models"),
    ("app_pages/errors/errors.py", "Errors", ":material/error_outline:",
     "confusion matrix and the digits a model gets wrong"),
    ("app_pages/draw/draw.py", "Draw", ":material/draw:", "draw a digit and see what the network sees"),
    ("app_pages/my_digits/my_digits.py", "My digits", ":material/person_edit:",
     "file your own drawings, see how models read your hand, fine-tune one on it"),
    ("app_pages/insight/insight.py", "Insight", ":material/insights:",
     "what a model learned: embedding map, robustness lab, weights, calibration"),
    ("app_pages/sweeps/sweeps.py", "Sweeps", ":material/tune:",
     "search for the best settings with Optuna, here or on many machines"),
    ("app_pages/kaggle/kaggle.py", "Kaggle", ":material/upload_file:", "turn a Kaggle test.csv into a submission.csv"),
]


def introduction() -> None:
    """Title and a short description of the app."""
    st.title("✍️ Digit Lab")
    st.markdown("A workbench for **MNIST**, the 70,000 handwritten digits: look at the data, train Keras networks "
                "(from a one-layer baseline to a 99.5 % CNN) and watch them learn, find out which digits they "
                "confuse, and test them on digits you draw yourself.")


def dataset_upload() -> None:
    """An uploader for mnist.npz / train.csv; a good upload becomes the data set of every page and training run."""
    upload = st.file_uploader("Upload mnist.npz or a Kaggle train.csv", type=["npz", "csv"])
    if upload is None:
        return
    try:
        data_source().uploaded = read_uploaded_dataset(upload.name, upload.getvalue())
    except DataSetError as error:
        st.error(plain(f"That upload is not usable: {error}"))
        return
    st.rerun()


def dataset_download() -> None:
    """The "Download MNIST" button: fetches it into the Keras cache with a progress bar; every page has it after."""
    url, _ = download_origin()
    if not st.button("Download MNIST, 11 MB", type="primary", icon=":material/download:",
                     help=f"From {url} into the Keras cache, checked before it is kept."):
        return
    bar = st.progress(0.0, text="Downloading MNIST…")

    def show(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0), text=f"Downloading MNIST… {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    try:
        download_mnist(show)
    except DataSetError as error:
        bar.empty()
        st.error(plain(error))
        st.caption("You can also upload the file below if you have it.")
        return
    st.rerun()


def dataset_status() -> None:
    """Where the data set comes from and its size, or what is wrong with a download button and an upload to fix it."""
    st.subheader("Data set")
    try:
        data = load_dataset()
    except DataSetError as error:
        st.error(plain(error))
        if not os.environ.get(ENV_VAR):  # a download cannot help while $MNIST_PATH names another file
            dataset_download()
        st.caption("An uploaded data set stays in this server's memory (for every page and every training run) "
                   "until the server restarts; to make it permanent, set MNIST_PATH to the file.")
        dataset_upload()
        return
    st.success(plain(f"Data set loaded from {data.source}: {len(data.y_train):,} training and {len(data.y_test):,} "
                     "test images."))


def models_status() -> None:
    """The best saved model and the default model, or how to get one."""
    st.subheader("Models")
    registry = shared_registry()
    best, default_id = registry.best_run(), registry.default_id()
    left, right = st.columns(2)
    with left:
        if best is None:
            st.info(f"No tested model yet. {TRAIN_HINT}")
        else:
            st.metric("Best model (test accuracy)", f"{best.test_accuracy:.2%}", border=True,
                      help=plain(run_label(best)))
            st.caption(plain(f"{best.name} · {best.architecture} · {best.params:,} parameters"))
    with right:
        if default_id is None:
            st.warning(f"No default model is installed, so the Draw page has nothing preselected. {TRAIN_HINT}")
        else:
            default = registry.record(default_id)
            accuracy = "untested" if default.test_accuracy is None else f"{default.test_accuracy:.2%}"
            st.metric("Default model (test accuracy)", accuracy, border=True,
                      help="Preselected on the Draw, Errors, Insight and Kaggle pages and used by the CLI.")
            if default_id == DEFAULT_ID:  # none chosen: the registry's own, or the shipped, default model
                st.caption(plain(f"The built-in default model ({default.architecture}, {default.params:,} "
                                 "parameters); “Make default” on the Models page chooses another."))
            else:
                st.caption(plain(f"{default.name} · {default.architecture} · {default.params:,} parameters, "
                                 "chosen on the Models page."))


def page_links() -> None:
    """A link to every other page with what it is for."""
    st.subheader("Pages")
    columns = st.columns(3)
    for position, (path, title, icon, blurb) in enumerate(PAGE_LINKS):
        with columns[position % 3]:
            st.page_link(path, label=title, icon=icon)
            st.caption(blurb)


introduction()
dataset_status()
models_status()
page_links()
