"""Saved runs: one folder per run under ``models/`` with ``model.keras`` (no optimizer state) and ``run.json``.

Every write goes to a hidden temporary folder or file first and is renamed into place, so a crash never leaves a
half-written run that listing would show; folders that are not runs are skipped with a warning. Every model file,
uploaded or stored, passes ``model_checks`` (an allowlist of standard layers, bounded sizes) before Keras loads it
with ``safe_mode=True``: a model carrying code is refused, never executed.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import platform
import re
import shutil
import socket
import tempfile
import time
import unicodedata
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .errors import DigitLabError, disk_full, is_disk_full
from .model_checks import MAX_ARCHIVE_BYTES, ModelFileError, check_serialized_model, write_checked_archive
from .precision import in_native_precision
from .statuses import INTERRUPTED, UPLOADED

MODELS_ENV = "DIGIT_LAB_MODELS"
PROJECT_MODELS = Path(__file__).resolve().parent.parent / "models"
DEFAULT_ID = "default"
MODEL_FILE, RECORD_FILE = "model.keras", "run.json"
BOARD_DIR = "tensorboard"  # a run's TensorBoard event files (``tensorboard_logs``): train/, validation/, test/
PREDICTIONS_FILE = "test_predictions.npz"  # the test-set probabilities computed when the run was tested
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600
PARTIAL_PREFIX, PARTIAL_FILE, LOCK_FILE = ".partial-", "partial.json", "owner.lock"  # a run still in training
CHECKPOINT_SUFFIX = ".keras"  # a whole-model archive: Keras writes it through Python's zipfile, so a full disk is an
# OSError (h5py writing a ``.weights.h5`` in place crashes the process with a segmentation fault instead)
CHECKPOINT_NAME = re.compile(r"epoch-([1-9][0-9]{0,5})(\.keras|\.weights\.h5)")  # what save_epoch names (and did)
CLAIM_TRIES, CLAIM_PAUSE_S = 40, 0.05  # a listing holds a free lock for an instant: wait that out when claiming
MAX_NAME_LENGTH = 120
MAX_ID_STEM = 48
ACCEPTED_INPUTS = ((784,), (28, 28), (28, 28, 1))


RECORD_TYPES = [  # run.json field, what it should be, the JSON types allowed
    ("id", "text", (str,)), ("name", "text", (str,)), ("architecture", "text", (str,)),
    ("spec", "a list or null", (list, type(None))), ("config", "an object or null", (dict, type(None))),
    ("status", "text", (str,)), ("created", "an ISO date text", (str,)), ("reason", "text", (str,)),
    ("params", "a whole number", (int,)), ("epochs", "a list", (list,)), ("batches", "a list", (list,)),
    ("test_accuracy", "a number or null", (int, float, type(None))),
    ("test_loss", "a number or null", (int, float, type(None))), ("seconds", "a number", (int, float)),
    ("versions", "an object", (dict,)),
    ("parent", "a run id or null", (str, type(None))), ("finetune", "an object or null", (dict, type(None))),
    ("sweep", "an object or null", (dict, type(None))),
    ("data_fingerprint", "text or null", (str, type(None))),
]
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class RegistryError(DigitLabError):
    """A run that cannot be saved, found, loaded or changed; the message says why."""


@dataclass
class RunRecord:
    """What ``run.json`` holds about one run."""

    id: str
    name: str
    architecture: str  # preset name, "custom" or "uploaded"
    spec: list | None
    config: dict | None
    status: str  # finished / stopped / failed / uploaded
    created: str  # ISO 8601, UTC
    reason: str = ""
    params: int = 0
    epochs: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    parent: str | None = None  # the run this one was fine-tuned from
    finetune: dict | None = None  # for a fine-tune: what it trained on and the figures before and after
    sweep: dict | None = None  # for a sweep trial's run: {"study": name, "trial": number}
    data_fingerprint: str | None = None  # the data set it trained on (``MnistData.fingerprint``), when known

    def __repr__(self) -> str:
        accuracy = "-" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return f"RunRecord({self.id!r}, {self.architecture}, {self.status}, test_accuracy={accuracy})"

    @classmethod
    def from_dict(cls, values: dict) -> RunRecord:
        required = ["id", "name", "architecture", "spec", "config", "status", "created"]
        missing = [name for name in required if name not in values]
        if missing:
            raise RegistryError(f"run.json lacks the field(s) {', '.join(missing)}.")
        for name, expected, kinds in RECORD_TYPES:  # a hand-edited record must not break listing or tables
            value = values.get(name)
            if name in values and (isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds)):
                raise RegistryError(f"run.json field {name!r} should be {expected}, got {value!r}.")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def summary_row(self) -> dict:
        """The fields a table of runs shows."""
        return {"id": self.id, "name": self.name, "architecture": self.architecture, "params": self.params,
                "epochs": len(self.epochs), "test_accuracy": self.test_accuracy, "seconds": round(self.seconds, 1),
                "status": self.status, "created": self.created}


def clean_name(name: str) -> str:
    """A display name: printable, trimmed, at most ``MAX_NAME_LENGTH`` characters (any language)."""
    spaced = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(name))
    printable = re.sub(r"\s+", " ", spaced).strip()
    return printable[:MAX_NAME_LENGTH] or "run"


def default_run_name(architecture: str, when: datetime | None = None) -> str:
    """A name that tells runs of one architecture apart when the user gives none: "fast-cnn 11-22 14:03:07"."""
    return f"{architecture} {(when or datetime.now()):%m-%d %H:%M:%S}"


def slug(name: str) -> str:
    """A safe folder-name stem: ASCII letters, digits, '-', '_' only; never '..' or a path."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")
    return stem[:MAX_ID_STEM].strip("-_") or "run"


def library_versions() -> dict:
    import keras
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__}


def fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file beside ``path``, sync it and rename it into place: ``path`` holds the old
    or the new content, never half of one. On a full disk nothing is left behind and ``DiskFullError`` says so."""
    temporary = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}{path.suffix}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if is_disk_full(error):
            raise disk_full(path.name, path.parent) from None
        raise
    fsync_path(path.parent)


def write_json_atomic(path: Path, values: dict) -> None:
    write_atomic(path, json.dumps(values, indent=1, allow_nan=True, ensure_ascii=False).encode("utf-8"))


def save_without_optimizer(model, path: Path) -> None:
    """Save weights and architecture only: an uncompiled clone carries no optimizer state (Keras 3 ignores
    ``include_optimizer=False`` for ``.keras`` files)."""
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)


def check_mnist_classifier(model) -> None:
    """Refuse a model whose input is not a 28×28 image (or 784 pixels) or whose output is not 10 classes."""
    input_shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    output_shape = tuple(model.output_shape[1:]) if not isinstance(model.output_shape, list) else None
    if input_shape not in ACCEPTED_INPUTS:
        raise RegistryError(f"not an MNIST classifier: its input shape is {input_shape}; expected 784, 28×28 or "
                            "28×28×1.")
    if output_shape != (10,):
        raise RegistryError(f"not an MNIST classifier: its output shape is {output_shape}; expected 10 classes.")


def load_model_bytes(content: bytes):
    """Load a ``.keras`` file's bytes after every check in ``model_checks`` (bounded archive, allowlisted config,
    bounded weights) with ``safe_mode=True``, check it is an MNIST classifier, and return it computing in a precision
    this CPU runs natively (``in_native_precision``). Any failure is a ``RegistryError`` saying why; only a file that
    passed the checks is written (to a temporary folder, for Keras to read), and TensorFlow is imported only then."""
    with tempfile.TemporaryDirectory(prefix="digit-lab-model-") as folder:
        checked = Path(folder) / MODEL_FILE
        try:
            write_checked_archive(content, checked)
        except ModelFileError as error:
            raise RegistryError(str(error)) from None
        import keras

        try:
            model = keras.saving.load_model(checked, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for bad files; all mean "cannot use this file"
            raise RegistryError(f"the model file could not be read ({type(error).__name__}: "
                                f"{str(error)[:300]}).") from None
    check_mnist_classifier(model)
    return in_native_precision(model)


def load_model_file(path: Path):
    """Load a stored ``.keras`` file like ``load_model_bytes``; reading stops past the largest size accepted."""
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as error:
        raise RegistryError(f"the model file cannot be read ({error}).") from None
    return load_model_bytes(content)


def check_run_id(run_id) -> None:
    """Refuse an id that is not a plain folder name (no separators, no '..', not hidden)."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise RegistryError(f"{run_id!r} is not a valid run id.")


def lock_exclusively(path: Path) -> int | None:
    """A descriptor of ``path`` holding an exclusive ``flock``, or None when another process (or descriptor) holds
    it. The kernel drops the lock when its process dies, however it dies (SIGKILL and power loss included)."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except (FileNotFoundError, NotADirectoryError):  # its folder was removed or renamed meanwhile
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def this_process() -> dict:
    """Who trains a run, for messages (the lock, not these, decides whether it still lives)."""
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds")}


class PartialRun:
    """A run in training. Its folder ``.partial-<run id>`` (hidden, so never listed as a run) holds ``partial.json``
    (the request, the epochs and batches so far, the newest checkpoint's file name) and that checkpoint, written at
    each epoch end. The training process holds the folder's lock while it lives, so a partial run whose lock is
    free belongs to a process that died: an interrupted run, which can be resumed from its last checkpoint."""

    def __init__(self, folder: Path, values: dict, lock: int):
        self.folder, self.values, self.lock = folder, values, lock

    def __repr__(self) -> str:
        return f"PartialRun({self.run_id!r}, epochs_done={self.epochs_done})"

    @property
    def run_id(self) -> str:
        return self.values["run_id"]

    @property
    def epochs_done(self) -> int:
        return len(self.values["epochs"])

    @property
    def board_dir(self) -> Path:
        """Where the run's TensorBoard events go while it trains (the saved run gets a copy)."""
        return self.folder / BOARD_DIR

    @property
    def checkpoint_path(self) -> Path | None:
        """The newest epoch-end checkpoint (weights and optimizer state), None before the first epoch ended; always a
        file of the run's own folder (``read_partial`` accepts nothing else)."""
        name = self.values["checkpoint"]
        return None if name is None else self.folder / name

    def as_record(self) -> RunRecord:
        """The run as listed: status "interrupted", the epochs it finished and its settings (no model yet)."""
        values, total = self.values, (self.values["config"] or {}).get("epochs", "?")
        return RunRecord(id=self.run_id, name=values["name"], architecture=values["architecture"],
                         spec=values["spec"], config=values["config"], status=INTERRUPTED, created=values["created"],
                         reason=f"interrupted after epoch {self.epochs_done} of {total}: resume it to go on from "
                                "there.",
                         params=values["params"], epochs=values["epochs"], seconds=values["seconds"])

    def save_epoch(self, model, epochs: list[dict], batches: list[dict], seconds: float) -> None:
        """Checkpoint ``model`` after epoch ``len(epochs)`` and record the history so far. The new checkpoint is
        complete before ``partial.json`` names it, and the old one goes only after: a crash at any instant leaves a
        checkpoint that matches the recorded epochs."""
        name = f"epoch-{len(epochs)}{CHECKPOINT_SUFFIX}"
        temporary = self.folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}{CHECKPOINT_SUFFIX}"
        try:
            model.save(temporary)  # with the optimizer's state: ``model.load_weights`` restores both
            fsync_path(temporary)
            os.replace(temporary, self.folder / name)
        except OSError as error:  # the previous checkpoint and partial.json are untouched
            temporary.unlink(missing_ok=True)
            if is_disk_full(error):
                raise disk_full(f"the checkpoint of epoch {len(epochs)}", self.folder) from None
            raise RegistryError(f"could not checkpoint epoch {len(epochs)} in {self.folder} ({error}).") from None
        previous = self.values["checkpoint"]
        updated = self.values | {"epochs": list(epochs), "batches": list(batches), "seconds": seconds,
                                 "checkpoint": name}
        try:
            write_json_atomic(self.folder / PARTIAL_FILE, updated)
        except BaseException:  # partial.json still names the previous checkpoint, which stays
            if name != previous:
                (self.folder / name).unlink(missing_ok=True)
            raise
        self.values = updated
        if previous not in (None, name):
            (self.folder / previous).unlink(missing_ok=True)

    def release(self) -> None:
        """Let go of the run (it stays, as an interrupted run, for a later resume)."""
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    def remove(self) -> None:
        """Delete the work folder (the run was saved, or is given up); it leaves listings at once."""
        doomed = self.folder.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            os.rename(self.folder, doomed)
        except FileNotFoundError:
            pass
        self.release()
        remove_path(doomed)


def remove_path(path: Path) -> None:
    """Remove a file, a folder tree or a symbolic link (the link only, never what it points to)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


PARTIAL_TYPES = [  # partial.json field, what it should be, the JSON types allowed (as start_partial writes them)
    ("run_id", "text", (str,)), ("name", "text", (str,)), ("architecture", "text", (str,)), ("spec", "a list", (list,)),
    ("config", "an object", (dict,)), ("created", "text", (str,)), ("epochs", "a list", (list,)),
    ("batches", "a list", (list,)), ("seconds", "a number", (int, float)), ("checkpoint", "a file name or null",
                                                                            (str, type(None))),
    ("owner", "an object", (dict,)), ("params", "a whole number", (int,)),
]


def read_partial(folder: Path) -> dict:
    """The ``partial.json`` of a run in training, as this project writes it: the right fields and types, epochs and
    batches as objects, and a checkpoint that is a bare ``epoch-N`` file of this folder matching the epochs
    recorded; ``RegistryError`` saying what is wrong otherwise (a damaged or hand-made work file is never used)."""
    try:
        values = json.loads((folder / PARTIAL_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise RegistryError(f"{folder.name}: unreadable {PARTIAL_FILE} ({str(error)[:200]}).") from None
    if not isinstance(values, dict) or values.get("run_id") != folder.name[len(PARTIAL_PREFIX):]:
        raise RegistryError(f"{folder.name}: {PARTIAL_FILE} is not the record of a run in training.")
    for name, expected, kinds in PARTIAL_TYPES:
        value = values.get(name)
        if name not in values or isinstance(value, bool) or not isinstance(value, kinds):
            raise RegistryError(f"{folder.name}: {PARTIAL_FILE} field {name!r} should be {expected}, got "
                                f"{str(value)[:80]!r}.")
    if not all(isinstance(row, dict) for row in values["epochs"] + values["batches"]) or values["seconds"] < 0:
        raise RegistryError(f"{folder.name}: {PARTIAL_FILE} has a damaged history.")
    checkpoint = values["checkpoint"]
    if checkpoint is not None:
        match = CHECKPOINT_NAME.fullmatch(checkpoint)
        path = folder / checkpoint
        if match is None or int(match.group(1)) != len(values["epochs"]):
            raise RegistryError(f"{folder.name}: {PARTIAL_FILE} names the checkpoint {checkpoint[:80]!r}, not this "
                                f"run's epoch-{len(values['epochs'])} file.")
        if path.is_symlink() or not path.is_file():
            raise RegistryError(f"{folder.name}: its checkpoint {checkpoint} is missing.")
    return values


class Registry:
    """The folder of saved runs (``$DIGIT_LAB_MODELS`` or the project's ``models/``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root or os.environ.get(MODELS_ENV) or PROJECT_MODELS).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegistryError(f"the models folder {self.root} cannot be used ({error.strerror or error}).") from None
        self.warnings: list[str] = []
        self.read_records: dict[Path, tuple[tuple, RunRecord]] = {}  # folder → (its files' stamp, its record)
        self.remove_stale_temporaries()

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # --- paths --------------------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The folder of ``run_id``; refuses ids that are not plain folder names inside the registry."""
        if run_id == DEFAULT_ID and not (self.root / DEFAULT_ID).is_dir() and (PROJECT_MODELS / DEFAULT_ID).is_dir():
            return PROJECT_MODELS / DEFAULT_ID
        check_run_id(run_id)
        path = self.root / run_id
        if not path.is_dir():
            raise RegistryError(f"no run {run_id!r} in {self.root}.")
        return path

    def remove_stale_temporaries(self) -> None:
        """Delete temporary folders left by a crash mid-save (older than an hour, so a save in progress is safe)."""
        found = list(self.root.glob(f"{TEMP_PREFIX}*"))
        for folder in self.root.iterdir():  # and record temporaries a crash mid-rename left inside a run folder
            try:
                found += folder.glob(f"{TEMP_PREFIX}*") if folder.is_dir() and not folder.is_symlink() and \
                    folder not in found else []
            except FileNotFoundError:  # the folder was deleted or renamed meanwhile
                continue
        for path in found:
            try:  # another process may finish (rename away) or remove this temporary at any moment
                if time.time() - path.lstat().st_mtime > STALE_TEMP_SECONDS:
                    remove_path(path)
            except FileNotFoundError:
                continue

    @contextmanager
    def scratch_folder(self):
        """A new empty folder in the registry for the files of a save to come (e.g. a run's TensorBoard events
        while it trains), removed after the block; one a crash leaves is a stale temporary."""
        folder = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- reading ------------------------------------------------------------------------------------------------

    def read_record(self, folder: Path) -> RunRecord:
        """The run's record, read again only when its ``run.json`` or model file changed (inode, size, time): a
        registry of 1,500 runs is listed again from stat calls alone. Every change is an atomic rename or a write,
        which changes the stamp."""
        try:
            stamp = tuple((info.st_ino, info.st_size, info.st_mtime_ns)
                          for info in ((folder / RECORD_FILE).stat(), (folder / MODEL_FILE).stat()))
        except OSError:
            stamp = None
        kept = self.read_records.get(folder)
        if stamp is None or kept is None or kept[0] != stamp:
            kept = (stamp, self.load_record(folder))
            if stamp is not None:
                self.read_records[folder] = kept
        return copy.copy(kept[1])

    def load_record(self, folder: Path) -> RunRecord:
        """The run's record read from disk and checked (its model file too, cheaply); ``RegistryError`` says why not."""
        try:
            values = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RegistryError(f"{folder.name}: no {RECORD_FILE}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RegistryError(f"{folder.name}: unreadable {RECORD_FILE} ({error}).") from None
        if not isinstance(values, dict):
            raise RegistryError(f"{folder.name}: {RECORD_FILE} is not an object.")
        try:
            record = RunRecord.from_dict(values)
        except (RegistryError, TypeError) as error:
            raise RegistryError(f"{folder.name}: {error}") from None
        if not (folder / MODEL_FILE).is_file():
            raise RegistryError(f"{folder.name}: no {MODEL_FILE}.")
        if not zipfile.is_zipfile(folder / MODEL_FILE):  # cheap: reads the zip's end record only
            raise RegistryError(f"{folder.name}: {MODEL_FILE} is not a Keras model file (truncated or corrupt).")
        record.id = folder.name  # the folder is the run's identity, whatever the record says
        return record

    def list_runs(self) -> list[RunRecord]:
        """Every readable run, newest first; the shipped default model is included when the registry has none.

        Folders that are not runs are skipped, each with a line in ``self.warnings``.
        """
        self.warnings = []
        records = []
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not (self.root / DEFAULT_ID).is_dir() and (PROJECT_MODELS / DEFAULT_ID).is_dir():
            folders.append(PROJECT_MODELS / DEFAULT_ID)
        for folder in folders:
            try:
                records.append(self.read_record(folder))
            except RegistryError as error:
                self.warnings.append(f"skipped {error}")
        listed = set(folders)
        self.read_records = {folder: kept for folder, kept in self.read_records.items() if folder in listed}
        return sorted(records, key=lambda record: record.created, reverse=True)

    def record(self, run_id: str) -> RunRecord:
        return self.read_record(self.run_dir(run_id))

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / MODEL_FILE

    def load_model(self, run_id: str):
        """The run's Keras model, loaded with ``safe_mode=True``; raises ``RegistryError`` with the reason."""
        try:
            return load_model_file(self.model_path(run_id))
        except RegistryError as error:
            raise RegistryError(f"run {run_id!r}: {error}") from None

    def default_id(self) -> str | None:
        """The id of the default model, if one is installed."""
        try:
            self.record(DEFAULT_ID)
            return DEFAULT_ID
        except RegistryError:
            return None

    def best_run(self) -> RunRecord | None:
        scored = [record for record in self.list_runs() if record.test_accuracy is not None]
        return max(scored, key=lambda record: record.test_accuracy, default=None)

    def export(self, run_id: str) -> bytes:
        """The run's ``.keras`` file, for download."""
        return self.model_path(run_id).read_bytes()

    # --- writing ------------------------------------------------------------------------------------------------

    def new_id(self, name: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{slug(name)}-{uuid.uuid4().hex[:4]}"

    def save_run(self, model, record: RunRecord, run_id: str | None = None,
                 test_predictions: tuple[np.ndarray, str] | None = None, board: Path | None = None) -> RunRecord:
        """Save model and record as a new run folder atomically; fills in id, name, created and versions.
        ``test_predictions`` (probabilities, fingerprint of the test split) are kept so that the Errors page needs
        no second pass over the test set; the TensorBoard events in the folder ``board`` are copied in."""
        record.name = clean_name(record.name)
        record.id = self.new_id(record.name) if run_id is None or run_id == "" else run_id
        check_run_id(record.id)
        record.created = record.created or datetime.now(UTC).isoformat(timespec="seconds")
        record.versions = record.versions or library_versions()
        temporary = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            temporary.mkdir()
            save_without_optimizer(model, temporary / MODEL_FILE)
            if test_predictions is not None:
                probabilities, test_fingerprint = test_predictions
                np.savez_compressed(temporary / PREDICTIONS_FILE, probabilities=probabilities.astype(np.float32),
                                    test_fingerprint=np.array(test_fingerprint))
            if board is not None and board.is_dir():
                shutil.copytree(board, temporary / BOARD_DIR)
            write_json_atomic(temporary / RECORD_FILE, asdict(record))
            fsync_path(temporary / MODEL_FILE)
            os.rename(temporary, self.root / record.id)
            fsync_path(self.root)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            if is_disk_full(error):
                raise disk_full(f"run {record.id!r}", self.root) from None
            raise RegistryError(f"could not save run {record.id!r} in {self.root} ({error}).") from None
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return record

    def test_probabilities(self, run_id: str, test_fingerprint: str) -> np.ndarray | None:
        """The test-set probabilities saved with the run if they were computed on the test split with this
        fingerprint, else None (none saved, another data set, or an unreadable file)."""
        try:
            with np.load(self.run_dir(run_id) / PREDICTIONS_FILE, allow_pickle=False) as saved:
                if str(saved["test_fingerprint"]) != test_fingerprint:
                    return None
                probabilities = saved["probabilities"]
        except (RegistryError, OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        if probabilities.ndim != 2 or probabilities.shape[1] != 10 or not np.isfinite(probabilities).all():
            return None
        return probabilities.astype(np.float64)

    def is_shipped_default(self, run_id: str) -> bool:
        """Whether ``run_id`` is the git-tracked default model that ships with the project (read-only)."""
        try:
            return self.run_dir(run_id).resolve() == (PROJECT_MODELS / DEFAULT_ID).resolve()
        except RegistryError:
            return False

    def rename(self, run_id: str, name: str) -> RunRecord:
        """Change a run's display name (its folder and id stay); the shipped default model (git-tracked) is
        read-only."""
        if self.is_shipped_default(run_id):
            raise RegistryError("the shipped default model is read-only: it cannot be renamed.")
        folder = self.run_dir(run_id)
        record = self.read_record(folder)
        record.name = clean_name(name)
        write_json_atomic(folder / RECORD_FILE, asdict(record))
        return record

    def delete(self, run_id: str) -> None:
        """Remove a run; the default model cannot be deleted."""
        if run_id == DEFAULT_ID:
            raise RegistryError("the default model cannot be deleted (the Draw page and the CLI rely on it).")
        folder = self.run_dir(run_id)
        doomed = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        os.rename(folder, doomed)  # disappears from listings at once, even if the removal below is interrupted
        shutil.rmtree(doomed, ignore_errors=True)

    # --- runs in training, and interrupted ones -------------------------------------------------------------------

    def partial_dir(self, run_id: str) -> Path:
        check_run_id(run_id)
        return self.root / f"{PARTIAL_PREFIX}{run_id}"

    def start_partial(self, name: str, architecture: str, spec: list, config: dict, params: int) -> PartialRun:
        """Give a new run its work folder (``.partial-<id>``), locked by this process until it ends or dies."""
        name = clean_name(name)
        values = {"run_id": self.new_id(name), "name": name, "architecture": architecture, "spec": spec,
                  "config": config, "params": params, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                  "owner": this_process(), "epochs": [], "batches": [], "seconds": 0.0, "checkpoint": None}
        temporary = self.root / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            temporary.mkdir()
            write_json_atomic(temporary / PARTIAL_FILE, values)
            lock = lock_exclusively(temporary / LOCK_FILE)  # a fresh file: always free
            folder = self.partial_dir(values["run_id"])
            os.rename(temporary, folder)  # appears already locked
            fsync_path(self.root)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            if is_disk_full(error):
                raise disk_full("a new run's work folder", self.root) from None
            raise RegistryError(f"could not start a run in {self.root} ({error}).") from None
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        return PartialRun(folder, values, lock)

    def list_interrupted(self, warnings: list[str] | None = None) -> list[RunRecord]:
        """Runs whose training process died, newest first, each with status "interrupted", the epochs it finished and
        its settings (a run still training in a live process is not listed). Leftovers of runs that were saved just
        before their process died are removed. A damaged work folder is skipped with a line in ``warnings`` (by
        default ``self.warnings``)."""
        warnings = self.warnings if warnings is None else warnings
        records = []
        for folder in sorted(self.root.glob(f"{PARTIAL_PREFIX}*")):
            if folder.is_symlink() or not folder.is_dir():
                warnings.append(f"skipped {folder.name}: not a work folder of this registry (a link or a file).")
                continue
            lock = lock_exclusively(folder / LOCK_FILE)
            if lock is None:  # trained right now by a live process, or gone meanwhile
                continue
            try:
                partial = PartialRun(folder, read_partial(folder), lock)
            except RegistryError as error:
                os.close(lock)
                warnings.append(f"skipped {error}")
                continue
            if (self.root / partial.run_id).is_dir():
                partial.remove()
            else:
                records.append(partial.as_record())
                partial.release()
        return sorted(records, key=lambda record: record.created, reverse=True)

    def claim_partial(self, run_id: str) -> PartialRun:
        """Take over an interrupted run to resume it: its work folder, locked by this process; ``RegistryError`` when
        there is no such run or its process still trains it."""
        folder = self.partial_dir(run_id)
        if folder.is_symlink() or not folder.is_dir():
            raise RegistryError(f"no interrupted run {run_id!r} in {self.root} (see `python -m mnist_core list`).")
        for _ in range(CLAIM_TRIES):
            lock = lock_exclusively(folder / LOCK_FILE)
            if lock is not None:
                break
            time.sleep(CLAIM_PAUSE_S)
        else:
            owner = self.partial_owner(folder)
            raise RegistryError(f"run {run_id!r} is still training ({owner}); it can be resumed once that ends.")
        try:
            values = read_partial(folder)
        except RegistryError as error:
            os.close(lock)
            if not folder.is_dir():
                raise RegistryError(f"no interrupted run {run_id!r} in {self.root} (it has just ended).") from None
            raise RegistryError(f"run {run_id!r} cannot be resumed: {error}") from None
        partial = PartialRun(folder, values, lock)
        if (self.root / run_id).is_dir():
            partial.remove()
            raise RegistryError(f"run {run_id!r} was already saved: nothing to resume.")
        values["owner"] = this_process()
        write_json_atomic(folder / PARTIAL_FILE, values)
        return partial

    @staticmethod
    def partial_owner(folder: Path) -> str:
        """The process that trains a run, in words."""
        try:
            owner = read_partial(folder)["owner"]
            return f"process {owner['pid']} on {owner['host']}, since {owner['since']}"
        except (RegistryError, KeyError, TypeError):
            return "by another process"

    def discard_interrupted(self, run_id: str) -> None:
        """Give up an interrupted run: its checkpoint and history are deleted."""
        self.claim_partial(run_id).remove()

    def import_model(self, name: str, content: bytes) -> RunRecord:
        """Add an uploaded ``.keras`` file as a run once ``load_model_bytes`` accepts it (nothing is written before),
        refusing a model whose form as Keras re-saves it would be refused by later loads."""
        model = load_model_bytes(content)
        try:
            check_serialized_model(model)
        except ModelFileError as error:
            raise RegistryError(f"{error} (found in the model as Keras rebuilt it)") from None
        record = RunRecord(id="", name=name, architecture="uploaded", spec=None, config=None, status=UPLOADED,
                           created="", params=int(model.count_params()), reason="uploaded .keras file")
        return self.save_run(model, record)
