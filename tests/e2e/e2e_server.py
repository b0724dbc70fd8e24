"""A real ``streamlit run app.py`` for the browser tests, and the log of what a page requested."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# The two screens of the journeys (issue 26): a desktop browser, every page's default, and a phone.
DESKTOP, PHONE = {"width": 1400, "height": 900}, {"width": 390, "height": 844}
VIEWPORT = DESKTOP
LOG_TAIL_LINES = 150
# Addresses a page may use without leaving the machine: its own server, and in-page data/blob URLs.
LOCAL_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class StreamlitServer:
    """A running ``streamlit run app.py`` and where to reach it."""

    process: subprocess.Popen
    port: int
    log_path: Path
    models_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"(no server log: {error})"
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_process_group(process: subprocess.Popen) -> None:
    """Terminate the server's own process group (it was started in a new session), then kill it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=STOP_TIMEOUT_S)


def start_streamlit(folder: Path, env: dict) -> StreamlitServer:
    """``streamlit run app.py`` on a free localhost port with ``env``, logging to ``folder``; waits until healthy."""
    models_dir = Path(env["DIGIT_LAB_MODELS"])
    models_dir.mkdir(parents=True, exist_ok=True)
    log_path = folder / "streamlit.log"
    port = free_port()
    # no --server.address: the project's .streamlit/config.toml must bind it to localhost by itself
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true",
               # no reloading on file changes: nothing is edited during a test run, and watching the checkout
               # (with .venv) floods inotify and costs CPU on a small machine
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT, env=env | {"TF_CPP_MIN_LOG_LEVEL": "2",
                                                                   "PYTHONUNBUFFERED": "1"},
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = StreamlitServer(process, port, log_path, models_dir)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process_group(process)
            pytest.fail(f"The Streamlit server did not answer {server.url}/_stcore/health with 'ok' within "
                        f"{HEALTH_TIMEOUT_S:.0f} s (exit code {process.returncode}). Its log ({log_path}):\n"
                        f"{server.log_tail()}", pytrace=False)
        time.sleep(0.25)
    return server


@dataclass
class RequestLog:
    """Every request (and web socket) a page opened, to prove none of them leaves the app's own address."""

    origin: str
    urls: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        own = (self.origin + "/", self.origin.replace("http://", "ws://", 1) + "/")
        return [url for url in self.urls if not url.startswith(own) and not url.startswith(LOCAL_SCHEMES)]

    def assert_all_local(self) -> None:
        assert self.urls, "no request was recorded at all: the request log is not wired to the page"
        outside = self.outside()
        assert not outside, (f"the page made {len(outside)} request(s) outside {self.origin}: "
                             + ", ".join(sorted(set(outside))[:20]))
