"""Runs in progress: a work folder per run, held by its training process's lock, with the checkpoint of its last
finished epoch, so a run whose process died is listed as interrupted and can be resumed."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

from mnist_core.errors import disk_full, is_disk_full
from mnist_core.statuses import INTERRUPTED
from mnist_core.store.files import BOARD_DIR, TEMP_PREFIX, fsync_path, remove_path, write_json_atomic
from mnist_core.store.records import RegistryError, RunRecord

PARTIAL_PREFIX, PARTIAL_FILE, LOCK_FILE = ".partial-", "partial.json", "owner.lock"  # a run still in training
CHECKPOINT_SUFFIX = ".keras"  # a whole-model archive: Keras writes it through Python's zipfile, so a full disk is an
# OSError (h5py writing a ``.weights.h5`` in place crashes the process with a segmentation fault instead)
CHECKPOINT_NAME = re.compile(r"epoch-([1-9][0-9]{0,5})(\.keras|\.weights\.h5)")  # what save_epoch names (and did)
CLAIM_TRIES, CLAIM_PAUSE_S = 40, 0.05  # a listing holds a free lock for an instant: wait that out when claiming
PARTIAL_TYPES = [  # partial.json field, what it should be, the JSON types allowed (as start_partial writes them)
    ("run_id", "text", (str,)), ("name", "text", (str,)), ("architecture", "text", (str,)), ("spec", "a list", (list,)),
    ("config", "an object", (dict,)), ("created", "text", (str,)), ("epochs", "a list", (list,)),
    ("batches", "a list", (list,)), ("seconds", "a number", (int, float)), ("checkpoint", "a file name or null",
                                                                            (str, type(None))),
    ("owner", "an object", (dict,)), ("params", "a whole number", (int,)),
]


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
