"""The Train page's live view: the run this session watches (queue place, progress, Stop, curves, outcome),
refreshed by fragments while runs are active, from the one job runner every session shares."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.navigation import RUN_PARAM
from app_pages.shared.progress import job_progress
from app_pages.shared.text import plain
from app_pages.train.curves import batches_caption, training_curves
from mnist_core.jobs.requests import TASK
from mnist_core.statuses import ACTIVE, FINISHED, QUEUED, STOPPED
from mnist_core.store.registry import Registry

JOB_KEY, SHOWN_KEY, STOPPING_KEY = "train.job", "train.shown_jobs", "train.stopping"
OUTCOMES_KEY = "train.outcomes_shown"  # ended runs whose outcome this session's live view has shown
STATUS_REFRESH_S, CURVES_REFRESH_S = 1.0, 2.0  # live view refresh while a run is queued or training


def submit(registry: Registry, request) -> None:
    """Queue ``request`` on the shared runner and watch it; a toast says at once where it stands, in view wherever
    the page is scrolled (the status under the Train button may be below the screen's edge)."""
    runner = job_runner(registry)
    job_id = st.session_state[JOB_KEY] = runner.submit(request)
    view = runner.view(job_id)
    where = f"queued, position {view.queue_position} in line" if view.status == QUEUED else "starting"
    st.toast(plain(f"“{request.name}” is {where}: its progress is under the Train button."),
             icon=":material/directions_run:")


def run_briefs(runner) -> list:
    """The server's jobs that train (runs, fine-tunes, sweep trials), newest first: not the Insight page's tasks."""
    return [brief for brief in runner.briefs() if brief.architecture != TASK]


def watched_job(runner) -> int | None:
    """The run to show: picked in "Run to watch" when the server has several, by default the run this session
    started, else the one training, else the newest queued, else the newest (so a reload finds it again). The
    labels carry each run's status as it is now; the live view redraws the page when one changes."""
    briefs = run_briefs(runner)
    st.session_state[SHOWN_KEY] = briefs
    if len(briefs) <= 1:
        return briefs[0].id if briefs else None
    labels = {brief.id: f"{brief.name} · {brief.status} · job {brief.id}" for brief in briefs}
    if st.session_state.get(JOB_KEY) not in labels:
        by_interest = sorted(briefs, key=lambda brief: ACTIVE.index(brief.status) if brief.status in ACTIVE else 2)
        st.session_state[JOB_KEY] = by_interest[0].id
    ids = list(labels)
    # Not keyed: a keyed selectbox keeps its identity when only its labels change, and the browser then goes on
    # showing the old label of the chosen run; unkeyed, new labels make a new widget, started on the kept choice.
    st.session_state[JOB_KEY] = st.selectbox("Run to watch", ids, index=ids.index(st.session_state[JOB_KEY]),
                                             format_func=labels.get)
    return st.session_state[JOB_KEY]


def runs_on_page(briefs) -> list:
    """What the page outside the live view shows of the server's runs, so the live view redraws the whole page only
    when that changes: with several runs, the picker's labels (each run's status); with one, only whether it is
    still active (its going from queued to training shows inside the live view, and a full redraw then would take
    the CPU that the run has just started to train on)."""
    if len(briefs) > 1:
        return list(briefs)
    return [(brief.id, brief.status in ACTIVE) for brief in briefs]


def run_outcome(view) -> None:
    """How a run ended, its test metrics and where it was saved."""
    if view.status == FINISHED:
        st.success(f"Finished: {plain(view.reason)}")
    elif view.status == STOPPED:
        st.warning(f"Stopped: {plain(view.reason)}")
    else:
        st.error(f"Failed: {plain(view.reason)}")
    record = view.record
    if record is None:
        st.caption("Nothing was saved: the run did not get as far as training.")
        return
    if record.test_accuracy is not None:
        accuracy, loss = st.columns(2)
        accuracy.metric("Test accuracy", f"{record.test_accuracy:.2%}", border=True)
        loss.metric("Test loss", f"{record.test_loss:.4f}", border=True)
    st.caption(plain(f"Saved to the registry as “{record.name}” (id {record.id}), {record.seconds:.1f} s of "
                     "training."))
    models, errors = st.columns(2)
    models.page_link("app_pages/models/models.py", label="Compare it on the Models page", icon=":material/inventory_2:")
    errors.page_link("app_pages/errors/errors.py", label="See its mistakes on the Errors page",
                     icon=":material/error_outline:", query_params={RUN_PARAM: record.id})


def request_stop(runner, job_id: int) -> None:
    """"Stop" callback: ask the runner to stop the run, and remember that it was asked (to say so at once)."""
    runner.stop(job_id)
    st.session_state.setdefault(STOPPING_KEY, set()).add(job_id)


def stop_requested(job_id: int) -> bool:
    """Whether this session pressed Stop for the run."""
    return job_id in st.session_state.get(STOPPING_KEY, set())


def job_status(runner, job_id: int) -> None:
    """The run's name, queue place or progress and the Stop button, then how it ended; refreshed every second while
    a run is active, and the whole page redrawn once what it shows of the runs changed (``runs_on_page``). Once the
    run is trained it waits for the run to end (at most one refresh) and shows the outcome at once; the whole page
    follows on the next refresh, so the test accuracy shows without a poll's or a page's delay."""
    view = runner.view(job_id)
    if view.status in ACTIVE and view.latest is not None and view.latest.fraction_done >= 1:
        runner.wait(job_id, STATUS_REFRESH_S)  # trained, being tested and saved: show the outcome the moment it is
        view = runner.view(job_id)
    ended = view.status not in ACTIVE
    first_sight = ended and job_id not in st.session_state.setdefault(OUTCOMES_KEY, set())
    if runs_on_page(run_briefs(runner)) != runs_on_page(st.session_state.get(SHOWN_KEY, [])) and not first_sight:
        st.rerun()
    if ended:
        st.session_state[OUTCOMES_KEY].add(job_id)
    st.subheader(f"Run: {plain(view.name)}", anchor=STATUS_ANCHOR)
    if view.status in ACTIVE:
        stopping = stop_requested(job_id)
        if stopping:
            st.info("Stopping: the run ends after the current batch; then the model so far is tested and saved.")
        else:
            job_progress(view)
        st.button("Stop", on_click=request_stop, args=(runner, job_id), icon=":material/stop:", disabled=stopping,
                  help="Stop after the current batch; the model so far is tested and saved.")
    else:
        run_outcome(view)


def job_curves(runner, job_id: int) -> None:
    """The run's training curves; refreshed less often than the status, since drawing them takes the CPU that
    training needs, and not at all while a stop is under way (so testing and saving the model is not slowed)."""
    view = runner.view(job_id)
    if view.status in ACTIVE and stop_requested(job_id):
        st.caption(f"{batches_caption(view)}; the curves are shown again once the run is saved.")
        return
    training_curves(view)


STATUS_ANCHOR = "run-status"  # the watched run's heading, linked from the line at the top of the page


def active_run_line(registry: Registry) -> None:
    """While a run is queued or training, a one-line link at the top of the page to its status by the Train button,
    so it stays one click away however far the user has scrolled (drawn with the page, which redraws when a run
    starts or ends: no refresh of its own)."""
    active = [brief for brief in run_briefs(job_runner(registry)) if brief.status in ACTIVE]
    if active:
        runs = f"“{plain(active[0].name)}” is" if len(active) == 1 else f"{len(active)} runs are"
        st.info(f"{runs} queued or training: [see its status by the Train button](#{STATUS_ANCHOR}).",
                icon=":material/directions_run:")


def live_status(registry: Registry) -> int | None:
    """The run this session is watching (picker, queue place or progress, Stop, outcome), drawn right under the
    Train button so a press shows its effect where the user is looking, refreshed every second while a run is
    active; returns the watched job's id."""
    runner = job_runner(registry)
    job_id = watched_job(runner)
    if job_id is None:
        st.caption("No run yet on this server: press Train to start one.")
        return None
    any_active = any(brief.status in ACTIVE for brief in st.session_state[SHOWN_KEY])
    with st.container(key="run_status"):
        st.fragment(job_status, run_every=STATUS_REFRESH_S if any_active else None)(runner, job_id)
    return job_id


def live_curves(registry: Registry, job_id: int | None) -> None:
    """The watched run's curves, full width below the editor, refreshed while it trains."""
    if job_id is None:
        return
    runner = job_runner(registry)
    active = runner.view(job_id).status in ACTIVE
    st.fragment(job_curves, run_every=CURVES_REFRESH_S if active else None)(runner, job_id)
