"""Several people on one server, in real browsers: two sessions on the Models page (one saves runs while the other
compares three runs, renames one, finding the picker and the comparison intact and readable on a desktop and a
phone, and deletes it), and one person pressing Train three times in a row and watching two runs end.

The registry and the job runner are the session's shared server's (see conftest.py); the runs made here have
names of their own, so the other journeys are not disturbed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e_helpers import (
    APP_TIMEOUT_MS,
    assert_no_exception,
    chart,
    choose,
    open_app,
    pick,
    screenshot,
    set_number,
    set_text,
    tags,
    upload,
)
from e2e_server import PHONE, VIEWPORT
from helpers import save_run
from mnist_core.store.registry import Registry

pytestmark = pytest.mark.e2e

FAST_PRESET = "One hidden layer of 32"  # dense32-rmsprop: the quickest preset to train
MODELS_READY, TRAIN_READY = "Upload a .keras model", "Training settings"
DOUBLE_PRESS_RUN = "e2e-double-press"
DOUBLE_PRESS_EPOCHS = 30  # long enough to be still training at the deliberate second press
RUNS_END_S = 240  # two tiny runs, one after the other, on a busy 2-core machine
COMPARED = {"e2e-shared-mine": 3, "e2e-compare-short": 2, "e2e-compare-long": 12}  # name: epochs


def other_session(browser, url: str, watch_console):
    """A second person: a browser context of its own (so a Streamlit session of its own, its console watched) on
    the Models page."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=False)
    context.set_default_timeout(30_000)
    watch_console(context)
    other = context.new_page()
    open_app(other, url, "models", ready_text=MODELS_READY)
    return context, other


def upload_as_run(page, path) -> None:
    """Save a run the way another person does: upload a .keras file on the Models page."""
    upload(page, MODELS_READY, path)
    expect(page.get_by_text(f"Imported {path.name}")).to_be_visible(timeout=APP_TIMEOUT_MS)


def epoch_rows(count: int) -> list[dict]:
    """``count`` epochs of a run learning steadily, with validation."""
    return [{"epoch": epoch, "loss": 1 / epoch, "accuracy": 1 - 0.1 / epoch, "val_loss": 1.1 / epoch,
             "val_accuracy": 1 - 0.12 / epoch} for epoch in range(1, count + 1)]


def assert_comparison_readable(page, names: list[str]) -> None:
    """The accuracy comparison fills the page's width (the screen's, on a phone), gives each run its own colour,
    names each run and split in full in its legends, inside the chart, and a run 6× longer than another puts the
    epochs on a log axis."""
    compared = chart(page, "Accuracy per epoch")
    expect(compared).to_be_visible(timeout=APP_TIMEOUT_MS)
    box, screen = compared.bounding_box(), page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= screen, f"the chart runs off a {screen} px screen: {box}"
    assert box["width"] >= min(0.6 * screen, screen - 100), f"a {box['width']:.0f} px chart on a {screen} px screen"
    labels = compared.locator("g.role-legend-label text")
    legend = labels.all_text_contents()
    for name in [*names, "train", "validation"]:
        assert any(text.startswith(name) for text in legend), f"{name!r} is not named in the legends {legend}"
    assert not [text for text in legend if text.endswith("…")], f"legend labels cut: {legend}"
    outside = labels.evaluate_all("(texts, right) => texts.filter(text => text.getBoundingClientRect().right > right)"
                                  ".map(text => text.textContent)", box["x"] + box["width"])
    assert not outside, f"legend labels beyond the chart's right edge: {outside}"
    strokes = compared.locator("g.mark-line.role-mark path").evaluate_all(
        "paths => [...new Set(paths.map(p => p.getAttribute('stroke')))]")
    assert len(strokes) == len(names), f"{len(names)} runs drawn in {strokes}"
    expect(compared.locator('g.role-axis[aria-label^="X-axis"]')).to_have_attribute("aria-label", re.compile("log"))


def test_models_choice_and_typed_name_survive_another_session_saving_and_delete_acts_on_the_named_run(
        page, browser, app_server, requests_seen, watch_console, small_dense_model, tmp_path):
    registry = Registry(app_server.models_dir)
    saved = {name: save_run(registry, small_dense_model, name=name, epochs=epoch_rows(epochs))
             for name, epochs in COMPARED.items()}
    mine = saved["e2e-shared-mine"]
    uploads = []
    for name in ("e2e-shared-theirs-1", "e2e-shared-theirs-2"):
        uploads.append(tmp_path / f"{name}.keras")
        small_dense_model.save(uploads[-1])

    open_app(page, app_server.url, "models", ready_text=MODELS_READY)
    run_picker = page.get_by_role("combobox", name="Run", exact=True).last  # a picker whose labels changed is a new
    # widget, and the old one can linger while the page reruns
    for record in saved.values():
        if not any(record.id in tag for tag in tags(page, "Compare runs")):
            pick(page, "Compare runs", record.id)
    assert len(tags(page, "Compare runs")) == len(COMPARED)
    choose(page, "Run", mine.id)
    context, other = other_session(browser, app_server.url, watch_console)
    try:
        upload_as_run(other, uploads[0])  # now the newest run of the registry

        # Back in the first session: its next rerun keeps its run picked, and the name typed into it.
        set_text(page, "New name", "e2e-shared-mine renamed")
        expect(run_picker).to_have_value(re.compile(re.escape(mine.id)))  # not the newest any more
        expect(page.get_by_role("textbox", name="New name", exact=True)).to_have_value("e2e-shared-mine renamed")
        page.get_by_role("button", name="Rename", exact=True).click()
        expect(page.get_by_text("Renamed to")).to_be_visible(timeout=APP_TIMEOUT_MS)
        assert registry.record(mine.id).name == "e2e-shared-mine renamed"
        # The picker shows the new name, and the comparison still has its three runs, the renamed one by its new name
        expect(run_picker).to_have_value(re.compile(rf"^e2e-shared-mine renamed · .*{re.escape(mine.id)}$"))
        compared = tags(page, "Compare runs")
        assert len(compared) == len(COMPARED) and sum("e2e-shared-mine renamed" in tag for tag in compared) == 1, \
            compared
        names = ["e2e-shared-mine renamed", "e2e-compare-short", "e2e-compare-long"]
        assert_comparison_readable(page, names)
        screenshot(page, "models_compare_after_rename_desktop")
        desktop = page.viewport_size
        page.set_viewport_size(PHONE)
        assert_comparison_readable(page, names)
        screenshot(page, "models_compare_after_rename_phone")
        page.set_viewport_size(desktop)

        # Delete asks about the run it names; another run saved meanwhile changes nothing of that.
        page.get_by_role("button", name="Delete", exact=True).click()
        question = page.get_by_text(re.compile(r"^Delete .* for good\?"))
        expect(question).to_contain_text(mine.id, timeout=APP_TIMEOUT_MS)
        upload_as_run(other, uploads[1])
        page.get_by_role("button", name="Confirm delete", exact=True).click()
        expect(page.get_by_text(f"Deleted run {mine.id}")).to_be_visible(timeout=APP_TIMEOUT_MS)
        assert_no_exception(page)
        left = [record.name for record in registry.list_runs()]
        assert "e2e-shared-mine renamed" not in left
        assert {"e2e-shared-theirs-1", "e2e-shared-theirs-2"} <= set(left), left
        other.reload()
        expect(other.get_by_text(MODELS_READY)).to_be_visible(timeout=APP_TIMEOUT_MS)
        screenshot(other, "shared_server_models_other_session")
    finally:
        context.close()
    requests_seen.assert_all_local()


def test_three_presses_queue_one_run_a_second_on_purpose_and_labels_follow_the_runs(page, app_server,
                                                                                      requests_seen):
    registry = Registry(app_server.models_dir)
    open_app(page, app_server.url, "train", ready_text=TRAIN_READY)
    choose(page, "Preset", FAST_PRESET)
    set_number(page, "Training subset size", 1000)
    set_number(page, "Epochs", DOUBLE_PRESS_EPOCHS)
    set_text(page, "Run name", DOUBLE_PRESS_RUN)
    train = page.get_by_role("button", name="Train", exact=True)
    train.scroll_into_view_if_needed()  # the mouse presses where the button is on the screen
    box = train.bounding_box()
    for _ in range(3):  # three presses as fast as a hand can: one run (and perhaps already the question)
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_role("heading", name=f"Run: {DOUBLE_PRESS_RUN}")).to_be_visible(timeout=APP_TIMEOUT_MS)
    question = page.get_by_text("An identical run is already queued or training")
    page.wait_for_timeout(1000)
    if not question.count():
        train.click()  # pressed again while it trains: a question, not a run
    expect(question).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(train).to_be_disabled()
    page.get_by_role("button", name="Train another", exact=True).click()  # a deliberate second run
    watched = page.get_by_role("combobox", name="Run to watch", exact=True).last  # the newest: a picker whose
    # labels changed is a new widget, and the old one can linger while the page reruns
    expect(watched).to_have_value(re.compile(rf"^{DOUBLE_PRESS_RUN} · queued · "), timeout=APP_TIMEOUT_MS)
    screenshot(page, "shared_server_second_run_queued")

    # No click from here: the label of the watched run follows it from queued to running to finished.
    expect(watched).to_have_value(re.compile(rf"^{DOUBLE_PRESS_RUN} · running · "), timeout=RUNS_END_S * 1000)
    expect(watched).to_have_value(re.compile(rf"^{DOUBLE_PRESS_RUN} · finished · "), timeout=RUNS_END_S * 1000)
    expect(page.get_by_text("Finished:").first).to_be_visible(timeout=APP_TIMEOUT_MS)
    saved = [record.status for record in registry.list_runs() if record.name == DOUBLE_PRESS_RUN]
    assert saved == ["finished", "finished"], saved  # three presses and a deliberate one: two runs
    assert_no_exception(page)
    requests_seen.assert_all_local()
