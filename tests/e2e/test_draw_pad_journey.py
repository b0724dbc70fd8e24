"""The Draw page's pad as people use it (issue 26, items 5 and 10): "That was a N" pressed twice files the drawing
once and leaves a clean pad for the next digit, on a desktop and on a phone; on a 390×844 phone the prediction shows
in view right after drawing, and a finger beside the pad scrolls the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e_helpers import (
    APP_TIMEOUT_MS,
    PAD,
    PAD_PICTURE,
    SCREENSHOTS,
    assert_no_exception,
    draw_stroke,
    drawing_pad_box,
    drawing_pad_picture,
    metric,
    open_app,
    screenshot,
    wait_for_app_idle,
)
from e2e_server import DESKTOP, PHONE
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.registry import Registry

pytestmark = pytest.mark.e2e

ONE = [(0.5, 0.15), (0.5, 0.85)]  # a "1": one vertical stroke
BLANK_PAD = "pad => { const pixels = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;" \
            " for (let i = 0; i < pixels.length; i += 4) if (pixels[i] > 0) return false; return true; }"
FINGER_SCROLL_PX = 300


@pytest.fixture()
def phone_page(browser, app_server, requests_seen, watch_console):
    """A page in a phone's browser context: 390×844, touch, mobile, its console watched."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, accept_downloads=False)
    context.set_default_timeout(30_000)
    context.on("request", lambda sent: requests_seen.urls.append(sent.url))
    watch_console(context)
    yield context.new_page()
    context.close()


def draw_a_one(page) -> dict:
    """Draw a "1" on the pad and wait for its prediction; returns the pad's box."""
    box = drawing_pad_box(page)
    draw_stroke(page, box, ONE)
    expect(metric(page, "Prediction")).to_have_text("1", timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)
    return box


def finger_swipe(page, x: float, y: float, distance: float, steps: int = 15) -> None:
    """A finger put down at (x, y) and moved ``distance`` px down (up when negative), as real touch input (Chrome's
    DevTools protocol: Playwright's touchscreen only taps)."""
    session = page.context.new_cdp_session(page)
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, steps + 1):
        session.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                  "touchPoints": [{"x": x, "y": y + distance * step / steps}]})
        page.wait_for_timeout(16)  # about one frame per move, as a finger does
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_that_was_a_n_pressed_twice_files_one_drawing_and_clears_the_pad(page, app_server, requests_seen, viewport):
    page.set_viewport_size(viewport)
    my_digits = MyDigits(Registry(app_server.models_dir))
    before = len(my_digits.items())
    open_app(page, app_server.url, "draw", ready_text="Stroke width")
    draw_a_one(page)
    page.get_by_role("button", name="That was a 1: add to My digits").dblclick()
    expect(page.get_by_text("Added to My digits as a 1.")).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)
    assert len(my_digits.items()) == before + 1, "a double press filed the drawing more than once"
    expect(metric(page, "Prediction")).to_have_count(0)
    assert page.locator(PAD).count() == 1 and page.locator(PAD_PICTURE).evaluate(BLANK_PAD), \
        "the pad still shows the drawing just filed"
    screenshot(page, f"test_that_was_a_n_twice-{viewport['width']}")

    draw_a_one(page)  # the clean pad takes the next digit
    assert not page.locator(PAD_PICTURE).evaluate(BLANK_PAD), drawing_pad_picture(page)[:40]
    assert len(my_digits.items()) == before + 1
    assert_no_exception(page)
    requests_seen.assert_all_local()


def test_on_a_phone_the_prediction_shows_in_view_and_the_page_scrolls_beside_the_pad(phone_page, app_server,
                                                                                       requests_seen):
    page = phone_page
    open_app(page, app_server.url, "draw", ready_text="Stroke width")
    box = draw_a_one(page)
    shown = metric(page, "Prediction").bounding_box()
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= PHONE["height"], \
        f"the prediction is out of the phone's view after drawing: {shown} (pad {box})"
    page.screenshot(path=str(SCREENSHOTS / "test_phone_draw-in-view.png"))  # the screen as the user sees it

    beside = box["x"] + box["width"] + (PHONE["width"] - box["x"] - box["width"]) / 2  # the margin right of the pad
    assert PHONE["width"] - box["x"] - box["width"] >= 48, f"no room beside the pad for a finger to scroll: {box}"
    finger_swipe(page, beside, box["y"] + box["height"] / 2, -FINGER_SCROLL_PX)
    scrolled = page.locator(PAD).bounding_box()
    assert box["y"] - scrolled["y"] >= FINGER_SCROLL_PX / 2, \
        f"a finger beside the pad did not scroll the page (pad at y={box['y']}, then {scrolled['y']})"
    expect(metric(page, "Prediction")).to_have_text("1")  # a scroll draws nothing
    screenshot(page, "test_phone_draw-scrolled")
    assert_no_exception(page)
    requests_seen.assert_all_local()
