"""My digits: adding, removing, export and import (hostile files included), the held-out split, crash safety, the
CLI's ``mine`` commands; real images through the real drawing pipeline, real files on disk."""

from __future__ import annotations

import io
import json
import multiprocessing
import zipfile

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from mnist_core.data.drawing import image_file_to_mnist, to_mnist
from mnist_core.store.my_digits import (
    FOLDER,
    HOLD_OUT_SHARE,
    INDEX_FILE,
    MyDigits,
    MyDigitsError,
    is_held_out,
    read_export,
)
from mnist_core.store.registry import Registry
from stroke_hand import hand


@pytest.fixture()
def digits(registry):
    return MyDigits(registry)


@pytest.fixture(scope="module")
def drawings():
    """Two drawings of every digit in the test hand (RGBA canvases) and their labels."""
    return hand(2, seed=11)


def png_file(drawing: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(drawing).save(buffer, format="PNG")
    return buffer.getvalue()


def fill(digits, drawings, count=None):
    canvases, labels = drawings
    pairs = list(zip(canvases, labels, strict=True))[:count]
    return [digits.add(int(label), to_mnist(canvas), canvas) for canvas, label in pairs]


def test_added_drawings_come_back_as_the_model_saw_them_with_counts_per_digit(digits, drawings):
    items = fill(digits, drawings)
    canvases, labels = drawings
    assert [item.label for item in digits.items()] == labels.tolist()
    counts = digits.counts()
    assert counts["total"] == 20 and counts["per_digit"] == {digit: 2 for digit in range(10)}
    assert counts["held_out"] == sum(item.held_out for item in items)
    images, stored_labels = digits.arrays()
    np.testing.assert_array_equal(images, np.stack([to_mnist(canvas) for canvas in canvases]))
    np.testing.assert_array_equal(stored_labels, labels)
    original = np.asarray(Image.open(digits.drawing_path(items[0].id)))
    np.testing.assert_array_equal(original, canvases[0])


def test_the_set_lives_hidden_in_the_registry_folder_and_is_not_listed_as_a_run(registry, digits, drawings):
    fill(digits, drawings, 3)
    assert digits.root == registry.root / FOLDER
    skipped = []
    assert all(record.id != FOLDER for record in registry.list_runs(skipped))
    assert skipped == []
    assert MyDigits(Registry(registry.root)).counts()["total"] == 3  # a second process sees the same set


@pytest.mark.parametrize("label", [-1, 10, 3.0, "7", True, None])
def test_a_label_outside_0_to_9_is_refused_and_nothing_is_added(digits, drawings, label):
    with pytest.raises(MyDigitsError, match="0 to 9"):
        digits.add(label, to_mnist(drawings[0][0]))
    assert digits.items() == []


@pytest.mark.parametrize("image, message", [
    (np.zeros((28, 28), np.float32), "empty"),
    (np.ones((20, 20), np.float32), "28×28"),
    (np.full((28, 28), np.nan, np.float32), "between 0 and 1"),
    (np.full((28, 28), 2.0, np.float32), "between 0 and 1"),
    (np.pad(np.ones((20, 18), np.float32), ((4, 4), (5, 5))), "does not look like a digit"),
])
def test_an_unusable_image_array_is_refused(digits, image, message):
    with pytest.raises(MyDigitsError, match=message):
        digits.add(3, image)
    assert digits.items() == []


def test_image_files_are_read_as_the_drawing_pipeline_reads_them(digits, drawings):
    content = png_file(drawings[0][14])
    (item,) = digits.add_image_files(7, [("seven.png", content)])
    np.testing.assert_array_equal(digits.image(item.id), image_file_to_mnist(content))
    assert item.label == 7 and digits.drawing_path(item.id).is_file()


def noise_photo() -> bytes:
    return png_file((np.random.default_rng(0).random((280, 280)) * 255).astype(np.uint8))


@pytest.mark.parametrize("bad, message", [(b"not an image at all", "not an image"),
                                          (png_file(np.zeros((280, 280, 4), np.uint8)), "nothing is drawn"),
                                          (noise_photo(), "does not look like a digit")])
def test_one_bad_file_refuses_the_whole_batch_naming_it(digits, drawings, bad, message):
    with pytest.raises(MyDigitsError, match=f"bad.png: .*{message}"):
        digits.add_image_files(2, [("good.png", png_file(drawings[0][4])), ("bad.png", bad)])
    assert digits.items() == []
    assert not list(digits.root.glob("*.npy"))


def test_remove_drops_items_and_their_files_and_refuses_unknown_ids(digits, drawings):
    items = fill(digits, drawings, 4)
    assert digits.remove([items[1].id, items[2].id]) == 2
    assert [item.id for item in digits.items()] == [items[0].id, items[3].id]
    assert not (digits.root / f"{items[1].id}.npy").exists() and not (digits.root / f"{items[1].id}.png").exists()
    with pytest.raises(MyDigitsError, match="no drawing"):
        digits.remove([items[0].id, "ffffffffffff"])
    assert len(digits.items()) == 2  # nothing removed when one id is unknown


def test_export_then_import_gives_the_same_set_and_a_second_import_adds_nothing(digits, drawings, tmp_path):
    fill(digits, drawings)
    content = digits.export_bytes()
    other = MyDigits(Registry(tmp_path / "elsewhere"))
    assert other.import_bytes(content) == (20, 0)
    assert [(item.id, item.label) for item in other.items()] == [(item.id, item.label) for item in digits.items()]
    np.testing.assert_array_equal(other.arrays()[0], digits.arrays()[0])
    assert other.import_bytes(content) == (0, 20)
    assert len(other.items()) == 20


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD_IMAGES = np.pad(np.ones((2, 10, 10), np.float32), ((0, 0), (9, 9), (9, 9)))
GOOD_IDS = np.array(["0123456789ab", "ba9876543210"])


@pytest.mark.parametrize("content, message", [
    (npz(images=GOOD_IMAGES, labels=np.array([1, 2]), ids=np.array(["0123456789ab", object()], dtype=object)),
     "refused"),
    (b"PK\x03\x04 this is not really a zip", "not a readable .npz"),
    (b"", "not a readable .npz"),
    (npz(images=GOOD_IMAGES, labels=np.array([1, 2])), "lacks ids"),
    (npz(images=GOOD_IMAGES, labels=np.array([1, 12]), ids=GOOD_IDS), "0 to 9"),
    (npz(images=GOOD_IMAGES * np.nan, labels=np.array([1, 2]), ids=GOOD_IDS), "between 0 and 1"),
    (npz(images=GOOD_IMAGES[:, :20], labels=np.array([1, 2]), ids=GOOD_IDS), "N×28×28"),
    (npz(images=GOOD_IMAGES, labels=np.array([1, 2]), ids=np.array(["../../etc/pwd", "ba9876543210"])), "hex"),
    (npz(images=GOOD_IMAGES, labels=np.array([1, 2]), ids=np.array(["0123456789ab"] * 2)), "distinct"),
    (npz(images=GOOD_IMAGES, labels=np.array([1.5, 2.0]), ids=GOOD_IDS), "whole numbers"),
])
def test_a_corrupt_or_hostile_import_is_refused_and_the_set_is_unchanged(digits, drawings, content, message):
    fill(digits, drawings, 2)
    before = digits.export_bytes()
    with pytest.raises(MyDigitsError, match=message):
        digits.import_bytes(content)
    assert digits.export_bytes() == before


def test_a_good_handmade_file_imports(digits):
    assert digits.import_bytes(npz(images=GOOD_IMAGES, labels=np.array([1, 2]), ids=GOOD_IDS)) == (2, 0)
    assert read_export(digits.export_bytes())[2] == GOOD_IDS.tolist()


def test_the_held_out_share_is_about_a_fifth_and_stays_put_as_items_are_added(digits, drawings):
    rng = np.random.default_rng(0)
    ids = [f"{value:012x}" for value in rng.integers(0, 2 ** 48, size=4000)]
    share = np.mean([is_held_out(item_id) for item_id in ids])
    assert abs(share - HOLD_OUT_SHARE) < 0.025  # 4000 draws: the standard error is 0.0063
    first = {item.id: item.held_out for item in fill(digits, drawings, 10)}
    fill(digits, drawings)
    assert {item.id: item.held_out for item in digits.items() if item.id in first} == first
    trained, held = digits.split()
    assert {item.id for item in held} == {item.id for item in digits.items() if is_held_out(item.id)}
    assert not {item.id for item in trained} & {item.id for item in held}


def test_a_damaged_index_is_reported_and_never_overwritten(digits, drawings):
    fill(digits, drawings, 3)
    index = digits.root / INDEX_FILE
    index.write_text('{"items": [', encoding="utf-8")
    with pytest.raises(MyDigitsError, match="unreadable"):
        digits.add(4, to_mnist(drawings[0][8]))
    assert index.read_text(encoding="utf-8") == '{"items": ['


def add_from_another_process(root: str, canvases: list, label: int) -> None:
    collection = MyDigits(Registry(root))
    for canvas in canvases:
        collection.add(label, to_mnist(canvas))


def test_two_processes_adding_at_once_lose_nothing(registry, drawings):
    canvases = drawings[0]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=add_from_another_process, args=(str(registry.root), canvases, label))
               for label in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert MyDigits(registry).counts()["per_digit"][1] == len(canvases) == MyDigits(registry).counts()["per_digit"][2]
    json.loads((registry.root / FOLDER / INDEX_FILE).read_text(encoding="utf-8"))


# --- the CLI ----------------------------------------------------------------------------------------------------


def mine(*args, models):
    return run_cli("mine", *args, models=models, timeout=120)


def test_cli_adds_lists_exports_imports_and_removes(tmp_path, drawings):
    models = tmp_path / "models"
    files = []
    for index in (6, 7):  # the two drawings of a 3 (the hand lists digits in order, two each)
        path = tmp_path / f"three-{index}.png"
        path.write_bytes(png_file(drawings[0][index]))
        files.append(str(path))
    added = mine("add", "3", *files, "--json", models=models)
    assert added.returncode == 0, added.stderr
    ids = json.loads(added.stdout)["added"]
    listed = json.loads(mine("list", "--json", models=models).stdout)
    assert listed["per_digit"]["3"] == 2 and listed["total"] == 2
    assert sorted(item["id"] for item in listed["items"]) == sorted(ids)
    assert listed["held_out"] == sum(is_held_out(item_id) for item_id in ids)
    export = tmp_path / "mine.npz"
    assert mine("export", str(export), models=models).returncode == 0
    assert zipfile.is_zipfile(export)
    assert json.loads(mine("import", str(export), "--json", models=tmp_path / "other").stdout) == {"added": 2,
                                                                                                   "skipped": 0}
    removed = mine("remove", ids[0], "--json", models=models)
    assert json.loads(removed.stdout) == {"removed": 1}
    assert json.loads(mine("list", "--json", models=models).stdout)["total"] == 1


@pytest.mark.parametrize("args, message", [
    (["add", "12", "x.png"], "not a digit"),
    (["add", "3", "missing.png"], "missing.png: cannot be read"),
    (["remove", "ffffffffffff"], "no drawing"),
    (["import", "missing.npz"], "missing.npz: cannot be read"),
])
def test_cli_errors_go_to_stderr_with_exit_code_2(tmp_path, args, message):
    result = mine(*args, models=tmp_path / "models")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
