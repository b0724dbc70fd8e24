"""How a job of the job runner ended, in the live panel: its status and reason, the saved run's test figures (a
fine-tune's before and after), where it was saved and the pages to take it to."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.navigation import RUN_PARAM
from app_pages.shared.text import plain
from mnist_core.statuses import FINISHED, STOPPED
from mnist_core.store.records import RunRecord

NOTHING_SAVED = "Nothing was saved: the run did not get as far as training."
FEW_HELD_OUT = 20  # below this many held-out drawings, one drawing moves the score by over 5 points: say so


def job_outcome(view, failed: str = "Failed") -> None:
    """How the job ended (``failed`` leads a failure's reason), then the run it saved: test figures, name, id, time,
    and links to compare it, see its mistakes and try it."""
    if view.status == FINISHED:
        st.success(f"Finished: {plain(view.reason)}")
    elif view.status == STOPPED:
        st.warning(f"Stopped: {plain(view.reason)}")
    else:
        st.error(f"{failed}: {plain(view.reason)}")
    record = view.record
    if record is None:
        st.caption(NOTHING_SAVED)
        return
    if record.finetune:
        before_after(record)
    elif record.test_accuracy is not None:
        accuracy, loss = st.columns(2)
        accuracy.metric("Test accuracy", f"{record.test_accuracy:.2%}", border=True)
        loss.metric("Test loss", f"{record.test_loss:.4f}", border=True)
    st.caption(plain(f"Saved to the registry as “{record.name}” (id {record.id}), {record.seconds:.1f} s of "
                     "training."))
    st.page_link("app_pages/models/models.py", label="Compare it on the Models page", icon=":material/inventory_2:")
    st.page_link("app_pages/errors/errors.py", label="See its mistakes on the Errors page",
                 icon=":material/error_outline:", query_params={RUN_PARAM: record.id})
    st.page_link("app_pages/draw/draw.py", label="Try it on the Draw page", icon=":material/draw:",
                 query_params={RUN_PARAM: record.id})


def change(after: float, before: float, decimals: int) -> dict:
    """A metric's delta in percentage points from ``before``, coloured and with an arrow only when it is not zero at
    the precision shown (a green "↑ +0.0" would claim a gain that is not there)."""
    points = round((after - before) * 100, decimals)
    still = points == 0
    shown = f"±{0:.{decimals}f}" if still else f"{points:+.{decimals}f}"
    return {"delta": f"{shown} points from {before:.{decimals}%}", "delta_color": "off" if still else "normal",
            "delta_arrow": "off" if still else "auto"}


def before_after(record: RunRecord) -> None:
    """A fine-tune's accuracy on the held-out drawings and on MNIST test, before and after."""
    figures = record.finetune
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
