"""The files of a registry: their names, and writes that are atomic (a temporary, fsync, rename) and say when the
disk is full."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from mnist_core.errors import disk_full, is_disk_full

MODEL_FILE, RECORD_FILE = "model.keras", "run.json"
BOARD_DIR = "tensorboard"  # a run's TensorBoard event files (``tensorboard_logs``): train/, validation/, test/
PREDICTIONS_FILE = "test_predictions.npz"  # the test-set probabilities computed when the run was tested
TEMP_PREFIX = ".tmp-"


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


def remove_path(path: Path) -> None:
    """Remove a file, a folder tree or a symbolic link (the link only, never what it points to)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
