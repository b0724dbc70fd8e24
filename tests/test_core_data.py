"""Loading MNIST from every accepted source, in the documented order, and the splits cut from it."""

import gzip
import io
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faults_helpers import assert_runs_intact, idx_bytes, write_idx_folder
from mnist_core.cli.main import main as cli_main
from mnist_core.data.mnist import (
    ENV_VAR,
    KAGGLE_HOLDOUT,
    DataSetError,
    read_dataset,
    read_kaggle_test,
    read_uploaded_dataset,
    stratified_subset,
    submission_csv,
    validation_split,
)
from mnist_core.data.sources import load_mnist
from mnist_core.jobs.requests import RunRequest
from mnist_core.jobs.runner import JobRunner
from mnist_core.model.config import TrainConfig
from mnist_core.statuses import FAILED


def write_idx(path, array, gz=False):
    """An IDX file written independently of the reader: magic 0x00000803/0x00000801, big-endian sizes."""
    header = struct.pack(">I", 0x800 + array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_loads_the_real_mnist_with_its_documented_counts(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8 and mnist.y_train.dtype == np.int64
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_given_path_wins_over_the_environment(mnist_path, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.npz"))
    assert load_mnist(mnist_path).source == mnist_path


def test_broken_environment_path_is_an_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.npz"))
    with pytest.raises(DataSetError, match=r"\$MNIST_PATH.*does not exist") as error:
        load_mnist(allow_download=False)
    assert "Fix:" in str(error.value)


def test_keras_cache_is_used_when_nothing_is_named(mnist_path, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    cache = tmp_path / "mnist.npz"
    cache.symlink_to(mnist_path)
    assert load_mnist(keras_cache=cache, allow_download=False).source == str(cache)


def test_nothing_available_lists_every_attempt(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DataSetError) as error:
        load_mnist(keras_cache=tmp_path / "none.npz", allow_download=False)
    message = str(error.value)
    assert "MNIST_PATH is not set" in message and "Keras cache" in message and "mnist.npz" in message


@pytest.mark.parametrize("gz", [False, True])
def test_reads_a_folder_of_lecun_idx_files(mnist, tmp_path, gz):
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", mnist.x_train[:300], gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", mnist.y_train[:300], gz)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", mnist.x_test[:100], gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", mnist.y_test[:100], gz)
    data = read_dataset(tmp_path)
    np.testing.assert_array_equal(data.x_train, mnist.x_train[:300])
    np.testing.assert_array_equal(data.y_test, mnist.y_test[:100])


def test_reads_a_kaggle_train_csv_keeping_its_last_rows_as_test(mnist, tmp_path):
    rows = KAGGLE_HOLDOUT + 500
    frame = pd.DataFrame(mnist.x_train[:rows].reshape(rows, -1), columns=[f"pixel{i}" for i in range(784)])
    frame.insert(0, "label", mnist.y_train[:rows])
    frame.to_csv(tmp_path / "train.csv", index=False)
    data = read_dataset(tmp_path / "train.csv")
    assert len(data.y_train) == 500 and len(data.y_test) == KAGGLE_HOLDOUT
    np.testing.assert_array_equal(data.x_test[0], mnist.x_train[500])


def test_kaggle_test_csv_round_trips_to_a_one_based_submission(mnist, tmp_path):
    pd.DataFrame(mnist.x_test[:5].reshape(5, -1), columns=[f"pixel{i}" for i in range(784)]).to_csv(
        tmp_path / "test.csv", index=False)
    images = read_kaggle_test(tmp_path / "test.csv")
    np.testing.assert_array_equal(images, mnist.x_test[:5])
    assert submission_csv(np.array([7, 2, 1])).splitlines() == ["ImageId,Label", "1,7", "2,2", "3,1"]


def test_stratified_subset_keeps_class_proportions_and_is_deterministic(mnist):
    chosen = stratified_subset(mnist.y_train, 1000, seed=1)
    assert len(chosen) == len(np.unique(chosen)) == 1000
    expected = np.bincount(mnist.y_train) * 1000 / len(mnist.y_train)
    assert np.all(np.abs(np.bincount(mnist.y_train[chosen]) - expected) <= 1)
    np.testing.assert_array_equal(chosen, stratified_subset(mnist.y_train, 1000, seed=1))
    assert not np.array_equal(chosen, stratified_subset(mnist.y_train, 1000, seed=2))


def test_validation_split_is_disjoint_complete_and_deterministic():
    fit, held = validation_split(1000, 0.2, seed=5)
    assert len(held) == 200 and len(fit) == 800
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(1000))
    np.testing.assert_array_equal(held, validation_split(1000, 0.2, seed=5)[1])


def npz_declaring(path, x_train_shape, dtype="|u1"):
    """A Keras-layout .npz whose x_train is a .npy header alone, declaring ``x_train_shape``: nothing behind it."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("x_train.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False,
                                                          "shape": x_train_shape})
        for key, array in {"y_train": np.zeros(30, np.uint8), "x_test": np.zeros((10, 28, 28), np.uint8),
                           "y_test": np.arange(10)}.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, array)
    return path


@pytest.mark.parametrize("shape, dtype, message", [
    ((10 ** 12, 28, 28), "|u1", "x_train declares the shape (1000000000000, 28, 28); at most 500,000 train images"),
    ((500_001, 784), "|u1", "at most 500,000 train images"),
    ((70_000, 28, 28, 3), "|u1", "train images have shape (70000, 28, 28, 3); expected (N, 28, 28)"),
    ((400_000, 28, 28), "<f8", "x_train declares 2,508,800,000 bytes (float64)"),
], ids=["10^12-images", "too-many-images", "colour", "float64-too-large"])
def test_npz_arrays_that_cannot_be_mnist_are_refused_from_their_headers(shape, dtype, message, tmp_path):
    path = npz_declaring(tmp_path / "mnist.npz", shape, dtype)
    with pytest.raises(DataSetError) as error:
        read_dataset(path)
    assert message in str(error.value)
    with pytest.raises(DataSetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_uploaded_dataset("mnist.npz", path.read_bytes())


def test_an_npz_listing_thousands_of_members_is_refused_before_they_are_parsed(tmp_path):
    import zipfile

    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(5000):
            archive.writestr(f"{index}.npy", b"")
    with pytest.raises(DataSetError, match="far more members than the four arrays"):
        read_dataset(path)


def kaggle_text(rows: int, with_labels: bool = True) -> str:
    frame = pd.DataFrame(np.arange(rows * 784).reshape(rows, 784) % 256, columns=[f"pixel{i}" for i in range(784)])
    if with_labels:
        frame.insert(0, "label", np.arange(rows) % 10)
    return frame.to_csv(index=False)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_csvs_saved_as_utf16_or_with_a_byte_order_mark_are_read(encoding, tmp_path):
    text = kaggle_text(5, with_labels=False)
    expected = read_kaggle_test(io.BytesIO(text.encode()))
    path = tmp_path / "test.csv"
    path.write_bytes(text.encode(encoding))
    np.testing.assert_array_equal(read_kaggle_test(path), expected)
    np.testing.assert_array_equal(read_kaggle_test(io.BytesIO(text.encode(encoding))), expected)


@pytest.mark.parametrize("with_labels", [True, False], ids=["train", "test"])
def test_a_header_only_csv_is_told_it_has_no_rows(with_labels, tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(kaggle_text(0, with_labels), encoding="utf-8")
    with pytest.raises(DataSetError, match="a header but no rows"):
        read_dataset(path) if with_labels else read_kaggle_test(path)


def test_fingerprint_follows_the_contents_not_the_name(mnist):
    from mnist_core.data.mnist import make_data

    same = make_data(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, "uploaded .npz")
    changed_test = mnist.x_test.copy()
    changed_test[0, 0, 0] ^= 1
    other = make_data(mnist.x_train, mnist.y_train, changed_test, mnist.y_test, "uploaded .npz")
    assert same.fingerprint == mnist.fingerprint
    assert other.fingerprint != same.fingerprint


# --- the data set missing or malformed ----------------------------------------------------------------------------


def npz(path: Path, **arrays) -> Path:
    small = {"x_train": np.zeros((30, 28, 28), np.uint8), "y_train": np.arange(30) % 10,
             "x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.arange(10)}
    np.savez(path, **{key: value for key, value in (small | arrays).items() if value is not None})
    return path


def idx_folder(path: Path, gz: bool = True, **overrides) -> Path:
    arrays = {"x_train": np.zeros((30, 28, 28), np.uint8), "y_train": np.arange(30) % 10,
              "x_test": np.zeros((10, 28, 28), np.uint8), "y_test": np.arange(10)}
    files = write_idx_folder(path, *arrays.values(), gz=gz)
    for key, content in overrides.items():
        files[key].write_bytes(content(files[key].read_bytes()) if callable(content) else content)
    return path


def kaggle_csv(path: Path, rows: int = 20, drop: str | None = None) -> Path:
    frame = pd.DataFrame(np.zeros((rows, 784), np.uint8), columns=[f"pixel{i}" for i in range(784)])
    frame.insert(0, "label", np.arange(rows) % 10)
    frame.drop(columns=[drop] if drop else []).to_csv(path, index=False)
    return path


def put(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def corrupt_gzip(raw: bytes) -> bytes:
    damaged = bytearray(raw)
    damaged[12:40] = bytes(range(200, 228))
    return bytes(damaged)


BAD_DATA = {
    "missing-file": (lambda d: d / "nowhere" / "mnist.npz", "does not exist"),
    "empty-file": (lambda d: put(d / "mnist.npz", b""), "not a readable .npz"),
    "text-file": (lambda d: put(d / "mnist.npz", b"x_train,y_train\n"), "not a readable .npz"),
    "npy-not-npz": (lambda d: np.save(d / "x.npy", np.zeros((3, 28, 28), np.uint8)) or d / "x.npy",
                    "not an .npz archive"),
    "missing-array": (lambda d: npz(d / "m.npz", y_test=None), "lacks the arrays ['y_test']"),
    "wrong-image-shape": (lambda d: npz(d / "m.npz", x_train=np.zeros((30, 32, 32), np.uint8)),
                          "train images have shape (30, 32, 32); expected (N, 28, 28)"),
    "colour-images": (lambda d: npz(d / "m.npz", x_test=np.zeros((10, 28, 28, 3), np.uint8)),
                      "test images have shape (10, 28, 28, 3)"),
    "label-count": (lambda d: npz(d / "m.npz", y_train=np.arange(29) % 10), "expected (30,), one per image"),
    "label-10": (lambda d: npz(d / "m.npz", y_test=np.arange(1, 11)), "test labels range 1..10; expected 0..9"),
    "label-minus-1": (lambda d: npz(d / "m.npz", y_train=np.arange(30) % 10 - 1),
                      "train labels range -1..8; expected 0..9"),
    "float-labels": (lambda d: npz(d / "m.npz", y_train=(np.arange(30) % 10).astype(float)),
                     "train labels have dtype float64; expected integers"),
    "string-images": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), "a")),
                      "train images have dtype <U1; expected uint8"),
    "bool-images": (lambda d: npz(d / "m.npz", x_train=np.zeros((30, 28, 28), bool)),
                    "train images have dtype bool"),
    "pixels-300": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), 300, np.int32)),
                   "train pixels range 300..300; expected 0..255"),
    "nan-pixels": (lambda d: npz(d / "m.npz", x_test=np.full((10, 28, 28), np.nan)), "NaN"),
    "float-0-1-pixels": (lambda d: npz(d / "m.npz", x_train=np.full((30, 28, 28), 0.5)), "[0, 1]"),
    "empty-split": (lambda d: npz(d / "m.npz", x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, int)),
                    "test split is empty"),
    "kaggle-missing-column": (lambda d: kaggle_csv(d / "train.csv", drop="pixel783"),
                              "lacks the column(s) pixel783"),
    "kaggle-missing-label": (lambda d: kaggle_csv(d / "train.csv", drop="label"), "lacks the column(s) label"),
    "kaggle-too-few-rows": (lambda d: kaggle_csv(d / "train.csv", rows=50), "more than 7000 are needed"),
    "kaggle-binary": (lambda d: put(d / "train.csv", b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00"), "not a readable CSV"),
    "idx-folder-empty": (lambda d: (d / "idx").mkdir() or d / "idx", "has no train-images-idx3-ubyte"),
    "idx-truncated-gzip": (lambda d: idx_folder(d / "idx", x_train=lambda raw: raw[: len(raw) // 2]),
                           "train-images-idx3-ubyte.gz is not a readable gzip file"),
    "idx-corrupt-gzip": (lambda d: idx_folder(d / "idx", x_test=corrupt_gzip),
                         "t10k-images-idx3-ubyte.gz is not a readable gzip file"),
    "idx-wrong-magic": (lambda d: idx_folder(d / "idx", gz=False, y_train=lambda raw: b"\x00\x00\x0d\x01" + raw[4:]),
                        "not an IDX file of 1 dimension(s)"),
    "idx-images-as-labels": (lambda d: idx_folder(d / "idx", gz=False, y_test=lambda raw: idx_bytes(
        np.zeros((10, 28, 28)))), "not an IDX file of 1 dimension(s)"),
    "idx-truncated-payload": (lambda d: idx_folder(d / "idx", gz=False, x_train=lambda raw: raw[:-100]),
                              "IDX file is truncated"),
    "idx-header-cut": (lambda d: idx_folder(d / "idx", gz=False, y_train=lambda raw: raw[:6]),
                       "shorter than its 8-byte header"),
    "idx-overflowing-header": (lambda d: idx_folder(d / "idx", gz=False, x_train=idx_bytes(
        np.zeros(0), magic=b"\x00\x00\x08\x03", shape=(2**22, 2**21, 2**21))), "IDX file is truncated"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_a_missing_or_malformed_data_set_says_what_was_tried_and_how_to_fix_it(case, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    build, message = BAD_DATA[case]
    path = build(folder)
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DataSetError) as error:
        load_mnist(allow_download=False)
    text = str(error.value)
    assert message in text, text
    assert f"${ENV_VAR}" in text and str(path) in text  # what was tried
    assert "Fix:" in text and ENV_VAR in text.split("Fix:")[1]  # and how to fix it
    with pytest.raises(DataSetError, match=re.escape(message)):  # the same through an explicit path
        load_mnist(path, allow_download=False)


def test_a_pickle_inside_an_npz_is_never_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "unpickled.txt"

    class Payload:
        def __reduce__(self):  # unpickling this calls open(marker, "w"): the marker proves code ran
            return open, (str(marker), "w")

    pickle.loads(pickle.dumps(Payload())).close()
    assert marker.exists()  # the payload works
    marker.unlink()
    path = npz(tmp_path / "mnist.npz", x_train=np.array([Payload()] * 30, dtype=object))
    monkeypatch.setenv(ENV_VAR, str(path))
    with pytest.raises(DataSetError) as error:
        load_mnist(allow_download=False)
    assert "pickle" in str(error.value) and ENV_VAR in str(error.value)
    assert not marker.exists(), "the pickle was loaded"


def test_a_bad_data_set_fails_the_job_cleanly_and_keeps_the_runs(registry, good, tmp_path):
    missing = tmp_path / "gone.npz"
    runner = JobRunner(registry, lambda: load_mnist(missing, allow_download=False))
    request = RunRequest("no data", "custom", [], TrainConfig(epochs=1, subset_size=100))
    view = runner.wait(runner.submit(request), 60)
    assert view.status == FAILED and "does not exist" in view.reason and "Fix:" in view.reason
    assert view.record is None
    assert_runs_intact(registry, good)
    # and the runner is still alive for the next job
    view = runner.wait(runner.submit(request), 60)
    assert view.status == FAILED and "does not exist" in view.reason


def test_the_cli_reports_a_missing_data_set_in_one_line(registry, good, tmp_path, capsys):
    code = cli_main(["train", "--preset", "dense32-rmsprop", "--data", str(tmp_path / "none.npz"), "--models",
                     str(registry.root)])
    out, err = capsys.readouterr()
    assert code == 2 and "does not exist" in err and "MNIST_PATH" in err and "Traceback" not in err
    assert_runs_intact(registry, good)
