"""Small helpers shared by the test modules (import them as ``from helpers import ...``; ``conftest`` is ambiguous
because tests/e2e has its own)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
UNEXPECTED_ERROR = "Something went wrong on this page"
RUN_TIMEOUT_S = 90  # one script run, TensorFlow import and model loading included, on a busy 2-core machine


def run_cli(*args, models=None, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m mnist_core ARGS`` as a real process (in ``env``, default this one's, with ``models`` as its
    registry when given); its exit code, stdout and stderr as text."""
    env = dict(os.environ if env is None else env) | ({} if models is None else {"DIGIT_LAB_MODELS": str(models)})
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=timeout)


def two_at_a_time(calls: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Each of ``calls`` (name: a function that runs a child process to its end), two at a time, as {name: its
    result}: on two cores one child computes while the other starts (most of a CLI process is loading TensorFlow).
    Only for children that do not change what another of them reads."""
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
    return {name: future.result() for name, future in futures.items()}


def save_run(registry, model, name="run", status="finished", accuracy=None, epochs=()):
    """Save ``model`` in ``registry`` with a minimal record and the per-epoch rows ``epochs`` (for tests that need
    runs on disk)."""
    from mnist_core.store.records import RunRecord

    record = RunRecord(id="", name=name, architecture="custom", spec=[], config={}, status=status, created="",
                       params=int(model.count_params()), test_accuracy=accuracy, epochs=list(epochs))
    return registry.save_run(model, record)


def rgba_canvas(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """An MNIST digit scaled up to a ``size``×``size`` RGBA canvas drawing (white ink, transparent background)."""
    from PIL import Image

    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., :3] = 255
    canvas[..., 3] = ink
    return canvas


def interrupted_run(mnist, registry, spec, config, name="cut") -> str:
    """The id of a run whose process 'died' in epoch 2: epoch 1 is checkpointed in ``registry``, its lock released
    (what a killed process leaves; tests/test_core_cli.py kills a real one)."""
    import threading

    from mnist_core.jobs.runs import WorkFolderCheckpoint
    from mnist_core.training.loop import prepare_data, train
    from mnist_core.training.progress import History

    partial = registry.start_partial(name, "custom", spec, config.to_dict(), 0)
    stop = threading.Event()

    def on_event(event):
        if event.kind == "batch" and event.epoch == 2:
            stop.set()

    history = History()
    train(spec, config, prepare_data(mnist, config), on_event, stop, history, WorkFolderCheckpoint(partial, history))
    partial.release()
    return partial.run_id


# --- pages in Streamlit's AppTest (tests/test_pages.py, tests/test_page_my_digits.py) ---------------------------


def open_page(page: str, session_state: dict | None = None):
    """An AppTest of navigation.py (what every session of the app runs) showing ``page`` (its url path is its file
    name), after one run."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT / "navigation.py"), default_timeout=RUN_TIMEOUT_S)
    for key, value in (session_state or {}).items():
        app.session_state[key] = value
    app.switch_page(f"app_pages/{page}/{page}.py")
    return app.run()


def texts(elements) -> list[str]:
    return [str(element.value) for element in elements]


def assert_rendered(app) -> None:
    """No exception, and not the last-resort "something went wrong" message either."""
    assert not app.exception, [exception.value for exception in app.exception]
    assert not any(UNEXPECTED_ERROR in text for text in texts(app.error)), texts(app.error)


def widget(elements, label: str):
    """The one widget of ``elements`` with that label."""
    found = [element for element in elements if element.label == label]
    assert len(found) == 1, f"{len(found)} widgets labelled {label!r}"
    return found[0]


PAD_KEY = "draw_canvas.0"  # the Draw page's drawing pad, before a drawing is filed (app_pages/draw/draw.py)


def canvas_state(rgba: np.ndarray) -> dict:
    """What streamlit-drawable-canvas reports after a stroke: its Fabric.js JSON and its picture as a PNG data URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def install_default(registry, model) -> None:
    """Save ``model`` as the registry's default model (run id "default")."""
    from mnist_core.store.records import RunRecord
    from mnist_core.store.registry import DEFAULT_ID

    record = RunRecord(id="", name="default", architecture="custom", spec=[], config={}, status="finished",
                       created="", params=int(model.count_params()), test_accuracy=None)
    registry.save_run(model, record, run_id=DEFAULT_ID)


def told_trials(space: dict, complete: int, pruned: int, seed: int = 0) -> list:
    """Finished trials of ``space`` made without training, for tests and benches of big studies: an in-memory study
    asks (random sampling), the project's ``suggest`` picks every parameter, and a made-up validation accuracy is told
    (rising with the learning rate and the units, plus noise), after one report at epoch 1; the pruned trials stop
    there. Add them to a sweep's study with ``study.add_trials``."""
    import math
    import random

    import optuna

    from mnist_core.sweeps.spaces import suggest
    from mnist_core.sweeps.study import REASON_ATTR, WORKER_ATTR

    rng = random.Random(seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    outcomes = ["pruned"] * pruned + ["complete"] * complete
    rng.shuffle(outcomes)
    for outcome in outcomes:
        trial = study.ask()
        suggest(trial, space)
        rate = trial.params.get("learning_rate", 1e-3)
        value = min(0.99, 0.9 + 0.02 * math.log10(rate / 1e-3) + trial.params.get("dense_units", 32) / 2000
                    + rng.gauss(0, 0.01))
        trial.set_user_attr(WORKER_ATTR, "made-up:0")
        trial.report(value - rng.uniform(0.005, 0.03), 1)
        if outcome == "pruned":
            trial.set_user_attr(REASON_ATTR, "pruned after epoch 1: behind the median of others")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
    return study.get_trials()
