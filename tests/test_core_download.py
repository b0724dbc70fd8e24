"""MNIST download against a real HTTP server on 127.0.0.1 serving the real file, and the ways a download fails."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from helpers import run_cli
from mnist_core.data.download import SHA256_ENV, URL_ENV, download_mnist
from mnist_core.data.mnist import DataSetError
from mnist_core.data.sources import load_mnist
from mnist_server import MnistServer


@pytest.fixture(scope="module")
def mnist_server(mnist_path):
    server = MnistServer(Path(mnist_path).read_bytes())
    yield server
    server.close()


@pytest.fixture()
def cache(tmp_path):
    return tmp_path / "keras" / "datasets" / "mnist.npz"


def left_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_download_checks_and_caches_the_real_file(mnist_server, mnist_path, cache, monkeypatch):
    monkeypatch.setenv(URL_ENV, mnist_server.url("/mnist.npz"))
    monkeypatch.setenv(SHA256_ENV, hashlib.sha256(Path(mnist_path).read_bytes()).hexdigest())
    seen = []
    data = download_mnist(lambda done, total: seen.append((done, total)), cache=cache)
    assert (len(data.y_train), len(data.y_test)) == (60_000, 10_000)
    assert data.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert cache.read_bytes() == Path(mnist_path).read_bytes()
    assert left_in(cache.parent) == ["mnist.npz"]
    assert seen[-1][0] == seen[-1][1] == cache.stat().st_size and len(seen) > 1


@pytest.mark.parametrize("path, env_hash, message", [
    ("/missing.npz", None, "answered 404"),
    ("/truncated.npz", None, "cut short"),
    ("/mnist.npz", "0" * 64, "sha256"),
    ("/wrong.npz", None, "not MNIST"),
])
def test_a_failed_download_says_why_and_leaves_no_cache_file(mnist_server, cache, monkeypatch, path, env_hash,
                                                              message):
    monkeypatch.setenv(URL_ENV, mnist_server.url(path))
    if env_hash:
        monkeypatch.setenv(SHA256_ENV, env_hash)
    else:
        monkeypatch.delenv(SHA256_ENV, raising=False)
    with pytest.raises(DataSetError, match=message):
        download_mnist(cache=cache)
    assert left_in(cache.parent) == []


def test_a_stalled_server_times_out(mnist_server, cache, monkeypatch):
    monkeypatch.setenv(URL_ENV, mnist_server.url("/stall"))
    with pytest.raises(DataSetError, match="no answer .* for 1 s"):
        download_mnist(cache=cache, timeout=1.0)
    assert left_in(cache.parent) == []


def test_an_unreachable_server_is_reported_with_the_other_attempts(cache, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/mnist.npz")  # the discard port: nothing listens
    with pytest.raises(DataSetError, match=r"(?s)Keras cache .* does not exist.*could not reach.*Fix:"):
        load_mnist(keras_cache=cache)
    assert left_in(cache.parent) == []


def test_cli_downloads_by_itself_then_trains_from_the_cache(mnist_server, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_PATH", "KERAS_HOME")}
    env |= {"HOME": str(tmp_path / "home"), URL_ENV: mnist_server.url("/mnist.npz"),
            "DIGIT_LAB_MODELS": str(tmp_path / "models")}
    trained = run_cli("train", "--preset", "dense32-rmsprop", "--epochs", "1", "--subset-size", "2000", env=env)
    assert trained.returncode == 0, trained.stderr
    assert "Downloading MNIST [" in trained.stderr and "11.5 of 11.5 MB" in trained.stderr
    assert (tmp_path / "home" / ".keras" / "datasets" / "mnist.npz").is_file()
    env[URL_ENV] = mnist_server.url("/missing.npz")  # from now on a download fails: what follows uses the cache
    again = run_cli("download", "--json", env=env)
    assert again.returncode == 2 and "404" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "home" / ".keras" / "datasets" / "mnist.npz").is_file()  # a failed download keeps the cache
    evaluated = run_cli("evaluate", "--json", "--model", json.loads(run_cli("list", "--json", env=env).stdout)[0]["id"],
                        env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["test_accuracy"] > 0.5  # 10% is chance
