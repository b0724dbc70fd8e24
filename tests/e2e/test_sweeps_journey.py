"""The Sweeps page in a real browser: create a ``quick`` sweep of 3 trials, watch its table fill while the server's
background worker trains them for real, see Optuna's parallel coordinates draw a line per trial with values along
its axes, the learning rate's axis logarithmic, and its axis names inside the chart on a phone (issue 26, item 4),
switch to the best-so-far chart, and open the best run on the Errors page."""

from __future__ import annotations

import math
import re
import time

import pytest
from playwright.sync_api import expect

from e2e_helpers import (
    APP_TIMEOUT_MS,
    assert_no_exception,
    metric,
    open_app,
    screenshot,
    set_number,
    set_text,
    wait_for_app_idle,
)
from e2e_server import PHONE

pytestmark = pytest.mark.e2e

SWEEP, TRIALS = "e2e-quick", 3
SWEEP_TIMEOUT_S = 240  # three ~2 s trials, plus TensorFlow's import and MNIST on a busy 2-core machine
BEST_RUN = re.compile(r"Best: trial (\d+) .*saved as run (\S+)\.")
LOG_PARAM = "learning_rate"  # searched over a log range in the quick space
# The parallel coordinates as drawn (Plotly's figure on the page): the values written along the LOG_PARAM axis
# (height, text) and where each trial's line crosses it (height, the trial's value as its hover text says).
AXIS_AND_TRIALS = """name => {
    const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    const axis = plot.layout.xaxis.ticktext.indexOf(name);
    return {labels: plot.layout.annotations.filter(a => a.x === axis).map(a => [a.y, a.text]),
            trials: plot.data.filter(t => t.customdata).map(t => [t.y[axis], t.customdata[axis][1]])};
}"""


def assert_log_axis(page) -> None:
    """The learning rate's axis is logarithmic: each trial crosses it at the height of its value's logarithm
    between the axis's ends, and the values written along it include both ends."""
    drawn = page.evaluate(AXIS_AND_TRIALS, LOG_PARAM)
    ends = dict(drawn["labels"])
    low, high = math.log10(float(ends[min(ends)])), math.log10(float(ends[max(ends)]))
    assert len(drawn["trials"]) == TRIALS and high > low, drawn
    tolerance = max(0.02, 0.01 / (high - low))  # the texts have 3 significant digits
    for height, value in drawn["trials"]:
        assert abs(height - (math.log10(float(value)) - low) / (high - low)) < tolerance, \
            f"a learning rate of {value} drawn at {height:.3f} of an axis from {ends[min(ends)]} to {ends[max(ends)]}"


def wait_for_metric(page, label: str, pattern: re.Pattern, timeout_s: float) -> str:
    """Wait until the metric's text matches ``pattern``; returns the text."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = metric(page, label)
        text = value.inner_text() if value.count() else ""
        if pattern.fullmatch(text.strip()):
            return text.strip()
        page.wait_for_timeout(250)
    raise AssertionError(f"the metric {label!r} never matched {pattern.pattern} within {timeout_s:.0f} s")


def test_create_watch_and_open_the_best_run(page, app_server, requests_seen):
    open_app(page, app_server.url, "sweeps", ready_text="New sweep")
    assert_no_exception(page)
    set_text(page, "Sweep name", SWEEP)
    set_number(page, "Trials", TRIALS)
    page.get_by_role("button", name="Create and start").click()

    seen = {wait_for_metric(page, "Trials complete", re.compile(rf"[0-{TRIALS}] of {TRIALS}"), APP_TIMEOUT_MS / 1000)}
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while f"{TRIALS} of {TRIALS}" not in seen and time.monotonic() < deadline:  # the table fills as trials end
        text = metric(page, "Trials complete").inner_text().strip()
        if text not in seen and text != f"{TRIALS} of {TRIALS}":
            screenshot(page, "sweeps_filling")
        seen.add(text)
        page.wait_for_timeout(300)
    assert f"{TRIALS} of {TRIALS}" in seen, f"the sweep did not finish in {SWEEP_TIMEOUT_S} s (saw {seen})"
    assert len(seen) >= 2, f"the page never showed the sweep in progress (saw only {seen})"
    wait_for_app_idle(page)
    assert_no_exception(page)

    table = page.locator('[data-testid="stDataFrame"]').last
    expect(table.locator('[role="row"]').filter(has_text="complete")).to_have_count(TRIALS)
    parallel = page.locator('[data-testid="stPlotlyChart"]')
    expect(parallel.locator("g.scatterlayer g.trace")).to_have_count(TRIALS + 1)  # a line per trial, the colours
    expect(parallel.locator("g.xtick text").filter(has_text=LOG_PARAM)).to_have_count(1)
    assert parallel.locator("g.annotation").count() >= 2 * 7  # values along each axis: accuracy and 6 parameters
    assert_log_axis(page)
    screenshot(page, "sweeps_done")
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)  # Plotly redraws for the new width
    box = parallel.bounding_box()
    outside = parallel.locator("g.xtick text").evaluate_all(  # slanted, so they neither run together nor off it
        "(names, box) => names.filter(name => { const r = name.getBoundingClientRect();"
        " return r.left < box.x || r.right > box.x + box.width; }).map(name => name.textContent)", box)
    assert not outside, f"axis names beyond the chart's edges on a phone: {outside}"
    screenshot(page, "sweeps_done_phone")
    page.set_viewport_size(desktop)
    page.locator('[data-testid="stButtonGroup"]').get_by_text("Best so far", exact=True).click()
    expect(page.get_by_text("Each completed trial's validation accuracy and the best so far.")).to_be_visible()
    expect(parallel.locator("g.scatterlayer g.trace")).to_have_count(2)  # the trials' values, the best so far

    best = BEST_RUN.search(page.get_by_text(BEST_RUN).first.inner_text())
    assert best, "no best run named on the page"
    expect(page.get_by_role("combobox", name="Trial run", exact=True)).to_have_value(  # the best is preselected,
        re.compile(rf"^trial {best.group(1)} · .*\(best\)$"))  # even when it changed while the page watched
    page.get_by_role("link", name="Open it on the Errors page").click()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(
        re.compile(re.escape(best.group(2))), timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)
    assert_no_exception(page)
    requests_seen.assert_all_local()


def test_a_sweep_started_here_and_a_train_press_queue_one_behind_the_other(page, app_server):
    """One training at a time per server, whatever page started it: a Train press while a sweep's trial trains
    waits in line, and the sweep's next trial then waits for the pressed run."""
    open_app(page, app_server.url, "sweeps", ready_text="New sweep")
    set_text(page, "Sweep name", "e2e-queue")
    set_number(page, "Trials", 20)  # more than run while the second tab opens; Stop ends it after the check
    page.get_by_role("button", name="Create and start").click()
    expect(page.get_by_text("Running here, one trial at a time")).to_be_visible(timeout=APP_TIMEOUT_MS)

    train = page.context.new_page()  # a second tab, as another person on the same server would
    open_app(train, app_server.url, "train", ready_text="Training settings")
    train.get_by_role("button", name="Train", exact=True).click()
    expect(train.get_by_text(re.compile(r"Queued: position \d+ in line"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    screenshot(train, "sweep_and_train_queued")
    expect(train.locator('[data-testid="stProgress"]')).to_be_visible(timeout=SWEEP_TIMEOUT_S * 1000)  # its turn
    expect(page.get_by_text(re.compile(r"Next trial queued here"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(train.get_by_text("Finished:")).to_be_visible(timeout=SWEEP_TIMEOUT_S * 1000)
    page.get_by_role("button", name="Stop", exact=True).click()  # the sweep ends here after its current trial
    expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0, timeout=SWEEP_TIMEOUT_S * 1000)
    assert_no_exception(page)
    assert_no_exception(train)
    train.close()
