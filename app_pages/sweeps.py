"""Sweeps: hyperparameter search with Optuna. Create a sweep from a search space, run its trials one at a time in
this server's background thread (Stop ends it after the current trial), and watch any sweep, here or on a
PostgreSQL server that workers on other machines fill: trials, best so far, parameters vs accuracy, importances."""

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from mnist_core.registry import Registry
from mnist_core.search_spaces import BUILT_IN_SPACES, SpaceError, parse_space, space_rows
from mnist_core.sweep_charts import best_so_far_chart, importance_chart, parallel_chart
from mnist_core.sweeps import (STORAGE_ENV, STORAGE_ERRORS, SweepRunner, create_sweep, default_storage_url,
                               list_sweeps, load_study, open_storage, param_importances, redacted, summarize,
                               trial_rows)
from app_pages.common import RUN_PARAM, data_source, plain, shared_registry

REFRESH_S = 2.0
DEFAULT_TRIALS = 10
MAX_TRIALS = 1000
WATCHED_KEY = "sweeps_watched"
TRIAL_COLUMNS = ["number", "state", "value", "seconds"]  # then the parameters, then where it ran and saved
PLACE_COLUMNS = ["run_id", "worker"]


@st.cache_resource
def sweep_runner(models_root: str) -> SweepRunner:
    """The one background sweep worker of this server process (one sweep at a time)."""
    return SweepRunner(Registry(models_root), data_source().load)


@st.cache_resource(max_entries=4, show_spinner="Opening the sweep storage…")
def cached_storage(url: str):
    """Optuna's storage at ``url``, opened once per server process (failures are not cached)."""
    return open_storage(url)


def storage_picker(registry: Registry) -> str | None:
    """The storage URL of the studies to create and watch: this registry's SQLite file unless another is typed
    (an existing SQLite file or a server); None after a message when the typed file does not exist."""
    default = default_storage_url(registry)
    url = st.text_input("Study storage (database URL)", value=default,
                        help="sqlite:///path/to/file.db, or postgresql+psycopg://user:password@host:port/database "
                             f"where workers on other machines run `python -m mnist_core sweep work NAME --storage "
                             f"URL`. The default comes from ${STORAGE_ENV} or the registry folder.")
    url = url.strip() or default
    if url != default and url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        st.error(plain(f"No SQLite file at {url}: this page opens existing study files (or a PostgreSQL server); "
                       "new sweeps go to the default storage."))
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


def new_sweep(storage_url: str, runner: SweepRunner) -> None:
    """Name, space and number of trials; "Create and start" queues the trials and works on them here."""
    st.subheader("New sweep")
    name = st.text_input("Sweep name", value=f"sweep {datetime.now():%m-%d %H:%M}")
    left, right = st.columns([2, 1])
    with left:
        space = space_editor()
    with right:
        trials = st.number_input("Trials", min_value=1, max_value=MAX_TRIALS, value=DEFAULT_TRIALS, step=1)
        busy = runner.current is not None and runner.current.running
        if busy:
            st.caption(plain(f"The sweep “{runner.current.name}” is running here; stop it to start another."))
        if st.button("Create and start", type="primary", disabled=space is None or busy):
            start_sweep(name, space, int(trials), storage_url, runner)


def start_sweep(name: str, space: dict, trials: int, storage_url: str, runner: SweepRunner) -> None:
    try:
        create_sweep(name, space, trials, cached_storage(storage_url))
        runner.start(name.strip(), storage_url)
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    st.session_state[WATCHED_KEY] = name.strip()
    st.rerun()


def sweep_picker(storage_url: str) -> str | None:
    """The sweep to watch among those in the storage (the one just started preselected), or None with a hint."""
    try:
        names = [summary.name for summary in list_sweeps(cached_storage(storage_url))]
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return None
    if not names:
        st.info("No sweep in this storage yet: create one above, or from a terminal: "
                "`python -m mnist_core sweep create NAME --space quick --trials 10`.")
        return None
    watched = st.session_state.get(WATCHED_KEY)
    index = names.index(watched) if watched in names else len(names) - 1
    return st.selectbox("Sweep", names, index=index, key="sweep_choice")


def running_here(runner: SweepRunner, storage_url: str, name: str) -> bool:
    current = runner.current
    return current is not None and current.running and current.name == name and current.storage_url == storage_url


def sweep_status(runner: SweepRunner, storage_url: str, name: str, summary) -> None:
    """Progress metrics, what this server is doing with the sweep and the Stop button."""
    complete, best = st.columns(2)
    complete.metric("Trials complete", f"{summary.counts['complete']} of {summary.planned}", border=True)
    best.metric("Best validation accuracy", "-" if summary.best_value is None else f"{summary.best_value:.2%}",
                border=True)
    counts = ", ".join(f"{count} {state}" for state, count in summary.counts.items() if count)
    st.caption(plain(f"{counts or 'no trials'} · storage {redacted(storage_url)}"))
    current = runner.current
    if running_here(runner, storage_url, name):
        stopping = current.stop_event.is_set()
        st.info("Stopping after the current trial…" if stopping else
                f"Running here: {current.trials_run} trial(s) done by this server so far.")
        event = current.latest_event
        if event is not None:
            st.progress(event.fraction_done, text=f"current trial: epoch {event.epoch} of {event.epochs}, "
                                                  f"batch {event.step} of {event.steps_per_epoch}")
        st.button("Stop", disabled=stopping, on_click=runner.stop)
    elif current is not None and current.name == name and current.error:
        st.error(plain(f"The sweep stopped with an error: {current.error}"))


def trials_table(rows: list[dict]) -> None:
    """One line per trial: state, value, seconds, run and the parameters."""
    frame = pd.DataFrame([{**{key: row[key] for key in TRIAL_COLUMNS}, **row["params"],
                           **{key: row[key] for key in PLACE_COLUMNS}} for row in rows])
    frame["state"] = [("★ " if row["best"] else "") + row["state"] for row in rows]
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"state": st.column_config.TextColumn(width="medium"),
                                "value": st.column_config.NumberColumn("val. accuracy", format="%.4f"),
                                "seconds": st.column_config.NumberColumn(format="%.1f")})


def trial_runs(rows: list[dict]) -> None:
    """The best trial's saved run, and any completed trial's, with links to the Models and Errors pages."""
    best = next((row for row in rows if row["best"]), None)
    if best is None or not best["run_id"]:
        return
    st.caption(plain(f"Best: trial {best['number']} (validation accuracy {best['value']:.2%}), saved as run "
                     f"{best['run_id']}."))
    saved = {row["run_id"]: f"trial {row['number']} · {row['value']:.2%}{' (best)' if row['best'] else ''}"
             for row in rows if row["run_id"]}
    picker, models, errors = st.columns([2, 1, 1], vertical_alignment="bottom")
    run_id = picker.selectbox("Trial run", list(saved), index=list(saved).index(best["run_id"]),
                              format_func=saved.get)  # no key: when the best changes, the picker follows it
    models.page_link("app_pages/models.py", label="Compare on the Models page", icon=":material/inventory_2:")
    errors.page_link("app_pages/errors.py", label="Open it on the Errors page", icon=":material/error_outline:",
                     query_params={RUN_PARAM: run_id})


def sweep_charts(study, rows: list[dict]) -> None:
    """Parallel coordinates, then best so far beside the importances (from two completed trials on)."""
    if not any(row["state"] == "complete" for row in rows):
        st.caption("Charts appear when the first trial completes.")
        return
    st.altair_chart(parallel_chart(rows), width="stretch")
    left, right = st.columns(2)
    left.altair_chart(best_so_far_chart(rows), width="stretch")
    importances = param_importances(study)
    if importances:
        right.altair_chart(importance_chart(importances), width="stretch")
    else:
        right.caption("Parameter importances need at least two completed trials with different parameters.")


def watch(runner: SweepRunner, storage_url: str, name: str, was_active: bool) -> None:
    """Everything about one sweep, refreshed while trials run (here or on other workers)."""
    try:
        study = load_study(name, cached_storage(storage_url))
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    summary = summarize(study)
    if was_active and summary.done and not running_here(runner, storage_url, name):
        st.rerun()  # the sweep has ended: a full run stops the refreshing
    rows = [row.to_dict() for row in trial_rows(study)]
    sweep_status(runner, storage_url, name, summary)
    if rows:
        trials_table(rows)
    trial_runs(rows)
    sweep_charts(study, rows)


def sweeps_page() -> None:
    st.title("Sweeps")
    st.markdown("Search for the best settings with **Optuna**: each trial trains a network with settings drawn from "
                "a search space, is stopped early when it lags behind the others, and is saved as a run.")
    registry = shared_registry()
    runner = sweep_runner(str(registry.root))
    storage_url = storage_picker(registry)
    if storage_url is None:
        return
    new_sweep(storage_url, runner)
    st.subheader("Watch a sweep")
    name = sweep_picker(storage_url)
    if name is None:
        return
    try:
        active = running_here(runner, storage_url, name) or not summarize(
            load_study(name, cached_storage(storage_url))).done
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    st.fragment(watch, run_every=REFRESH_S if active else None)(runner, storage_url, name, active)


sweeps_page()
