"""Faults on the surfaces of issue 28, tried as a hostile user or a broken machine would: interrupted runs' work files,
downloads from hostile servers on 127.0.0.1, a full disk (a real small tmpfs), My digits files, the Sweeps page's
storage field, and the CLI's one-line errors. Every CLI case runs as a real process whose peak memory is read from
its rusage (``faults_helpers.measured_cli``); none may print a traceback, leave a file or pass 1.5 GB."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from faults_helpers import SmallDisk, assert_one_error_line, measured_cli
from helpers import PROJECT, two_at_a_time
from mnist_core.store.files import BOARD_DIR
from mnist_server import DRIP_PAUSE_S, MnistServer

SPEC = [{"type": "Dense", "units": 32}]


def cli_env(models: Path, **extra) -> dict:
    return os.environ | {"DIGIT_LAB_MODELS": str(models), "TF_CPP_MIN_LOG_LEVEL": "3"} | extra


def files_in(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


# --- 2. interrupted runs: the work file is the project's own, or it is not used --------------------------------------


def work_folder(registry, small_dense_model, epochs: int = 1):
    """A real interrupted run: its work folder with ``epochs`` checkpointed epochs, its lock released."""
    partial = registry.start_partial("cut", "custom", SPEC, {"epochs": 3, "subset_size": 2000}, 0)
    for epoch in range(1, epochs + 1):
        partial.save_epoch(small_dense_model, [{"epoch": e, "loss": 1.0} for e in range(1, epoch + 1)], [], 1.0)
    partial.release()
    return partial


def damage(partial, **changes) -> None:
    path = partial.folder / "partial.json"
    values = json.loads(path.read_text())
    for key, value in changes.items():
        if value is KeyError:
            values.pop(key)
        else:
            values[key] = value
    path.write_text(json.dumps(values))


DAMAGES = {  # what a hand-edited or hostile partial.json may hold
    "checkpoint outside": {"checkpoint": "../outside.weights.h5"},
    "checkpoint absolute": {"checkpoint": "OUTSIDE"},  # replaced by the outside file's absolute path
    "checkpoint of another epoch": {"checkpoint": "epoch-7.keras"},
    "epochs not a list": {"epochs": "many"},
    "config not an object": {"config": 5},
    "seconds text": {"seconds": "soon"},
    "rows not objects": {"epochs": [1, 2]},
    "field missing": {"created": KeyError},
}


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_work_file_is_skipped_with_a_warning_and_never_used(registry, small_dense_model, kind):
    from mnist_core.store.records import RegistryError

    outside = registry.root.parent / "outside.weights.h5"
    outside.write_bytes(b"precious")
    partial = work_folder(registry, small_dense_model)
    changes = {key: str(outside) if value == "OUTSIDE" else value for key, value in DAMAGES[kind].items()}
    damage(partial, **changes)
    warnings: list[str] = []
    assert registry.list_interrupted(warnings) == []
    assert len(warnings) == 1 and partial.run_id in warnings[0], warnings
    with pytest.raises(RegistryError, match="cannot be resumed"):
        registry.claim_partial(partial.run_id)
    assert outside.read_bytes() == b"precious" and (partial.folder / "epoch-1.keras").is_file()


def test_list_and_resume_of_a_damaged_work_file_say_so_in_one_line(registry, small_dense_model, mnist_path):
    outside = registry.root.parent / "outside.keras"
    outside.write_bytes(b"precious")
    typed, pointing = work_folder(registry, small_dense_model), work_folder(registry, small_dense_model)
    damage(typed, epochs="many", batches=None)
    damage(pointing, checkpoint=str(outside))
    env = cli_env(registry.root, MNIST_PATH=mnist_path)
    listed = measured_cli("list", "--json", env=env)  # alone: a resume holds its work folder's lock a moment
    assert listed["rc"] == 0 and [row["id"] for row in json.loads(listed["out"])] == ["default"], listed
    warnings = [line for line in listed["err"].splitlines() if line.startswith("warning: skipped .partial-")]
    assert len(warnings) == 2 and all(any(partial.run_id in line for line in warnings) for partial in (typed, pointing))
    resumed = two_at_a_time({run_id: lambda run_id=run_id: measured_cli("train", "--resume", run_id, env=env)
                             for run_id in (typed.run_id, pointing.run_id)})
    for partial in (typed, pointing):
        assert_one_error_line(resumed[partial.run_id], "cannot be resumed", partial.run_id)
    assert outside.read_bytes() == b"precious"
    assert not [name for name in files_in(registry.root) if ".tmp-" in name]


def test_a_damaged_checkpoint_is_an_error_line_not_a_traceback(registry, small_dense_model, mnist_path):
    partial = work_folder(registry, small_dense_model)
    (partial.folder / "epoch-1.keras").write_bytes(b"PK\x03\x04 not a model")
    resumed = measured_cli("train", "--resume", partial.run_id, env=cli_env(registry.root, MNIST_PATH=mnist_path))
    assert_one_error_line(resumed, "cannot be resumed", "damaged")
    assert [record.id for record in registry.list_interrupted()] == [partial.run_id]  # still there, as it was


def test_a_symlinked_work_folder_is_skipped_and_leaves_no_link_behind(registry, small_dense_model, tmp_path):
    from mnist_core.store.records import RegistryError
    from mnist_core.store.registry import STALE_TEMP_SECONDS, Registry

    partial = work_folder(registry, small_dense_model)
    elsewhere = tmp_path / "elsewhere"
    partial.folder.rename(elsewhere)
    (elsewhere / ".tmp-keep").write_text("not the registry's")
    partial.folder.symlink_to(elsewhere, target_is_directory=True)
    before = files_in(elsewhere)
    warnings: list[str] = []
    assert registry.list_interrupted(warnings) == [] and "link" in warnings[0]
    with pytest.raises(RegistryError, match="no interrupted run"):
        registry.discard_interrupted(partial.run_id)
    old = time.time() - 2 * STALE_TEMP_SECONDS
    os.utime(elsewhere / ".tmp-keep", (old, old))
    Registry(registry.root)  # the stale-temporary sweep does not follow the link either
    assert files_in(elsewhere) == before
    assert sorted(path.name for path in registry.root.iterdir()) == [partial.folder.name]
    stale_link = registry.root / ".tmp-0123"
    stale_link.symlink_to(elsewhere, target_is_directory=True)
    os.utime(stale_link, (old, old), follow_symlinks=False)
    Registry(registry.root)  # a stale temporary link is removed: the link, never what it points to
    assert not stale_link.is_symlink() and files_in(elsewhere) == before


def test_a_resumed_run_goes_on_counting_early_stoppings_patience():
    """Two epochs without improvement were done before the interruption: with patience 3, the first resumed epoch
    without improvement ends the run (Keras's own callback would train three more)."""
    import keras

    from mnist_core.training.loop import ResumedEarlyStopping

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")  # loss stays ~2.3
    x, y = np.random.default_rng(0).random((64, 4), np.float32), np.arange(64) % 10
    stopping = ResumedEarlyStopping([0.5, 0.9, 0.8], monitor="loss", patience=3)
    history = model.fit(x, y, epochs=20, initial_epoch=3, callbacks=[stopping], verbose=0)
    assert len(history.epoch) == 1 and stopping.best == 0.5
    fresh = ResumedEarlyStopping([], monitor="loss", patience=3)
    assert len(model.fit(x, y, epochs=20, initial_epoch=3, callbacks=[fresh], verbose=0).epoch) == 4


# --- 3. downloads from hostile servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_server(mnist_path):
    server = MnistServer(Path(mnist_path).read_bytes())
    yield server
    server.close()


def download_env(tmp_path: Path, url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_PATH", "KERAS_HOME",
                                                                          "DIGIT_LAB_MNIST_SHA256")}
    return env | {"HOME": str(tmp_path / "home"), "DIGIT_LAB_MNIST_URL": url, "DIGIT_LAB_MODELS": str(tmp_path / "m")}


def test_a_drip_feeding_server_ends_at_the_deadline(hostile_server, tmp_path, monkeypatch):
    from mnist_core.data.download import URL_ENV, download_mnist
    from mnist_core.data.mnist import DataSetError

    monkeypatch.setenv(URL_ENV, hostile_server.url("/drip"))
    monkeypatch.delenv("DIGIT_LAB_MNIST_SHA256", raising=False)
    cache = tmp_path / "datasets" / "mnist.npz"
    started = time.monotonic()
    with pytest.raises(DataSetError, match="took longer than 2 s"):
        download_mnist(cache=cache, timeout=5 * DRIP_PAUSE_S, deadline_s=2)
    assert time.monotonic() - started < 20  # the stall timeout (1.5 s) never fires: only the deadline ends it
    assert files_in(cache.parent) == []


@pytest.mark.parametrize("path, words", [
    ("/garbage-status", ["malformed HTTP answer", "BadStatusLine"]),
    ("/bad-chunks", ["malformed HTTP answer"]),
    ("/many-headers", ["malformed HTTP answer", "headers"]),
    ("/loop", ["redirect", "infinite loop"]),
    ("/blank.npz", ["not MNIST", "100 training", "60,000"]),
])
def test_a_hostile_server_gives_one_error_line_and_leaves_nothing(hostile_server, tmp_path, path, words):
    result = measured_cli("download", env=download_env(tmp_path, hostile_server.url(path)), timeout=120)
    assert_one_error_line(result, "Downloading MNIST failed", *words)
    assert files_in(tmp_path / "home") in ([], [".keras", ".keras/datasets"])


def test_stale_temporary_files_of_a_killed_download_are_removed(hostile_server, tmp_path, monkeypatch):
    from mnist_core.data.download import DEADLINE_S, URL_ENV, download_mnist
    from mnist_core.data.mnist import DataSetError

    monkeypatch.setenv(URL_ENV, hostile_server.url("/missing.npz"))
    cache = tmp_path / "datasets" / "mnist.npz"
    cache.parent.mkdir(parents=True)
    stale, fresh = cache.with_name(".mnist.npz.0123.part"), cache.with_name(".mnist.npz.4567.part")
    stale.write_bytes(b"half a download")
    fresh.write_bytes(b"a download under way in another process")
    old = time.time() - 2 * DEADLINE_S
    os.utime(stale, (old, old))
    with pytest.raises(DataSetError, match="404"):
        download_mnist(cache=cache)
    assert files_in(cache.parent) == [fresh.name]


def test_a_cache_folder_that_cannot_be_made_is_a_message(tmp_path, hostile_server, monkeypatch):
    from mnist_core.data.download import URL_ENV, download_mnist
    from mnist_core.data.mnist import DataSetError

    monkeypatch.setenv(URL_ENV, hostile_server.url("/mnist.npz"))
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(DataSetError, match="cannot be used"):
        download_mnist(cache=tmp_path / "a-file" / "datasets" / "mnist.npz")


def test_the_real_file_without_a_pinned_hash_is_still_accepted(hostile_server, tmp_path, monkeypatch, mnist_path):
    from mnist_core.data.download import SHA256_ENV, URL_ENV, download_mnist

    monkeypatch.setenv(URL_ENV, hostile_server.url("/mnist.npz"))
    monkeypatch.delenv(SHA256_ENV, raising=False)
    cache = tmp_path / "datasets" / "mnist.npz"
    data = download_mnist(cache=cache)
    assert (len(data.y_train), len(data.y_test)) == (60_000, 10_000)
    assert hashlib.sha256(cache.read_bytes()).digest() == hashlib.sha256(Path(mnist_path).read_bytes()).digest()


# --- 4. a full disk (a real small tmpfs) -------------------------------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path):
    disk = SmallDisk(tmp_path / "small-disk", "4m")
    yield disk
    disk.unmount()


def test_a_checkpoint_on_a_full_disk_ends_the_run_in_one_line_and_keeps_the_last_good_one(small_disk, tmp_path,
                                                                                         mnist_path):
    """Each checkpoint of this net (weights and Adam's two slots) takes 2.4 MB: the first fits the 4 MB disk, the
    second does not while the first is kept. Writing it in place with h5py ended in a segmentation fault."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps([{"type": "Dense", "units": 256}]))
    env = cli_env(small_disk.folder, MNIST_PATH=mnist_path)
    result = measured_cli("train", "--spec", spec, "--epochs", "3", "--subset-size", "2000", "--name", "full",
                          env=env)
    assert_one_error_line(result, "the disk is full", "checkpoint of epoch 2")
    [work] = [path for path in small_disk.folder.iterdir() if path.name.startswith(".partial-")]
    kept = ["epoch-1.keras", "owner.lock", "partial.json"]  # and the run's TensorBoard events so far
    assert sorted(path.name for path in work.iterdir() if path.name != BOARD_DIR) == kept
    assert [name for name in files_in(small_disk.folder) if f"/{BOARD_DIR}" not in name] == sorted(
        [work.name, *(f"{work.name}/{name}" for name in kept)])
    listed = measured_cli("list", "--json", env=env)
    [interrupted] = [row for row in json.loads(listed["out"]) if row["status"] == "interrupted"]
    assert interrupted["epochs"] == 1 and interrupted["name"] == "full"


def test_a_run_of_the_app_on_a_full_disk_fails_with_the_message_and_the_server_lives(small_disk, mnist):
    """The app's job runner: the run fails with "the disk is full" as its reason (the page shows it); the same
    write used to take the whole server down with a segmentation fault."""
    from mnist_core.jobs.requests import RunRequest
    from mnist_core.jobs.runner import JobRunner
    from mnist_core.model.config import TrainConfig
    from mnist_core.statuses import FAILED
    from mnist_core.store.registry import Registry

    registry = Registry(small_disk.folder)
    runner = JobRunner(registry, lambda: mnist)
    request = RunRequest("full", "custom", [{"type": "Dense", "units": 256}],
                         TrainConfig(epochs=3, subset_size=2000, validation_split=0.0))
    view = runner.wait(runner.submit(request), timeout=300)
    assert view.status == FAILED and "the disk is full" in view.reason, view
    [interrupted] = registry.list_interrupted()  # resumable from its last good checkpoint once there is space
    assert len(interrupted.epochs) == 1


def test_saving_a_run_on_a_full_disk_says_so_and_leaves_nothing(small_disk):
    import keras

    from mnist_core.errors import DiskFullError
    from mnist_core.store.records import RunRecord
    from mnist_core.store.registry import Registry

    registry = Registry(small_disk.folder)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(2048), keras.layers.Dense(10)])  # 6.5 MB
    record = RunRecord(id="", name="big", architecture="custom", spec=[], config={}, status="finished", created="")
    with pytest.raises(DiskFullError, match="the disk is full"):
        registry.save_run(model, record)
    assert files_in(small_disk.folder) == []


def export_of(mnist, count: int, path: Path) -> Path:
    """A real My digits export of ``count`` MNIST test digits."""
    images = mnist.x_test[:count].astype(np.float32) / 255
    ids = np.array([f"{index:012x}" for index in range(count)], dtype="U12")
    np.savez_compressed(path, images=images, labels=mnist.y_test[:count], ids=ids)
    return path


def test_importing_my_digits_onto_a_full_disk_says_so_and_leaves_no_orphans(small_disk, mnist, tmp_path):
    export = export_of(mnist, 1500, tmp_path / "mine.npz")  # 1,500 files of 3.3 kB: more than the 4 MB disk
    result = measured_cli("mine", "import", export, env=cli_env(small_disk.folder))
    assert_one_error_line(result, "the disk is full")
    assert files_in(small_disk.folder) == [".my_digits", ".my_digits/.lock"]


def test_adding_a_drawing_to_a_full_disk_says_so_and_leaves_nothing(small_disk, mnist, tmp_path):
    from PIL import Image

    drawing = tmp_path / "seven.png"
    Image.fromarray(mnist.x_test[0]).save(drawing)
    (small_disk.folder / ".my_digits").mkdir()
    filler = small_disk.fill()
    result = measured_cli("mine", "add", "7", drawing, env=cli_env(small_disk.folder))
    assert_one_error_line(result, "the disk is full")
    assert files_in(small_disk.folder) == [".my_digits", ".my_digits/.lock", filler.name]


# --- 5. My digits files: checked by their headers before any data is read -----------------------------------------


def npy_header(shape: tuple, dtype: str) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def claiming_export(path: Path, count: int) -> Path:
    """An .npz whose headers claim ``count`` drawings and whose data holds a few bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", npy_header((count, 28, 28), "|u1") + bytes(64))
        archive.writestr("labels.npy", npy_header((count,), "<i8") + bytes(64))
        archive.writestr("ids.npy", npy_header((count,), "<U12") + bytes(64))
    return path


def test_a_file_claiming_a_trillion_drawings_is_refused_by_its_header(tmp_path):
    result = measured_cli("mine", "import", claiming_export(tmp_path / "huge.npz", 10 ** 12),
                          env=cli_env(tmp_path / "models"))
    assert_one_error_line(result, "1,000,000,000,000 drawings", "at most 10,000")
    assert result["peak_kb"] < 400 * 1024


def test_80000_small_drawings_are_refused_before_they_are_read(tmp_path):
    count = 80_000
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 10:18, 13:15] = 255  # a stroke: a small, valid drawing each
    ids = np.array([f"{index:012x}" for index in range(count)], dtype="U12")
    path = tmp_path / "many.npz"
    np.savez_compressed(path, images=images, labels=np.arange(count) % 10, ids=ids)
    del images, ids
    result = measured_cli("mine", "import", path, env=cli_env(tmp_path / "models"))
    assert_one_error_line(result, "80,000 drawings")
    assert result["peak_kb"] < 400 * 1024  # all of them, checked, took 0.9 GB


def test_a_plain_npy_and_a_huge_file_are_refused_in_one_line(tmp_path):
    plain_npy = tmp_path / "images.npz"
    with open(plain_npy, "wb") as handle:
        np.save(handle, np.zeros((3, 28, 28), np.float32))
    assert_one_error_line(measured_cli("mine", "import", plain_npy, env=cli_env(tmp_path / "models")),
                          "single NumPy array (.npy)")
    huge = tmp_path / "huge.npz"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024 ** 3)  # sparse: 2 GB that take no disk
    result = measured_cli("mine", "import", huge, env=cli_env(tmp_path / "models"))
    assert_one_error_line(result, "2,147,483,648 bytes", "at most 64 MiB")
    assert result["peak_kb"] < 400 * 1024


def test_an_export_in_real_itemsizes_is_still_imported(mnist, registry, tmp_path):
    from mnist_core.store.my_digits import MyDigits

    export = export_of(mnist, 30, tmp_path / "mine.npz")
    assert MyDigits(registry).import_bytes(export.read_bytes()) == (30, 0)


# --- 6. the Sweeps page's storage field ------------------------------------------------------------------------


def storage_errors(app, url: str) -> list[str]:
    [storage] = [box for box in app.text_input if box.label == "Study storage (database URL)"]
    storage.input(url).run()
    assert not app.exception, [exception.value for exception in app.exception]
    return [str(error.value) for error in app.error]


def test_the_storage_field_opens_only_sweep_files_and_the_owners_urls(registry, mnist_path, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    open_port = listener.getsockname()[1]
    notes, empty = tmp_path / "notes.txt", tmp_path / "empty.db"
    notes.write_text("a server's own file\n")
    empty.write_bytes(b"")
    app = AppTest.from_file(str(PROJECT / "navigation.py"), default_timeout=90)
    app.switch_page("app_pages/sweeps/sweeps.py")
    app.run()
    refusals = [storage_errors(app, url) for url in (
        f"sqlite:///{notes}", f"sqlite:///{empty}", f"sqlite:///{tmp_path / 'no-folder' / 'x.db'}",
        f"postgresql+psycopg://user:secret@127.0.0.1:{open_port}/db",
        "postgresql+psycopg://user:secret@127.0.0.1:1/db", "postgresql+psycopg://user@127.0.0.1:notaport/db",
        "mysql://root@127.0.0.1/", "sqlite:///:memory:")]
    assert all(len(errors) == 1 for errors in refusals) and len({errors[0] for errors in refusals}) == 1, refusals
    assert "cannot be used" in refusals[0][0] and "secret" not in refusals[3][0]
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing connected to the open port
    listener.close()
    assert notes.read_text() == "a server's own file\n" and empty.read_bytes() == b""  # never turned into SQLite
    assert not (tmp_path / "no-folder").exists()
    new = tmp_path / "new-sweeps.db"
    assert storage_errors(app, f"sqlite:///{new}") == [] and new.is_file()  # a new file becomes a sweep database
    assert storage_errors(app, f"sqlite:///{new}") == []  # and opens again, as an existing one
    monkeypatch.setenv("DIGIT_LAB_SWEEP_STORAGES", f"sqlite:///{tmp_path / 'owners-store'}")
    assert storage_errors(app, f"sqlite:///{tmp_path / 'owners-store'}") == []  # listed by the owner


# --- 7. the CLI's one error line -----------------------------------------------------------------------------------


def test_a_read_only_sweep_database_is_an_error_line(small_disk, mnist_path):
    env = cli_env(small_disk.folder, MNIST_PATH=mnist_path)
    created = measured_cli("sweep", "create", "first", "--space", "quick", "--trials", "1", env=env)
    assert created["rc"] == 0, created
    small_disk.read_only()
    try:
        assert_one_error_line(measured_cli("sweep", "create", "second", "--space", "quick", "--trials", "1", env=env),
                              "refused a change", "readonly")
        assert_one_error_line(measured_cli("sweep", "work", "first", env=env), "refused a change", "readonly")
    finally:
        small_disk.read_only(False)


def test_finetune_with_no_epochs_is_refused(registry, mnist_path):
    result = measured_cli("finetune", "--epochs", "0", env=cli_env(registry.root, MNIST_PATH=mnist_path))
    assert_one_error_line(result, "epochs must be between 1")


# --- costly but working: refused early now -----------------------------------------------------------------------


def test_a_csv_of_a_million_columns_is_refused_by_its_header_line(tmp_path):
    columns = 10 ** 6
    csv = tmp_path / "test.csv"
    csv.write_text(",".join(f"pixel{index}" for index in range(columns)) + "\n" + ",".join(["0"] * columns) + "\n")
    result = measured_cli("kaggle", csv, "--out", tmp_path / "submission.csv", env=cli_env(tmp_path / "models"))
    assert_one_error_line(result, "longer than 64 KB")
    narrow_but_many = tmp_path / "wide.csv"
    narrow_but_many.write_text(",".join(f"c{index}" for index in range(5000)) + "\n")
    result = measured_cli("kaggle", narrow_but_many, env=cli_env(tmp_path / "models"))
    assert_one_error_line(result, "5,000 columns")
    assert not (tmp_path / "submission.csv").exists()


# --- issue 25: text from users is shown as text ----------------------------------------------------------------------


def test_a_failed_insight_task_shows_names_and_errors_as_typed():
    from streamlit.testing.v1 import AppTest

    def page():
        from app_pages.insight.tasks import task_failed
        from mnist_core.jobs.requests import task_request
        from mnist_core.jobs.runner import JobRunner
        from mnist_core.store.registry import Registry

        def work(report):
            raise ValueError("*boom* [link](http://example.com)")

        runner = JobRunner(Registry(__import__("tempfile").mkdtemp()), lambda: None)
        view = runner.wait(runner.submit_once(task_request("sweep", ("hostile",), work)), 30)
        task_failed(view, "The sweep of **bold** :red[run]")

    app = AppTest.from_function(page, default_timeout=30).run()
    [error] = app.error
    assert "\\*\\*bold\\*\\*" in error.value and "\\:red\\[run\\]" in error.value and "\\*boom\\*" in error.value
    assert "`http://example.com" in error.value  # an address as code, never a link
