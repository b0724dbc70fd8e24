"""What the journeys do with a Streamlit page in Playwright: open a page and wait for its script to finish, check
that no exception box is shown, set widgets the way a user does, and read back metrics, captions and chart marks."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # tests/screenshots (git-ignored)
APP_TIMEOUT_MS = 90_000  # first visits import TensorFlow or load a model on a busy 2-core machine
PAGE_TITLES = ["Home", "Data", "Train", "Models", "Errors", "Draw", "My digits", "Insight", "Sweeps", "Kaggle"]
UNEXPECTED_ERROR_TEXT = "Something went wrong on this page that Digit Lab did not expect"
IDLE_SCRIPT = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.dataset.testScriptState !== 'notRunning') return false;
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    return !(status && /Running/i.test(status.innerText));
}"""


def wait_for_app_idle(page: Page, timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished running the page's script (no "Running..." indicator), twice in a row
    a little apart, so a rerun that was just requested is not mistaken for the end of the previous one."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        page.wait_for_function(IDLE_SCRIPT, timeout=max(1, (deadline - time.monotonic()) * 1000))
        page.wait_for_timeout(300)
        if page.evaluate(IDLE_SCRIPT):
            return
        if time.monotonic() > deadline:
            raise AssertionError("the app kept running its script")


def open_app(page: Page, base_url: str, path: str = "", ready_text: str | None = None) -> None:
    """Go to a page of the app and wait for it to be drawn (``ready_text`` visible, script idle)."""
    page.goto(f"{base_url}/{path}", wait_until="domcontentloaded")
    if ready_text is not None:
        expect(page.get_by_text(ready_text).first).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)


def go_to(page: Page, title: str, ready_text: str, idle: bool = True) -> None:
    """Click a page in the sidebar navigation, as a user does (same browser session, no reload); then wait for
    ``ready_text`` and (unless ``idle`` is False, e.g. on a page that refreshes itself) for the script to end."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_text(ready_text).first).to_be_visible(timeout=APP_TIMEOUT_MS)
    if idle:
        wait_for_app_idle(page)


def assert_no_exception(page: Page) -> None:
    """No Streamlit exception box anywhere, and not the app's own last-resort "something went wrong" message."""
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.get_by_text(UNEXPECTED_ERROR_TEXT)).to_have_count(0)


def assert_navigation(page: Page) -> None:
    """The sidebar lists the app's seven pages by title (and not the files in pages/, e.g. "common")."""
    links = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    expect(links).to_have_count(len(PAGE_TITLES))
    for title in PAGE_TITLES:
        expect(page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)) \
            .to_be_visible()


def set_number(page: Page, label: str, value) -> None:
    """Type a value into a number input and press Enter (which commits it and reruns the script)."""
    box = page.get_by_role("spinbutton", name=label, exact=True)
    for _ in range(3):  # a rerun of the page landing while it is typed (a live view's refresh) may redraw the input
        box.fill(str(value))
        box.press("Enter")
        wait_for_app_idle(page)
        if box.input_value() == str(value):
            break
    expect(box).to_have_value(str(value))


def set_text(page: Page, label: str, value: str) -> None:
    box = page.get_by_role("textbox", name=label, exact=True)
    box.fill(value)
    box.press("Enter")
    expect(box).to_have_value(value)
    wait_for_app_idle(page)


def choose(page: Page, label: str, option: str | re.Pattern) -> str:
    """Pick an option of a selectbox by (part of) its text; returns the option's full text."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    try:
        page.get_by_role("option").first.wait_for(state="visible", timeout=2000)
    except PlaywrightTimeoutError:  # that click only took the focus from an input (which then commits its value)
        box.click()
    choice = page.get_by_role("option").filter(has_text=option).first
    text = choice.inner_text().strip()
    choice.click()
    wait_for_app_idle(page)
    expect(page.get_by_role("combobox", name=label, exact=True)).to_have_value(text)
    return text


def pick(page: Page, label: str, option: str | re.Pattern) -> None:
    """Add an option of a multiselect by (part of) its text, and close its list."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").filter(has_text=option).first.click()
    page.keyboard.press("Escape")
    wait_for_app_idle(page)


def tags(page: Page, label: str) -> list[str]:
    """The whole texts of a multiselect's chosen options (its tags, which may show them cut short), in order."""
    return page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).locator(
        '[data-testid="stMultiSelectTagsContainer"] [data-tag]').evaluate_all(
        "tags => tags.map(tag => tag.getAttribute('aria-label'))")


def options_of(page: Page, label: str) -> list[str]:
    """The texts of a selectbox's options (the list is opened and closed again)."""
    page.get_by_role("combobox", name=label, exact=True).click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    texts = [text.strip() for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def metric(page: Page, label: str) -> Locator:
    """The value of the ``st.metric`` labelled ``label``."""
    return page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).locator('[data-testid="stMetricValue"]')


def error_alert(page: Page, text: str) -> Locator:
    """An ``st.error`` box containing ``text``."""
    return page.locator('[data-testid="stAlertContentError"]').filter(has_text=text)


def caption_number(page: Page, pattern: str) -> int | None:
    """The number in the first caption/markdown text matching ``pattern`` (one ``(\\d[\\d,]*)`` group), or None."""
    regex = re.compile(pattern)
    texts = page.locator('[data-testid="stCaptionContainer"], [data-testid="stMarkdownContainer"]').all_inner_texts()
    for text in texts:
        found = regex.search(text)
        if found:
            return int(found.group(1).replace(",", ""))
    return None


def wait_for_number_above(page: Page, pattern: str, floor: int, timeout_s: float) -> int:
    """Wait until the number in the caption matching ``pattern`` exceeds ``floor``; returns it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = caption_number(page, pattern)
        if value is not None and value > floor:
            return value
        page.wait_for_timeout(250)
    raise AssertionError(f"the caption {pattern!r} did not rise above {floor} within {timeout_s:.0f} s "
                         f"(last: {caption_number(page, pattern)})")


def chart(page: Page, title: str) -> Locator:
    """The Vega-Lite chart (rendered as SVG) whose title contains ``title``."""
    return page.locator('[data-testid="stVegaLiteChart"]').filter(
        has=page.locator("svg text", has_text=title)).first


def line_points(chart_locator: Locator) -> int:
    """Number of vertices of the longest line mark in a chart (the points drawn so far)."""
    return chart_locator.locator("g.mark-line.role-mark path").evaluate_all(
        "paths => Math.max(0, ...paths.map(p => ((p.getAttribute('d') || '').match(/[ML]/g) || []).length))")


def x_axis_end(chart_locator: Locator) -> float:
    """The upper end of a chart's x scale, from the axis's accessible description ("... values from 0 to 900")."""
    label = chart_locator.locator('g.role-axis[aria-label^="X-axis"]').first.get_attribute("aria-label") or ""
    found = re.search(r"values from \S+ to ([\d.,]+)", label)
    return float(found.group(1).replace(",", "")) if found else 0.0


def symbol_count(chart_locator: Locator) -> int:
    """Number of point marks (symbols) in a chart."""
    return chart_locator.locator("g.mark-symbol.role-mark path").count()


def upload(page: Page, uploader_label: str, path) -> None:
    """Put a file into the ``st.file_uploader`` with that label, as choosing it in the file dialog does."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=uploader_label)
    uploader.locator('input[type="file"]').set_input_files(str(path))


def dataframe_row(page: Page, text: str, table: int = 0) -> Locator:
    """The row containing ``text`` of the page's ``table``-th ``st.dataframe`` (read from its accessible grid)."""
    return page.locator('[data-testid="stDataFrame"]').nth(table).locator('[role="row"]').filter(has_text=text)


CONTENT_HEIGHT = """() => Math.max(document.body.scrollHeight, ...Array.from(
    document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"], section'),
    element => element.scrollHeight))"""
MAX_SCREENSHOT_HEIGHT = 12_000


def whole_page_viewport(page: Page) -> None:
    """Streamlit scrolls inside its main area, so a "full page" screenshot would show one screen: make the
    viewport as tall as the content first."""
    width, height = page.viewport_size["width"], int(page.evaluate(CONTENT_HEIGHT))
    if height > page.viewport_size["height"]:
        page.set_viewport_size({"width": width, "height": min(height + 100, MAX_SCREENSHOT_HEIGHT)})
        page.wait_for_timeout(800)  # let charts and images lay themselves out again


def screenshot(page: Page, name: str) -> None:
    """A whole-page screenshot in tests/screenshots/ in the middle of a test; the viewport is restored after."""
    size = dict(page.viewport_size)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    whole_page_viewport(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


# streamlit-drawable-canvas's Fabric.js canvases (in a shadow root, which Playwright's CSS locators pierce): the one
# that takes the pointer, and the one that shows the drawing
PAD, PAD_PICTURE = "canvas.upper-canvas", "canvas.dc-canvas.lower-canvas"


def drawing_pad_box(page) -> dict:
    """The Draw page's drawing pad, scrolled into view: its box on the page."""
    pad = page.locator(PAD)
    expect(pad).to_be_visible(timeout=APP_TIMEOUT_MS)
    pad.scroll_into_view_if_needed()
    return pad.bounding_box()


def drawing_pad_picture(page) -> str:
    """What the drawing pad shows, as a PNG data URL (to compare two states of the pad)."""
    return page.locator(PAD_PICTURE).evaluate("pad => pad.toDataURL()")


def pad_tool(page, label: str) -> None:
    """Press a button of the pad's own toolbar ("Undo", "Redo", "Reset canvas & history"), which shows while the
    pointer is over the pad, as a user does: over the pad, then the button."""
    page.locator(PAD).hover()
    page.locator(f'button[aria-label="{label}"]').click()


def clear_drawing(page) -> None:
    """Empty the pad with its toolbar's bin ("Reset canvas & history")."""
    pad_tool(page, "Reset canvas & history")


def draw_stroke(page, box: dict, points: list[tuple[float, float]], before_release=None) -> None:
    """One stroke through ``points`` (fractions of the canvas), mouse down to mouse up; ``before_release()`` runs
    just before the button is let go (a benchmark starts its clock there)."""
    def at(point):
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(point), steps=20)
    if before_release is not None:
        before_release()
    page.mouse.up()
