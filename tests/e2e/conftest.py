"""Harness for the browser journeys: one real Streamlit server for the session (on a free localhost port, with a
temporary models folder), one real Chromium driven by Playwright's sync API, and per test a fresh browser context
and page that records every network request and leaves a full-page screenshot in ``tests/screenshots/``."""

from __future__ import annotations

import os
import re
import shutil
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

from e2e_helpers import SCREENSHOTS, wait_for_app_idle, whole_page_viewport

PROJECT = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
VIEWPORT = {"width": 1400, "height": 1000}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOG_TAIL_LINES = 150
# Addresses a page may use without leaving the machine: its own server, and in-page data/blob URLs.
LOCAL_SCHEMES = ("data:", "blob:", "about:")

_server_for_reports: "StreamlitServer | None" = None


# --- the server -------------------------------------------------------------------------------------------------


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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> StreamlitServer:
    """The app served by a real Streamlit on 127.0.0.1 with $MNIST_PATH and a temporary $DIGIT_LAB_MODELS."""
    global _server_for_reports
    mnist_path = os.environ.get("MNIST_PATH")
    if not mnist_path or not Path(mnist_path).exists():
        pytest.fail("Set MNIST_PATH to the real mnist.npz for the browser tests (CI uses ../shared/data/mnist.npz).")
    folder = tmp_path_factory.mktemp("e2e")
    models_dir = folder / "models"
    models_dir.mkdir()
    log_path = folder / "streamlit.log"
    port = free_port()
    env = os.environ | {"MNIST_PATH": mnist_path, "DIGIT_LAB_MODELS": str(models_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
                        "PYTHONUNBUFFERED": "1"}
    # no --server.address: the project's .streamlit/config.toml must bind it to localhost by itself
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true",
               # no reloading on file changes: nothing is edited during a test run, and watching the checkout
               # (with .venv) floods inotify and costs CPU on a small machine
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = StreamlitServer(process, port, log_path, models_dir)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process_group(process)
            pytest.fail(f"The Streamlit server did not answer {server.url}/_stcore/health with 'ok' within "
                        f"{HEALTH_TIMEOUT_S:.0f} s (exit code {process.returncode}). Its log ({log_path}):\n"
                        f"{server.log_tail()}", pytrace=False)
        time.sleep(0.25)
    _server_for_reports = server
    yield server
    _server_for_reports = None
    stop_process_group(process)


# --- the browser ------------------------------------------------------------------------------------------------


def chromium_executable() -> str | None:
    """$CHROMIUM_PATH, else a ``chromium`` on PATH, else Debian's; None lets Playwright use its own download."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


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


def screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_") + ".png"


@pytest.fixture()
def requests_seen(app_server) -> RequestLog:
    return RequestLog(app_server.url)


@pytest.fixture()
def page(browser, app_server, requests_seen, request):
    """A fresh browser context and page (so a fresh Streamlit session) opened on the app; at the end, pass or
    fail, a full-page screenshot goes to ``tests/screenshots/<test name>.png``."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=False)
    context.set_default_timeout(30_000)
    context.on("request", lambda sent: requests_seen.urls.append(sent.url))  # this page and any it opens
    new_page = context.new_page()
    new_page.on("websocket", lambda socket_: requests_seen.urls.append(socket_.url))
    yield new_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        try:
            wait_for_app_idle(new_page, timeout_ms=10_000)
        except Exception:  # a page that refreshes itself (a run in progress) is shot as it is
            pass
        whole_page_viewport(new_page)
        new_page.screenshot(path=str(SCREENSHOTS / screenshot_name(request.node.name)), full_page=True,
                            timeout=30_000)
    except Exception as error:  # a screenshot must never hide the test's own result
        print(f"screenshot of {request.node.name} failed: {error}")
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of the server's log to every failing browser test."""
    report = yield
    if report.failed and _server_for_reports is not None and "app_server" in getattr(item, "fixturenames", ()):
        report.sections.append(("streamlit server log (tail)", _server_for_reports.log_tail()))
    return report
