"""Shared fixtures: the real MNIST from $MNIST_PATH, a temporary registry, and small models trained for real."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True, scope="session")
def engine_preload_ends_before_python_does():
    """A page test's app starts the engine preload, a daemon thread that may still be inside TensorFlow when the last
    test ends; Python exiting under it aborts the process (exit 134 after every test passed). Wait for it, once."""
    yield
    if "app_pages.shared.engine" in sys.modules:
        from app_pages.shared.engine import ENGINE_PRELOAD_THREAD

        for thread in threading.enumerate():
            if thread.name == ENGINE_PRELOAD_THREAD:
                thread.join(timeout=300)


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    """AppTest runs share Streamlit's process-wide caches: every test starts with no cached model, runner or data."""
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()


@pytest.fixture(scope="session")
def mnist_path() -> str:
    path = os.environ.get("MNIST_PATH")
    if not path or not Path(path).exists():
        pytest.fail("Set MNIST_PATH to the real mnist.npz (CI uses ../shared/data/mnist.npz).")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from mnist_core.data.sources import load_mnist

    return load_mnist(mnist_path)


@pytest.fixture()
def registry(tmp_path, monkeypatch):
    """An empty registry in a temporary folder, also exported as $DIGIT_LAB_MODELS for code that reads it."""
    from mnist_core.store.registry import MODELS_ENV, Registry

    root = tmp_path / "models"
    monkeypatch.setenv(MODELS_ENV, str(root))
    return Registry(root)


@pytest.fixture(scope="session")
def small_dense_model(mnist):
    """A Dense(64) net trained for real on 6,000 images (about 2 s): ~90%+ test accuracy."""
    from mnist_core.model.config import TrainConfig
    from mnist_core.training.loop import prepare_data, train

    config = TrainConfig(epochs=2, subset_size=6000, validation_split=0.1, seed=3)
    result = train([{"type": "Dense", "units": 64}], config, prepare_data(mnist, config))
    return result.model


@pytest.fixture(scope="session")
def small_cnn_model(mnist):
    """A small conv net trained for real on 6,000 images: used where activations of conv layers matter."""
    from mnist_core.model.config import TrainConfig
    from mnist_core.training.loop import prepare_data, train

    spec = [{"type": "Conv2D", "filters": 8, "kernel_size": 5, "strides": 2, "padding": "same"},
            {"type": "MaxPooling2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 32}]
    config = TrainConfig(epochs=2, subset_size=6000, validation_split=0.0, seed=4, steps_per_execution=8)
    return train(spec, config, prepare_data(mnist, config)).model


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """One tiny real run trained through the CLI (with a validation split, which calibration needs), shared by the
    command-line tests that only read it: (its models folder, train's JSON output)."""
    import json

    from helpers import run_cli

    models = tmp_path_factory.mktemp("cli-models")
    done = run_cli("train", "--preset", "dense32-rmsprop", "--subset-size", "2000", "--epochs", "1",
                   "--validation-split", "0.2", "--name", "cli run", "--json", models=models)
    assert done.returncode == 0, done.stderr
    return models, json.loads(done.stdout)


@pytest.fixture(scope="session")
def test_sample(mnist):
    """The first 500 test images and labels (fixed, so results are comparable between runs)."""
    return mnist.x_test[:500], mnist.y_test[:500]


@pytest.fixture(scope="module")
def good_template(tmp_path_factory):
    """Two good runs, saved for real once per module; copied into each test's registry (cheaper than saving again)."""
    from faults_helpers import save_good_runs
    from mnist_core.store.registry import Registry

    template = Registry(tmp_path_factory.mktemp("good-runs"))
    return template, save_good_runs(template)


@pytest.fixture()
def good(registry, good_template):
    """Two good runs in the registry before a fault; fault tests check they survive it (assert_runs_intact)."""
    import shutil

    template, saved = good_template
    for run_id in saved:
        shutil.copytree(template.root / run_id, registry.root / run_id)
    return saved


# --- the app's pages in AppTest (tests/test_pages.py, tests/test_page_my_digits.py) ----------------------------


@pytest.fixture()
def data_set(mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", mnist_path)


@pytest.fixture()
def empty_registry(registry, monkeypatch, tmp_path):
    """The temporary registry, with the shipped models/default hidden too, so there is no model at all."""
    monkeypatch.setattr("mnist_core.store.registry.PROJECT_MODELS", tmp_path / "no-shipped-models")
    return registry


@pytest.fixture()
def model_registry(empty_registry, small_cnn_model):
    """A registry whose only run is a small trained CNN installed as the default model."""
    from helpers import install_default

    install_default(empty_registry, small_cnn_model)
    return empty_registry


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave with pytest's own exit status, skipping the interpreter's teardown: with TensorFlow loaded and the job
    runners' daemon threads alive (idle), Python's finalisation now and then aborts in TensorFlow's C++ ("terminate
    called ... exception not rethrown", status 134) after every test has passed - seen on tests/test_pages.py alone."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(getattr(config, "_digit_lab_exit_status", 0)))


def pytest_sessionfinish(session, exitstatus):
    """Keep the session's exit status for ``pytest_unconfigure``."""
    session.config._digit_lab_exit_status = exitstatus
