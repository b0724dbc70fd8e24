"""One run end to end: prepare the data, train with a checkpoint at each epoch end, test, save; and the resumption
of a run whose process died. This is where the job runner and the CLI meet TensorFlow."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import keras

from mnist_core.data.mnist import MnistData, fingerprint
from mnist_core.jobs.requests import RunRequest, resume_request
from mnist_core.model.architectures import SpecError, check_fits_machine, count_params
from mnist_core.model.config import ConfigError
from mnist_core.model.evaluation import evaluate
from mnist_core.model.precision import with_resolved_precision
from mnist_core.statuses import FAILED
from mnist_core.store.partial_runs import PartialRun
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import Registry
from mnist_core.training.board import RunBoard, write_test_metrics
from mnist_core.training.loop import PreparedData, TrainResult, prepare_data, train
from mnist_core.training.progress import History, ProgressEvent


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


class WorkFolderCheckpoint(keras.callbacks.Callback):
    """Saves the model, its optimizer state and the history at each epoch end into the run's work folder, so a run
    whose process dies loses at most the epoch under way; an epoch cut short (stop, divergence) is not saved."""

    def __init__(self, partial: PartialRun, history: History):
        super().__init__()
        self.partial, self.history = partial, history
        self.seconds_before = partial.values["seconds"]
        self.started = 0.0

    def restore(self, model) -> int:
        """Load the last checkpoint (weights and optimizer state, so the step count and the learning-rate schedule
        go on where they were) into the compiled ``model``; the number of epochs already done."""
        path = self.partial.checkpoint_path
        if path is None:
            return 0
        try:
            model.load_weights(path)
        except Exception as error:  # Keras and h5py raise many types for a damaged file; all mean "cannot resume"
            raise RegistryError(f"run {self.partial.run_id!r} cannot be resumed: its checkpoint {path.name} is "
                                f"damaged ({type(error).__name__}: {str(error)[:200]}).") from None
        return self.partial.epochs_done

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training:  # set by a stop request or the divergence guard during the epoch
            epochs, batches = self.history.snapshot()
            self.partial.save_epoch(self.model, epochs, batches,
                                    self.seconds_before + time.perf_counter() - self.started)


def finish_run(result: TrainResult, record: RunRecord, prepared: PreparedData, registry: Registry,
               board: Path, run_id: str | None = None) -> RunRecord:
    """The step that ends every run (a training, a resume, a fine-tune, a sweep trial): test the model unless
    training failed, fill ``record`` with what training produced and save it with its test predictions (so Errors
    opens it without predicting again) and its TensorBoard events from ``board`` (``RunBoard``'s folder), the test
    figures added."""
    predictions = None
    if result.status != FAILED:
        evaluation = evaluate(result.model, prepared.x_test, prepared.y_test)
        record.test_accuracy, record.test_loss = evaluation.accuracy, evaluation.loss
        predictions = evaluation.probabilities, fingerprint(prepared.x_test, prepared.y_test)
        write_test_metrics(board, evaluation.accuracy, evaluation.loss, len(result.epochs))
    record.status, record.reason = result.status, record.reason or result.reason
    record.epochs, record.batches, record.seconds = result.epochs, result.batches, result.seconds
    record.params, record.data_fingerprint = int(result.model.count_params()), prepared.source
    return registry.save_run(result.model, record, run_id=run_id, test_predictions=predictions, board=board)


def complete_run(partial: PartialRun, request: RunRequest, prepared, registry: Registry,
                 on_event: Callable[[ProgressEvent], None] | None, stop_event: threading.Event | None,
                 history: History | None) -> RunRecord:
    """Train from the partial run's last checkpoint (or from the start), test, save under the partial run's id and
    remove its work folder. A network that cannot be built leaves nothing behind; any other failure (or this process
    dying) leaves the run interrupted, to be resumed."""
    history = history or History()
    history.start_after(partial.values["epochs"], partial.values["batches"])
    try:
        with closing(RunBoard(partial.board_dir)) as board:
            result = train(request.spec, request.config, prepared, on_event, stop_event, history,
                           WorkFolderCheckpoint(partial, history), callbacks=[board])
        record = RunRecord(id="", name=request.name, architecture=request.architecture, spec=request.spec,
                           config=request.config.to_dict(), status=result.status, created="")
        saved = finish_run(result, record, prepared, registry, partial.board_dir, run_id=partial.run_id)
    except (SpecError, ConfigError):
        partial.remove()  # it could never train
        raise
    except BaseException:
        partial.release()
        raise
    partial.remove()
    return saved
