"""Helpers for the fault cases in tests/test_core_*.py: hostile files built for real (PNG bytes, IDX files, Keras
models that carry code), child processes, and the checks that saved runs survived. Nothing here replaces the code
under test. (The fixtures ``good_template`` and ``good`` are in tests/conftest.py.)"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from helpers import PROJECT

MARKER_ENV = "DIGIT_LAB_FAULTS_MARKER"
CHILD = Path(__file__).resolve().parent / "faults_child.py"


def write_marker(x):
    """A function a Lambda layer can wrap: if it is ever called, a marker file appears (proof that code ran)."""
    with open(os.environ[MARKER_ENV], "a", encoding="utf-8") as handle:
        handle.write("the model's code ran\n")
    return x


def tiny_model(seed: int = 0, units: int = 16):
    """A small, genuinely built MNIST classifier (784 → units → 10) with seeded random weights."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def save_good_runs(registry, count: int = 2) -> dict:
    """Save ``count`` runs with distinct weights; returns {run id: (record, weights)} for ``assert_runs_intact``."""
    from helpers import save_run

    saved = {}
    for index in range(count):
        model = tiny_model(seed=100 + index, units=8 + 4 * index)
        record = save_run(registry, model, name=f"good run {index}", accuracy=0.5 + index / 10)
        saved[record.id] = (record, [w.copy() for w in model.get_weights()])
    return saved


def assert_runs_intact(registry, saved: dict) -> None:
    """Every saved good run is still listed with the same record, and loads with exactly the same weights."""
    from mnist_core.store.registry import Registry

    fresh = Registry(registry.root)  # what another process (the app, the CLI) would see
    skipped = []
    listed = {record.id: record for record in fresh.list_runs(skipped)}
    for run_id, (record, weights) in saved.items():
        assert run_id in listed, f"good run {run_id} is no longer listed; warnings: {skipped}"
        again = listed[run_id]
        assert (again.name, again.status, again.created, again.test_accuracy) == (
            record.name, record.status, record.created, record.test_accuracy)
        loaded = fresh.load_model(run_id).get_weights()
        assert len(loaded) == len(weights) and all(np.array_equal(a, b) for a, b in zip(loaded, weights, strict=True))


def copy_of_good_run(registry, good, name: str) -> Path:
    """A copy of one of the ``good`` runs in a folder of its own (to be damaged by the test)."""
    source = registry.root / next(iter(good))
    target = registry.root / name
    shutil.copytree(source, target)
    return target



def steps_per_epoch(config) -> int:
    """Batches per epoch of a run with this TrainConfig (its training part after the validation split)."""
    train_count = config.subset_size - round(config.subset_size * config.validation_split)
    return math.ceil(train_count / config.batch_size)



# --- child processes -------------------------------------------------------------------------------------------------


def child_env(**extra) -> dict:
    """The environment of a child Python process that imports the project and the test helpers."""
    return os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'tests'}"} | extra


class Child:
    """A child process whose stdout lines are collected by a thread (so the pipe never fills)."""

    def __init__(self, *args, env=None):
        self.errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty child never blocks
        self.process = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True, cwd=PROJECT, env=env or child_env())
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.lines and text + "\n" not in self.lines:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"child never said {text!r}: {self.stderr()}")
            time.sleep(0.02)

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-3000:]

    def finish(self) -> list[str]:
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return [line.strip() for line in self.lines]



# --- files ------------------------------------------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def huge_black_png(side: int) -> bytes:
    """A valid, fully decodable 1-bit black PNG of side×side pixels, compressed row by row (tiny in memory)."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte "none", then packed black pixels
    compressor = zlib.compressobj(6)
    parts = [compressor.compress(row * min(1000, side - done)) for done in range(0, side, 1000)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"".join(parts)) + \
        png_chunk(b"IEND", b"")


def idx_bytes(array: np.ndarray, magic: bytes | None = None, shape: tuple | None = None) -> bytes:
    """A LeCun IDX file; ``magic`` and ``shape`` override the header to make it wrong."""
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    dims = shape if shape is not None else array.shape
    return header + b"".join(struct.pack(">I", n) for n in dims) + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, x_train, y_train, x_test, y_test, gz: bool = True) -> dict:
    """The four LeCun files in ``folder``; returns {key: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    paths = {}
    for key, array in zip(names, (x_train, y_train, x_test, y_test), strict=True):
        raw = idx_bytes(np.asarray(array))
        paths[key] = folder / (names[key] + (".gz" if gz else ""))
        paths[key].write_bytes(gzip.compress(raw) if gz else raw)
    return paths


MAX_PEAK_KB = 1536 * 1024  # no fault may let a process grow past 1.5 GB
NO_TENSORFLOW_PEAK_KB = 300 * 1024  # a whole CLI process that never imported TensorFlow (TensorFlow alone takes more)
PEAKS_LOG_ENV = "FAULTS_PEAKS_LOG"  # a file to which measured_cli adds each process's peak memory
MEASURED_CLI = ("import json, resource, subprocess, sys\n"
                "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                "print(json.dumps({'rc': done.returncode, 'out': done.stdout, 'err': done.stderr,"
                " 'peak_kb': usage.ru_maxrss, 'blocks': usage.ru_oublock}))")


def measured_cli(*args, env: dict | None = None, timeout: float = 300) -> dict:
    """One real ``python -m mnist_core ARGS`` process, with its exit code, output, peak memory (KiB, from its rusage,
    so nothing is sampled) and block writes."""
    done = subprocess.run([sys.executable, "-c", MEASURED_CLI, sys.executable, "-m", "mnist_core", *map(str, args)],
                          capture_output=True, text=True, cwd=PROJECT, env=env or os.environ, timeout=timeout)
    result = json.loads(done.stdout)
    if os.environ.get(PEAKS_LOG_ENV):  # for the table of peaks in a report: one JSON line per process
        with open(os.environ[PEAKS_LOG_ENV], "a", encoding="utf-8") as log:
            log.write(json.dumps({"test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                                  "args": [str(arg)[-40:] for arg in args], "rc": result["rc"],
                                  "peak_mb": round(result["peak_kb"] / 1024)}) + "\n")
    return result


def assert_one_error_line(result: dict, *words: str) -> None:
    """The CLI refused with exit 2 and one ``error:`` line holding ``words``, no traceback, in bounded memory."""
    lines = [line for line in result["err"].splitlines() if line.strip() and not line.startswith(("WARNING: All log",
                                                                                                    "I0000", "W0000"))]
    assert result["rc"] == 2, result
    assert "Traceback" not in result["err"] and len([line for line in lines if line.startswith("error:")]) == 1, lines
    assert lines[-1].startswith("error:") and "\n" not in lines[-1], lines
    assert all(word in lines[-1] for word in words), (words, lines[-1])
    assert result["peak_kb"] < MAX_PEAK_KB, result["peak_kb"]


class SmallDisk:
    """A real small file system (tmpfs of ``size``), mounted for one test and unmounted after: a full disk for
    real. Needs root (``mount``); a test without it is skipped with the reason."""

    def __init__(self, folder: Path, size: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            import pytest

            pytest.skip(f"a small tmpfs cannot be mounted here ({mounted.stderr.strip()})")

    def fill(self, leave_bytes: int = 0) -> Path:
        """Fill the disk up to ``leave_bytes`` free with a filler file; returns it."""
        filler = self.folder / "filler"
        free = shutil.disk_usage(self.folder).free - leave_bytes
        with open(filler, "wb") as handle:
            try:
                handle.write(b"\0" * max(0, free))
            except OSError:  # full already
                pass
        return filler

    def read_only(self, read_only: bool = True) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(self.folder)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.folder)], check=True)
