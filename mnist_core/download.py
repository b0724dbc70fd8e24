"""Fetching MNIST into the Keras cache when nothing else has it, as Keras does, but checked and atomic.

The file is streamed to a temporary name beside the cache file, its hash (when one is pinned) and its contents
(``read_npz``'s checks) are verified, and only then is it renamed into place: a failed, stalled or wrong download
never leaves a cache file behind. ``DIGIT_LAB_MNIST_URL`` points at a mirror (or a local server in the tests) and
``DIGIT_LAB_MNIST_SHA256`` pins the file's hash; Keras's own address and hash are the defaults.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from .data import DataSetError, MnistData, keras_cache_path, read_npz

URL_ENV, SHA256_ENV = "DIGIT_LAB_MNIST_URL", "DIGIT_LAB_MNIST_SHA256"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
EXPECTED_BYTES = 11_490_434  # size of Keras's mnist.npz: the progress total when the server sends no length
MAX_BYTES = 64 * 1024 * 1024  # MNIST is ~11 MB; a server sending more than this is not sending MNIST
TIMEOUT_S = 30.0  # no byte for this long (connecting or reading) ends the download
CHUNK_BYTES = 256 * 1024

Progress = Callable[[int, int], None]  # (bytes so far, bytes expected)


def download_origin() -> tuple[str, str | None]:
    """The address to download from and the hash to insist on (Keras's own when its address is used)."""
    url = os.environ.get(URL_ENV) or KERAS_ORIGIN
    pinned = os.environ.get(SHA256_ENV) or (KERAS_SHA256 if url == KERAS_ORIGIN else None)
    return url, pinned.strip().lower() if pinned else None


def fetch_to(url: str, target: Path, on_progress: Progress | None, timeout: float) -> str:
    """Stream ``url`` into ``target`` and return the sha256 of what was written; raises ``DataSetError``."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > MAX_BYTES:
                raise DataSetError(f"the server offers {declared:,} bytes; MNIST is about 11 MB.")
            total, done = declared or EXPECTED_BYTES, 0
            while chunk := response.read(CHUNK_BYTES):
                done += len(chunk)
                if done > MAX_BYTES:
                    raise DataSetError(f"the server sent more than {MAX_BYTES:,} bytes; MNIST is about 11 MB.")
                out.write(chunk)
                digest.update(chunk)
                if on_progress is not None:
                    on_progress(done, max(total, done))
            if declared and done != declared:
                raise DataSetError(f"the download was cut short: {done:,} of {declared:,} bytes arrived.")
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as error:
        raise DataSetError(f"the server answered {error.code} {error.reason} for {url}.") from None
    except TimeoutError:
        raise DataSetError(f"no answer from {url} for {timeout:.0f} s (offline, blocked, or a stalled "
                           "server).") from None
    except urllib.error.URLError as error:
        raise DataSetError(f"could not reach {url} ({error.reason}); check the network or set {URL_ENV} to a "
                           "mirror.") from None
    except (OSError, ValueError) as error:  # connection reset, bad URL, disk full…
        raise DataSetError(f"the download from {url} failed ({type(error).__name__}: {error}).") from None
    return digest.hexdigest()


def download_mnist(on_progress: Progress | None = None, *, cache: Path | None = None,
                   timeout: float = TIMEOUT_S) -> MnistData:
    """Download MNIST into the Keras cache (or ``cache``), check it, and return it; raises ``DataSetError`` saying
    why it failed, with nothing left in the cache."""
    url, pinned = download_origin()
    cache = cache or keras_cache_path()
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex}.part")
    try:
        digest = fetch_to(url, partial, on_progress, timeout)
        if pinned and digest != pinned:
            raise DataSetError(f"the downloaded file's sha256 is {digest}, not the expected {pinned} "
                               f"(${SHA256_ENV}); it was discarded.")
        try:
            data = read_npz(partial)
        except DataSetError as error:
            raise DataSetError(f"the downloaded file is not MNIST: {error}") from None
        os.replace(partial, cache)
    except DataSetError as error:
        raise DataSetError(f"Downloading MNIST failed: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return MnistData(data.x_train, data.y_train, data.x_test, data.y_test, str(cache))
