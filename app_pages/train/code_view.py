"""A training as a plain Keras program (``mnist_core.export.program``): shown live on the Train page, and
downloadable as a script or a notebook for a saved run on the Models page."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.state import kept
from app_pages.shared.text import plain
from app_pages.train.choices import TrainChoices
from mnist_core.errors import DigitLabError
from mnist_core.export.program import Origin, run_notebook, run_script, script
from mnist_core.model.config import TrainConfig
from mnist_core.store.records import RunRecord, slug

PYTHON_MIME, NOTEBOOK_MIME = "text/x-python", "application/x-ipynb+json"


def code_view(choices: TrainChoices, name: str, architecture: str, spec: list[dict],
              config: TrainConfig | None) -> None:
    """Train page: behind "Show the code", the program that trains these layers with these settings (it follows
    every change), with a download button."""
    if not kept(st.toggle, choices, "show_code", "Show the code",
                help="The plain Keras program (keras, numpy, the standard library) that trains exactly this."):
        return
    try:
        if config is None:
            raise DigitLabError("the settings above cannot be used yet.")
        text = script(spec, config, Origin(name, architecture))
    except DigitLabError as error:
        st.info(plain(f"The code appears once the network and the settings can be used: {error}"))
        return
    st.download_button("Download the script", text, file_name=f"{slug(name)}.py", mime=PYTHON_MIME,
                       icon=":material/download:", on_click="ignore")
    st.code(text, language="python", line_numbers=True)


def code_downloads(record: RunRecord) -> None:
    """Models page: the picked run's program as a script and as a notebook (an uploaded run has none)."""
    try:
        files = [("Download script (.py)", run_script(record), "py", PYTHON_MIME),
                 ("Download notebook (.ipynb)", run_notebook(record), "ipynb", NOTEBOOK_MIME)]
    except DigitLabError as error:
        st.caption(plain(f"No code for this run: {error}"))
        return
    with st.container(horizontal=True):
        for label, text, suffix, mime in files:
            st.download_button(label, text, file_name=f"{record.id}.{suffix}", mime=mime, key=f"code.{suffix}",
                               icon=":material/code:", on_click="ignore",
                               help="The plain Keras program that trains this run again (keras, numpy, stdlib).")
