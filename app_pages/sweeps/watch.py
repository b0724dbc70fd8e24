"""The Sweeps page's watch: one sweep followed live while trials run (here or on other workers): progress, the Stop
button, the trials a page at a time, the best trial's run and Optuna's charts; and the sweep storage, opened once
for the whole server with its cache of trials, so a look at a study reads its trials only when they changed (and then
only the new and unfinished ones), and what is drawn from them is kept until they change."""

from __future__ import annotations

import math

import optuna
import pandas as pd
import streamlit as st

from app_pages.shared.live_panel import PanelWords, live_panel
from app_pages.shared.navigation import RUN_PARAM
from app_pages.shared.state import kept
from app_pages.shared.text import plain
from app_pages.sweeps.charts import sweep_charts
from app_pages.sweeps.state import BEST_FIRST, BY_NUMBER, SweepsChoices
from mnist_core.jobs.runner import JobBrief, JobRunner
from mnist_core.statuses import ACTIVE
from mnist_core.sweeps.study import (
    STORAGE_ERRORS,
    SweepSummary,
    load_study,
    open_storage,
    redacted,
    summarize,
    sweep_subject,
    trial_rows,
)

REFRESH_S = 2.0
TRIAL_COLUMNS = ["number", "state", "value", "seconds"]  # then the parameters, then where it ran and saved
PLACE_COLUMNS = ["run_id", "worker"]
TABLE_ROWS = 100  # trials per page of the table
LISTED_RUNS = 100  # the best trials' runs offered in the "Trial run" picker
SWEEP_WORDS = PanelWords(heading=None, queued="Next trial queued here", progress="current trial",
                         running="Running here, one trial at a time; Stop ends the sweep here after the current trial.",
                         stopping="Stopping: the sweep ends here once its current trial is done.",
                         stop_help="End the sweep here after the current trial.",
                         failed="The sweep stopped with an error", outcome=False)


@st.cache_resource(max_entries=4, show_spinner="Opening the sweep storage…")
def cached_storage(url: str):
    """Optuna's storage at ``url`` with its cache of trials, opened once per server process (failures are not
    cached)."""
    return open_storage(url)


def sweep_job(runner: JobRunner, storage_url: str, name: str) -> JobBrief | None:
    """This server's newest job for the sweep ``name`` of that storage (queued, training or ended), if any."""
    subject = sweep_subject(name, storage_url)
    return next((brief for brief in runner.briefs() if brief.subject == subject), None)


def running_here(runner: JobRunner, storage_url: str, name: str) -> bool:
    """Whether this server's job runner has a trial of the sweep queued or training."""
    job = sweep_job(runner, storage_url, name)
    return job is not None and job.status in ACTIVE


def sweep_status(runner: JobRunner, storage_url: str, name: str, summary) -> None:
    """Progress metrics, then what this server is doing with the sweep in the live panel (refreshed with the rest of
    the watch): its trial's queue place or progress, Stop, an error that ended it."""
    complete, best = st.columns(2)
    complete.metric("Trials complete", f"{summary.counts['complete']} of {summary.planned}", border=True)
    best.metric("Best validation accuracy", "-" if summary.best_value is None else f"{summary.best_value:.2%}",
                border=True)
    counts = ", ".join(f"{count} {state}" for state, count in summary.counts.items() if count)
    st.caption(plain(f"{counts or 'no trials'} · storage {redacted(storage_url)}"))
    job = sweep_job(runner, storage_url, name)
    if job is not None:
        live_panel(runner, job.id, SWEEP_WORDS, curves=False, refresh=False)


def trials_table(rows: list[dict], choices: SweepsChoices) -> None:
    """One line per trial (state, value, seconds, parameters, run), a page of ``TABLE_ROWS`` at a time, by trial
    number or best first."""
    order, page = st.columns([2, 1], vertical_alignment="bottom")
    with order:
        ordered = kept(st.segmented_control, choices, "order", "Order", [BY_NUMBER, BEST_FIRST])
    if ordered == BEST_FIRST:
        rows = sorted(rows, key=lambda row: (row["value"] is None, -(row["value"] or 0.0), row["number"]))
    pages = math.ceil(len(rows) / TABLE_ROWS)
    with page:
        number = kept(st.number_input, choices, "table_page", "Page", min_value=1, max_value=pages,
                      clean=lambda kept_page: min(max(1, kept_page), pages)) if pages > 1 else 1
    number = min(int(number), pages)
    shown = rows[(number - 1) * TABLE_ROWS:number * TABLE_ROWS]
    frame = pd.DataFrame([{**{key: row[key] for key in TRIAL_COLUMNS}, **row["params"],
                           **{key: row[key] for key in PLACE_COLUMNS}} for row in shown])
    frame["state"] = [("★ " if row["best"] else "") + row["state"] for row in shown]
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"state": st.column_config.TextColumn(width="medium"),
                                "value": st.column_config.NumberColumn("val. accuracy", format="%.4f"),
                                "seconds": st.column_config.NumberColumn(format="%.1f")})
    if pages > 1:
        first = (number - 1) * TABLE_ROWS + 1
        st.caption(f"Trials {first:,}–{first + len(shown) - 1:,} of {len(rows):,} ({ordered or BY_NUMBER}).")


def trial_runs(rows: list[dict]) -> None:
    """The best trial's saved run, and any completed trial's, with links to the Models and Errors pages."""
    best = next((row for row in rows if row["best"]), None)
    if best is None or not best["run_id"]:
        return
    st.caption(plain(f"Best: trial {best['number']} (validation accuracy {best['value']:.2%}), saved as run "
                     f"{best['run_id']}."))
    with_runs = sorted((row for row in rows if row["run_id"]), key=lambda row: -row["value"])[:LISTED_RUNS]
    saved = {row["run_id"]: f"trial {row['number']} · {row['value']:.2%}{' (best)' if row['best'] else ''}"
             for row in with_runs}
    picker, models, errors = st.columns([2, 1, 1], vertical_alignment="bottom")
    run_id = picker.selectbox("Trial run", list(saved), index=list(saved).index(best["run_id"]),
                              format_func=saved.get)  # no key: when the best changes, the picker follows it
    models.page_link("app_pages/models/models.py", label="Compare on the Models page", icon=":material/inventory_2:")
    errors.page_link("app_pages/errors/errors.py", label="Open it on the Errors page", icon=":material/error_outline:",
                     query_params={RUN_PARAM: run_id})


@st.cache_resource(max_entries=8, show_spinner=False)
def cached_rows(url: str, name: str, stamp: tuple, _study, _trials: list) -> tuple[SweepSummary, list[dict]]:
    """The sweep's summary and its trials as table rows (read, never changed, by the page), worked out once per state
    of its trials (``SweepStorage.stamp``) and shared by every session: a rerun (every few seconds while trials run)
    does not rebuild thousands of rows."""
    return summarize(_study, _trials), [row.to_dict() for row in trial_rows(_study, _trials)]


def read_sweep(storage_url: str, name: str) -> tuple[optuna.Study, tuple, SweepSummary, list[dict]]:
    """The sweep ``name``, the stamp of its trials, its summary and its rows; its trials are read from the database
    only when they changed, and then only the new and unfinished ones (``SweepStorage``)."""
    storage = cached_storage(storage_url)
    study = load_study(name, storage)
    trials = study.get_trials(deepcopy=False)
    stamp = storage.kept_stamp(study._study_id)
    return study, stamp, *cached_rows(storage_url, name, stamp, study, trials)


def watch(runner: JobRunner, storage_url: str, name: str, was_active: bool, choices: SweepsChoices) -> None:
    """Everything about one sweep, refreshed while trials run (here or on other workers)."""
    try:
        study, stamp, summary, rows = read_sweep(storage_url, name)
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    if was_active and summary.done and not running_here(runner, storage_url, name):
        st.rerun()  # the sweep has ended: a full run stops the refreshing
    sweep_status(runner, storage_url, name, summary)
    if rows:
        trials_table(rows, choices)
    trial_runs(rows)
    sweep_charts(storage_url, name, stamp, study, rows, choices)


def watch_view(runner: JobRunner, storage_url: str, name: str, choices: SweepsChoices) -> None:
    """The sweep ``name``, refreshed live while this server runs it or it has trials left."""
    try:
        active = running_here(runner, storage_url, name) or not read_sweep(storage_url, name)[2].done
    except STORAGE_ERRORS as error:
        st.error(plain(error))
        return
    st.fragment(watch, run_every=REFRESH_S if active else None)(runner, storage_url, name, active, choices)
