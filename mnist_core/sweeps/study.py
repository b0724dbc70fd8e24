"""Sweeps: hyperparameter search with Optuna over a search space (``search_spaces``), each trial trained by the
project's ``train`` and, when it completes, saved as a run in the registry.

A study lives in an Optuna RDB storage: by default an SQLite file in the registry folder; a PostgreSQL URL lets
workers on many machines work on the same study. ``create_sweep`` queues the study's N trials up front (Optuna
"waiting" trials) and every worker claims one at a time with the storage's atomic state change, so the total is
exactly N however many workers there are, and two workers never run the same trial. Running trials send Optuna
heartbeats; a trial whose worker died is failed by the next worker that looks (``fail_stale_trials``) and queued
again with the same parameters (``RetryHeartbeatStaleTrialCallback``); a run saved by a trial that then failed
is removed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import socket
import sqlite3
import threading
import warnings
from collections.abc import Callable
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, _CachedStorage, fail_stale_trials
from optuna.storages._rdb.models import (
    StudyModel,
    TrialIntermediateValueModel,
    TrialModel,
    TrialParamModel,
    TrialSystemAttributeModel,
    TrialUserAttributeModel,
    TrialValueModel,
)
from optuna.trial import TrialState
from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mnist_core.errors import DigitLabError
from mnist_core.jobs.requests import Outcome, RunRequest
from mnist_core.model.precision import with_resolved_precision
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import Registry
from mnist_core.sweeps.spaces import check_space, suggest

STORAGE_ENV = "DIGIT_LAB_SWEEP_STORAGE"
PAGE_STORAGES_ENV = "DIGIT_LAB_SWEEP_STORAGES"  # other storage URLs (space-separated) the Sweeps page may open
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")  # a new study file the Sweeps page may create
SQLITE_MAGIC = b"SQLite format 3\x00"
OPTUNA_TABLES = {"studies", "trials", "version_info"}
PAGE_STORAGE_REFUSED = ("this storage cannot be used here: type a new sweep file (sqlite:///folder/name.db), an "
                        "existing sweep database, or a storage URL this server's owner listed in "
                        f"${PAGE_STORAGES_ENV}.")
SQLITE_FILE = "sweeps.db"
HEARTBEAT_S = 2  # a running trial tells the storage it is alive this often ...
GRACE_S = 8  # ... and is failed (then retried) when it has been silent this long
MAX_RETRIES = 2  # a trial whose worker died is tried again at most this often
PRUNE_AFTER_TRIALS = 2  # the median pruner stops trials only once this many have completed
IDLE_POLL_S = 1.0  # how often a worker with nothing to claim looks again while others' trials are running
SQLITE_BUSY_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10
SPACE_ATTR, TRIALS_ATTR = "space", "trials"
RUN_ATTR, WORKER_ATTR, REASON_ATTR = "run_id", "worker", "reason"
optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # before RETRY, which is one
RETRY = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)  # queues a failed trial again, same parameters


class SweepError(DigitLabError):
    """A sweep that cannot be created, found or worked on (bad name, unreachable storage, ...); says why."""


STORAGE_ERRORS = (SweepError, SQLAlchemyError, optuna.exceptions.StorageInternalError)  # reading or writing a study
# can raise these: a message, not a bug


def storage_message(error: BaseException) -> str:
    """One line for a storage failure: for Optuna's generic "exception during the commit", the database's own reason
    (a read-only file, a full disk)."""
    cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else None
    reason = getattr(cause, "orig", None) or cause
    text = f"the sweep storage refused a change ({reason})" if reason is not None else str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:300]


class TrialDiverged(Exception):
    """Training ended with a non-finite loss: the trial fails (and is not retried: same settings, same result)."""


# --- storage ----------------------------------------------------------------------------------------------------


def default_storage_url(registry: Registry) -> str:
    """``$DIGIT_LAB_SWEEP_STORAGE``, else an SQLite file in the registry folder."""
    return os.environ.get(STORAGE_ENV) or f"sqlite:///{registry.root / SQLITE_FILE}"


def redacted(url: str) -> str:
    """The URL with any password hidden, for messages and pages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # a URL that does not parse, a port that is not a number
        return "(not a database URL)"


def is_optuna_file(path: Path) -> bool:
    """Whether ``path`` is an SQLite database with Optuna's tables, read without changing a byte of it."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return False
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except (OSError, sqlite3.Error):
        return False
    return OPTUNA_TABLES <= tables


def page_storage(url: str, registry: Registry) -> str:
    """The storage a visitor of the Sweeps page typed, if the page may open it: the default, one the server's owner
    listed in ``$DIGIT_LAB_SWEEP_STORAGES``, a new ``.db`` file in an existing folder, or an existing Optuna
    database file (never any other file, which SQLite would turn into a database, and never a network address of the
    visitor's choosing). Otherwise ``SweepError`` with one message, whatever the reason (no probing of files or
    ports)."""
    url = url.strip()
    if url == default_storage_url(registry) or url in os.environ.get(PAGE_STORAGES_ENV, "").split():
        return url
    prefix = "sqlite:///"
    path = Path(url[len(prefix):]) if url.startswith(prefix) and "?" not in url else None
    if path is None or path.is_symlink():
        raise SweepError(PAGE_STORAGE_REFUSED)
    if path.exists() and path.is_file() and is_optuna_file(path):
        return url
    if not path.exists() and path.suffix in SQLITE_SUFFIXES and path.parent.is_dir():
        return url
    raise SweepError(PAGE_STORAGE_REFUSED)


def local_time(utc: datetime | None) -> datetime | None:
    """A naive UTC time as stored by Optuna's RDB storage, as the naive local time Optuna's own reading gives."""
    return None if utc is None else utc.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


@functools.lru_cache(maxsize=1024)
def stored_distribution(text: str) -> optuna.distributions.BaseDistribution:
    """A parameter's distribution from its stored JSON, parsed once per distinct text (every trial of a space
    stores the same few)."""
    return optuna.distributions.json_to_distribution(text)


class SweepBackend(RDBStorage):
    """Optuna's RDB storage, reading a study's trials with one plain query per table (trials, parameters, values,
    attributes, intermediate values) instead of Optuna's ORM objects: the same ``FrozenTrial``s, several times
    faster for a study of thousands of trials (``bench/bench_scale.py``)."""

    def _get_trials(self, study_id: int, states, included_trial_ids: set[int],
                    trial_id_greater_than: int) -> list[optuna.trial.FrozenTrial]:
        """The study's trials in ``states`` (all when None) that are in ``included_trial_ids`` or numbered by id
        above ``trial_id_greater_than`` (all when -1), in id order: what Optuna's own ``_get_trials`` returns."""
        included = {trial_id for trial_id in included_trial_ids if trial_id <= trial_id_greater_than}
        wanted = [TrialModel.study_id == study_id]
        if states is not None:
            wanted.append(TrialModel.state.in_(list(states)))
        if trial_id_greater_than > -1:  # a range, not a list of thousands of ids; the few extra are left out below
            wanted.append(TrialModel.trial_id >= min(included, default=trial_id_greater_than + 1))
        with Session(self.engine) as session:
            StudyModel.find_or_raise_by_id(study_id, session)

            def by_trial(*columns) -> dict[int, list]:
                """Rows of a table of the wanted trials (its first column the trial id), grouped by trial."""
                table = columns[0].class_
                grouped: dict[int, list] = {}
                for row in session.execute(select(*columns).join(TrialModel, table.trial_id == TrialModel.trial_id)
                                           .where(*wanted)):
                    grouped.setdefault(row[0], []).append(row)
                return grouped

            trials = session.execute(select(TrialModel.trial_id, TrialModel.number, TrialModel.state,
                                            TrialModel._datetime_start_utc, TrialModel._datetime_complete_utc)
                                     .where(*wanted).order_by(TrialModel.trial_id)).all()
            params = by_trial(TrialParamModel.trial_id, TrialParamModel.param_id, TrialParamModel.param_name,
                              TrialParamModel.param_value, TrialParamModel.distribution_json)
            values = by_trial(TrialValueModel.trial_id, TrialValueModel.objective, TrialValueModel.value,
                              TrialValueModel.value_type)
            user_attrs = by_trial(TrialUserAttributeModel.trial_id, TrialUserAttributeModel.key,
                                  TrialUserAttributeModel.value_json)
            system_attrs = by_trial(TrialSystemAttributeModel.trial_id, TrialSystemAttributeModel.key,
                                    TrialSystemAttributeModel.value_json)
            steps = by_trial(TrialIntermediateValueModel.trial_id, TrialIntermediateValueModel.step,
                             TrialIntermediateValueModel.intermediate_value,
                             TrialIntermediateValueModel.intermediate_value_type)
        frozen = []
        for trial_id, number, state, started, completed in trials:
            if trial_id_greater_than > -1 and trial_id <= trial_id_greater_than and trial_id not in included:
                continue
            objectives = values.get(trial_id, [])
            trial_values = [0.0] * len(objectives) or None
            for _, objective, value, value_type in objectives:
                trial_values[objective] = TrialValueModel.stored_repr_to_value(value, value_type)
            trial_params = sorted(params.get(trial_id, []), key=lambda row: row.param_id)
            distributions = {row.param_name: stored_distribution(row.distribution_json) for row in trial_params}
            frozen.append(optuna.trial.FrozenTrial(
                number=number, state=state, value=None, values=trial_values, datetime_start=local_time(started),
                datetime_complete=local_time(completed),
                params={row.param_name: distributions[row.param_name].to_external_repr(row.param_value)
                        for row in trial_params},
                distributions=distributions,
                user_attrs={row.key: json.loads(row.value_json) for row in user_attrs.get(trial_id, [])},
                system_attrs={row.key: json.loads(row.value_json) for row in system_attrs.get(trial_id, [])},
                intermediate_values={row.step: TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                    row.intermediate_value, row.intermediate_value_type) for row in steps.get(trial_id, [])},
                trial_id=trial_id))
        return frozen


class SweepStorage(_CachedStorage):
    """Optuna's RDB storage behind Optuna's own cache of trials, kept for as long as this object lives, and a stamp
    of each study's trials that says when they last changed. Optuna wraps every ``RDBStorage`` it is given in a fresh
    ``_CachedStorage`` per study object, so each ``load_study`` read every trial again (2,000 trials: seconds); and
    its cache reads every unfinished trial again on each look (10,000 waiting trials: seconds per look). Through this
    one a study's trials are read only when its stamp changed, and then only the new and unfinished ones."""

    def __init__(self, backend: SweepBackend):
        super().__init__(backend)
        self.kept: dict[int, tuple[tuple, list]] = {}  # study id → (stamp, its trials when the stamp was taken)

    @property
    def url(self) -> str:
        return self._backend.url

    @property
    def backend(self) -> SweepBackend:
        return self._backend

    def stamp(self, study_id: int) -> tuple:
        """What changes whenever any of the study's trials does, from two small queries: how many trials are in
        each state (a trial only moves forward: waiting, running, finished), and how many parameters, intermediate
        values and attributes the running ones have (a finished trial never changes again)."""
        running = select(TrialModel.trial_id).where(TrialModel.study_id == study_id,
                                                    TrialModel.state == TrialState.RUNNING)
        attached = [select(func.count()).select_from(model).where(model.trial_id.in_(running)).scalar_subquery()
                    for model in (TrialParamModel, TrialIntermediateValueModel, TrialUserAttributeModel)]
        with Session(self._backend.engine) as session:
            states = session.execute(select(TrialModel.state, func.count()).where(TrialModel.study_id == study_id)
                                     .group_by(TrialModel.state)).all()
            return tuple(sorted((state.name, count) for state, count in states)), *session.execute(
                select(*attached)).one()

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states=None) -> list:
        stamp = self.stamp(study_id)
        kept = self.kept.get(study_id)
        if kept is None or kept[0] != stamp:
            kept = (stamp, super().get_all_trials(study_id, deepcopy=False))
            self.kept[study_id] = kept
        trials = kept[1] if states is None else [trial for trial in kept[1] if trial.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def kept_stamp(self, study_id: int) -> tuple | None:
        """The stamp of the study's trials as last read (what a result drawn from them can be kept under)."""
        return self.kept.get(study_id, (None,))[0]


def open_storage(url: str) -> SweepStorage:
    """Optuna's RDB storage at ``url`` with heartbeats and retry of trials whose worker died, behind the cache of
    trials; ``SweepError`` with a clear message when the URL is wrong or the server cannot be reached."""
    connect_args = ({"timeout": SQLITE_BUSY_TIMEOUT_S} if url.startswith("sqlite") else
                    {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {})
    try:
        return SweepStorage(SweepBackend(url, engine_kwargs={"connect_args": connect_args},
                                       heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                       heartbeat_stale_trial_callback=RETRY))
    except (SQLAlchemyError, ImportError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SweepError(f"cannot open the sweep storage {redacted(url)}: {first_line[:300]}") from None


def pruner() -> optuna.pruners.BasePruner:
    """Stop a trial whose validation accuracy after an epoch is below the median of earlier trials' at that epoch,
    once two trials have finished (the pruner is not stored with a study: every worker makes its own)."""
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS)


def load_study(name: str, storage: SweepStorage) -> optuna.Study:
    try:
        return optuna.load_study(study_name=name, storage=storage, pruner=pruner())
    except KeyError:
        raise SweepError(f"no sweep named {name!r} in {redacted(storage.url)} "
                         "(see `python -m mnist_core sweep list`).") from None


# --- creating and reading ---------------------------------------------------------------------------------------


def create_sweep(name: str, space: dict, trials: int, storage: SweepStorage, queue: bool = True) -> optuna.Study:
    """A new study maximising validation accuracy, with its space and ``trials`` waiting trials stored in it
    (``queue=False``: none queued, for a study whose trials are added otherwise, as the scale bench does)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise SweepError("a sweep needs a name of 1 to 120 characters.")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 10_000:
        raise SweepError(f"the number of trials must be a whole number from 1 to 10000, got {trials!r}.")
    check_space(space)
    try:
        study = optuna.create_study(study_name=name.strip(), storage=storage, direction="maximize",
                                    pruner=pruner())
    except optuna.exceptions.DuplicatedStudyError:
        raise SweepError(f"a sweep named {name.strip()!r} already exists in {redacted(storage.url)}.") from None
    study.set_user_attr(SPACE_ATTR, space)
    study.set_user_attr(TRIALS_ATTR, trials)
    if queue:
        queue_waiting_trials(storage, study._study_id, trials)
    return study


def queue_waiting_trials(storage: SweepStorage, study_id: int, count: int) -> None:
    """Add ``count`` waiting trials to the study in one transaction. ``study.enqueue_trial({})`` takes one transaction
    per trial, each counting the trials before it to number the new one (time growing faster than the count; see
    ``bench/bench_scale.py``). The rows are Optuna's own (its tables, the study locked as Optuna locks it to number
    trials), without the empty ``fixed_params`` attribute ``enqueue_trial`` adds: a claimed trial samples every
    parameter either way."""
    with Session(storage.backend.engine) as session, session.begin():
        StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
        first = session.query(func.count(TrialModel.trial_id)).filter(TrialModel.study_id == study_id).scalar()
        session.execute(insert(TrialModel), [{"study_id": study_id, "number": first + index,
                                              "state": TrialState.WAITING} for index in range(count)])


@dataclass(frozen=True)
class TrialRow:
    """One trial as the CLI and the page show it."""

    number: int
    state: str
    params: dict
    value: float | None
    run_id: str | None
    seconds: float | None
    worker: str | None
    reason: str | None
    retry_of: int | None
    best: bool = False

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def trial_rows(study: optuna.Study, trials: list | None = None) -> list[TrialRow]:
    """Every trial in order (``trials``: the study's, read already), the best completed one marked."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    completed = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    best = max(completed, key=lambda trial: trial.value).number if completed else None
    rows = []
    for trial in trials:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() \
            if trial.datetime_complete and trial.datetime_start else None
        run_id = trial.user_attrs.get(RUN_ATTR) if trial.state == TrialState.COMPLETE else None
        rows.append(TrialRow(trial.number, trial.state.name.lower(), dict(trial.params), trial.value, run_id,
                             seconds, trial.user_attrs.get(WORKER_ATTR), trial.user_attrs.get(REASON_ATTR),
                             RetryHeartbeatStaleTrialCallback.retried_trial_number(trial), trial.number == best))
    return rows


@dataclass(frozen=True)
class SweepSummary:
    """A sweep's name, its planned number of trials and how many ended in each state."""

    name: str
    planned: int
    counts: dict
    best_value: float | None

    @property
    def done(self) -> bool:
        return self.counts.get("waiting", 0) == 0 and self.counts.get("running", 0) == 0

    def to_dict(self) -> dict:
        return {"name": self.name, "planned": self.planned, **self.counts, "best_value": self.best_value,
                "done": self.done}


def summarize(study: optuna.Study, trials: list | None = None) -> SweepSummary:
    """How many trials are planned and in each state, and the best value (``trials``: the study's, read already)."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name.lower()] += 1
    completed = [trial.value for trial in trials if trial.state == TrialState.COMPLETE]
    return SweepSummary(study.study_name, int(study.user_attrs.get(TRIALS_ATTR, 0)), counts,
                        max(completed) if completed else None)


def sweep_names(storage: SweepStorage) -> list[str]:
    """The names of the sweeps in the storage, oldest first (no trial is read)."""
    return optuna.get_all_study_names(storage)


def list_sweeps(storage: SweepStorage) -> list[SweepSummary]:
    return [summarize(load_study(name, storage)) for name in sweep_names(storage)]


def sweep_space(study: optuna.Study) -> dict:
    return study.user_attrs[SPACE_ATTR]


# --- working ----------------------------------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def heartbeat(storage: SweepStorage, trial_id: int):
    """Record the trial's heartbeat now and every ``HEARTBEAT_S`` until the block ends."""
    storage.record_heartbeat(trial_id)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_S):
            try:
                storage.record_heartbeat(trial_id)
            except SQLAlchemyError:  # a glitch in the connection: the next beat tries again
                continue

    beater = threading.Thread(target=beat, name=f"sweep-heartbeat-{trial_id}", daemon=True)
    beater.start()
    try:
        yield
    finally:
        done.set()
        beater.join()


def claim_waiting_trial(study: optuna.Study, storage: SweepStorage) -> int | None:
    """Move one waiting trial to running, atomically in the storage (so one worker gets it); its id, or None."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for waiting in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, waiting.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def remove_orphan_runs(study: optuna.Study, registry: Registry) -> None:
    """Delete runs saved by trials that then failed (a worker killed between saving and telling Optuna)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        run_id = trial.user_attrs.get(RUN_ATTR)
        if not run_id:
            continue
        try:
            record = registry.record(run_id)
            if record.sweep == {"study": study.study_name, "trial": trial.number}:
                registry.delete(run_id)
        except RegistryError:
            continue


def run_trial(study: optuna.Study, trial: optuna.Trial, data, registry: Registry,
              on_event: Callable | None = None, history=None) -> optuna.trial.FrozenTrial:
    """Train one trial and tell Optuna how it ended: complete (and saved as a run), pruned or failed."""
    from mnist_core.training.board import RunBoard
    from mnist_core.training.loop import prepare_data, train

    trial.set_user_attr(WORKER_ATTR, worker_id())
    trial.set_user_attr(RUN_ATTR, None)  # a retried trial inherits its predecessor's attributes
    spec, suggested = suggest(trial, sweep_space(study))
    config = with_resolved_precision(suggested)
    prepared = prepare_data(data, config)
    pruning = threading.Event()  # set when the pruner says stop: training ends after the next batch
    pruned_after: list[int] = []

    def report(event) -> None:
        if on_event is not None:
            on_event(event)
        value = event.metrics.get("val_accuracy")
        if event.kind != "epoch" or value is None or event.epoch >= event.epochs:
            return  # the last epoch is never pruned: the trial is complete by then
        trial.report(value, event.epoch)
        if trial.should_prune() and not pruning.is_set():
            pruned_after.append(event.epoch)
            pruning.set()

    with registry.scratch_folder() as board:
        with closing(RunBoard(board)) as events:
            result = train(spec, config, prepared, report, pruning, history, callbacks=[events])
        return tell_result(study, trial, spec, config, prepared, result, registry, board, pruned_after)


def tell_result(study: optuna.Study, trial: optuna.Trial, spec: list, config, prepared, result, registry: Registry,
                board, pruned_after: list[int]) -> optuna.trial.FrozenTrial:
    """Tell Optuna how a trial's training ended: pruned, failed (``TrialDiverged``) or complete, saved as a run."""
    from mnist_core.jobs.runs import finish_run
    from mnist_core.training.loop import FAILED

    if pruned_after:
        trial.set_user_attr(REASON_ATTR, f"pruned after epoch {pruned_after[0]}: behind the median of others")
        return study.tell(trial, state=TrialState.PRUNED)
    if result.status == FAILED:
        trial.set_user_attr(REASON_ATTR, result.reason)
        raise TrialDiverged(result.reason)
    value = float(result.epochs[-1]["val_accuracy"])
    record = RunRecord(id="", name=f"sweep {study.study_name} #{trial.number}", architecture="sweep", spec=spec,
                       config=config.to_dict(), status=result.status, created="",
                       sweep={"study": study.study_name, "trial": trial.number})
    run_id = registry.new_id(record.name)
    trial.set_user_attr(RUN_ATTR, run_id)  # first, so a worker killed after the save leaves a findable orphan
    finish_run(result, record, prepared, registry, board, run_id)
    return study.tell(trial, value)


def fail_trial(study: optuna.Study, trial: optuna.Trial, error: BaseException) -> optuna.trial.FrozenTrial:
    """Record ``error`` as the trial's failure, unless it has ended already (another worker took it for dead)."""
    try:
        trial.set_user_attr(REASON_ATTR, str(error)[:500] or type(error).__name__)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass
    return study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def work(name: str, storage: SweepStorage, data, registry: Registry, max_trials: int | None = None,
         stop_event: threading.Event | None = None, on_event: Callable | None = None,
         on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None, history=None,
         wait_for_others: bool = True) -> int:
    """Be a worker on sweep ``name``: claim and run waiting trials until none is left and (``wait_for_others``)
    none is running elsewhere (others' trials may still fail and come back), ``max_trials`` are done or
    ``stop_event`` is set (checked between trials); rows go to ``history``. Returns the number of trials run."""
    study = load_study(name, storage)
    stop_event = stop_event or threading.Event()
    ran = 0
    while not stop_event.is_set() and (max_trials is None or ran < max_trials):
        fail_stale_trials(study)
        remove_orphan_runs(study, registry)
        trial_id = claim_waiting_trial(study, storage)
        if trial_id is None:
            if not wait_for_others or not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                break
            stop_event.wait(IDLE_POLL_S)
            continue
        trial = optuna.Trial(study, trial_id)
        with heartbeat(storage, trial_id):
            try:
                frozen = run_trial(study, trial, data, registry, on_event, history)
            except BaseException as error:  # any failure ends the trial as failed, never half-saved
                frozen = fail_trial(study, trial, error)
                if not isinstance(error, Exception):  # Ctrl-C, SystemExit: the trial goes back in the queue
                    RETRY(study, frozen)
                    raise
                if not isinstance(error, TrialDiverged):
                    warnings.warn(f"sweep {name!r} trial {trial.number} failed: {error}", stacklevel=1)
        ran += 1
        if on_trial is not None:
            on_trial(frozen)
    return ran


# --- a sweep in the app: trials as jobs of the one job runner ----------------------------------------------------


def sweep_request(name: str, storage_url: str) -> RunRequest:
    """A job for the job runner: one trial of sweep ``name``. It queues itself again (behind any run pressed
    meanwhile) while the sweep has waiting trials, so the server trains one thing at a time; Stop ends it after the
    current trial."""
    return RunRequest(f"sweep {name}", "sweep", [], None, execute=functools.partial(execute_trial, name, storage_url),
                      subject=sweep_subject(name, storage_url))


def sweep_subject(name: str, storage_url: str) -> tuple:
    """What the job runner knows a sweep's jobs by (``RunRequest.subject``)."""
    return ("sweep", storage_url, name)


def execute_trial(name: str, storage_url: str, request: RunRequest, data, registry: Registry,
                  on_event: Callable | None = None, stop_event: threading.Event | None = None,
                  history=None) -> Outcome:
    """Run one waiting trial of the sweep (none when another worker took the last one) and say whether any is
    left to queue again."""
    from mnist_core.statuses import FINISHED, STOPPED

    storage = open_storage(storage_url)
    trials: list[optuna.trial.FrozenTrial] = []
    work(name, storage, data, registry, max_trials=1, stop_event=stop_event, on_event=on_event,
         on_trial=trials.append, history=history, wait_for_others=False)
    waiting = summarize(load_study(name, storage)).counts.get("waiting", 0)
    if not trials:
        return Outcome(STOPPED if stop_event is not None and stop_event.is_set() else FINISHED,
                       "no trial was left to run here.")
    trial = trials[0]
    run_id = trial.user_attrs.get(RUN_ATTR) if trial.state == TrialState.COMPLETE else None
    record = registry.record(run_id) if run_id else None
    reason = (f"trial {trial.number} {trial.state.name.lower()}"
              + (f" ({trial.user_attrs[REASON_ATTR]})" if trial.user_attrs.get(REASON_ATTR) else "")
              + f"; {waiting} trial(s) of the sweep waiting.")
    return Outcome(FINISHED, reason, record, again=waiting > 0)
