"""One long computation (a t-SNE map, a robustness sweep) in its own thread, with progress a page can read from any
thread at any moment: ``BackgroundTask(work)`` where ``work(on_progress)`` returns the result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class BackgroundTask:
    """Runs ``work(on_progress)`` in a daemon thread at once; ``on_progress(fraction, text)`` updates what
    ``progress``, ``message`` show. When ``done``: ``result``, or ``error`` (the exception it raised)."""

    def __init__(self, work: Callable[[Callable[[float, str], None]], Any], name: str = "background task"):
        self.progress, self.message = 0.0, "starting"
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        state = "done" if self.done else f"{self.progress:.0%}"
        return f"BackgroundTask({self._thread.name!r}, {state})"

    def _report(self, fraction: float, text: str) -> None:
        self.progress, self.message = min(1.0, max(0.0, float(fraction))), text

    def _run(self, work) -> None:
        try:
            self.result = work(self._report)
        except Exception as error:  # kept for the page to show; a thread has nowhere else to report it
            self.error = error
        finally:
            self.seconds = time.monotonic() - self.started

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work ends (or ``timeout`` seconds pass); True when it has ended."""
        self._thread.join(timeout)
        return self.done
