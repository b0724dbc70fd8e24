"""Digit Lab's pages: the menu (``st.navigation``) and the page picked, run by every browser session of the server
that ``app.py`` starts (``streamlit run app.py``). The pages live in ``app_pages/`` (not ``pages/``: with a ``pages/``
folder Streamlit 1.67 starts in its old multipage mode and skips this script until "/" is visited), the engine in
``mnist_core``."""

import logging

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner import script_runner

from app_pages.shared.engine import preload_engine

PAGES = [
    st.Page("app_pages/home/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data/data.py", title="Data", icon=":material/grid_view:", url_path="data"),
    st.Page("app_pages/train/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/models/models.py", title="Models", icon=":material/inventory_2:", url_path="models"),
    st.Page("app_pages/errors/errors.py", title="Errors", icon=":material/error_outline:", url_path="errors"),
    st.Page("app_pages/draw/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("app_pages/my_digits/my_digits.py", title="My digits", icon=":material/person_edit:", url_path="my_digits"),
    st.Page("app_pages/insight/insight.py", title="Insight", icon=":material/insights:", url_path="insight"),
    st.Page("app_pages/sweeps/sweeps.py", title="Sweeps", icon=":material/tune:", url_path="sweeps"),
    st.Page("app_pages/kaggle/kaggle.py", title="Kaggle", icon=":material/upload_file:", url_path="kaggle"),
]
# Pages that need no TensorFlow to be used (Models loads it only to check an upload, a sweep's trials in the job
# runner): opening one does not start the engine's preload (seconds of one core, 600 MB), which would slow the next
# visits
WITHOUT_ENGINE = {"data", "models", "sweeps"}
# The ✍️ emoji drawn as an SVG, written in ASCII: an emoji string makes Streamlit load its emoji catalogue (~0.1 s of
# each server's first page) and a Material icon is fetched from outside the app
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
           '<text y=".9em" font-size="90">&#x270D;&#xFE0F;</text></svg>')
UNEXPECTED_ERROR = ("Something went wrong on this page that Digit Lab did not expect; the details are in the server's "
                    "log. Reload the page or try another one; if it keeps happening, restart `streamlit run app.py`.")


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit 1.67 from calling ``keras.backend.clear_session()`` after every script run (a workaround it keeps
    for old TF1 apps). With a run training in the job runner's thread, each call reset Keras's global state under it,
    emptied TensorFlow's kernel cache and forced a full garbage collection: while a tab watched a run (a fragment run
    every second), training slowed and Stop took many seconds. Matplotlib, the only other module that hook cleans
    up, is not used here."""
    script_runner._clean_problem_modules = lambda: None


def run_selected_page() -> StreamlitPage:
    """Show the navigation and run the chosen page, turning an unexpected failure into a friendly message; the
    page."""
    st.set_page_config(page_title="Digit Lab", page_icon=FAVICON, layout="wide")
    page = st.navigation(PAGES)
    try:
        page.run()
    except Exception:  # last-resort guard: pages report every expected failure themselves
        logging.getLogger("digit_lab").exception("page %s failed", page.title)
        st.error(UNEXPECTED_ERROR)
    return page


keep_keras_state_between_runs()
if run_selected_page().url_path not in WITHOUT_ENGINE:
    preload_engine()
