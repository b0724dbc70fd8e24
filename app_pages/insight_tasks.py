"""The pages' background tasks: long computations (t-SNE, the robustness sweep, a saliency map) run in threads shared by
every session, kept per server by what they compute, and their progress shown while they run."""

from __future__ import annotations

import streamlit as st

from mnist_core.background import BackgroundTask

PROGRESS_REFRESH_S = 1.0
MAX_TASKS = 32  # background results kept per server (oldest finished ones dropped first)


@st.cache_resource
def task_store() -> dict:
    """Background tasks of this server process by what they compute (the key names the model file version)."""
    return {}


def task_for(key: tuple, work, name: str) -> BackgroundTask:
    """The task computing ``key``: the one already started (running or done) or a new one running ``work``; a
    failed one is started again."""
    store = task_store()
    task = store.get(key)
    if task is None or (task.done and task.error is not None):
        finished = [old for old, kept in store.items() if kept.done]
        for old in finished[:max(0, len(store) + 1 - MAX_TASKS)]:
            del store[old]
        task = store[key] = BackgroundTask(work, name)
    return task


def show_progress(tasks: dict[str, BackgroundTask], was_running: bool) -> None:
    """A progress bar per running task (label → task); the whole page is redrawn once they have all ended."""
    for label, task in tasks.items():
        if not task.done:
            st.progress(task.progress, text=f"{label}: {task.message} ({task.elapsed:.0f} s)")
    if was_running and all(task.done for task in tasks.values()):
        st.rerun()


def wait_for(tasks: dict[str, BackgroundTask]) -> bool:
    """True when every task has ended; otherwise shows their progress, refreshed every second, and returns False."""
    running = not all(task.done for task in tasks.values())
    st.fragment(show_progress, run_every=PROGRESS_REFRESH_S if running else None)(tasks, running)
    return not running


def task_failed(task: BackgroundTask, what: str) -> bool:
    """True (after an error message) when ``task`` ended with an error."""
    if task.error is None:
        return False
    st.error(f"{what} failed: {task.error}. Change a setting or reload the page to try again.")
    return True
