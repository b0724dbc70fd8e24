"""The pages' and the job runner's data set (app_pages.shared.data.DataSetSource): read from disk once per $MNIST_PATH,
shared read-only, a failed read not kept, an upload first."""

from __future__ import annotations

import numpy as np
import pytest

from app_pages.shared.data import DataSetSource
from mnist_core.data.mnist import DataSetError


def small_npz(path, label_offset: int = 0):
    """A valid little data set in the Keras layout; ``label_offset`` makes its labels differ from another's."""
    np.savez(path, x_train=np.zeros((30, 28, 28), np.uint8), y_train=(np.arange(30) + label_offset) % 10,
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.arange(10))
    return path


def test_the_configured_data_set_is_read_once_and_shared_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(small_npz(tmp_path / "a.npz")))
    source = DataSetSource()
    assert not source.has_data()
    first = source.load()
    assert source.has_data()
    (tmp_path / "a.npz").unlink()  # a second load must not go back to the disk
    assert source.load() is first
    assert not first.x_train.flags.writeable and not first.y_test.flags.writeable
    with pytest.raises(ValueError):
        first.x_train[0, 0, 0] = 1


def test_a_new_path_is_read_and_a_failed_read_is_not_kept(tmp_path, monkeypatch):
    source = DataSetSource()
    monkeypatch.setenv("MNIST_PATH", str(small_npz(tmp_path / "a.npz")))
    first = source.load()
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    assert not source.has_data()
    with pytest.raises(DataSetError):
        source.load()
    small_npz(tmp_path / "missing.npz", label_offset=3)  # the file appears (a fixed path, a finished download)
    second = source.load()
    assert second is not first
    assert second.y_train[0] == 3 and first.y_train[0] == 0


def test_an_uploaded_data_set_comes_first(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("MNIST_PATH", str(small_npz(tmp_path / "a.npz")))
    source = DataSetSource()
    source.load()
    source.uploaded = mnist
    assert source.has_data() and source.load() is mnist
