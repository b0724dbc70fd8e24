"""Sweeps: hyperparameter search with Optuna. Create a sweep from a search space, run its trials one at a time as
jobs of the server's one job runner, queued with the Train page's runs (Stop ends it after the current trial), and
watch any sweep, here or on a PostgreSQL server that workers on other machines fill: trials, best so far, parameters
vs accuracy, importances. This page picks the storage, creates sweeps and picks the one to watch; following it lives
in ``sweeps_watch``.
"""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.models import shared_registry
from app_pages.shared.state import kept, page_state, set_kept
from app_pages.shared.text import plain
from app_pages.sweeps.state import SweepsChoices
from app_pages.sweeps.watch import cached_storage, watch_view
from mnist_core.jobs.runner import JobRunner
from mnist_core.store.registry import Registry
from mnist_core.sweeps.spaces import BUILT_IN_SPACES, SpaceError, parse_space, space_rows
from mnist_core.sweeps.study import (
    PAGE_STORAGE_REFUSED,
    PAGE_STORAGES_ENV,
    STORAGE_ENV,
    STORAGE_ERRORS,
    create_sweep,
    default_storage_url,
    page_storage,
    sweep_names,
    sweep_request,
)

DEFAULT_TRIALS = 10
MAX_TRIALS = 1000


def storage_picker(registry: Registry) -> str | None:
    """The storage URL of the studies to create and watch: this registry's SQLite file unless another is typed
    (``page_storage`` decides which the page may open); None after one neutral message for any other, or for one
    that cannot be opened."""
    default = default_storage_url(registry)
    url = st.text_input("Study storage (database URL)", value=default,
                        help="sqlite:///path/to/file.db (a new file, or an existing sweep database), or a server's "
                             f"URL this server's owner listed in ${PAGE_STORAGES_ENV}, where workers on other machines "
                             "run `python -m mnist_core sweep work NAME --storage URL`. The default comes from "
                             f"${STORAGE_ENV} or the registry folder.")
    url = url.strip() or default
    try:
        url = page_storage(url, registry)
        if url != default:
            cached_storage(url)
    except STORAGE_ERRORS:  # the same words for every failure: the page tells nothing of files or ports
        st.error(plain(PAGE_STORAGE_REFUSED[0].upper() + PAGE_STORAGE_REFUSED[1:]))
        return None
    return url


def space_editor() -> dict | None:
    """A built-in space picked, shown as a table, and editable as JSON; the checked space, or None after a message."""
    choice = st.selectbox("Search space", list(BUILT_IN_SPACES),
                          help="quick: small dense nets on 5,000 images, 1 epoch (seconds per trial); cnn: around "
                               "the fast-cnn preset (minutes per trial on a CPU).")
    text = st.text_area("Ranges (JSON, editable)", value=json.dumps(BUILT_IN_SPACES[choice], indent=1), height=260,
                        key=f"space_json_{choice}")
    try:
        space = parse_space(text)
    except SpaceError as error:
        st.error(f"This search space cannot be used: {plain(error)}")
        return None
    st.dataframe(pd.DataFrame(space_rows(space)), hide_index=True, width="stretch")
    return space


def new_sweep(storage_url: str, runner: JobRunner) -> None:
    """Name, space and number of trials; "Create and start" queues the trials and works on them here."""
    st.subheader("New sweep")
    name = st.text_input("Sweep name", value=f"sweep {datetime.now():%m-%d %H:%M}")
    left, right = st.columns([2, 1])
    with left:
        space = space_editor()
    with right:
        trials = st.number_input("Trials", min_value=1, max_value=MAX_TRIALS, value=DEFAULT_TRIALS, step=1)
        st.caption("Its trials train one at a time, in the same queue as the Train page's runs.")
        if st.button("Create and start", type="primary", disabled=space is None):
            start_sweep(name, space, int(trials), storage_url, runner)


def start_sweep(name: str, space: dict, trials: int, storage_url: str, runner: JobRunner) -> None:
    """Create the sweep in the storage, queue its trials on this server's job runner and watch it; an error if the
    storage refuses."""
    try:
        create_sweep(name, space, trials, cached_storage(storage_url))
        runner.submit(sweep_request(name.strip(), storage_url))
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    set_kept(page_state(SweepsChoices), "sweep", name.strip())
    st.rerun()


def sweep_picker(storage_url: str, choices: SweepsChoices) -> str | None:
    """The sweep to watch among those in the storage (the one just started preselected), or None with a hint."""
    try:
        names = sweep_names(cached_storage(storage_url))  # the watched sweep's trials alone are read
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return None
    if not names:
        st.info("No sweep in this storage yet: create one above, or from a terminal: "
                "`python -m mnist_core sweep create NAME --space quick --trials 10`.")
        return None
    return kept(st.selectbox, choices, "sweep", "Sweep", names, clean=lambda watched: watched if watched in names
                else names[-1])


def sweeps_page() -> None:
    """The storage, a new sweep, then the sweep being watched."""
    st.title("Sweeps")
    st.markdown("Search for the best settings with **Optuna**: each trial trains a network with settings drawn from "
                "a search space, is stopped early when it lags behind the others, and is saved as a run.")
    registry = shared_registry()
    runner = job_runner(registry)
    storage_url = storage_picker(registry)
    if storage_url is None:
        return
    new_sweep(storage_url, runner)
    st.subheader("Watch a sweep")
    choices = page_state(SweepsChoices)
    name = sweep_picker(storage_url, choices)
    if name is None:
        return
    watch_view(runner, storage_url, name, choices)


sweeps_page()
