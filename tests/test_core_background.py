"""A background task really runs in another thread, reports progress, and keeps its result or its error."""

import threading

import pytest

from mnist_core.background import BackgroundTask


def test_result_progress_and_thread():
    release = threading.Event()
    seen = {}

    def work(report):
        seen["thread"] = threading.current_thread()
        report(0.5, "half way")
        release.wait(10)
        return 42

    task = BackgroundTask(work, "answer")
    for _ in range(200):
        if task.progress == 0.5:
            break
        release.wait(0.01)
    assert not task.done and task.message == "half way" and task.progress == 0.5
    release.set()
    assert task.wait(10) and task.result == 42 and task.error is None
    assert seen["thread"] is not threading.current_thread() and task.seconds >= 0


def test_an_error_is_kept_for_the_page():
    def work(report):
        report(2.0, "clipped")
        raise ValueError("bad input")

    task = BackgroundTask(work)
    assert task.wait(10)
    assert isinstance(task.error, ValueError) and task.result is None and task.progress == 1.0
    with pytest.raises(ValueError):
        raise task.error
