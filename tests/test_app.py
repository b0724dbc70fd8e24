"""app.py and navigation.py: their reliance on Streamlit internals (an upgrade that removes them must fail here, not
slow training down), the server's warm-up, and the training engine loaded in the background once the first page's
script has ended."""

from __future__ import annotations

import runpy
import subprocess
import sys
from functools import partial

import pytest

from helpers import PROJECT, two_at_a_time


def test_the_patched_streamlit_hook_still_exists_and_is_switched_off(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    assert callable(getattr(script_runner, "_clean_problem_modules", None)), (
        "Streamlit no longer has script_runner._clean_problem_modules: re-check whether it still calls "
        "keras.backend.clear_session() after every script run, and update app.keep_keras_state_between_runs")
    original = script_runner._clean_problem_modules
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)  # restored after the test
    namespace = runpy.run_path(str(PROJECT / "navigation.py"), run_name="app_under_test")
    assert script_runner._clean_problem_modules is not original
    assert script_runner._clean_problem_modules() is None
    assert "keep_keras_state_between_runs" in namespace


WHO_IMPORTS_TENSORFLOW = """
import importlib.abc, sys, threading, time
importers = []

class Witness(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" and not importers:
            importers.append(threading.current_thread().name)

sys.meta_path.insert(0, Witness())
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("navigation.py", default_timeout=90)
app.switch_page(f"app_pages/{sys.argv[1]}/{sys.argv[1]}.py")  # the first page a user opens
app.run()
assert not app.exception, [exception.value for exception in app.exception]
deadline = time.monotonic() + 120
while not importers and time.monotonic() < deadline:
    time.sleep(0.05)
print(importers)
"""


@pytest.mark.parametrize("first_page", ["home", "errors"])
def test_the_first_page_shown_starts_importing_tensorflow_on_a_thread_of_its_own(first_page, children):
    """TensorFlow takes 4-5 s to import: the app loads it after its first page, on its own thread, so neither that
    page nor the Train page waits for it, and it is loaded by the time a user presses Train. The Errors page on a run
    that saved its test predictions (the shipped default model does) needs none on its script thread: only its
    saliency map does, worked out by a task in the job runner's light lane (which may start the import first)."""
    from app_pages.shared.engine import ENGINE_PRELOAD_THREAD
    from mnist_core.jobs.requests import LANES, LIGHT

    done = children[first_page]
    assert done.returncode == 0, done.stderr
    background = [ENGINE_PRELOAD_THREAD] + ([LANES[LIGHT]] if first_page == "errors" else [])  # the saliency task
    assert done.stdout.strip() in [str([thread]) for thread in background], done.stdout



WHO_LOADS_THE_DEFAULT_MODEL = """
import threading
from mnist_core.store.registry import Registry
loads = []
load_model = Registry.load_model
def counted(self, run_id):
    loads.append((threading.current_thread().name, run_id))
    return load_model(self, run_id)
Registry.load_model = counted
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("navigation.py", default_timeout=90).run()  # the Home page
assert not app.exception, [exception.value for exception in app.exception]
from app_pages.shared.engine import ENGINE_PRELOAD_THREAD
from app_pages.shared.models import cached_predictor, model_key, shared_registry
next(thread for thread in threading.enumerate() if thread.name == ENGINE_PRELOAD_THREAD).join(180)
predictor = cached_predictor(*model_key(shared_registry(), "default"))  # what the Draw page asks for
print(loads)
"""


def test_the_preload_makes_the_default_model_ready_for_the_first_drawing(children):
    """After the first page the background thread also loads the default model's predictor, so the first drawing on
    the Draw page finds it loaded instead of loading TensorFlow and the model on the script thread."""
    from app_pages.shared.engine import ENGINE_PRELOAD_THREAD

    done = children["preload"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str([(ENGINE_PRELOAD_THREAD, "default")])


PAGES_WITHOUT_ENGINE = """
import sys, threading
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("navigation.py", default_timeout=90)
for page in ("data", "models", "sweeps"):
    app.switch_page(f"app_pages/{page}/{page}.py")
    app.run()
    assert not app.exception, [exception.value for exception in app.exception]
from app_pages.shared.engine import ENGINE_PRELOAD_THREAD
print([thread.name for thread in threading.enumerate() if thread.name == ENGINE_PRELOAD_THREAD],
      "tensorflow" in sys.modules)
"""


def test_pages_that_need_no_tensorflow_do_not_start_loading_it(children):
    """Data, Models and Sweeps work without TensorFlow: opening them starts no preload (seconds of a core and 600 MB
    that would slow the next visits), and none of their parts imports it."""
    done = children["without engine"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] False", done.stdout


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, cwd=PROJECT, timeout=300)


@pytest.fixture(scope="module")
def children() -> dict:
    """The scripts above, each in a fresh process (a first import is what they watch), two at a time:
    {first page, "preload" or "without engine": finished process}."""
    return two_at_a_time({"preload": partial(run_script, WHO_LOADS_THE_DEFAULT_MODEL),
                          "without engine": partial(run_script, PAGES_WITHOUT_ENGINE)}
                         | {page: partial(run_script, WHO_IMPORTS_TENSORFLOW, page) for page in ("home", "errors")})


PRELOAD_WITHOUT_TENSORFLOW = """
import importlib.abc, logging, sys, threading

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is broken here")

sys.meta_path.insert(0, NoTensorFlow())
failures = []
logging.getLogger("digit_lab").addHandler(type("Seen", (logging.Handler,), {"emit": lambda self, r: failures.append(
    r.getMessage())})())
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("navigation.py", default_timeout=90).run()  # the Home page
assert not app.exception, [exception.value for exception in app.exception]
from app_pages.shared.engine import ENGINE_LOADED, ENGINE_PRELOAD_THREAD
next(thread for thread in threading.enumerate() if thread.name == ENGINE_PRELOAD_THREAD).join(180)
print(ENGINE_LOADED.is_set(), failures)
"""


def test_a_preload_step_that_fails_is_logged_and_the_steps_after_it_still_run():
    """The preload imports TensorFlow, then loads the default model and says the engine is loaded: one import
    failing on that thread (it happened in a fresh CI process) must not leave a task waiting for the engine forever."""
    done = run_script(PRELOAD_WITHOUT_TENSORFLOW)
    assert done.returncode == 0, done.stderr
    engine_loaded, failures = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert engine_loaded == "True", done.stdout
    assert "preloading (import_engine) failed" in failures, failures


WARM_UP = """
import sys
from app_pages.shared.data import data_source
from app_pages.shared.engine import warm_up
warm_up()
print(data_source().has_data(),
      sorted(name for name in ("altair", "pandas", "sklearn.metrics", "optuna", "tensorflow") if name in sys.modules))
"""


def test_the_server_warms_up_the_pages_parts_without_tensorflow():
    """Before the server answers, ``warm_up`` reads the data set and imports every page's parts (pandas, Altair,
    scikit-learn's metrics, Optuna) so no first visit waits for them, and nothing that imports TensorFlow (seconds,
    left to the preload)."""
    done = run_script(WARM_UP)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True " + str(["altair", "optuna", "pandas", "sklearn.metrics"])


def test_a_browser_request_is_a_first_visit_a_health_check_or_websocket_is_not():
    """The middleware app.py installs: a browser's request sets ``FirstVisit.seen`` (the warm-up stops), a script
    polling the health check or a session's websocket does not; every request is passed on."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from app_pages.shared.engine import HEALTH_PATH, FirstVisit

    async def served(scope, receive, send) -> None:
        served.paths.append(scope["path"])

    def request(scope: dict) -> None:  # on a thread of its own: the browser tests leave an event loop in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, visit(scope, None, None)).result()

    served.paths = []
    FirstVisit.seen.clear()
    visit = FirstVisit(served)
    request({"type": "http", "path": HEALTH_PATH})
    request({"type": "websocket", "path": "/_stcore/stream"})
    assert not FirstVisit.seen.is_set()
    request({"type": "http", "path": "/errors"})
    assert FirstVisit.seen.is_set()
    assert served.paths == [HEALTH_PATH, "/_stcore/stream", "/errors"]
    FirstVisit.seen.clear()


WARM_UP_AFTER_A_VISIT = """
import sys
from app_pages.shared.engine import FirstVisit, warm_up
FirstVisit.seen.set()
warm_up()
print(sorted(name for name in ("altair", "sklearn.metrics", "optuna") if name in sys.modules))
"""


def test_the_warm_up_stops_once_a_browser_has_asked_for_a_page():
    """A page opened while the server warms up would share the two cores with it: from the first visit on, the
    warm-up imports nothing more (here: a visit before it began, so it imports none of the pages' parts)."""
    done = run_script(WARM_UP_AFTER_A_VISIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
