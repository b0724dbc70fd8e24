"""The pages' long computations (t-SNE, the robustness sweep, a saliency map) as tasks of the server's one job
runner: shared by every session that asks for the same thing, kept while the runner keeps their values, and their
progress shown while they wait or run."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.models import shared_registry
from app_pages.shared.progress import job_progress
from app_pages.shared.text import plain
from mnist_core.jobs.requests import task_request
from mnist_core.jobs.runner import JobView
from mnist_core.statuses import ACTIVE, FAILED

PROGRESS_REFRESH_S = 1.0


def task_for(key: tuple, work, name: str, light: bool = False) -> int:
    """The job computing ``key``: the one already queued, running or done, or a new one running ``work`` (in the
    runner's light lane when ``light``)."""
    return job_runner(shared_registry()).submit_once(task_request(name, key, work, light))


def show_progress(jobs: dict[str, int], was_running: bool) -> None:
    """A progress line per task still to end (label → job); the whole page is redrawn once they have all ended."""
    runner = job_runner(shared_registry())
    views = [(label, runner.view(job_id)) for label, job_id in jobs.items()]
    for label, view in views:
        if view.status in ACTIVE:
            job_progress(view, label, queued="waiting for the run before it")
    if was_running and all(view.status not in ACTIVE for _, view in views):
        st.rerun()


def wait_for(jobs: dict[str, int]) -> dict[str, JobView] | None:
    """The tasks' views once every one has ended; otherwise shows their progress, refreshed every second, and
    returns None."""
    runner = job_runner(shared_registry())
    views = {label: runner.view(job_id) for label, job_id in jobs.items()}
    running = any(view.status in ACTIVE for view in views.values())
    st.fragment(show_progress, run_every=PROGRESS_REFRESH_S if running else None)(jobs, running)
    return None if running else views


def task_failed(view: JobView, what: str) -> bool:
    """True (after an error message) when the task ended without its value."""
    if view.status != FAILED:
        return False
    st.error(plain(f"{what} failed: {view.reason}. Change a setting or reload the page to try again."))
    return True
