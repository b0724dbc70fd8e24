"""Insight in a real browser: the embedding map of the default model is drawn, clicking a point shows that test
image with its top-3, and the robustness lab run for two models (the default and a softmax regression trained
through the CLI into the server's registry) draws two curves per transform."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from e2e_helpers import (
    APP_TIMEOUT_MS,
    assert_no_exception,
    chart,
    open_app,
    screenshot,
    symbol_count,
    wait_for_app_idle,
)
from e2e_server import PROJECT

pytestmark = pytest.mark.e2e

LINEAR_RUN = "e2e-insight-linear"
MAP_POINTS = 2000  # the page's default sample
LAB_SAMPLE = "500 (stratified sample)"
SWEEP_TIMEOUT_MS = 240_000  # two models, 31 severities of 500 images, on a busy 2-core machine
# A point (an SVG path of the map's symbol mark) that is on top where it is drawn, so a click there hits it.
TOPMOST_POINT = """paths => {
    for (const path of paths) {
        const box = path.getBoundingClientRect();
        const x = box.x + box.width / 2, y = box.y + box.height / 2;
        if (box.width > 0 && document.elementFromPoint(x, y) === path)
            return {x, y, label: path.getAttribute('aria-label') || ''};
    }
    return null;
}"""


@pytest.fixture(scope="module")
def linear_run(app_server) -> str:
    """A softmax regression trained for one epoch on 2,000 images into the server's registry (through the CLI)."""
    env = os.environ | {"DIGIT_LAB_MODELS": str(app_server.models_dir)}
    done = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--preset", "softmax-regression",
                           "--subset-size", "2000", "--epochs", "1", "--name", LINEAR_RUN, "--json"],
                          capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["run_id"]


def click_a_point(page) -> int:
    """Click a point of the map that nothing covers; the test index its hover text names."""
    the_map = chart(page, "PCA of")
    the_map.scroll_into_view_if_needed()
    point = the_map.locator("g.mark-symbol.role-mark path").evaluate_all(TOPMOST_POINT)
    assert point is not None, "no point of the map could be clicked"
    found = re.search(r"index: (\d+)", point["label"])
    assert found, f"the point's description names no index: {point['label']!r}"
    page.mouse.click(point["x"], point["y"])
    return int(found.group(1))


def test_map_click_shows_the_image_and_lab_draws_two_curves(page, app_server, requests_seen, linear_run):
    started = time.monotonic()
    open_app(page, app_server.url, "insight", ready_text="Insight")
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(r"· default$"))
    the_map = chart(page, "PCA of")
    expect(the_map).to_be_visible(timeout=APP_TIMEOUT_MS)
    assert symbol_count(the_map) == MAP_POINTS

    index = click_a_point(page)
    expect(page.get_by_text(f"test image #{index}", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)
    expect(page.get_by_text("Top 3:")).to_be_visible()
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(1)
    screenshot(page, "insight_map_clicked")

    page.locator('[data-testid="stButtonGroup"]').get_by_text("Robustness lab", exact=True).click()
    wait_for_app_idle(page)
    models = page.get_by_role("combobox", name="Models", exact=True)
    models.click()
    page.get_by_role("option").filter(has_text=LINEAR_RUN).first.click()
    page.keyboard.press("Escape")
    wait_for_app_idle(page)
    sample = page.get_by_role("combobox", name="Test images", exact=True)
    sample.click()
    page.get_by_role("option").filter(has_text=LAB_SAMPLE).first.click()
    rotate = chart(page, "rotate")
    expect(rotate).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    wait_for_app_idle(page)
    for transform in ("rotate", "shift", "scale", "thickness", "noise", "blur", "occlusion"):
        expect(chart(page, transform).locator("g.mark-line.role-mark path")).to_have_count(2)
    legend = rotate.locator("g.role-legend").text_content()
    assert LINEAR_RUN in legend and "(default)" in legend, legend
    assert_no_exception(page)
    requests_seen.assert_all_local()
    screenshot(page, "insight_robustness_two_models")
    print(f"insight journey: clicked test image #{index}; two curves per transform; "
          f"{time.monotonic() - started:.1f} s")
