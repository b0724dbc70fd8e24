"""Pressing Train shows the run's status where the user is looking: right under the button, on a desktop screen
and on a phone, with a line at the top of the page that leads back to it (issue 26, item 1)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from e2e_helpers import APP_TIMEOUT_MS, SCREENSHOTS, assert_no_exception, choose, open_app, set_number, set_text
from e2e_server import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

FAST_PRESET = "One hidden layer of 32"
SCREENS = {"desktop": DESKTOP, "phone": PHONE}
STATUS = ".st-key-live_panel"


@pytest.mark.parametrize("screen", list(SCREENS))
def test_pressing_train_shows_the_status_in_view(page, app_server, screen):
    page.set_viewport_size(SCREENS[screen])
    open_app(page, app_server.url, "train", ready_text="Training settings")
    choose(page, "Preset", FAST_PRESET)
    set_number(page, "Training subset size", 3000)
    set_number(page, "Epochs", 200)  # still queued or training while the test looks
    set_text(page, "Run name", f"e2e-status-{screen}")
    train = page.get_by_role("button", name="Train", exact=True)
    train.scroll_into_view_if_needed()
    started = time.monotonic()
    train.click()
    # Wherever the button sat on the screen (here just under the name typed, maybe at the bottom edge), a toast
    # says where the run stands, inside the viewport.
    toast = page.locator('[data-testid="stToast"]').filter(has_text=f"e2e-status-{screen}")
    expect(toast).to_be_in_viewport(timeout=APP_TIMEOUT_MS)
    print(f"{screen}: status toast in view {time.monotonic() - started:.2f} s after the press")
    expect(toast).to_contain_text("its progress is under the Train button")
    # The full status is right under the button.
    status = page.locator(STATUS).locator('[data-testid="stProgress"], [data-testid="stAlert"]').first
    status.scroll_into_view_if_needed()
    box, button = status.bounding_box(), train.bounding_box()
    assert 0 < box["y"] - button["y"] < 400, (box, button)
    page.screenshot(path=str(SCREENSHOTS / f"train_status_{screen}_after_press_view.png"))  # what the user sees
    # Scrolled to the top, a line leads back to the status.
    page.mouse.wheel(0, -20_000)
    back = page.get_by_role("link", name="see its status by the Train button")
    expect(back).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOTS / f"train_status_{screen}_top_view.png"))
    back.click()
    expect(status).to_be_in_viewport()
    page.locator(STATUS).get_by_role("button", name="Stop").click()
    expect(page.locator(STATUS).get_by_text("Stopped:")).to_be_visible(timeout=APP_TIMEOUT_MS)
    assert_no_exception(page)
