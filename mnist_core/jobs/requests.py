"""What a job is: a run to train (``RunRequest``), how a job of its own kind ends (``Outcome``), and the tasks that
compute a value instead (``task_request``). No TensorFlow, so pages build requests cheaply; the runner
(``runner``) and the trainings (``runs``) both use these, and neither imports the other's module for them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from mnist_core.model.config import TrainConfig
from mnist_core.statuses import FINISHED
from mnist_core.store.records import RunRecord
from mnist_core.training.progress import TaskProgress

TASK = "task"  # the architecture of a job that computes a value instead of training a run (``task_request``)
TRAINING, LIGHT = "training", "light"
LANES = {TRAINING: "digit-lab-trainer", LIGHT: "digit-lab-light"}  # each lane's queue and its one worker thread


@dataclass(frozen=True)
class RunRequest:
    """What to train: a display name, the architecture's name (a preset or "custom"), its spec and settings; or, with
    ``execute``, a job of its own kind (a fine-tune, a sweep's trial) that trains through the same queue."""

    name: str
    architecture: str
    spec: list
    config: TrainConfig | None
    execute: Callable | None = None  # runs the job instead of runs.execute_run, same arguments (e.g. a fine-tune)
    resume_id: str | None = None  # an interrupted run to go on with (see ``resume_request``)
    subject: tuple = ()  # what a job of its own kind works on, to find it again (e.g. ("sweep", storage, name))
    lane: str = TRAINING  # TRAINING: one at a time, in order; LIGHT: small tasks that may run beside a training


class Outcome(NamedTuple):
    """How a job of its own kind ended, when it is not simply a saved run: its status, why, the run it saved if
    any, and whether the same request goes to the back of the queue again (a sweep with trials left)."""

    status: str
    reason: str
    record: RunRecord | None = None
    again: bool = False
    value: Any = None  # what a task computed (a map, a table), kept by the runner for the pages


def resume_request(interrupted: RunRecord) -> RunRequest:
    """A request to resume an interrupted run (as ``Registry.list_interrupted`` lists it), with its own settings."""
    return RunRequest(interrupted.name, interrupted.architecture, interrupted.spec,
                      TrainConfig.from_dict(interrupted.config), resume_id=interrupted.id)


def task_request(name: str, subject: tuple, work: Callable[[Callable[[float, str], None]], Any],
                 light: bool = False) -> RunRequest:
    """A job that computes a value instead of training a run: ``work(report)`` returns it, and ``report(fraction,
    text)`` tells its progress; ``JobRunner.submit_once`` finds it again by ``subject``. Queued with the trainings (a
    t-SNE map, a robustness sweep: they would take the CPU a training needs), or, when ``light`` (one image's
    saliency map: milliseconds), in the light lane, which runs beside a training."""
    return RunRequest(name, TASK, [], None, execute=functools.partial(execute_task, work), subject=subject,
                      lane=LIGHT if light else TRAINING)


def execute_task(work, request: RunRequest, data, registry, on_event, stop_event, history) -> Outcome:
    """Run a task's ``work``, its progress reported as ``TaskProgress`` events."""
    value = work(lambda fraction, text: on_event(TaskProgress(min(1.0, max(0.0, float(fraction))), text)))
    return Outcome(FINISHED, "done", value=value)
