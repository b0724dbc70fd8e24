"""Loading MNIST from wherever the user has it, checking it, and cutting it into splits.

Accepted sources: a Keras ``mnist.npz``, a folder with the four LeCun IDX files (raw or ``.gz``), or a Kaggle
"Digit Recognizer" ``train.csv``. Nothing here imports TensorFlow; the last resort, a download into the Keras cache,
is in ``download``.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mnist_core.data.archives import central_directory_size, file_tail
from mnist_core.errors import DigitLabError

ENV_VAR = "MNIST_PATH"
IMAGE_SIDE = 28
NUM_CLASSES = 10
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
KAGGLE_HOLDOUT = 7000  # rows of a Kaggle train.csv kept aside as the test set (it has no labelled test set)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_SPLIT_IMAGES = 500_000  # per split, checked in an .npz's headers before loading (MNIST has 60,000 + 10,000)
MAX_ARRAY_BYTES = 512 * 1024 * 1024  # one array of an .npz, as declared (float64 MNIST training images: 376 MB)
MAX_NPZ_DIRECTORY_BYTES = 64 * 1024  # the member list of four arrays takes a few hundred bytes
MAX_CSV_HEADER_BYTES = 64 * 1024  # a Kaggle CSV's header line takes about 8 KB (16 KB in UTF-16)
MAX_CSV_COLUMNS = 1024  # a Kaggle CSV has 785 (label, pixel0..pixel783); a few extra columns are ignored
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
HOW_TO_FIX = (
    "Fix: run `python -m mnist_core download` (or press Download on the app's Home page), or get mnist.npz (Keras "
    f"layout) yourself and either set the environment variable {ENV_VAR} to its path, pass the path explicitly "
    "(CLI: --data PATH), copy it to ~/.keras/datasets/mnist.npz, or upload it on the app's Home page. A folder with "
    "the four LeCun IDX files or a Kaggle Digit Recognizer train.csv also works."
)


class DataSetError(DigitLabError):
    """A data set could not be found or is not MNIST-shaped; the message says what was tried and how to fix it."""


def fingerprint(*arrays: np.ndarray) -> str:
    """A short digest of the arrays' contents."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


@dataclass(frozen=True, repr=False)
class MnistData:
    """Train and test images (uint8, N×28×28) and labels (int64, 0..9), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def __repr__(self) -> str:
        return f"MnistData(train={len(self.y_train)}, test={len(self.y_test)}, source={self.source!r})"

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the contents (not the source's name, which every upload shares): a cache key for results
        computed from this data set."""
        return fingerprint(self.x_train, self.y_train, self.x_test, self.y_test)

    @cached_property
    def test_fingerprint(self) -> str:
        """A digest of the test split alone: what test-set predictions saved with a run were computed on."""
        return fingerprint(self.x_test, self.y_test)


# --- reading one source ---------------------------------------------------------------------------------------


def check_split(images: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the split as uint8 images and int64 labels, or raise naming what is wrong with it."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 2 and images.shape[1:] == (NUM_PIXELS,):
        images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataSetError(f"{name} images have shape {images.shape}; expected (N, 28, 28).")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataSetError(f"{name} labels have shape {labels.shape}; expected ({len(images)},), one per image.")
    if len(images) == 0:
        raise DataSetError(f"{name} split is empty.")
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise DataSetError(f"{name} images have dtype {images.dtype}; expected uint8 pixels.")
    if np.issubdtype(images.dtype, np.floating):  # casting would silently turn NaN into 0 and [0, 1] into 0/1
        if not np.isfinite(images).all():
            raise DataSetError(f"{name} images contain NaN or infinite pixels; expected 0..255.")
        if images.max() <= 1.0:
            raise DataSetError(f"{name} pixels are floats in {images.min()}..{images.max()}: they look scaled to "
                               "[0, 1] already; expected the original 0..255 (multiply by 255 and save as uint8).")
    if images.min() < 0 or images.max() > 255:
        raise DataSetError(f"{name} pixels range {images.min()}..{images.max()}; expected 0..255.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataSetError(f"{name} labels have dtype {labels.dtype}; expected integers 0..9.")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise DataSetError(f"{name} labels range {labels.min()}..{labels.max()}; expected 0..9.")
    return images.astype(np.uint8), labels.astype(np.int64)


def make_data(x_train, y_train, x_test, y_test, source: str) -> MnistData:
    """Check both splits and wrap them."""
    x_train, y_train = check_split(x_train, y_train, "train")
    x_test, y_test = check_split(x_test, y_test, "test")
    return MnistData(x_train, y_train, x_test, y_test, source)


def npz_member_header(npz, key: str) -> tuple[tuple, np.dtype]:
    """The shape and dtype an array of an open ``.npz`` declares in its ``.npy`` header, read without loading (or
    allocating) its data; ``DataSetError`` for a format NumPy does not write, ``ValueError`` for a garbled header."""
    member = f"{key}.npy" if f"{key}.npy" in npz.zip.namelist() else key
    with npz.zip.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise DataSetError(f"{key} is stored in .npy format {version}; expected 1.0 or 2.0.")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    return shape, dtype


def check_npz_header(npz, key: str, image_count: int | None) -> int:
    """Refuse, from its ``.npy`` header alone (before a byte of data is allocated), an array of an ``.npz`` that
    cannot be part of MNIST: objects (pickles), more than ``MAX_SPLIT_IMAGES`` entries, images that are not 28×28,
    more than ``MAX_ARRAY_BYTES``. Returns the number of entries."""
    shape, dtype = npz_member_header(npz, key)
    split = key.split("_")[1]
    if dtype.hasobject:
        raise DataSetError(f"{key} holds Python objects (a pickle), which are never loaded; expected numbers.")
    if not shape or shape[0] > MAX_SPLIT_IMAGES:
        raise DataSetError(f"{key} declares the shape {shape}; at most {MAX_SPLIT_IMAGES:,} {split} images are "
                           "accepted (MNIST has 70,000 in all).")
    if key.startswith("x") and shape[1:] not in ((IMAGE_SIDE, IMAGE_SIDE), (NUM_PIXELS,)):
        raise DataSetError(f"{split} images have shape {shape}; expected (N, 28, 28).")
    if key.startswith("y") and len(shape) != 1:
        raise DataSetError(f"{split} labels have shape {shape}; expected ({image_count},), one per image.")
    if math.prod(shape) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise DataSetError(f"{key} declares {math.prod(shape) * dtype.itemsize:,} bytes ({dtype}); at most "
                           f"{MAX_ARRAY_BYTES:,} are accepted.")
    return shape[0]


def read_npz(source) -> MnistData:
    """Read a Keras-layout ``mnist.npz`` (a path or a file-like object); every array's header is checked before it
    is loaded, and pickles are never loaded."""
    try:
        directory = central_directory_size(file_tail(source))
        if directory is not None and directory > MAX_NPZ_DIRECTORY_BYTES:
            raise DataSetError("the .npz lists far more members than the four arrays of MNIST (x_train, y_train, "
                               "x_test, y_test), or it is a ZIP64 archive of gigabytes.")
        loaded = np.load(source, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataSetError("this is a single NumPy array (.npy), not an .npz archive of x_train, y_train, "
                               "x_test, y_test (Keras layout).")
        with loaded as npz:
            missing = set(NPZ_KEYS) - set(npz.files)
            if missing:
                raise DataSetError(f"the .npz lacks the arrays {sorted(missing)} "
                                   "(Keras layout: x_train, y_train, x_test, y_test).")
            for split in ("train", "test"):
                check_npz_header(npz, f"y_{split}", check_npz_header(npz, f"x_{split}", None))
            arrays = {key: npz[key] for key in NPZ_KEYS}
    except DataSetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise DataSetError(f"not a readable .npz file ({error}).") from None
    return make_data(**arrays, source=str(source) if isinstance(source, (str, Path)) else "uploaded .npz")


def parse_idx(raw: bytes, expected_dims: int) -> np.ndarray:
    """Decode one LeCun IDX file (magic 0x0000 08 ndim, big-endian sizes, uint8 payload)."""
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != expected_dims:
        raise DataSetError(f"not an IDX file of {expected_dims} dimension(s) with uint8 data.")
    header_end = 4 + 4 * expected_dims
    if len(raw) < header_end:
        raise DataSetError(f"IDX file is truncated: {len(raw)} bytes, shorter than its {header_end}-byte header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims))
    payload = np.frombuffer(raw, dtype=np.uint8, offset=header_end)
    if payload.size != math.prod(shape):  # Python ints: a crafted header cannot overflow to match
        raise DataSetError(f"IDX file is truncated: header says {shape}, found {payload.size} values.")
    return payload.reshape(shape)


def read_idx_folder(folder: Path) -> MnistData:
    """Read the four LeCun IDX files (raw or ``.gz``) from a folder."""
    arrays = {}
    for key, names in IDX_FILES.items():
        candidates = [folder / (name + suffix) for name in names for suffix in ("", ".gz")]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise DataSetError(f"folder {folder} has no {names[0]}[.gz] (the four LeCun IDX files are needed).")
        raw = found.read_bytes()
        if found.suffix == ".gz":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as error:
                raise DataSetError(f"{found.name} is not a readable gzip file ({error}).") from None
        arrays[key] = parse_idx(raw, 3 if key.startswith("x") else 1)
    return make_data(**arrays, source=str(folder))


def first_bytes(source, count: int) -> bytes:
    """The first ``count`` bytes of a path or a seekable file-like object (left at its start)."""
    if hasattr(source, "seek"):
        head = source.read(count)
        source.seek(0)
        return head
    with open(source, "rb") as handle:
        return handle.read(count)


def check_csv_header(source, encoding: str) -> None:
    """Refuse, from its first line alone, a CSV whose header is not a Kaggle one's size (785 columns at most, in
    about 8 KB): pandas would parse a million columns of every row for seconds before any check could run."""
    head = first_bytes(source, MAX_CSV_HEADER_BYTES)
    line = head.decode(encoding, errors="replace").partition("\n")[0]
    if len(head) == MAX_CSV_HEADER_BYTES and b"\n" not in head:
        raise DataSetError(f"the CSV's first line is longer than {MAX_CSV_HEADER_BYTES // 1024} KB; a Kaggle header "
                           f"(label, pixel0..pixel783) takes about 8 KB.")
    columns = line.count(",") + 1
    if columns > MAX_CSV_COLUMNS:
        raise DataSetError(f"the CSV has {columns:,} columns; a Kaggle file has {NUM_PIXELS + 1} at most (label, "
                           "pixel0..pixel783).")


def text_encoding(source) -> str:
    """The encoding of a text file (a path or a seekable file-like object, left at its start), from its first bytes:
    UTF-16 with or without a byte-order mark (Excel's "Unicode text"), else UTF-8 (a UTF-8 BOM is skipped)."""
    head = first_bytes(source, 2)
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if len(head) == 2 and (head[0] == 0) != (head[1] == 0):  # ASCII text in UTF-16: every other byte is zero
        return "utf-16-be" if head[0] == 0 else "utf-16-le"
    return "utf-8-sig"


def read_kaggle_pixels(source, with_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle Digit Recognizer CSV: ``label, pixel0..pixel783`` (train) or the pixels alone (test)."""
    import pandas as pd  # here, not at the top: every CLI command imports this module, and pandas is slow to import
    try:
        encoding = text_encoding(source)
        check_csv_header(source, encoding)
        frame = pd.read_csv(source, encoding=encoding)
    except DataSetError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataSetError(f"not a readable CSV file ({error}).") from None
    if frame.empty and len(frame.columns):
        raise DataSetError("the CSV has a header but no rows.")
    pixel_columns = [f"pixel{i}" for i in range(NUM_PIXELS)]
    missing = [column for column in (["label"] if with_labels else []) + pixel_columns if column not in frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataSetError(f"the CSV lacks the column(s) {shown}; expected label (train only) and pixel0..pixel783.")
    pixels = frame[pixel_columns].to_numpy()
    if not np.issubdtype(pixels.dtype, np.number) or np.isnan(pixels.astype(float)).any():
        raise DataSetError("the CSV has missing or non-numeric pixel values.")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataSetError(f"the CSV's pixels range {pixels.min()}..{pixels.max()}; expected 0..255.")
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    labels = frame["label"].to_numpy() if with_labels else None
    return images, labels


def read_kaggle_train(source) -> MnistData:
    """Read a Kaggle ``train.csv``; its last rows become the test split, since Kaggle's test set has no labels."""
    images, labels = read_kaggle_pixels(source, with_labels=True)
    if len(images) <= KAGGLE_HOLDOUT:
        raise DataSetError(f"the CSV has {len(images)} rows; more than {KAGGLE_HOLDOUT} are needed to hold out a "
                           "test set.")
    cut = len(images) - KAGGLE_HOLDOUT
    name = str(source) if isinstance(source, (str, Path)) else "uploaded train.csv"
    return make_data(images[:cut], labels[:cut], images[cut:], labels[cut:],
                     f"{name} (last {KAGGLE_HOLDOUT} rows as test)")


def read_dataset(path: str | os.PathLike) -> MnistData:
    """Read MNIST from a ``.npz``, a ``.csv`` or a folder of IDX files, choosing by what the path is."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataSetError(f"{path} does not exist.")
    try:
        if path.is_dir():
            return read_idx_folder(path)
        if path.suffix.lower() == ".csv":
            return read_kaggle_train(path)
        return read_npz(path)
    except DataSetError as error:
        raise DataSetError(f"{path}: {error}") from None


def read_uploaded_dataset(name: str, content: bytes) -> MnistData:
    """Read an uploaded ``mnist.npz`` or Kaggle ``train.csv`` from its bytes."""
    try:
        if name.lower().endswith(".csv"):
            return read_kaggle_train(io.BytesIO(content))
        return read_npz(io.BytesIO(content))
    except DataSetError as error:
        raise DataSetError(f"{name}: {error}") from None


# --- finding a source -------------------------------------------------------------------------------------------


def keras_cache_path() -> Path:
    """Where Keras keeps its MNIST download: ``$KERAS_HOME/datasets/mnist.npz``, by default under ``~/.keras``."""
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(home).expanduser() / "datasets" / "mnist.npz"


# --- splits -----------------------------------------------------------------------------------------------------


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` samples with each class in its original proportion (largest remainders), sorted."""
    if not 0 < size <= len(labels):
        raise ValueError(f"subset size must be between 1 and {len(labels)}, got {size}.")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / len(labels)
    quota = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - quota), kind="stable")[: size - quota.sum()]:
        quota[index] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), q, replace=False) for c, q in zip(classes, quota, strict=True)]
    return np.sort(np.concatenate(chosen))


def validation_split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic shuffled (train, validation) index arrays; the same seed gives the same split."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation split must be in [0, 1), got {fraction}.")
    order = np.random.default_rng(seed).permutation(count)
    held = int(round(count * fraction))
    return np.sort(order[held:]), np.sort(order[:held])


# --- Kaggle -----------------------------------------------------------------------------------------------------


def read_kaggle_test(source) -> np.ndarray:
    """Images (N×28×28 uint8) of a Kaggle ``test.csv`` (pixel0..pixel783, no label)."""
    images, _ = read_kaggle_pixels(source, with_labels=False)
    if len(images) == 0:
        raise DataSetError("the CSV has no rows.")
    return images


def submission_csv(labels: np.ndarray) -> str:
    """Kaggle submission text: ``ImageId,Label`` with 1-based image ids."""
    import pandas as pd
    frame = pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": np.asarray(labels, dtype=int)})
    return frame.to_csv(index=False)
