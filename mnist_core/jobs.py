"""Runs end to end (prepare data, train, test, save) and a runner that trains them one at a time in a background
thread, so a page never blocks on ``fit``; its jobs' live state can be read from any thread at any moment."""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .architectures import SpecError, count_params
from .config import ConfigError, TrainConfig
from .data import DataSetError, MnistData
from .evaluation import evaluate
from .registry import Registry, RegistryError, RunRecord
from .training import FAILED, ProgressEvent, prepare_data, train

QUEUED, RUNNING = "queued", "running"
FINISHED, STOPPED = "finished", "stopped"
ENDED = {FINISHED, STOPPED, FAILED}


@dataclass(frozen=True)
class RunRequest:
    """What to train: a display name, the architecture's name (a preset or "custom"), its spec and settings."""

    name: str
    architecture: str
    spec: list
    config: TrainConfig
    execute: Callable | None = None  # runs the job instead of execute_run, same arguments (e.g. a fine-tune)


def execute_run(request: RunRequest, data: MnistData, registry: Registry,
                on_event: Callable[[ProgressEvent], None] | None = None,
                stop_event: threading.Event | None = None) -> RunRecord:
    """Train ``request`` on ``data``, measure it on the test set and save it (stopped and failed runs too)."""
    prepared = prepare_data(data, request.config)
    result = train(request.spec, request.config, prepared, on_event, stop_event)
    accuracy = loss = None
    if result.status != FAILED:
        evaluation = evaluate(result.model, prepared.x_test, prepared.y_test)
        accuracy, loss = evaluation.accuracy, evaluation.loss
    record = RunRecord(
        id="", name=request.name, architecture=request.architecture, spec=request.spec,
        config=request.config.to_dict(), status=result.status, created="", reason=result.reason,
        params=count_params(request.spec), epochs=result.epochs, batches=result.batches,
        test_accuracy=accuracy, test_loss=loss, seconds=result.seconds)
    return registry.save_run(result.model, record)


@dataclass
class Job:
    """One submitted run and everything known about it so far."""

    id: int
    request: RunRequest
    status: str = QUEUED
    reason: str = ""
    latest: ProgressEvent | None = None
    batches: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    record: RunRecord | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.request.name!r}, {self.status})"


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state, safe to read while the job goes on training."""

    id: int
    name: str
    architecture: str
    status: str
    reason: str
    latest: ProgressEvent | None
    batches: list
    epochs: list
    record: RunRecord | None
    queue_position: int | None  # 1 = next to start
    submitted: float
    started: float | None
    ended: float | None


class JobRunner:
    """Trains submitted runs one at a time, in order, on a daemon thread; ``load_data`` is called there."""

    def __init__(self, registry: Registry, load_data: Callable[[], MnistData]):
        self.registry, self.load_data = registry, load_data
        self._jobs: dict[int, Job] = {}
        self._queue: deque[int] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._worker = threading.Thread(target=self._work, name="digit-lab-trainer", daemon=True)
        self._worker.start()

    def __repr__(self) -> str:
        with self._lock:
            return f"JobRunner(jobs={len(self._jobs)}, queued={len(self._queue)})"

    def submit(self, request: RunRequest) -> int:
        """Queue a run and return its job id at once."""
        with self._lock:
            job = Job(next(self._ids), request)
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._lock.notify_all()
            return job.id

    def stop(self, job_id: int) -> None:
        """Stop a running job after its current batch, or cancel a queued one."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status == QUEUED:
                self._queue.remove(job_id)
                job.status, job.reason, job.ended = STOPPED, "cancelled before it started.", time.time()
            job.stop_event.set()

    def view(self, job_id: int) -> JobView:
        with self._lock:
            job = self._jobs[job_id]
            position = self._queue.index(job_id) + 1 if job_id in self._queue else None
            return JobView(job.id, job.request.name, job.request.architecture, job.status, job.reason, job.latest,
                           list(job.batches), list(job.epochs), job.record, position, job.submitted, job.started,
                           job.ended)

    def views(self) -> list[JobView]:
        """Every job, newest first."""
        with self._lock:
            ids = sorted(self._jobs, reverse=True)
        return [self.view(job_id) for job_id in ids]

    def wait(self, job_id: int, timeout: float | None = None) -> JobView:
        """Block until the job has ended (for the CLI and tests), or until ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._jobs[job_id].status not in ENDED:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._lock.wait(remaining)
        return self.view(job_id)

    # --- worker -------------------------------------------------------------------------------------------------

    def _record_event(self, job: Job, event: ProgressEvent) -> None:
        with self._lock:
            job.latest = event
            if event.kind == "batch":
                job.batches.append({"step": (event.epoch - 1) * event.steps_per_epoch + event.step,
                                    "epoch": event.epoch, **event.metrics})
            else:
                job.epochs.append({"epoch": event.epoch, **event.metrics})

    def _finish(self, job: Job, status: str, reason: str, record: RunRecord | None = None) -> None:
        with self._lock:
            job.status, job.reason, job.record, job.ended = status, reason, record, time.time()
            self._lock.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._lock.wait()
                job = self._jobs[self._queue.popleft()]
                job.status, job.started = RUNNING, time.time()
            try:
                record = (job.request.execute or execute_run)(job.request, self.load_data(), self.registry,
                                                              lambda event: self._record_event(job, event),
                                                              job.stop_event)
            except (ConfigError, SpecError, DataSetError, RegistryError) as error:
                self._finish(job, FAILED, str(error))
            except Exception as error:  # the worker must survive anything a run throws
                traceback.print_exc()
                self._finish(job, FAILED, f"unexpected error: {type(error).__name__}: {error}")
            else:
                self._finish(job, record.status, record.reason, record)
