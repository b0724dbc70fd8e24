"""Harness for the browser journeys: one real Streamlit server for the session (on a free localhost port, with a
temporary models folder), one real Chromium driven by Playwright's sync API, and per test a fresh browser context
and page that records every network request and leaves a full-page screenshot in ``tests/screenshots/``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from e2e_helpers import SCREENSHOTS, wait_for_app_idle, whole_page_viewport
from e2e_server import VIEWPORT, RequestLog, StreamlitServer, start_streamlit, stop_process_group

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

_server_for_reports: StreamlitServer | None = None


# --- the server -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> StreamlitServer:
    """The app served by a real Streamlit on 127.0.0.1 with $MNIST_PATH and a temporary $DIGIT_LAB_MODELS."""
    global _server_for_reports
    mnist_path = os.environ.get("MNIST_PATH")
    if not mnist_path or not Path(mnist_path).exists():
        pytest.fail("Set MNIST_PATH to the real mnist.npz for the browser tests (CI uses ../shared/data/mnist.npz).")
    folder = tmp_path_factory.mktemp("e2e")
    server = start_streamlit(folder, os.environ | {"MNIST_PATH": mnist_path,
                                                  "DIGIT_LAB_MODELS": str(folder / "models")})
    _server_for_reports = server
    yield server
    _server_for_reports = None
    stop_process_group(server.process)


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


# Reports, as console errors, the window's error events that carry no exception: Chromium tells neither the console
# nor Playwright about them, and "ResizeObserver loop completed with undelivered notifications" is one.
REPORT_WINDOW_ERRORS = """window.addEventListener('error', event => {
    if (!event.error) console.error('window error event: ' + event.message);
});"""
VEGA_WARNING = "WARN "  # how Vega's logger starts a warning it writes to the console ("WARN Infinite extent ...")


def script_problems(console: list[tuple[str, str]], page_errors: list[str]) -> list[str]:
    """What a journey must not leave in the browser: an uncaught exception, a script error in the console (a
    ResizeObserver loop included), or a warning of Vega's (a chart drawn with data it cannot draw). Not script
    errors: a resource the server answered 404 (Streamlit's own frontend asks for ``/_stcore/health`` relative to a
    deep link), and Streamlit's "Image source error" for a picture whose media file the next script run replaced."""
    return page_errors + [text for kind, text in console
                          if (kind == "error" and not text.startswith("Failed to load resource")
                              and "Image source error" not in text)  # an image of a run replaced by the next run
                          or (kind == "warning" and text.startswith(VEGA_WARNING))]


class BrowserConsole:
    """Every console message and uncaught error of the pages of one browser context (pages it opens later too)."""

    def __init__(self, context) -> None:
        self.messages: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        context.add_init_script(REPORT_WINDOW_ERRORS)
        context.on("console", lambda message: self.messages.append((message.type, message.text)))
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def problems(self) -> list[str]:
        return script_problems(self.messages, self.page_errors)


@pytest.fixture()
def watch_console():
    """``watch_console(context)`` collects what the context's pages report; at the end of the test, after the
    screenshots, the test fails on any script error or Vega warning any of them reported."""
    consoles: list[BrowserConsole] = []
    yield lambda context: consoles.append(BrowserConsole(context))
    problems = [problem for console in consoles for problem in console.problems()]
    assert not problems, f"the browser reported {len(problems)} problem(s):\n" + "\n".join(problems[:20])


def screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_") + ".png"


@pytest.fixture()
def requests_seen(app_server) -> RequestLog:
    return RequestLog(app_server.url)


@pytest.fixture()
def page(browser, app_server, requests_seen, watch_console, request):
    """A fresh browser context and page (so a fresh Streamlit session) opened on the app, its console watched; at
    the end, pass or fail, a full-page screenshot goes to ``tests/screenshots/<test name>.png``."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=False)
    context.set_default_timeout(30_000)
    context.on("request", lambda sent: requests_seen.urls.append(sent.url))  # this page and any it opens
    watch_console(context)
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
