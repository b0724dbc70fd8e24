"""After a big sweep: does every page and command stay fast with thousands of trials and runs (issue 30)? Builds a
registry like the one a big sweep leaves: a real study of ``--complete`` + ``--pruned`` trials of the ``quick``
space, made with Optuna's ask/tell and the project's ``suggest`` without training (``tests/helpers.told_trials``),
and ``--runs`` saved runs, one tiny real model trained once and saved that many times through the registry as the
completed trials' runs. Then times, against the issue's goals: the Sweeps page's first visit after the server starts
and later visits, and the Models page's (headless Chromium against a real server, as ``bench_app.py`` does), and
``sweep show NAME --json``, ``list --json`` and ``sweep create --trials 10000`` as fresh processes. Figures go to
``bench/RESULTS.md`` (``bench/results.py``) with the load and the CPU.

``--postgres`` keeps the study on a private PostgreSQL server (``tests/postgres_fixture.py``) instead of the registry's
SQLite file: the same figures for the other storage. Each figure is named with its storage and sizes, so runs at
several sizes (``--complete 450 --pruned 50 --runs 500``, the defaults, ...) show from what size on PostgreSQL pays.

Run:  MNIST_PATH=/path/to/mnist.npz PYTHONPATH=.:tests/e2e:tests python bench/bench_scale.py
      [--complete 1800] [--pruned 200] [--runs 1500] [--visits 3] [--postgres]
On a quiet machine; building the registry takes a few minutes and is not timed.
"""

from __future__ import annotations

# isort: off
from results import record  # first: the load is read before anything else adds to it
# isort: on

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from e2e_helpers import metric, wait_for_app_idle
from e2e_server import PROJECT, VIEWPORT, start_streamlit, stop_process_group
from helpers import told_trials

STUDY = "big"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT_MS = 180_000
CREATED_TRIALS = 10_000
TINY_SPEC = [{"type": "Dense", "units": 16, "activation": "relu"}]
PLOT_DRAWN = "() => document.querySelector('.js-plotly-plot .main-svg') !== null"
GOALS = {  # issue 30's table: seconds
    "Sweeps page, first visit after the server starts": 3.0, "Sweeps page, later visit (median)": 1.5,
    "sweep show NAME --json (median)": 1.5, "Models page, first visit after the server starts": 3.0,
    "Models page, later visit (median)": 1.5, "list --json (median)": 1.5,
    f"sweep create --trials {CREATED_TRIALS} (median)": None}


def build_registry(models: Path, storage_url: str, complete: int, pruned: int, runs: int) -> None:
    """The study (planned = its trials, all finished) and ``runs`` saved runs of its first completed trials."""
    from mnist_core.data.sources import load_mnist
    from mnist_core.model.architectures import count_params
    from mnist_core.model.config import TrainConfig
    from mnist_core.store.records import RunRecord
    from mnist_core.store.registry import Registry
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import RUN_ATTR, create_sweep, open_storage
    from mnist_core.training.loop import prepare_data, train

    started = time.perf_counter()
    space = load_space("quick")
    trials = told_trials(space, complete, pruned)
    config = TrainConfig(epochs=1, subset_size=2000, validation_split=0.1, seed=1)
    result = train(TINY_SPEC, config, prepare_data(load_mnist(), config))
    registry = Registry(models)
    completed = [trial for trial in trials if trial.state.name == "COMPLETE"]
    for trial in completed[:runs]:  # the trial's made-up accuracy stands for the run's test accuracy
        entry = RunRecord(id="", name=f"sweep {STUDY} #{trial.number}", architecture="sweep", spec=TINY_SPEC,
                          config=config.to_dict(), status=result.status, created="", params=count_params(TINY_SPEC),
                          epochs=result.epochs, batches=result.batches, test_accuracy=trial.value, test_loss=None,
                          seconds=result.seconds, sweep={"study": STUDY, "trial": trial.number})
        trial.user_attrs[RUN_ATTR] = registry.save_run(result.model, entry).id
    study = create_sweep(STUDY, space, len(trials), open_storage(storage_url), queue=False)
    study.add_trials(trials)
    print(f"built {len(trials)} trials and {min(runs, len(completed))} runs in {time.perf_counter() - started:.0f} s",
          flush=True)


def cli_seconds(args: list[str], env: dict) -> float:
    """Wall seconds of ``python -m mnist_core ARGS`` in a fresh process (it must succeed)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mnist_core", *args], cwd=PROJECT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def visit(page, url: str, ready) -> float:
    """Seconds from asking for the page to its content on screen and its script ended."""
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    ready(page)
    wait_for_app_idle(page, TIMEOUT_MS)
    return time.perf_counter() - started


def sweeps_ready(page) -> None:
    """The sweep's metric, its trials table and Optuna's chart are drawn."""
    expect(metric(page, "Trials complete")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Trials 1–100 of")).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function(PLOT_DRAWN, timeout=TIMEOUT_MS)


def models_ready(page) -> None:
    """The runs table and the comparison's curves are drawn."""
    expect(page.get_by_text("Compare runs").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible(timeout=TIMEOUT_MS)


def page_visits(browser, folder: Path, env: dict, path: str, ready, visits: int) -> tuple[float, list[float]]:
    """A fresh server: the page's first visit, then ``visits`` later visits (each a new page load, as a user
    coming back)."""
    server = start_streamlit(folder, env)
    try:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        first = visit(page, f"{server.url}/{path}", ready)
        later = [visit(page, f"{server.url}/{path}", ready) for _ in range(visits)]
        page.context.close()
    finally:
        stop_process_group(server.process)
    print(f"{path}: first {first:.2f} s, later {', '.join(f'{s:.2f}' for s in later)} s", flush=True)
    return first, later


def show(name: str, value: float, storage: str) -> None:
    goal = GOALS[name]
    ratio = f"  ratio to goal {value / goal:.2f}" if goal else ""
    print(f"{name + ' (' + storage + ')':<90} {value:8.2f} s{ratio}", flush=True)
    record("scale", f"{name}, {storage}", {"value": round(value, 3), "unit": "s", "goal": goal})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complete", type=int, default=1800, help="completed trials in the study")
    parser.add_argument("--pruned", type=int, default=200, help="pruned trials in the study")
    parser.add_argument("--runs", type=int, default=1500, help="saved runs in the registry")
    parser.add_argument("--visits", type=int, default=3, help="later visits of each page, and runs of each command")
    parser.add_argument("--postgres", action="store_true", help="keep the study on a private PostgreSQL server")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the server it started
    from postgres_fixture import private_postgres

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as temporary, \
            (private_postgres() if args.postgres else nullcontext(None)) as postgres_url:
        folder = Path(temporary)
        storage = (f"{'PostgreSQL' if args.postgres else 'SQLite'}, {args.complete + args.pruned:,} trials, "
                   f"{args.runs:,} runs")  # each size and storage is a figure of its own
        models = folder / "models"
        storage_url = postgres_url or f"sqlite:///{models / 'sweeps.db'}"
        env = os.environ | {"DIGIT_LAB_MODELS": str(models), "DIGIT_LAB_SWEEP_STORAGE": storage_url,
                            "TF_CPP_MIN_LOG_LEVEL": "2"}
        build_registry(models, storage_url, args.complete, args.pruned, args.runs)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                sweeps_first, sweeps_later = page_visits(browser, folder, env, "sweeps", sweeps_ready, args.visits)
                models_first, models_later = page_visits(browser, folder, env, "models", models_ready, args.visits)
            finally:
                browser.close()
        show_json = [cli_seconds(["sweep", "show", STUDY, "--json"], env) for _ in range(args.visits)]
        listed = [cli_seconds(["list", "--json"], env) for _ in range(args.visits)]
        # last: the Sweeps page opens the newest sweep, which must be the big one while it is timed
        created = [cli_seconds(["sweep", "create", f"many-{index}", "--space", "quick", "--trials",
                                str(CREATED_TRIALS), "--json"], env) for index in range(args.visits)]
    median = statistics.median
    show("Sweeps page, first visit after the server starts", sweeps_first, storage)
    show("Sweeps page, later visit (median)", median(sweeps_later), storage)
    show("sweep show NAME --json (median)", median(show_json), storage)
    show("Models page, first visit after the server starts", models_first, storage)
    show("Models page, later visit (median)", median(models_later), storage)
    show("list --json (median)", median(listed), storage)
    show(f"sweep create --trials {CREATED_TRIALS} (median)", median(created), storage)


if __name__ == "__main__":
    main()
