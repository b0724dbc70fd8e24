"""Fetching MNIST into the Keras cache when nothing else has it, as Keras does, but checked and atomic.

The file is streamed to a temporary name beside the cache file, its hash (when one is pinned) and its contents
(``read_npz``'s checks, and MNIST's 60,000 + 10,000 images when no hash is pinned) are verified, and only then is it
renamed into place: a failed, stalled or wrong download never leaves a cache file behind, and the temporary files of
a download that was killed are removed by the next one. Every download ends by a deadline, however slowly the server
drips its bytes. ``DIGIT_LAB_MNIST_URL`` points at a mirror (or a local server in the tests) and
``DIGIT_LAB_MNIST_SHA256`` pins the file's hash; Keras's own address and hash are the defaults.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from mnist_core.data.mnist import DataSetError, MnistData, keras_cache_path, read_npz
from mnist_core.errors import is_disk_full

URL_ENV, SHA256_ENV = "DIGIT_LAB_MNIST_URL", "DIGIT_LAB_MNIST_SHA256"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
EXPECTED_BYTES = 11_490_434  # size of Keras's mnist.npz: the progress total when the server sends no length
MAX_BYTES = 64 * 1024 * 1024  # MNIST is ~11 MB; a server sending more than this is not sending MNIST
TIMEOUT_S = 30.0  # no byte for this long (connecting or reading) ends the download
DEADLINE_S = 600.0  # the whole download, however the server paces it (MNIST takes 110 s at 100 kB/s)
CHUNK_BYTES = 256 * 1024
MNIST_COUNTS = (60_000, 10_000)  # training and test images: what a mirror without a pinned hash must serve

Progress = Callable[[int, int], None]  # (bytes so far, bytes expected)


def download_origin() -> tuple[str, str | None]:
    """The address to download from and the hash to insist on (Keras's own when its address is used)."""
    url = os.environ.get(URL_ENV) or KERAS_ORIGIN
    pinned = os.environ.get(SHA256_ENV) or (KERAS_SHA256 if url == KERAS_ORIGIN else None)
    return url, pinned.strip().lower() if pinned else None


class Deadline:
    """Shuts down every connection of one download when its deadline passes: a server that sends a byte now and then
    answers each read in time, so only this ends it (and frees the thread that waits on it)."""

    def __init__(self, seconds: float):
        self.seconds, self.expired, self.sockets, self.lock = seconds, False, [], threading.Lock()
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for connection in self.sockets:
                shut_down(connection)

    def track(self, connection: socket.socket) -> None:
        with self.lock:
            self.sockets.append(connection)
            if self.expired:
                shut_down(connection)

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener, its HTTP and HTTPS connections tracked (redirects included)."""
        return urllib.request.build_opener(WatchedHTTPHandler(self), WatchedHTTPSHandler(self))


def shut_down(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


class Watched:
    """A connection that hands its socket to the download's ``Deadline`` as soon as it is connected."""

    def __init__(self, *args, deadline: Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self):
        super().connect()
        self.deadline.track(self.sock)


class WatchedHTTPConnection(Watched, http.client.HTTPConnection):
    pass


class WatchedHTTPSConnection(Watched, http.client.HTTPSConnection):
    pass


class WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, request):
        return self.do_open(functools.partial(WatchedHTTPConnection, deadline=self.deadline), request)


class WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()
        self.deadline = deadline

    def https_open(self, request):
        return self.do_open(functools.partial(WatchedHTTPSConnection, deadline=self.deadline), request,
                            context=self._context)


def one_line(text) -> str:
    """A server's or library's message on one line (urllib's redirect-loop reason spans three)."""
    return " ".join(str(text).split())[:300]


def fetch_to(url: str, target: Path, on_progress: Progress | None, timeout: float,
             deadline_s: float = DEADLINE_S) -> str:
    """Stream ``url`` into ``target`` and return the sha256 of what was written; raises ``DataSetError``."""
    digest, deadline = hashlib.sha256(), Deadline(deadline_s)
    deadline.timer.start()
    try:
        with deadline.opener().open(url, timeout=timeout) as response, open(target, "wb") as out:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > MAX_BYTES:
                raise DataSetError(f"the server offers {declared:,} bytes; MNIST is about 11 MB.")
            total, done = declared or EXPECTED_BYTES, 0
            while chunk := response.read1(CHUNK_BYTES):  # what has arrived: a slow server cannot fill a chunk
                done += len(chunk)
                if done > MAX_BYTES:
                    raise DataSetError(f"the server sent more than {MAX_BYTES:,} bytes; MNIST is about 11 MB.")
                out.write(chunk)
                digest.update(chunk)
                if on_progress is not None:
                    on_progress(done, max(total, done))
            if deadline.expired:
                raise TimeoutError
            if declared and done != declared:
                raise DataSetError(f"the download was cut short: {done:,} of {declared:,} bytes arrived.")
            out.flush()
            os.fsync(out.fileno())
    except DataSetError:
        raise
    except Exception as error:
        raise download_error(error, url, timeout, deadline) from None
    finally:
        deadline.timer.cancel()
    return digest.hexdigest()


def download_error(error: Exception, url: str, timeout: float, deadline: Deadline) -> DataSetError:
    """What went wrong with a download, in one line."""
    if deadline.expired:
        return DataSetError(f"the download from {url} took longer than {deadline.seconds:.0f} s (a very slow or "
                            f"stalled server); try again later or set {URL_ENV} to a mirror.")
    if isinstance(error, urllib.error.HTTPError):
        return DataSetError(f"the server answered {error.code} {one_line(error.reason)} for {url}.")
    if isinstance(error, TimeoutError):
        return DataSetError(f"no answer from {url} for {timeout:.0f} s (offline, blocked, or a stalled server).")
    if isinstance(error, urllib.error.URLError):
        return DataSetError(f"could not reach {url} ({one_line(error.reason)}); check the network or set {URL_ENV} "
                            "to a mirror.")
    if isinstance(error, http.client.HTTPException):  # a garbled status line, bad chunks, too many headers…
        return DataSetError(f"the server at {url} sent a malformed HTTP answer ({type(error).__name__}: "
                            f"{one_line(error)}); it is not a working MNIST mirror.")
    if isinstance(error, OSError) and is_disk_full(error):
        return DataSetError("the disk is full: the download could not be written; free some space and try again.")
    if isinstance(error, (OSError, ValueError)):  # connection reset, bad URL…
        return DataSetError(f"the download from {url} failed ({type(error).__name__}: {one_line(error)}).")
    raise error


def remove_stale_parts(cache: Path) -> None:
    """Delete the temporary files of downloads that were killed (older than any download may last)."""
    for part in cache.parent.glob(f".{cache.name}.*.part"):
        try:
            if time.time() - part.lstat().st_mtime > DEADLINE_S + TIMEOUT_S:
                part.unlink()
        except FileNotFoundError:  # removed meanwhile by another download
            continue


def download_mnist(on_progress: Progress | None = None, *, cache: Path | None = None,
                   timeout: float = TIMEOUT_S, deadline_s: float = DEADLINE_S) -> MnistData:
    """Download MNIST into the Keras cache (or ``cache``), check it, and return it; raises ``DataSetError`` saying
    why it failed, with nothing left in the cache."""
    url, pinned = download_origin()
    cache = cache or keras_cache_path()
    partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex}.part")
    try:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_parts(cache)
        except OSError as error:
            raise DataSetError(f"the cache folder {cache.parent} cannot be used ({error.strerror or error}).") \
                from None
        digest = fetch_to(url, partial, on_progress, timeout, deadline_s)
        if pinned and digest != pinned:
            raise DataSetError(f"the downloaded file's sha256 is {digest}, not the expected {pinned} "
                               f"(${SHA256_ENV}); it was discarded.")
        try:
            data = read_npz(partial)
        except DataSetError as error:
            raise DataSetError(f"the downloaded file is not MNIST: {error}") from None
        if not pinned and (len(data.y_train), len(data.y_test)) != MNIST_COUNTS:
            raise DataSetError(f"the downloaded file is not MNIST: it has {len(data.y_train):,} training and "
                               f"{len(data.y_test):,} test images, MNIST {MNIST_COUNTS[0]:,} and "
                               f"{MNIST_COUNTS[1]:,} (or pin its hash with ${SHA256_ENV}).")
        try:
            os.replace(partial, cache)
        except OSError as error:
            raise DataSetError(f"the download could not be put in {cache.parent} ({error.strerror or error}).") \
                from None
    except DataSetError as error:
        raise DataSetError(f"Downloading MNIST failed: {error}") from None
    finally:
        with contextlib.suppress(OSError):  # none was made (no folder), or a later download removes it as stale
            partial.unlink(missing_ok=True)
    return MnistData(data.x_train, data.y_train, data.x_test, data.y_test, str(cache))
