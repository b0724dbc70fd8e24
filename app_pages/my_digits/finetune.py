"""The My digits page's fine-tune: a model trained further on MNIST plus your drawings, through the job runner every
session shares (queued behind any training), watched live, then measured before and after."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.models import model_picker
from app_pages.shared.navigation import RUN_PARAM
from app_pages.shared.progress import job_progress
from app_pages.shared.text import plain
from mnist_core.statuses import ACTIVE, FAILED, STOPPED
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry

STATUS_REFRESH_S = 1.0
JOB_KEY = "mine.job"
DEFAULT_EPOCHS, MAX_EPOCHS = 2, 10


def finetune_form(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """Pick a model and epochs, press Fine-tune: the job goes to the shared runner (queued behind any training)."""
    problem = collection.finetune_problem()
    if problem:
        st.warning(plain(problem))
    trained, held = collection.split()
    st.caption(f"A fine-tune starts from the model's weights and trains its dense layers on {len(trained)} of your "
               f"drawings (repeated, slightly shifted and turned) mixed with a few thousand MNIST images; the "
               f"{len(held)} held-out drawings are never trained on and measure the result, with MNIST test.")
    base_id = model_picker(listing)
    epochs = st.number_input("Epochs", min_value=1, max_value=MAX_EPOCHS, value=DEFAULT_EPOCHS,
                             help="passes over the mix of MNIST images and your training drawings (repeated "
                                  "and slightly shifted and turned to make up a quarter of it)")
    if st.button("Fine-tune", type="primary", disabled=bool(problem) or base_id is None, icon=":material/tune:"):
        from mnist_core.jobs.finetune import finetune_request

        st.session_state[JOB_KEY] = job_runner(registry).submit(finetune_request(registry, base_id, int(epochs)))


FEW_HELD_OUT = 20  # below this many held-out drawings, one drawing moves the score by over 5 points: say so


def change(after: float, before: float, decimals: int) -> dict:
    """A metric's delta in percentage points from ``before``, coloured and with an arrow only when it is not zero at
    the precision shown (a green "↑ +0.0" would claim a gain that is not there)."""
    points = round((after - before) * 100, decimals)
    still = points == 0
    shown = f"±{0:.{decimals}f}" if still else f"{points:+.{decimals}f}"
    return {"delta": f"{shown} points from {before:.{decimals}%}", "delta_color": "off" if still else "normal",
            "delta_arrow": "off" if still else "auto"}


def before_after(record: RunRecord) -> None:
    """Accuracy on the held-out drawings and on MNIST test, before and after, with what the run came from."""
    figures = record.finetune or {}
    mine, test = st.columns(2)
    if figures.get("mine_accuracy_after") is None:
        mine.metric("My held-out digits", "none held out", border=True)
    else:
        mine.metric(f"My held-out digits ({figures['held_out']})", f"{figures['mine_accuracy_after']:.1%}",
                    **change(figures["mine_accuracy_after"], figures["mine_accuracy_before"], 1), border=True)
        if figures["held_out"] < FEW_HELD_OUT:
            mine.caption(f"Only {figures['held_out']} held-out drawings: one drawing is "
                         f"{100 / figures['held_out']:.0f} points, so read this score loosely; draw more digits "
                         "for a firmer one.")
    test.metric("MNIST test", f"{record.test_accuracy:.2%}",
                **change(record.test_accuracy, figures["test_accuracy_before"], 2), border=True)
    st.caption(plain(f"Saved as “{record.name}” (id {record.id}): {record.reason}; {record.seconds:.1f} s."))
    st.page_link("app_pages/draw/draw.py", label="Try it on the Draw page", icon=":material/draw:",
                 query_params={RUN_PARAM: record.id})


def request_stop(runner, job_id: int) -> None:
    """"Stop" callback: ask the runner to stop the fine-tune."""
    runner.stop(job_id)


def job_view(runner, job_id: int, was_active: bool) -> None:
    """The fine-tune's progress and Stop button while it runs; how it ended, and the figures, after."""
    view = runner.view(job_id)
    st.subheader(f"Fine-tune: {plain(view.name)}")
    if view.status in ACTIVE:
        job_progress(view)
        st.button("Stop", on_click=request_stop, args=(runner, job_id), icon=":material/stop:")
        return
    if view.status == FAILED:
        st.error(f"The fine-tune failed: {plain(view.reason)}")
    elif view.status == STOPPED:
        st.warning(f"Stopped: {plain(view.reason)}")
    else:
        st.success("Fine-tuned.")
    if view.record is not None and view.record.finetune:
        before_after(view.record)
    if was_active:
        st.rerun()  # redraw the page once (new run in the pickers) and stop refreshing


def finetune_view(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """The form, then the fine-tune this session started, live."""
    finetune_form(registry, collection, listing)
    job_id = st.session_state.get(JOB_KEY)
    if job_id is None:
        return
    runner = job_runner(registry)
    active = runner.view(job_id).status in ACTIVE
    st.fragment(job_view, run_every=STATUS_REFRESH_S if active else None)(runner, job_id, active)
