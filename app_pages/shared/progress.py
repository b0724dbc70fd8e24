"""How every page shows a job of the one job runner that has not ended: its place in line, or how far it is (a
training's epochs and speed, a task's own words). One way to report progress, whatever the page or the job."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.text import plain
from mnist_core.statuses import QUEUED
from mnist_core.training.progress import ProgressEvent, progress_label

STARTING = "Preparing the data and the model (the first job after the server starts may also wait a few seconds " \
           "for TensorFlow to load)…"
FINISHING = "Trained: now testing the model on the test set and saving it…"


def job_progress(view, label: str = "", queued: str = "Queued") -> None:
    """The queue place or progress bar of ``view`` (a job not ended), its text led by ``label`` when given."""
    lead = f"{plain(label)}: " if label else ""  # a label may name a run: shown as typed
    event = view.latest
    if view.status == QUEUED:
        st.info(f"{lead}{queued}: position {view.queue_position} in line")
    elif event is None:
        st.progress(0.0, text=lead + STARTING)
    elif not isinstance(event, ProgressEvent):  # a task's (fraction, message)
        st.progress(event.fraction_done, text=f"{lead}{plain(event.message)} ({view.seconds or 0:.0f} s)")
    elif event.fraction_done >= 1:
        st.progress(1.0, text=lead + FINISHING)
    else:
        st.progress(event.fraction_done, text=lead + progress_label(event.epoch, event.epochs, event.samples_per_s,
                                                                     event.eta))
