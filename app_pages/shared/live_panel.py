"""The one live panel of a job of the server's job runner, on every page that starts or watches one (Train, My
digits, Sweeps): its heading, queue place or progress, Stop, its curves while it trains, then how it ended. Fragments
refresh it only while the job is queued or running; what a page says differently comes in ``PanelWords``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

from app_pages.shared.curves import batches_caption, training_curves
from app_pages.shared.outcome import job_outcome
from app_pages.shared.progress import job_progress
from app_pages.shared.state import page_state
from app_pages.shared.text import plain
from mnist_core.jobs.requests import TASK
from mnist_core.statuses import ACTIVE, FAILED, QUEUED

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from mnist_core.jobs.runner import JobBrief, JobRunner

STATUS_REFRESH_S, CURVES_REFRESH_S = 1.0, 2.0  # curves less often: drawing them takes the CPU the job trains with
PANEL_KEY = "live_panel"  # the panel's container (CSS class st-key-live_panel)


@dataclass(frozen=True)
class PanelWords:
    """What a page says about its job; the defaults speak of a training run."""

    heading: str | None = "Run"  # the heading is "<heading>: <job name>"; None: no heading (the page has its own)
    anchor: str | None = None  # the heading's anchor, for a link to it from elsewhere on the page
    queued: str = "Queued"  # leads the queue place
    progress: str = ""  # leads the progress line while it runs, e.g. "current trial"
    running: str = ""  # a note over the progress while it runs
    stopping: str = "Stopping: the run ends after the current batch; then the model so far is tested and saved."
    stop_help: str = "Stop after the current batch; the model so far is tested and saved."
    failed: str = "Failed"  # leads a failure's reason
    outcome: bool = True  # how it ended and the run it saved; False: only a failure (the page shows the rest)


@dataclass
class PanelState:
    """What this session's panels remember: the jobs it pressed Stop for (said at once, before the runner has
    stopped them), and the ended jobs whose outcome a panel has shown."""

    stopping: set[int] = field(default_factory=set)
    outcomes_shown: set[int] = field(default_factory=set)


def run_briefs(runner: JobRunner) -> list[JobBrief]:
    """The server's jobs that train (runs, resumes, fine-tunes, sweep trials), newest first: not the Insight tasks."""
    return [brief for brief in runner.briefs() if brief.architecture != TASK]


def runs_on_page(briefs: Sequence[JobBrief]) -> list:
    """What a page outside its panel shows of the server's runs (a picker's labels, a line about the active run, the
    saved runs its pickers list), so the panel redraws the whole page only when that changes: with several runs,
    each one's status; with one, only whether it is still active (its going from queued to training shows inside the
    panel, and a full redraw then would take the CPU that the run has just started to train on)."""
    if len(briefs) > 1:
        return list(briefs)
    return [(brief.id, brief.status in ACTIVE) for brief in briefs]


def live_panel(runner: JobRunner, job_id: int, words: PanelWords = PanelWords(), *, curves: bool = True,
               curves_area: DeltaGenerator | None = None, refresh: bool = True,
               drawn_with: Sequence[JobBrief] | None = None) -> None:
    """Job ``job_id``'s panel: refreshed every second while the job is active, its curves (a training's, when
    ``curves``) every two under the status or in ``curves_area``. Without ``refresh`` the page's own fragment redraws
    it. The whole page is redrawn once the server's runs change from ``drawn_with`` (the briefs the page was drawn
    from; by default, those of now), so a job that ends also stops the refreshing."""
    view = runner.view(job_id)
    active = view.status in ACTIVE
    with st.container(key=PANEL_KEY):
        if refresh:
            shown = runs_on_page(run_briefs(runner) if drawn_with is None else drawn_with)
            st.fragment(panel_status, run_every=STATUS_REFRESH_S if active else None)(runner, job_id, words, shown)
        else:
            panel_status(runner, job_id, words, None)
    if curves and view.architecture != TASK:
        with curves_area if curves_area is not None else st.container():
            st.fragment(panel_curves, run_every=CURVES_REFRESH_S if refresh and active else None)(runner, job_id)


def panel_status(runner: JobRunner, job_id: int, words: PanelWords, shown: list | None) -> None:
    """The heading, queue place or progress and Stop while the job is active, then how it ended. Once trained it waits
    for the job to end (at most one refresh) and shows the outcome at once; the whole page follows on the next
    refresh when ``shown`` (what it was drawn with) differs from the server's runs now, so the test figures show
    without a poll's or a page's delay."""
    view = runner.view(job_id)
    refreshing = shown is not None
    if refreshing and view.status in ACTIVE and view.latest is not None and view.latest.fraction_done >= 1:
        view = runner.wait(job_id, STATUS_REFRESH_S)  # trained, being tested and saved
    memory = page_state(PanelState)
    ended = view.status not in ACTIVE
    first_sight = ended and job_id not in memory.outcomes_shown
    if refreshing and runs_on_page(run_briefs(runner)) != shown and not first_sight:
        st.rerun()
    if ended:
        memory.outcomes_shown.add(job_id)
    if words.heading:
        st.subheader(f"{words.heading}: {plain(view.name)}", anchor=words.anchor)
    if not ended:
        stopping = job_id in memory.stopping
        if stopping:
            st.info(words.stopping)
        else:
            if words.running and view.status != QUEUED:
                st.info(words.running)
            job_progress(view, words.progress if view.status != QUEUED else "", queued=words.queued)
        st.button("Stop", on_click=request_stop, args=(runner, job_id), icon=":material/stop:", disabled=stopping,
                  help=words.stop_help)
    elif words.outcome:
        job_outcome(view, words.failed)
    elif view.status == FAILED:
        st.error(f"{words.failed}: {plain(view.reason)}")


def request_stop(runner: JobRunner, job_id: int) -> None:
    """"Stop" callback: ask the runner to stop the job, and remember that it was asked (to say so at once)."""
    runner.stop(job_id)
    page_state(PanelState).stopping.add(job_id)


def panel_curves(runner: JobRunner, job_id: int) -> None:
    """The job's training curves; not redrawn while a stop is under way (so testing and saving the model is not
    slowed)."""
    view = runner.view(job_id)
    if view.status in ACTIVE and job_id in page_state(PanelState).stopping:
        st.caption(f"{batches_caption(view)}; the curves are shown again once the run is saved.")
        return
    training_curves(view)
