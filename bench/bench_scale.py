"""After a big sweep: does every page and command stay fast with thousands of trials and runs (issue 30)? Builds a
registry like the one a big sweep leaves: a real study of ``--sizes`` trials (nine in ten completed, one in ten
pruned) of the ``quick`` space, made with Optuna's ask/tell and the project's ``suggest`` without training
(``tests/helpers.told_trials``), and ``--runs`` saved runs (at most one per completed trial), one tiny real model
trained once and saved that many times through the registry as the completed trials' runs. Then times, against the
issue's goals: the Sweeps page's first visit after the server starts and later visits, and the Models page's
(headless Chromium against a real server, as ``bench_app.py`` does), and ``sweep show NAME --json``, ``list --json``
and ``sweep create --trials 10000`` as fresh processes. Figures go to ``bench/RESULTS.md`` (``bench/results.py``)
with the load and the CPU.

``--storage`` keeps the study in the registry's SQLite file (``sqlite``, the default) or on a private PostgreSQL
server (``postgres``: ``tests/postgres_fixture.py``, a fresh database per size), or both, one after the other. Each
figure is named with its storage and sizes, and with both storages a table at the end sets them side by side per
size: from what size on PostgreSQL pays.

Run:  MNIST_PATH=/path/to/mnist.npz PYTHONPATH=.:tests/e2e:tests python bench/bench_scale.py
      [--sizes 2000] [--runs 1500] [--visits 3] [--storage sqlite|postgres|both]
e.g.  ... bench/bench_scale.py --storage both --sizes 500,2000,10000
On a quiet machine; building each registry takes a minute or more and is not timed.
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

from app_pages.sweeps.watch import TABLE_ROWS
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
    expect(page.get_by_text(f"Trials 1–{TABLE_ROWS} of")).to_be_visible(timeout=TIMEOUT_MS)
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


def new_database(server_url: str, name: str) -> str:
    """A new empty database on the PostgreSQL server at ``server_url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def measure(browser, folder: Path, storage_url: str, trials: int, runs: int, visits: int) -> dict[str, float]:
    """Build a registry with a study of ``trials`` trials in ``storage_url``, then time every row of the issue."""
    pruned = trials // 10
    models = folder / "models"
    env = os.environ | {"DIGIT_LAB_MODELS": str(models), "DIGIT_LAB_SWEEP_STORAGE": storage_url,
                        "TF_CPP_MIN_LOG_LEVEL": "2"}
    build_registry(models, storage_url, trials - pruned, pruned, runs)
    sweeps_first, sweeps_later = page_visits(browser, folder, env, "sweeps", sweeps_ready, visits)
    models_first, models_later = page_visits(browser, folder, env, "models", models_ready, visits)
    show_json = [cli_seconds(["sweep", "show", STUDY, "--json"], env) for _ in range(visits)]
    listed = [cli_seconds(["list", "--json"], env) for _ in range(visits)]
    # last: the Sweeps page opens the newest sweep, which must be the big one while it is timed
    created = [cli_seconds(["sweep", "create", f"many-{index}", "--space", "quick", "--trials",
                            str(CREATED_TRIALS), "--json"], env) for index in range(visits)]
    median = statistics.median
    return {"Sweeps page, first visit after the server starts": sweeps_first,
            "Sweeps page, later visit (median)": median(sweeps_later),
            "sweep show NAME --json (median)": median(show_json),
            "Models page, first visit after the server starts": models_first,
            "Models page, later visit (median)": median(models_later),
            "list --json (median)": median(listed),
            f"sweep create --trials {CREATED_TRIALS} (median)": median(created)}


def side_by_side(measured: dict[tuple[str, int], dict[str, float]], sizes: list[int]) -> None:
    """Per size, each row's seconds on SQLite and on PostgreSQL and their ratio: where PostgreSQL starts to pay."""
    print(f"\n{'row':<58} {'trials':>7} {'SQLite':>8} {'PostgreSQL':>11} {'PG/SQLite':>10}")
    for name in GOALS:
        for size in sizes:
            lite, postgres = measured[("SQLite", size)][name], measured[("PostgreSQL", size)][name]
            print(f"{name:<58} {size:>7,} {lite:>8.2f} {postgres:>11.2f} {postgres / lite:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000",
                        help="trials in the study, comma-separated for several (each its own registry)")
    parser.add_argument("--runs", type=int, default=1500, help="saved runs in the registry (at most one per "
                        "completed trial)")
    parser.add_argument("--visits", type=int, default=3, help="later visits of each page, and runs of each command")
    parser.add_argument("--storage", choices=["sqlite", "postgres", "both"], default="sqlite",
                        help="where the study is kept: the registry's SQLite file, a private PostgreSQL server, or "
                             "each in turn")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",")]
    if min(sizes) <= TABLE_ROWS:
        parser.error(f"--sizes: each study needs more than {TABLE_ROWS} trials (the page is ready when the table "
                     "says which page of trials it shows)")
    storages = ["SQLite", "PostgreSQL"] if args.storage == "both" else \
        ["PostgreSQL" if args.storage == "postgres" else "SQLite"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the server it started
    from postgres_fixture import private_postgres

    measured: dict[tuple[str, int], dict[str, float]] = {}
    with (private_postgres() if "PostgreSQL" in storages else nullcontext(None)) as postgres_server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for storage, size in ((storage, size) for storage in storages for size in sizes):
                runs = min(args.runs, size - size // 10)
                with tempfile.TemporaryDirectory(prefix="bench-scale-") as temporary:
                    folder = Path(temporary)
                    storage_url = new_database(postgres_server, f"scale_{size}") if storage == "PostgreSQL" \
                        else f"sqlite:///{folder / 'models' / 'sweeps.db'}"
                    measured[storage, size] = measure(browser, folder, storage_url, size, runs, args.visits)
                for name, value in measured[storage, size].items():  # each size and storage a figure of its own
                    show(name, value, f"{storage}, {size:,} trials, {runs:,} runs")
        finally:
            browser.close()
    if len(storages) == 2:
        side_by_side(measured, sizes)


if __name__ == "__main__":
    main()
