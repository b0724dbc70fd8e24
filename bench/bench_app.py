"""What a user of the app feels, in headless Chromium against a real server (started here, as the browser tests do):
each page's first visit right after a server start (a fresh server per page: the Errors page on the default model, the
first Draw prediction, the first screen of every other page), training in the app against the CLI (same preset, same
data), press Train → test accuracy on screen, mouse released → prediction on the Draw page and the app's part of it
(from the pad's value leaving the browser to the prediction on screen), and the Errors page for a model just trained
(from the Train page's link, and opened by its address). Prints each figure and its ratio to its goal and records
them (``bench/results.py``). Timings are never asserted in tests; run this on a quiet machine.

Run:  MNIST_PATH=/path/to/mnist.npz PYTHONPATH=tests/e2e python bench/bench_app.py
      [--draws 20] [--repeats 3] [--draw-only | --first-visits-only] [--visit-after 3]
"""

from __future__ import annotations

# isort: off
from results import record  # first: the load is read before TensorFlow adds to it
# isort: on

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from e2e_helpers import IDLE_SCRIPT, chart, clear_drawing, draw_stroke, drawing_pad_box, metric, wait_for_app_idle
from e2e_server import PROJECT, VIEWPORT, start_streamlit, stop_process_group

PRESET = "fast-cnn"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT_MS = 180_000
CONFUSION_AXIS = "predicted digit"  # the confusion matrix's axis title: the Errors page's main chart is on screen
# A watched run is waited for with cheap checks in the page every 0.1 s, as a user's eyes cost nothing: Playwright's
# `expect` on a locator runs its text engine over the whole page, retried every 0.5 s (0.4-1.2 CPU-s of Chromium
# per run here, taken from the run's 2 cores, and up to 0.5 s late in seeing the accuracy).
PROGRESS_SHOWN = "() => document.querySelector('[data-testid=\"stProgress\"]') !== null"
ACCURACY_SHOWN = """() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
    .some(label => label.textContent.includes('Test accuracy'))"""
PAGE_POLL_MS = 100
ADDRESS_VISITS = 3  # the Errors page by its address: one visit is one sample, and single loads vary by ~30% here
# In-page clock: from just before the mouse is released to the Prediction metric first showing the expected digit,
# split at the first message the page sends to the server after the release: the drawing pad's value
# (streamlit-drawable-canvas 0.13 sends it 200 ms after the stroke ends, a debounce in its frontend with no option);
# from there on it is the app's part: the value reaching the server, the rerun, the prediction drawn.
WATCH_PREDICTION = """expected => ({done: new Promise(resolve => {
  window.__released = null;
  window.__sent = null;
  if (!window.__sendClock) {  // once per page: note the time of the first message sent after each release
    window.__sendClock = true;
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (message) {
      if (window.__released !== null && window.__sent === null) window.__sent = performance.now();
      return send.call(this, message);
    };
  }
  const shown = () => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
      m.innerText.startsWith('Prediction')
      && m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim() === expected);
  const observer = new MutationObserver(() => {
    if (window.__released === null || !shown()) return;
    observer.disconnect();
    const now = performance.now();
    resolve([now - window.__released, window.__sent === null ? NaN : now - window.__sent]);
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  setTimeout(() => { observer.disconnect(); resolve([NaN, NaN]); }, 15000);  // never shown: counted as missed
})})"""  # wrapped, so that evaluate_handle returns at once instead of awaiting the promise


FIRST_VISIT_GOAL_S = 1.5
USER_DRAWS_AFTER_S = 5.0  # the first stroke on a fresh Draw page ends this long after the pad shows, as a user's does
ONE = [(0.5, 0.15), (0.5, 0.85)]  # a "1": one vertical stroke
PAGES = {"": "Digit Lab", "data": "Data", "train": "Train", "models": "Models", "my_digits": "My digits",
         "insight": "Insight", "sweeps": "Sweeps", "kaggle": "Kaggle submission"}  # address → title, Errors and Draw
PAGE_DONE = f"""title => [...document.querySelectorAll('h1')].some(h => h.innerText.includes(title))
    && ({IDLE_SCRIPT})()"""  # the page's title shown and its script run to the end
ERRORS_DONE = f"""() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .some(label => label.textContent.includes('Test accuracy'))
    && [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg text')]
        .some(text => text.textContent.includes('{CONFUSION_AXIS}'))
    && ({IDLE_SCRIPT})()"""


def on_fresh_server(browser, folder: Path, visit, after_s: float) -> tuple[float, float]:
    """What ``visit(page, server)`` returns on a server just started (a new process: nothing imported, loaded or
    cached yet) in a new browser session, ``after_s`` seconds after the server first answered (0: at once; more: a
    user who opens the address it printed a little later), and the seconds from starting the server to that first
    answer; the server is stopped after."""
    started = time.perf_counter()
    server = start_streamlit(folder, os.environ | {"DIGIT_LAB_MODELS": str(folder / "models")})
    answering = time.perf_counter() - started
    time.sleep(after_s)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        return visit(context.new_page(), server), answering
    finally:
        context.close()
        stop_process_group(server.process)


def seconds_until(page, server, path: str, done: str, arg=None) -> float:
    """Seconds from opening a page by its address to ``done(arg)`` holding in the page."""
    started = time.perf_counter()
    page.goto(f"{server.url}/{path}", wait_until="commit")
    page.wait_for_function(done, arg=arg, polling=PAGE_POLL_MS, timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def first_draw_prediction(page, server) -> float:
    """Seconds from the mouse released on the first stroke (a "1", ending ``USER_DRAWS_AFTER_S`` after the pad shows)
    to its prediction on screen, on a fresh server."""
    page.goto(f"{server.url}/draw")
    box = drawing_pad_box(page)
    page.wait_for_timeout(USER_DRAWS_AFTER_S * 1000)
    watcher = page.evaluate_handle(WATCH_PREDICTION, "1")
    draw_stroke(page, box, ONE, before_release=lambda: page.evaluate("window.__released = performance.now()"))
    total, _ = page.evaluate("watch => watch.done", watcher)
    return total / 1000


def first_visits(browser, after_s: float) -> tuple[dict[str, float], list[float]]:
    """Each page's first visit on a server of its own, just started (``after_s`` after it first answered): seconds
    by what was measured, and each server's seconds from its start to its first answer."""
    seconds, starts = {}, []
    with tempfile.TemporaryDirectory() as folder:
        def fresh(name: str, visit) -> None:
            seconds[name], answering = on_fresh_server(browser, Path(folder) / name.replace(" ", "_"), visit,
                                                          after_s)
            starts.append(answering)
            print(f"{name}: {seconds[name]:.2f} s (the server answered {answering:.2f} s after its start)", flush=True)

        fresh("Errors page (default model)", lambda page, server: seconds_until(page, server, "errors", ERRORS_DONE))
        fresh("Draw: first prediction", first_draw_prediction)
        for path, title in PAGES.items():
            fresh(f"{title} page",
                  lambda page, server, path=path, title=title: seconds_until(page, server, path, PAGE_DONE, title))
    return seconds, starts


def cli_training_seconds() -> float:
    """Seconds of training the CLI reports for the preset on all images, in a fresh registry."""
    with tempfile.TemporaryDirectory() as models:
        done = subprocess.run([sys.executable, "-m", "mnist_core", "train", "--preset", PRESET, "--json"],
                              cwd=PROJECT, env=os.environ | {"DIGIT_LAB_MODELS": models}, capture_output=True,
                              text=True, check=True)
    return json.loads(done.stdout)["seconds"]


def saved_run(models_dir: Path, before: set[str]) -> str:
    """The id of the first run saved in ``models_dir`` that was not among ``before``."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        new = [name for name in set(os.listdir(models_dir)) - before
               if not name.startswith(".") and (models_dir / name / "run.json").exists()]
        if new:
            return new[0]
        time.sleep(0.2)
    raise TimeoutError("the run was not saved in time")


def first_train_visit(page, server) -> float:
    """Seconds for the Train page to load on the server's first visits (Home, then Train, as a user comes in): the
    page must not wait for TensorFlow, which the app imports in the background."""
    page.goto(server.url)
    expect(page.get_by_role("link", name="Train").first).to_be_visible(timeout=TIMEOUT_MS)
    wait_for_app_idle(page)
    started = time.perf_counter()
    page.goto(f"{server.url}/train")
    expect(page.get_by_text("Training settings")).to_be_visible(timeout=TIMEOUT_MS)
    wait_for_app_idle(page)
    return time.perf_counter() - started


def errors_by_link(page) -> float:
    """Seconds from clicking "See its mistakes on the Errors page" under a run just trained to its confusion matrix
    on screen (navigation within the app, as a user goes there)."""
    started = time.perf_counter()
    page.get_by_role("link", name="See its mistakes on the Errors page").click()
    expect(chart(page, CONFUSION_AXIS)).to_be_visible(timeout=TIMEOUT_MS)  # not a chart the Train page left behind
    return time.perf_counter() - started


def train_in_app(page, server, watched: bool) -> tuple[float, float, str]:
    """Press Train on the preset; returns (seconds of training the run reports, seconds from the press to the test
    accuracy on screen, run id). Unwatched: the page goes Home at once and the run's record is read when saved."""
    page.goto(f"{server.url}/train")
    expect(page.get_by_text("Training settings")).to_be_visible(timeout=TIMEOUT_MS)
    wait_for_app_idle(page)  # a user presses Train on a page that has loaded, not while it still draws the last run
    before = set(os.listdir(server.models_dir))
    pressed = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(PROGRESS_SHOWN, polling=PAGE_POLL_MS, timeout=TIMEOUT_MS)  # this run, not the last
    if watched:
        page.wait_for_function(ACCURACY_SHOWN, polling=PAGE_POLL_MS, timeout=TIMEOUT_MS)
        on_screen = time.perf_counter() - pressed
    else:  # leave once the run is queued (leaving at once can close the session before the press is handled)
        page.goto(server.url)
        on_screen = float("nan")
    run_id = saved_run(server.models_dir, before)
    record_ = json.loads((server.models_dir / run_id / "run.json").read_text(encoding="utf-8"))
    return record_["seconds"], on_screen, run_id


def draw_latencies(page, server, count: int) -> list[tuple[float, float]]:
    """Milliseconds from mouse release to the new prediction on screen, and from the canvas sending its value to
    the prediction on screen (the app's part), alternating a "1" and a "7"."""
    page.goto(f"{server.url}/draw")
    box = drawing_pad_box(page)
    draw_stroke(page, box, ONE)  # untimed: the first prediction of a server is measured in first_visits
    expect(metric(page, "Prediction")).to_be_visible(timeout=TIMEOUT_MS)
    latencies = []
    for attempt in range(count):
        clear_drawing(page)
        expect(metric(page, "Prediction")).to_have_count(0, timeout=TIMEOUT_MS)
        digit = "1" if attempt % 2 == 0 else "7"
        if digit == "7":  # the top bar first (its prediction is not timed), then the stroke that makes it a 7
            draw_stroke(page, box, [(0.25, 0.2), (0.75, 0.2)])
            expect(metric(page, "Prediction")).to_be_visible(timeout=TIMEOUT_MS)
            page.wait_for_timeout(300)
        watcher = page.evaluate_handle(WATCH_PREDICTION, digit)
        draw_stroke(page, box, ONE if digit == "1" else [(0.75, 0.2), (0.4, 0.85)],
                    before_release=lambda: page.evaluate("window.__released = performance.now()"))
        latencies.append(page.evaluate("watch => watch.done", watcher))
        page.wait_for_timeout(300)
    return latencies


def errors_page_seconds(page, server, run_id: str) -> float:
    """Seconds from opening the Errors page on a run to its test accuracy and confusion matrix on screen."""
    started = time.perf_counter()
    page.goto(f"{server.url}/errors?run={run_id}")
    expect(metric(page, "Test accuracy")).to_be_visible(timeout=TIMEOUT_MS)
    expect(chart(page, CONFUSION_AXIS)).to_be_visible(timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def show(name: str, value: float, unit: str, goal: float | None) -> None:
    ratio = f"  ratio to goal {value / goal:.2f}" if goal else ""
    print(f"{name:<55} {value:8.2f} {unit}{ratio}", flush=True)
    record("app", name, {"value": round(value, 3), "unit": unit, "goal": goal})


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


def show_draws(timed: list[tuple[float, float]]) -> None:
    """The Draw figures: release → prediction (median, p95), and its two parts (the pad sending, the app)."""
    seen = [(total, app) for total, app in timed if total == total]  # NaN: the prediction never showed
    print(f"draws: {len(seen)} of {len(timed)} predictions seen", flush=True)
    totals = [total for total, _ in seen]
    apps = [app for _, app in seen if app == app]
    show("Draw: mouse released → prediction, median", statistics.median(totals), "ms", 300)
    show("Draw: mouse released → prediction, p95", percentile(totals, 0.95), "ms", 400)
    show("Draw: released → pad sends its value, median", statistics.median(totals) - statistics.median(apps),
         "ms", None)
    show("Draw: pad's value sent → prediction (the app), median", statistics.median(apps), "ms", 60)
    show("Draw: pad's value sent → prediction (the app), p95", percentile(apps, 0.95), "ms", 120)


def show_first_visits(seconds: dict[str, float], starts: list[float], after_s: float) -> None:
    when = f"{after_s:g} s after a server answered" if after_s else "after a server start"
    for name, value in seconds.items():
        show(f"first visit {when}: {name}", value, "s", FIRST_VISIT_GOAL_S)
    show(f"server start → it answers (median of {len(starts)} starts)", statistics.median(starts), "s", None)


def on_one_server(browser, args) -> None:
    """Training in the app against the CLI, the Errors page after it, then the Draw latencies, on one server, and
    their figures."""
    cli, unwatched, watched, on_screen, errors_linked = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        server = start_streamlit(Path(folder), os.environ | {"DIGIT_LAB_MODELS": str(Path(folder) / "models")})
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            train_first_visit = None if args.draw_only else first_train_visit(page, server)
            for _ in range(0 if args.draw_only else args.repeats):  # alternating, so a slow spell hits all three
                cli.append(cli_training_seconds())
                unwatched.append(train_in_app(page, server, watched=False)[0])
                seconds, shown_after, run_id = train_in_app(page, server, watched=True)
                watched.append(seconds)
                on_screen.append(shown_after)
                errors_linked.append(errors_by_link(page))
                print(f"CLI {cli[-1]:.1f} s; app not watched {unwatched[-1]:.1f} s, watched {seconds:.1f} s "
                      f"(accuracy on screen after {shown_after:.1f} s; Errors by its link {errors_linked[-1]:.2f} s)",
                      flush=True)
            if not args.draw_only:
                by_address = [errors_page_seconds(page, server, run_id) for _ in range(ADDRESS_VISITS)]
                print(f"errors page by its address: {', '.join(f'{s:.2f}' for s in by_address)} s", flush=True)
            timed = draw_latencies(page, server, args.draws)
        finally:
            stop_process_group(server.process)
    if not args.draw_only:
        median = statistics.median
        show("Train page, first visit after the server starts", train_first_visit, "s", None)
        show(f"{PRESET} training, CLI", median(cli), "s", None)
        show(f"{PRESET} training in the app, watched / CLI", median(watched) / median(cli), "×", 1.10)
        show(f"{PRESET} training in the app, not watched / CLI", median(unwatched) / median(cli), "×", 1.10)
        show("press Train → test accuracy on screen", median(on_screen), "s", 8.0)
        show("Errors page from the link under a run just trained (median)", median(errors_linked), "s", 1.5)
        show(f"Errors page opened by its address (median of {ADDRESS_VISITS})", median(by_address), "s", 1.5)
    show_draws(timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=20, help="timed drawings on the Draw page")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of CLI, app not watched, app watched (the figures are medians: single runs of "
                             "the same training vary by up to ~25%% on this machine)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--draw-only", action="store_true", help="only the Draw figures (with the shipped model)")
    only.add_argument("--first-visits-only", action="store_true",
                      help="only each page's first visit after a server start")
    parser.add_argument("--visit-after", type=float, default=0.0, metavar="SECONDS",
                        help="open each first visit this long after the server answered (default: at once)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the servers it started
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            if not args.draw_only:  # first: each on a server of its own, with nothing else running
                show_first_visits(*first_visits(browser, args.visit_after), args.visit_after)
            if not args.first_visits_only:
                on_one_server(browser, args)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
