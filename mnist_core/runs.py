"""One run end to end: prepare the data, train with a checkpoint at each epoch end, test, save; and the resumption
of a run whose process died. This is where the job runner and the CLI meet TensorFlow."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from .architectures import SpecError, check_fits_machine, count_params
from .config import ConfigError
from .data import MnistData, fingerprint
from .evaluation import evaluate
from .jobs import RunRequest, resume_request
from .precision import with_resolved_precision
from .progress import History, ProgressEvent
from .registry import PartialRun, Registry, RunRecord
from .statuses import FAILED
from .training import prepare_data, train


def execute_run(request: RunRequest, data: MnistData, registry: Registry,
                on_event: Callable[[ProgressEvent], None] | None = None,
                stop_event: threading.Event | None = None, history: History | None = None) -> RunRecord:
    """Train ``request`` on ``data``, measure it on the test set and save it (stopped and failed runs too). Until it
    is saved, the run is checkpointed at each epoch end in its work folder in the registry, so that if this process
    dies the run is listed as interrupted and can be resumed (``resume_run``); rows go to ``history`` as they come."""
    if request.resume_id is not None:
        return resume_run(request.resume_id, data, registry, on_event, stop_event, history)
    request = replace(request, config=with_resolved_precision(request.config))
    check_fits_machine(request.spec, request.config)  # refused before anything is written
    prepared = prepare_data(data, request.config)
    partial = registry.start_partial(request.name, request.architecture, request.spec, request.config.to_dict(),
                                     count_params(request.spec))
    return complete_run(partial, request, prepared, registry, on_event, stop_event, history)


def resume_run(run_id: str, data: MnistData, registry: Registry,
               on_event: Callable[[ProgressEvent], None] | None = None,
               stop_event: threading.Event | None = None, history: History | None = None) -> RunRecord:
    """Go on with an interrupted run after its last checkpointed epoch (same data, settings and step count), then
    test and save it like any run: its record holds every epoch, those before the interruption too."""
    partial = registry.claim_partial(run_id)
    try:
        request = resume_request(partial.as_record())
        check_fits_machine(request.spec, request.config)  # this machine may allow less than the one that started it
        prepared = prepare_data(data, request.config)
    except BaseException:
        partial.release()
        raise
    return complete_run(partial, request, prepared, registry, on_event, stop_event, history)


def complete_run(partial: PartialRun, request: RunRequest, prepared, registry: Registry,
                 on_event: Callable[[ProgressEvent], None] | None, stop_event: threading.Event | None,
                 history: History | None) -> RunRecord:
    """Train from the partial run's last checkpoint (or from the start), test, save under the partial run's id and
    remove its work folder. A network that cannot be built leaves nothing behind; any other failure (or this process
    dying) leaves the run interrupted, to be resumed."""
    history = history or History()
    history.start_after(partial.values["epochs"], partial.values["batches"])
    try:
        result = train(request.spec, request.config, prepared, on_event, stop_event, history, partial)
        accuracy = loss = predictions = None
        if result.status != FAILED:
            evaluation = evaluate(result.model, prepared.x_test, prepared.y_test)
            accuracy, loss = evaluation.accuracy, evaluation.loss
            predictions = evaluation.probabilities, fingerprint(prepared.x_test, prepared.y_test)
        record = RunRecord(
            id="", name=request.name, architecture=request.architecture, spec=request.spec,
            config=request.config.to_dict(), status=result.status, created="", reason=result.reason,
            params=count_params(request.spec), epochs=result.epochs, batches=result.batches,
            test_accuracy=accuracy, test_loss=loss, seconds=result.seconds)
        saved = registry.save_run(result.model, record, run_id=partial.run_id, test_predictions=predictions)
    except (SpecError, ConfigError):
        partial.remove()  # it could never train
        raise
    except BaseException:
        partial.release()
        raise
    partial.remove()
    return saved
