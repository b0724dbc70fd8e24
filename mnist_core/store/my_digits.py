"""My digits: a person's own labelled drawings, kept beside the runs in ``<registry root>/.my_digits/`` (hidden, so
listing runs skips it; ``$DIGIT_LAB_MODELS`` isolates it with the runs).

Each item is the 28×28 input the model saw (``<id>.npy``) plus the original drawing (``<id>.png``); ``index.json``
lists the items and is rewritten atomically after the item files are in place, so an interrupted add or import
never shows half an item. A fixed share of every digit's items is held out (chosen by a seeded hash of the item id,
so it stays the same as items are added) and is never trained on.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import re
import uuid
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.data.archives import TAIL_BYTES, central_directory_size
from mnist_core.data.drawing import ImageInputError, open_image, to_mnist
from mnist_core.data.mnist import IMAGE_SIDE, NUM_CLASSES, DataSetError, npz_member_header
from mnist_core.errors import DigitLabError
from mnist_core.store.files import write_atomic, write_json_atomic
from mnist_core.store.registry import Registry

FOLDER = ".my_digits"
INDEX_FILE, LOCK_FILE = "index.json", ".lock"
HOLD_OUT_SHARE = 0.2  # of each digit's items, never trained on
HOLD_OUT_SEED = "digit-lab-hold-out-1"
MAX_ITEMS = 10_000  # a set (or an imported file) larger than this is refused
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_EXPORT_DIRECTORY_BYTES = 4096  # the member list of an export's three arrays takes about 300 bytes
ITEM_ID = re.compile(r"[a-f0-9]{12}")
EXPORT_KEYS = {"images", "labels", "ids"}
EXPORT_ARRAYS = (("labels", 1, "iu"), ("ids", 1, "U"), ("images", 3, "fiu"))  # name, dimensions, dtype kinds
MIN_TRAINING_ITEMS = 5  # a fine-tune needs at least this many drawings to train on
MIN_DIGITS = 2  # of at least this many different digits
# Share of the 28×28 input that is solid ink (> 0.5) above which it is a blob, a filled shape or a photo, not a digit
# drawn in strokes: no image of MNIST's 70,000 reaches 0.398.
MAX_SOLID_SHARE = 0.4


class MyDigitsError(DigitLabError, ValueError):
    """A digit, label or file that cannot go into My digits; the message says why and what to do."""


@dataclass(frozen=True)
class Item:
    """One drawing in My digits: its id, its true digit and when it was added."""

    id: str
    label: int
    added: str

    @property
    def held_out(self) -> bool:
        return is_held_out(self.id)


def is_held_out(item_id: str) -> bool:
    """Whether an item belongs to the held-out share: a seeded hash of its id, stable as items come and go."""
    digest = hashlib.sha256(f"{HOLD_OUT_SEED}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < HOLD_OUT_SHARE


def check_label(label) -> int:
    """The label as an int 0-9; anything else is refused."""
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label < NUM_CLASSES:
        raise MyDigitsError(f"{label!r} is not a digit: the label must be a whole number from 0 to 9.")
    return int(label)


def check_image(image) -> np.ndarray:
    """A 28×28 model input with values in [0, 1] and some ink, as float32; anything else is refused."""
    array = np.asarray(image)
    if array.shape != (IMAGE_SIDE, IMAGE_SIDE) or array.dtype.kind not in "fiu":
        raise MyDigitsError(f"a digit must be a 28×28 array of numbers, got shape {array.shape} ({array.dtype}).")
    values = array.astype(np.float32) / (255.0 if array.dtype.kind in "iu" else 1.0)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise MyDigitsError("a digit's pixels must lie between 0 and 1 (or 0 and 255).")
    if values.max() == 0:
        raise MyDigitsError("the drawing is empty: there is no digit to add.")
    if (values > 0.5).mean() > MAX_SOLID_SHARE:
        raise MyDigitsError("this does not look like a digit: most of it is solid ink (a filled shape, a scribble "
                            "or a photo). Draw the digit in strokes, or crop the photo to the digit.")
    return values


def png_bytes(drawing) -> bytes:
    """A drawing (RGBA/grey array or PIL image) as PNG bytes."""
    image = drawing if isinstance(drawing, Image.Image) else Image.fromarray(np.asarray(drawing, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class MyDigits:
    """The My digits set of a registry folder."""

    def __init__(self, registry: Registry | None = None):
        self.root = (registry or Registry()).root / FOLDER
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MyDigitsError(f"the My digits folder {self.root} cannot be used ({error.strerror or error}).") \
                from None

    def __repr__(self) -> str:
        return f"MyDigits({str(self.root)!r}, items={len(self.items())})"

    # --- reading ------------------------------------------------------------------------------------------------

    def items(self) -> list[Item]:
        """Every item, oldest first; an unreadable index is an error (never silently treated as empty)."""
        try:
            values = json.loads((self.root / INDEX_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MyDigitsError(f"the My digits index {self.root / INDEX_FILE} is unreadable ({error}).") from None
        try:
            return [Item(str(entry["id"]), check_label(entry["label"]), str(entry["added"]))
                    for entry in values["items"] if ITEM_ID.fullmatch(str(entry["id"]))]
        except (KeyError, TypeError) as error:
            raise MyDigitsError(f"the My digits index {self.root / INDEX_FILE} is damaged ({error!r}).") from None

    def counts(self) -> dict:
        """Items per digit (all ten digits), in total and held out."""
        items = self.items()
        return {"total": len(items), "held_out": sum(item.held_out for item in items),
                "per_digit": {digit: sum(item.label == digit for item in items) for digit in range(NUM_CLASSES)},
                "held_out_per_digit": {digit: sum(item.label == digit and item.held_out for item in items)
                                       for digit in range(NUM_CLASSES)}}

    def image(self, item_id: str) -> np.ndarray:
        """An item's 28×28 model input."""
        return np.load(self.root / f"{item_id}.npy", allow_pickle=False)

    def drawing_path(self, item_id: str) -> Path | None:
        """The original drawing's PNG, if it was kept."""
        path = self.root / f"{item_id}.png"
        return path if path.is_file() else None

    def arrays(self, items: list[Item] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images (N×28×28 float32) and labels (N,) of ``items`` (default: all)."""
        items = self.items() if items is None else items
        images = np.stack([self.image(item.id) for item in items]) if items else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE),
                                                                                           np.float32)
        return images.astype(np.float32), np.array([item.label for item in items], dtype=np.int64)

    def split(self) -> tuple[list[Item], list[Item]]:
        """(training items, held-out items)."""
        items = self.items()
        return [item for item in items if not item.held_out], [item for item in items if item.held_out]

    def finetune_problem(self) -> str | None:
        """Why the set cannot be fine-tuned on yet (too few drawings to train on, one digit only), or None."""
        trained, held = self.split()
        if len(trained) < MIN_TRAINING_ITEMS:
            return (f"My digits has {len(trained)} drawing(s) to train on ({len(held)} more are held out); add at "
                    f"least {MIN_TRAINING_ITEMS} first (about 10 per digit works well).")
        labels = {item.label for item in trained}
        if len(labels) < MIN_DIGITS:
            return (f"My digits holds only the digit {labels.pop()} to train on: a model trained on one digit learns "
                    "to say that digit. Add drawings of at least one other digit.")
        return None

    # --- writing ------------------------------------------------------------------------------------------------

    @contextmanager
    def locked(self):
        """Serialise changes between the app's sessions and CLI processes (an OS file lock)."""
        with open(self.root / LOCK_FILE, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_index(self, items: list[Item]) -> None:
        write_json_atomic(self.root / INDEX_FILE, {"items": [
            {"id": item.id, "label": item.label, "added": item.added} for item in items]})

    def add_many(self, entries: list[tuple[int, np.ndarray, bytes | None]], ids: list[str] | None = None) -> list[Item]:
        """Add (label, 28×28 image, original drawing PNG or None) entries all at once; returns the new items.
        Everything is checked before anything is written; the index is written last."""
        checked = [(check_label(label), check_image(image), drawing) for label, image, drawing in entries]
        ids = ids or [uuid.uuid4().hex[:12] for _ in checked]
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.locked():
            items = self.items()
            if len(items) + len(checked) > MAX_ITEMS:
                raise MyDigitsError(f"My digits holds at most {MAX_ITEMS} drawings; it has {len(items)}.")
            new = []
            try:
                for item_id, (label, image, drawing) in zip(ids, checked, strict=True):
                    new.append(Item(item_id, label, stamp))
                    write_atomic(self.root / f"{item_id}.npy", npy_bytes(image))
                    if drawing is not None:
                        write_atomic(self.root / f"{item_id}.png", drawing)
                self.write_index(items + new)
            except BaseException:  # a full disk, say: the index never named these files, so none may stay
                self.remove_files([item.id for item in new])
                raise
        return new

    def add(self, label, image: np.ndarray, drawing=None) -> Item:
        """Add one drawing: its true digit, the 28×28 input the model saw, and the original drawing (kept as PNG)."""
        return self.add_many([(label, image, None if drawing is None else png_bytes(drawing))])[0]

    def add_image_files(self, label, files: list[tuple[str, bytes]]) -> list[Item]:
        """Add image files (name, bytes) of one digit, drawings or photos; one unusable image refuses them all."""
        label = check_label(label)
        entries = []
        for name, content in files:
            try:
                picture = open_image(content)
                entries.append((label, check_image(to_mnist(picture)), png_bytes(picture.convert("RGBA"))))
            except (ImageInputError, MyDigitsError) as error:
                raise MyDigitsError(f"{name}: {error} Nothing was added.") from None
        return self.add_many(entries)

    def remove(self, item_ids: list[str]) -> int:
        """Remove items (unknown ids are an error, nothing removed); the index is rewritten first, then files go."""
        with self.locked():
            items = self.items()
            known = {item.id for item in items}
            unknown = [item_id for item_id in item_ids if item_id not in known]
            if unknown:
                raise MyDigitsError(f"no drawing with the id(s) {', '.join(map(repr, unknown))} in My digits.")
            doomed = set(item_ids)
            self.write_index([item for item in items if item.id not in doomed])
        self.remove_files(doomed)
        return len(doomed)

    def remove_files(self, item_ids) -> None:
        """Delete the files of items the index no longer (or never) names."""
        for item_id in item_ids:
            for suffix in (".npy", ".png"):
                (self.root / f"{item_id}{suffix}").unlink(missing_ok=True)

    # --- export and import --------------------------------------------------------------------------------------

    def export_bytes(self) -> bytes:
        """The whole set as ``.npz``: images (N×28×28 float32), labels (N,) and ids (N, text), no objects."""
        items = self.items()
        images, labels = self.arrays(items)
        buffer = io.BytesIO()
        ids = np.array([item.id for item in items], dtype="U12")
        np.savez_compressed(buffer, images=images, labels=labels, ids=ids)
        return buffer.getvalue()

    def import_bytes(self, content: bytes) -> tuple[int, int]:
        """Add the items of an exported ``.npz`` (objects refused, everything checked first); items whose id is
        already in the set are skipped. Returns (added, skipped)."""
        images, labels, ids = read_export(content)
        present = {item.id for item in self.items()}
        fresh = [index for index, item_id in enumerate(ids) if item_id not in present]
        added = self.add_many([(labels[index], images[index], None) for index in fresh],
                              [ids[index] for index in fresh])
        return len(added), len(ids) - len(fresh)


def check_import_size(size: int) -> None:
    """Refuse a file to import by its size alone, before it is read."""
    if size > MAX_IMPORT_BYTES:
        raise MyDigitsError(f"the file is {size:,} bytes; at most {MAX_IMPORT_BYTES // 2 ** 20} MiB is accepted.")


def check_export_headers(archive) -> None:
    """Refuse, from the arrays' ``.npy`` headers alone (as data sets' ``.npz`` files are, before any data is read),
    an export that is not one: missing arrays, objects, wrong shapes or kinds, more than ``MAX_ITEMS`` drawings, or
    more bytes than that many drawings take in the dtype it declares."""
    missing = EXPORT_KEYS - set(archive.files)
    if missing:
        raise MyDigitsError(f"not a My digits export: it lacks {', '.join(sorted(missing))} "
                            "(expected images, labels and ids).")
    counts = set()
    for key, dimensions, kinds in EXPORT_ARRAYS:
        shape, dtype = npz_member_header(archive, key)
        if dtype.hasobject:
            raise MyDigitsError(f"refused: {key} holds Python objects (a pickle), which are never loaded.")
        if dtype.kind not in kinds:
            raise MyDigitsError(f"not a My digits export: labels must be whole numbers, ids text and images numbers "
                                f"({key} is {dtype}).")
        if len(shape) != dimensions or key == "images" and shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise MyDigitsError(f"not a My digits export: {key} has shape {shape} (expected N×28×28 images, N labels "
                                "and N ids).")
        if shape[0] > MAX_ITEMS:
            raise MyDigitsError(f"the file holds {shape[0]:,} drawings; My digits holds at most {MAX_ITEMS:,}.")
        if key == "ids" and dtype.itemsize > 12 * dtype.alignment:
            raise MyDigitsError("not a My digits export: ids must be 12-character hex names.")
        if math.prod(shape) * dtype.itemsize > MAX_ITEMS * IMAGE_SIDE * IMAGE_SIDE * 8:
            raise MyDigitsError(f"not a My digits export: {key} declares {math.prod(shape) * dtype.itemsize:,} "
                                "bytes.")
        counts.add(shape[0])
    if len(counts) != 1:
        raise MyDigitsError("not a My digits export: images, labels and ids differ in number.")


def read_export(content: bytes) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images, labels and ids of an exported ``.npz``, checked (size, member list and headers before any data is
    read); anything odd is a ``MyDigitsError``."""
    check_import_size(len(content))
    if content.startswith(b"\x93NUMPY"):
        raise MyDigitsError("this is a single NumPy array (.npy), not a My digits export (.npz of images, labels "
                            "and ids, as Export writes it).")
    directory = central_directory_size(content[-TAIL_BYTES:])
    if directory is None:
        raise MyDigitsError("not a readable .npz file (it is not a zip archive).")
    if directory > MAX_EXPORT_DIRECTORY_BYTES:
        raise MyDigitsError("not a My digits export: it lists far more members than its three arrays.")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            check_export_headers(archive)
            images, labels, ids = archive["images"], archive["labels"], archive["ids"]
    except MyDigitsError:
        raise
    except DataSetError as error:
        raise MyDigitsError(f"not a My digits export: {error}") from None
    except ValueError as error:  # a garbled header, or object arrays (they need pickle): refused
        raise MyDigitsError(f"refused: the file holds something other than plain number and text arrays "
                            f"({str(error)[:200]}).") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as error:
        raise MyDigitsError(f"not a readable .npz file ({type(error).__name__}: {str(error)[:200]}).") from None
    count = len(labels) if labels.ndim == 1 else -1
    if count < 0 or images.shape != (count, IMAGE_SIDE, IMAGE_SIDE) or ids.shape != (count,):
        raise MyDigitsError(f"not a My digits export: images {images.shape}, labels {labels.shape}, ids {ids.shape} "
                            "(expected N×28×28, N and N).")
    if labels.dtype.kind not in "iu" or ids.dtype.kind != "U" or images.dtype.kind not in "fiu":
        raise MyDigitsError("not a My digits export: labels must be whole numbers, ids text and images numbers.")
    bad_ids = [str(item_id) for item_id in ids if not ITEM_ID.fullmatch(str(item_id))]
    if bad_ids or len(set(ids.tolist())) != count:
        raise MyDigitsError(f"not a My digits export: ids must be distinct 12-character hex names "
                            f"({bad_ids[:1] or 'repeated ids'} found).")
    try:
        checked = [check_image(image) for image in images]
        checked_labels = [check_label(label) for label in labels]
    except MyDigitsError as error:
        raise MyDigitsError(f"not a usable My digits export: {error}") from None
    return np.array(checked).reshape(images.shape).astype(np.float32), np.array(checked_labels, np.int64), \
        [str(item_id) for item_id in ids]
