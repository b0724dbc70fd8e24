"""A newcomer's first visit: MNIST arrives with one click on a server that has none, and text a user typed (a run
name written as Markdown, HTML or a tracking pixel) appears as typed on every page, fetching nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_helpers import APP_TIMEOUT_MS, assert_no_exception, go_to, open_app, screenshot, set_number, set_text
from e2e_server import PROJECT, VIEWPORT, RequestLog, start_streamlit, stop_process_group
from mnist_server import MnistServer

pytestmark = pytest.mark.e2e

# Loopback addresses other than the app's: a request to one proves the page interpreted the text (and nothing
# leaves the machine if it does).
HOSTILE_NAME = ("![p](http://127.0.0.2:9/p.png) [click](http://127.0.0.2:9/l) <img src=http://127.0.0.2:9/t.png> "
                ":red[red] **b** $x^2$")  # within the 120 characters a run name may have
HOSTILE_FILE = "[see](www.127.0.0.2.test) <b>model :red[x].keras"  # a file name holds no "/"


@pytest.fixture()
def bare_server(tmp_path, mnist_path):
    """A server with no MNIST anywhere (no $MNIST_PATH, an empty home) whose download origin is a local server."""
    mnist = MnistServer(Path(mnist_path).read_bytes())
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_PATH", "KERAS_HOME")}
    env |= {"HOME": str(tmp_path / "home"), "DIGIT_LAB_MODELS": str(tmp_path / "models"),
            "DIGIT_LAB_MNIST_URL": mnist.url("/mnist.npz")}
    server = start_streamlit(tmp_path, env)
    yield server, tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    stop_process_group(server.process)
    mnist.close()


def test_home_downloads_mnist_and_every_page_has_it(browser, bare_server, watch_console):
    server, cache = bare_server
    seen = RequestLog(server.url)
    context = browser.new_context(viewport=VIEWPORT)
    context.on("request", lambda sent: seen.urls.append(sent.url))
    watch_console(context)
    page = context.new_page()
    try:
        open_app(page, server.url, ready_text="Could not load MNIST")
        assert not cache.exists()
        page.get_by_role("button", name="Download MNIST, 11 MB").click()
        expect(page.get_by_text("Data set loaded from")).to_be_visible(timeout=APP_TIMEOUT_MS)
        expect(page.get_by_text("60,000 training and 10,000 test images")).to_be_visible()
        assert cache.is_file()
        go_to(page, "Data", "Images per digit")  # another page has the data without a restart
        assert_no_exception(page)
        screenshot(page, "test_home_downloads_mnist-data-page")
        seen.assert_all_local()
    finally:
        context.close()


def install_hostile_run(models_dir: Path) -> str:
    """A copy of the shipped default model saved under a hostile name, the best and newest run of the registry."""
    run_id = "hostile-name-run"
    target = models_dir / run_id
    shutil.copytree(PROJECT / "models" / "default", target)
    record = json.loads((target / "run.json").read_text(encoding="utf-8"))
    record |= {"id": run_id, "name": HOSTILE_NAME, "created": "2099-01-01T00:00:00+00:00", "test_accuracy": 0.9999}
    (target / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return run_id


def assert_shown_as_typed(page, text: str) -> None:
    expect(page.get_by_text(text, exact=False).filter(visible=True).first).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.locator('img[src*="127.0.0.2"], a[href*="127.0.0.2"]')).to_have_count(0)


def test_hostile_names_stay_text_on_every_page(page, app_server, requests_seen, tmp_path):
    run_id = install_hostile_run(app_server.models_dir)
    try:
        open_app(page, app_server.url, ready_text="Data set loaded from")
        assert_shown_as_typed(page, HOSTILE_NAME)  # the best model's caption
        go_to(page, "Models", "Upload a .keras model")
        assert_shown_as_typed(page, HOSTILE_NAME)
        nasty = tmp_path / HOSTILE_FILE
        nasty.write_text("not a model", encoding="utf-8")
        page.locator('[data-testid="stFileUploader"]').filter(has_text="Upload a .keras model") \
            .locator('input[type="file"]').set_input_files(str(nasty))
        assert_shown_as_typed(page, f"{HOSTILE_FILE} was refused")
        for title, ready in (("Errors", "Test accuracy"), ("Draw", "Draw a digit"), ("Kaggle", "Upload")):
            open_app(page, app_server.url, f"{title.lower()}?run={run_id}", ready_text=ready)
            picker = page.get_by_role("combobox", name="Model", exact=True)
            # the model picker, opened on that run by the link, shows the name as typed
            expect(picker).to_have_value(re.compile(re.escape(HOSTILE_NAME)))
            expect(page.locator('img[src*="127.0.0.2"], a[href*="127.0.0.2"]')).to_have_count(0)
            assert_no_exception(page)
        go_to(page, "Train", "Training settings")
        page.get_by_role("combobox", name="Preset", exact=True).click()
        page.get_by_role("option", name="One hidden layer of 32", exact=True).click()
        set_number(page, "Training subset size", 1000)
        set_number(page, "Epochs", 1)
        set_text(page, "Run name", HOSTILE_NAME)
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text("Finished:")).to_be_visible(timeout=180_000)
        assert_shown_as_typed(page, f"Run: {HOSTILE_NAME}")
        assert_shown_as_typed(page, f"Saved to the registry as “{HOSTILE_NAME}”")
        screenshot(page, "test_hostile_names-train")
        assert_no_exception(page)
        requests_seen.assert_all_local()
    finally:  # leave the shared server's registry as it was for the journeys after this one
        for folder in app_server.models_dir.iterdir():
            record = folder / "run.json"
            if record.is_file() and json.loads(record.read_text(encoding="utf-8"))["name"] == HOSTILE_NAME:
                shutil.rmtree(folder, ignore_errors=True)
