"""What training reports while it goes: one progress event per batch or epoch, the history of rows that the live
view shows and the saved run keeps. Free of TensorFlow, so that pages and the job runner can hold them cheaply."""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass


@dataclass
class ProgressEvent:
    """One report from training: ``kind`` is "batch" or "epoch"; metrics are plain floats."""

    kind: str
    epoch: int  # 1-based
    epochs: int
    step: int  # batches done in this epoch
    steps_per_epoch: int
    metrics: dict
    samples_per_s: float
    elapsed: float
    eta: float

    @property
    def fraction_done(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.steps_per_epoch + self.step) / (self.epochs * self.steps_per_epoch))

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class TaskProgress:
    """A report from a job that computes a value (``jobs.task_request``): how far it is and what it is doing."""

    fraction_done: float
    message: str


class History:
    """The one record of a run's progress, per batch and per epoch: training appends to it, the live view and the
    saved run read it, so what was shown and what is saved are the same rows. Safe to read from any thread."""

    def __init__(self, epochs: list[dict] | None = None, batches: list[dict] | None = None):
        self.lock = threading.Lock()
        self.epochs, self.batches = list(epochs or []), list(batches or [])

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epochs)}, batches={len(self.batches)})"

    def start_after(self, epochs: list[dict], batches: list[dict]) -> None:
        """Put the rows of the epochs done before (a resumed run) ahead of the rows to come."""
        with self.lock:
            self.epochs[:0], self.batches[:0] = epochs, batches

    def add_batch(self, row: dict) -> None:
        """A batch's row, in step order (Keras may report batches a little out of order)."""
        with self.lock:
            bisect.insort(self.batches, row, key=lambda kept: kept["step"])

    def add_epoch(self, row: dict) -> None:
        with self.lock:
            self.epochs.append(row)

    def add_event(self, event: ProgressEvent) -> None:
        """The row a progress event tells of, for training loops that report through events only."""
        if event.kind == "batch":
            self.add_batch({"step": (event.epoch - 1) * event.steps_per_epoch + event.step, "epoch": event.epoch,
                            **event.metrics})
        else:
            self.add_epoch({"epoch": event.epoch, **event.metrics})

    def snapshot(self) -> tuple[list[dict], list[dict]]:
        """Copies of the epoch rows and the batch rows as they are now."""
        with self.lock:
            return list(self.epochs), list(self.batches)


def progress_label(epoch: int, epochs: int, samples_per_s: float, eta: float) -> str:
    """One line about a run in progress, e.g. ``Epoch 2/5 · 1,234 samples/s · ETA 12 s``."""
    eta_text = "ETA …" if not math.isfinite(eta) else f"ETA {format_seconds(eta)}"
    return f"Epoch {epoch}/{epochs} · {samples_per_s:,.0f} samples/s · {eta_text}"


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
