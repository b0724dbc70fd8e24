"""The runner that trains submitted runs (``runs.py``) one at a time in a background thread, so a page never blocks on
``fit``; its jobs' live state can be read from any thread at any moment. Free of TensorFlow (``runs.py`` is imported
on the runner's thread), so that the pages that create a runner do not wait for that import."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mnist_core.data.mnist import MnistData
from mnist_core.errors import DigitLabError
from mnist_core.jobs.requests import LANES, Outcome, RunRequest
from mnist_core.statuses import ENDED, FAILED, FINISHED, QUEUED, RUNNING, STOPPED
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import Registry
from mnist_core.training.progress import History, ProgressEvent, TaskProgress

LIVE_JOBS_KEPT = 3  # ended jobs whose history stays in memory; older ones are read back from the registry
TASK_VALUES_KEPT = 32  # ended tasks whose value stays in memory; an older one is computed again when asked for


@dataclass
class Job:
    """One submitted run and everything known about it so far."""

    id: int
    request: RunRequest
    status: str = QUEUED
    reason: str = ""
    latest: ProgressEvent | TaskProgress | None = None
    history: History | None = field(default_factory=History)  # None once dropped: the saved record has it
    record: RunRecord | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    value: Any = None  # a task's result

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.request.name!r}, {self.status})"

    def brief(self) -> JobBrief:
        return JobBrief(self.id, self.request.name, self.status, self.request.resume_id, self.request.subject,
                        self.request.architecture)


class JobBrief(NamedTuple):
    """A job in a few words, for pickers and for noticing that a job's status changed."""

    id: int
    name: str
    status: str
    resume_id: str | None
    subject: tuple = ()
    architecture: str = ""


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state, safe to read while the job goes on training."""

    id: int
    name: str
    architecture: str
    status: str
    reason: str
    latest: ProgressEvent | TaskProgress | None
    batches: list
    epochs: list
    record: RunRecord | None
    queue_position: int | None  # 1 = next to start
    submitted: float
    started: float | None
    ended: float | None
    resume_id: str | None  # the interrupted run this job resumes
    value: Any = None  # what a task computed

    @property
    def seconds(self) -> float | None:
        """How long it has run (so far, or in all once ended); None before it starts."""
        return None if self.started is None else (self.ended or time.time()) - self.started


class JobRunner:
    """Trains submitted runs one at a time, in order, on a daemon thread; ``load_data`` is called there."""

    def __init__(self, registry: Registry, load_data: Callable[[], MnistData]):
        self.registry, self.load_data = registry, load_data
        self._jobs: dict[int, Job] = {}
        self._queues: dict[str, deque[int]] = {lane: deque() for lane in LANES}
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        for lane, thread_name in LANES.items():
            threading.Thread(target=self._work, args=(lane,), name=thread_name, daemon=True).start()

    def __repr__(self) -> str:
        with self._lock:
            return f"JobRunner(jobs={len(self._jobs)}, queued={sum(map(len, self._queues.values()))})"

    def same_request(self, request: RunRequest) -> JobBrief | None:
        """The queued or running job that trains what ``request`` asks for (names aside: a default name holds the
        time), if there is one."""
        unnamed = dataclasses.replace(request, name="")
        with self._lock:
            return next((job.brief() for job in self._jobs.values()
                         if job.status not in ENDED and dataclasses.replace(job.request, name="") == unnamed), None)

    def briefs(self) -> list[JobBrief]:
        """Every job's id, name, status and resumed run, newest first (cheap: no history is copied)."""
        with self._lock:
            return [self._jobs[job_id].brief() for job_id in sorted(self._jobs, reverse=True)]

    def submit(self, request: RunRequest) -> int:
        """Queue a run and return its job id at once."""
        with self._lock:
            return self._queue_job(request)

    def submit_once(self, request: RunRequest) -> int:
        """The job for ``request.subject`` that is queued, running, or finished with its value still kept; else a
        new one, queued. Checked and queued under one lock, so two sessions asking at once share one job."""
        with self._lock:
            for job in sorted(self._jobs.values(), key=lambda kept: kept.id, reverse=True):
                if job.request.subject == request.subject and (
                        job.status not in ENDED or job.status == FINISHED and job.value is not None):
                    return job.id
            return self._queue_job(request)

    def _queue_job(self, request: RunRequest) -> int:
        job = Job(next(self._ids), request)
        self._jobs[job.id] = job
        self._queues[request.lane].append(job.id)
        self._lock.notify_all()
        return job.id

    def stop(self, job_id: int) -> None:
        """Stop a running job after its current batch, or cancel a queued one."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status == QUEUED:
                self._queues[job.request.lane].remove(job_id)
                job.status, job.reason, job.ended = STOPPED, "cancelled before it started.", time.time()
            job.stop_event.set()

    def view(self, job_id: int) -> JobView:
        """The job as it is now, its fields read together under the lock (so an ended job is never seen with its
        old status and its new record); an older ended job's history is read back from its saved run."""
        with self._lock:
            job = self._jobs[job_id]
            queue = self._queues[job.request.lane]
            position = queue.index(job_id) + 1 if job_id in queue else None
            status, reason, latest, record, value = job.status, job.reason, job.latest, job.record, job.value
            history, started, ended = job.history, job.started, job.ended
        if history is not None:
            epochs, batches = history.snapshot()
        else:
            record = self.saved_record(record)
            epochs, batches = (record.epochs, record.batches) if record is not None else ([], [])
        return JobView(job.id, job.request.name, job.request.architecture, status, reason, latest, batches, epochs,
                       record, position, job.submitted, started, ended, job.request.resume_id, value)

    def saved_record(self, record: RunRecord | None) -> RunRecord | None:
        """``record`` as saved in the registry (None once it was deleted there)."""
        try:
            return None if record is None else self.registry.record(record.id)
        except RegistryError:
            return None

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

    def _finish(self, job: Job, outcome: Outcome) -> None:
        """End the job, and keep the live history of the last ``LIVE_JOBS_KEPT`` ended jobs only (the registry has
        the others' runs) and the values of the last ``TASK_VALUES_KEPT`` tasks, so a long-lived server does not
        grow."""
        with self._lock:
            job.status, job.reason, job.ended = outcome.status, outcome.reason, time.time()
            job.record, job.value = outcome.record, outcome.value
            ended = [kept for kept in self._jobs.values() if kept.status in ENDED and kept.history is not None]
            for old in sorted(ended, key=lambda kept: kept.id)[:-LIVE_JOBS_KEPT]:
                old.history = None
            valued = [kept for kept in self._jobs.values() if kept.value is not None]
            for old in sorted(valued, key=lambda kept: kept.id)[:-TASK_VALUES_KEPT]:
                old.value = None
            if outcome.again and not job.stop_event.is_set():
                self._queue_job(job.request)
            self._lock.notify_all()

    def _execute(self, job: Job):
        """Run the job with its execute function (``runs.execute_run`` unless the request names another): progress
        events go to the job, rows to the job's history, which the saved run keeps."""
        on_event = functools.partial(self._record_event, job)
        execute = job.request.execute
        if execute is None:
            from mnist_core.jobs.runs import (
                execute_run as execute,  # TensorFlow: the app has usually imported it (preload_engine)
            )
        return execute(job.request, self.load_data(), self.registry, on_event, job.stop_event, job.history)

    def _work(self, lane: str) -> None:
        queue = self._queues[lane]
        while True:
            with self._lock:
                while not queue:
                    self._lock.wait()
                job = self._jobs[queue.popleft()]
                job.status, job.started = RUNNING, time.time()
            try:
                result = self._execute(job)
            except DigitLabError as error:  # bad settings, an unusable data set or run, a full disk: its message
                self._finish(job, Outcome(FAILED, str(error)))
            except Exception as error:  # the worker must survive anything a run throws
                traceback.print_exc()
                self._finish(job, Outcome(FAILED, f"unexpected error: {type(error).__name__}: {error}"))
            else:
                self._finish(job, result if isinstance(result, Outcome) else Outcome(result.status, result.reason,
                                                                                     result))
