"""Saved runs: one folder per run under ``models/`` with ``model.keras`` (no optimizer state) and ``run.json``.

Every write goes to a hidden temporary folder or file first and is renamed into place, so a crash never leaves a
half-written run that listing would show; folders that are not runs are skipped with a warning. Every model file,
uploaded or stored, passes ``model_checks`` (an allowlist of standard layers, bounded sizes) before Keras loads it
with ``safe_mode=True``: a model carrying code is refused, never executed."""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mnist_core.errors import disk_full, is_disk_full
from mnist_core.model.checks import ModelFileError, check_serialized_model
from mnist_core.statuses import UPLOADED
from mnist_core.store.files import (
    BOARD_DIR,
    MODEL_FILE,
    PREDICTIONS_FILE,
    RECORD_FILE,
    TEMP_PREFIX,
    fsync_path,
    remove_path,
    write_json_atomic,
)
from mnist_core.store.model_files import load_model_bytes, load_model_file, save_without_optimizer
from mnist_core.store.partial_runs import (
    CLAIM_PAUSE_S,
    CLAIM_TRIES,
    LOCK_FILE,
    PARTIAL_FILE,
    PARTIAL_PREFIX,
    PartialRun,
    lock_exclusively,
    read_partial,
    this_process,
)
from mnist_core.store.records import RegistryError, RunRecord, check_run_id, clean_name, library_versions, slug

MODELS_ENV = "DIGIT_LAB_MODELS"
PROJECT_MODELS = Path(__file__).resolve().parents[2] / "models"
DEFAULT_ID = "default"  # the shipped model's folder
DEFAULT_RUN_FILE = "default-run.json"  # the run the user made the default: {"run": RUN_ID}
STALE_TEMP_SECONDS = 3600


class Registry:
    """The folder of saved runs (``$DIGIT_LAB_MODELS`` or the project's ``models/``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root or os.environ.get(MODELS_ENV) or PROJECT_MODELS).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegistryError(f"the models folder {self.root} cannot be used ({error.strerror or error}).") from None
        self.read_records: dict[Path, tuple[tuple, RunRecord]] = {}  # folder → (its files' stamp, its record)
        self.read_records_lock = threading.Lock()  # one registry object serves every session of a server
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
                          for info in (os.stat(os.path.join(folder, name)) for name in (RECORD_FILE, MODEL_FILE)))
        except OSError:
            stamp = None
        with self.read_records_lock:
            kept = self.read_records.get(folder)
        if stamp is None or kept is None or kept[0] != stamp:
            kept = (stamp, self.load_record(folder))
            if stamp is not None:
                with self.read_records_lock:
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

    def list_runs(self, warnings: list[str] | None = None) -> list[RunRecord]:
        """Every readable run, newest first; the shipped default model is included when the registry has none.

        Folders that are not runs are skipped, each with a line in the caller's ``warnings`` when given (the registry
        object is shared by every session of a server, so it keeps none itself).
        """
        warnings = [] if warnings is None else warnings
        records = []
        with os.scandir(self.root) as entries:  # each entry knows whether it is a folder: no stat call per run
            names = sorted(entry.name for entry in entries if not entry.name.startswith(".") and entry.is_dir())
        folders = [self.root / name for name in names]
        if not (self.root / DEFAULT_ID).is_dir() and (PROJECT_MODELS / DEFAULT_ID).is_dir():
            folders.append(PROJECT_MODELS / DEFAULT_ID)
        for folder in folders:
            try:
                records.append(self.read_record(folder))
            except RegistryError as error:
                warnings.append(f"skipped {error}")
        listed = set(folders)
        with self.read_records_lock:
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
        """The id of the default model: the run the user chose (``set_default``) while it can be read, else the
        shipped model if one is installed, else None."""
        for run_id in dict.fromkeys((self.chosen_default(), DEFAULT_ID)):
            try:
                self.record(run_id)
                return run_id
            except RegistryError:
                continue
        return None

    def chosen_default(self) -> str:
        """The run named in the registry's default-run file (the shipped model's id when none was chosen, or the
        file cannot be read)."""
        try:
            chosen = json.loads((self.root / DEFAULT_RUN_FILE).read_text(encoding="utf-8")).get("run")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return DEFAULT_ID
        return chosen if isinstance(chosen, str) else DEFAULT_ID

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

    def set_default(self, run_id: str) -> RunRecord:
        """Make ``run_id`` the default model (preselected by the pages, used by the CLI when no model is named),
        written atomically in the registry; the run must be readable. Returns its record."""
        record = self.record(run_id)
        write_json_atomic(self.root / DEFAULT_RUN_FILE, {"run": run_id})
        return record

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
        """Remove a run; the shipped model cannot be deleted (a chosen default can: the shipped one takes over)."""
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
        before their process died are removed. A damaged work folder is skipped with a line in the caller's
        ``warnings`` when given."""
        warnings = [] if warnings is None else warnings
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
