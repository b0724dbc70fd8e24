"""The Train page's live view: which of the server's runs to watch, shown in the shared live panel under the Train
button (its curves full width below the editor), and a line at the top of the page while a run is active."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.live_panel import PanelWords, live_panel, run_briefs
from app_pages.shared.state import page_state
from app_pages.shared.text import plain
from app_pages.train.choices import TrainChoices
from mnist_core.jobs.runner import JobBrief
from mnist_core.statuses import ACTIVE, QUEUED
from mnist_core.store.registry import Registry

STATUS_ANCHOR = "run-status"  # the watched run's heading, linked from the line at the top of the page
RUN_WORDS = PanelWords(anchor=STATUS_ANCHOR)


def submit(registry: Registry, request) -> None:
    """Queue ``request`` on the shared runner and watch it; a toast says at once where it stands, in view wherever
    the page is scrolled (the status under the Train button may be below the screen's edge)."""
    runner = job_runner(registry)
    job_id = page_state(TrainChoices).watched = runner.submit(request)
    view = runner.view(job_id)
    where = f"queued, position {view.queue_position} in line" if view.status == QUEUED else "starting"
    st.toast(plain(f"“{request.name}” is {where}: its progress is under the Train button."),
             icon=":material/directions_run:")


def watched_job(choices: TrainChoices, briefs: list[JobBrief]) -> int | None:
    """The run to show: picked in "Run to watch" when the server has several, by default the run this session
    started, else the one training, else the newest queued, else the newest (so a reload finds it again). The
    labels carry each run's status as it is now; the live panel redraws the page when one changes."""
    if len(briefs) <= 1:
        return briefs[0].id if briefs else None
    labels = {brief.id: f"{brief.name} · {brief.status} · job {brief.id}" for brief in briefs}
    if choices.watched not in labels:
        by_interest = sorted(briefs, key=lambda brief: ACTIVE.index(brief.status) if brief.status in ACTIVE else 2)
        choices.watched = by_interest[0].id
    ids = list(labels)
    # Not keyed: a keyed selectbox keeps its identity when only its labels change, and the browser then goes on
    # showing the old label of the chosen run; unkeyed, new labels make a new widget, started on the kept choice.
    choices.watched = st.selectbox("Run to watch", ids, index=ids.index(choices.watched), format_func=labels.get)
    return choices.watched


def active_run_line(registry: Registry) -> None:
    """While a run is queued or training, a one-line link at the top of the page to its status by the Train button,
    so it stays one click away however far the user has scrolled (drawn with the page, which redraws when a run
    starts or ends: no refresh of its own)."""
    active = [brief for brief in run_briefs(job_runner(registry)) if brief.status in ACTIVE]
    if active:
        runs = f"“{plain(active[0].name)}” is" if len(active) == 1 else f"{len(active)} runs are"
        st.info(f"{runs} queued or training: [see its status by the Train button](#{STATUS_ANCHOR}).",
                icon=":material/directions_run:")


def live_view(registry: Registry, choices: TrainChoices, curves_area) -> None:
    """The run this session watches, in the live panel right under the Train button (so a press shows its effect
    where the user is looking), its curves in ``curves_area``."""
    runner = job_runner(registry)
    briefs = run_briefs(runner)
    job_id = watched_job(choices, briefs)
    if job_id is None:
        st.caption("No run yet on this server: press Train to start one.")
        return
    live_panel(runner, job_id, RUN_WORDS, curves_area=curves_area, drawn_with=briefs)
