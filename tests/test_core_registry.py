"""The run registry: atomic saves without optimizer state, listing, safe loading, rename, delete, import."""

import json
import os
import random
import re
import shutil
import signal
import threading
import time
import zipfile

import numpy as np
import pytest

from faults_helpers import Child, assert_runs_intact, copy_of_good_run, tiny_model
from helpers import save_run
from mnist_core.store.files import MODEL_FILE, RECORD_FILE, TEMP_PREFIX
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import DEFAULT_ID, DEFAULT_RUN_FILE, PROJECT_MODELS, STALE_TEMP_SECONDS, Registry

SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=5)


def test_a_saved_run_lists_and_loads_with_the_same_predictions(registry, small_dense_model, test_sample):
    record = save_run(registry, small_dense_model, name="first try", accuracy=0.9)
    listed = [r for r in registry.list_runs() if r.id == record.id]
    assert listed and listed[0].name == "first try" and listed[0].versions["keras"].startswith("3.")
    loaded = registry.load_model(record.id)
    images = test_sample[0][:8].reshape(8, 784) / 255.0
    np.testing.assert_allclose(loaded(images).numpy(), small_dense_model(images).numpy(), atol=1e-6)
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".")]


def test_models_are_saved_without_optimizer_state(registry, small_cnn_model):
    assert small_cnn_model.optimizer is not None and small_cnn_model.optimizer.variables
    record = save_run(registry, small_cnn_model)
    with zipfile.ZipFile(registry.model_path(record.id)) as archive:
        config = json.loads(archive.read("config.json"))
        assert not config.get("compile_config")
        assert "optimizer" not in archive.read("model.weights.h5").decode("latin-1")


def test_rename_changes_the_display_name_only(registry, small_dense_model):
    record = save_run(registry, small_dense_model, name="old")
    registry.rename(record.id, "  new name ✓ ")
    assert registry.record(record.id).name == "new name ✓"


def test_delete_removes_the_run_but_never_the_default(registry, small_dense_model):
    record = save_run(registry, small_dense_model)
    registry.delete(record.id)
    assert record.id not in [r.id for r in registry.list_runs()]
    with pytest.raises(RegistryError, match="no run"):
        registry.load_model(record.id)
    with pytest.raises(RegistryError, match="cannot be deleted"):
        registry.delete(DEFAULT_ID)


def test_listing_again_reads_only_the_runs_that_changed(registry, good, monkeypatch):
    """Records are kept per folder until their files change: counted by wrapping the registry's disk read."""
    first, second = good
    registry.list_runs()
    loaded = []
    read_from_disk = registry.load_record
    monkeypatch.setattr(registry, "load_record", lambda folder: loaded.append(folder.name) or read_from_disk(folder))
    assert {first, second} <= {record.id for record in registry.list_runs()} and loaded == []
    registry.rename(first, "renamed")
    assert registry.record(first).name == "renamed" and loaded == [first]
    assert next(record for record in registry.list_runs() if record.id == first).name == "renamed"
    assert loaded == [first]
    (registry.root / second / "run.json").write_text("{broken", encoding="utf-8")
    skipped = []
    assert second not in {record.id for record in registry.list_runs(skipped)} and loaded == [first, second]
    assert any(second in warning for warning in skipped)
    registry.delete(first)
    assert first not in {record.id for record in registry.list_runs()}


def test_the_shipped_default_model_cannot_be_renamed(registry):
    """models/default is tracked by git: renaming it from any registry would rewrite the shipped run.json."""
    shipped = PROJECT_MODELS / DEFAULT_ID / RECORD_FILE
    before = (shipped.read_bytes(), shipped.stat().st_mtime_ns)
    for owner in (registry, Registry(PROJECT_MODELS)):  # $DIGIT_LAB_MODELS elsewhere, and the project's own folder
        with pytest.raises(RegistryError, match="shipped default model is read-only"):
            owner.rename(DEFAULT_ID, "mine now")
    assert (shipped.read_bytes(), shipped.stat().st_mtime_ns) == before
    assert registry.record(DEFAULT_ID).name != "mine now"


def test_import_accepts_an_mnist_classifier_and_export_returns_it(registry, small_cnn_model, tmp_path):
    path = tmp_path / "mine.keras"
    small_cnn_model.save(path)
    record = registry.import_model("uploaded one", path.read_bytes())
    assert record.status == "uploaded" and record.params == small_cnn_model.count_params()
    assert registry.export(record.id)[:2] == b"PK"


def test_best_run_is_the_most_accurate(registry, small_dense_model):
    save_run(registry, small_dense_model, name="worse", accuracy=0.5)
    save_run(registry, small_dense_model, name="better", accuracy=0.999)  # above the shipped default's
    assert registry.best_run().name == "better"


def test_the_shipped_default_model_is_listed_when_the_registry_has_none(registry):
    if not (PROJECT_MODELS / DEFAULT_ID / MODEL_FILE).is_file():
        pytest.fail("models/default is missing: re-train it with `make default-model`.")
    assert registry.default_id() == DEFAULT_ID
    default = registry.record(DEFAULT_ID)
    assert default.test_accuracy >= 0.994
    assert (PROJECT_MODELS / DEFAULT_ID / MODEL_FILE).stat().st_size <= 2 * 1024 * 1024
    model = registry.load_model(DEFAULT_ID)
    assert model.output_shape == (None, 10)
    assert json.loads((PROJECT_MODELS / DEFAULT_ID / RECORD_FILE).read_text())["status"] == "finished"


def test_a_run_in_training_is_hidden_from_runs_and_interrupted_only_once_its_owner_is_gone(registry,
                                                                                             small_dense_model):
    from mnist_core.statuses import INTERRUPTED

    partial = registry.start_partial("long run", "custom", [{"type": "Dense", "units": 64}], {"epochs": 5}, 123)
    skipped = []
    assert partial.run_id not in [run.id for run in registry.list_runs(skipped)] and not skipped
    assert registry.list_interrupted() == []  # its owner (this test) still holds it
    with pytest.raises(RegistryError, match=f"process {os.getpid()}"):
        registry.claim_partial(partial.run_id)
    partial.save_epoch(small_dense_model, [{"epoch": 1, "loss": 0.5}], [{"step": 1, "epoch": 1, "loss": 0.7}], 2.5)
    partial.release()  # the owner dies

    (listed,) = registry.list_interrupted()
    assert (listed.id, listed.name, listed.status, listed.params) == (partial.run_id, "long run", INTERRUPTED, 123)
    assert listed.epochs == [{"epoch": 1, "loss": 0.5}] and "after epoch 1 of 5" in listed.reason
    claimed = registry.claim_partial(partial.run_id)
    assert registry.list_interrupted() == []  # taken over by the resume
    assert claimed.checkpoint_path.name == "epoch-1.keras" and claimed.checkpoint_path.is_file()
    assert claimed.values["owner"]["pid"] == os.getpid()
    claimed.release()
    registry.discard_interrupted(partial.run_id)
    assert registry.list_interrupted() == [] and not list(registry.root.glob(".partial-*"))
    with pytest.raises(RegistryError, match="no interrupted run"):
        registry.claim_partial(partial.run_id)


def test_a_new_checkpoint_replaces_the_old_only_once_it_is_complete(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 3}, 0)
    for epoch in (1, 2):
        partial.save_epoch(small_dense_model, [{"epoch": e} for e in range(1, epoch + 1)], [], float(epoch))
    names = sorted(path.name for path in partial.folder.iterdir())
    assert names == ["epoch-2.keras", "owner.lock", "partial.json"]
    assert json.loads((partial.folder / "partial.json").read_text())["checkpoint"] == "epoch-2.keras"
    partial.release()


def test_stale_temporary_cleanup_leaves_runs_in_training_alone(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 3}, 0)
    partial.save_epoch(small_dense_model, [{"epoch": 1}], [], 1.0)
    old = time.time() - 2 * STALE_TEMP_SECONDS
    for path in [partial.folder, *partial.folder.iterdir()]:
        os.utime(path, (old, old))
    Registry(registry.root)  # cleans stale temporaries on start
    assert partial.checkpoint_path.is_file() and (partial.folder / "partial.json").is_file()
    partial.release()
    assert [record.id for record in registry.list_interrupted()] == [partial.run_id]


def test_leftovers_of_a_run_saved_just_before_its_process_died_are_removed(registry, small_dense_model):
    partial = registry.start_partial("run", "custom", [], {"epochs": 1}, 0)
    record = save_run_as(registry, small_dense_model, partial.run_id)
    partial.release()
    assert registry.list_interrupted() == [] and not partial.folder.exists()
    assert [run.id for run in registry.list_runs()].count(record.id) == 1


def save_run_as(registry, model, run_id):
    from mnist_core.store.records import RunRecord

    record = RunRecord(id="", name="run", architecture="custom", spec=[], config={}, status="finished", created="",
                       params=int(model.count_params()))
    return registry.save_run(model, record, run_id=run_id)


def test_saved_test_probabilities_come_back_only_for_the_same_test_split(registry, small_dense_model, mnist):
    from mnist_core.data.mnist import fingerprint
    from mnist_core.model.evaluation import evaluate
    from mnist_core.store.records import RunRecord

    images, labels = mnist.x_test[:300], mnist.y_test[:300]
    evaluation = evaluate(small_dense_model, images, labels)
    record = RunRecord(id="", name="with predictions", architecture="custom", spec=[], config={}, status="finished",
                       created="")
    saved = registry.save_run(small_dense_model, record, test_predictions=(evaluation.probabilities,
                                                                           fingerprint(images, labels)))
    back = registry.test_probabilities(saved.id, fingerprint(images, labels))
    np.testing.assert_allclose(back, evaluation.probabilities, rtol=1e-6, atol=1e-7)  # stored as float32
    assert registry.test_probabilities(saved.id, fingerprint(mnist.x_test[:299], mnist.y_test[:299])) is None
    plain_run = registry.save_run(small_dense_model, RunRecord(id="", name="none", architecture="custom", spec=[],
                                                               config={}, status="finished", created=""))
    assert registry.test_probabilities(plain_run.id, fingerprint(images, labels)) is None


# --- SIGKILL in the middle of saving --------------------------------------------------------------------------------



def test_sigkill_while_saving_loses_no_run_and_leaves_nothing_listed(registry, good):
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    saved, doomed, leftovers, delays = set(), set(), set(), []
    for _ in range(4):  # until a kill has hit a save in progress at least once (nearly always the first)
        children = [Child("save-loop", str(registry.root))]  # (two processes saving at once: further down)
        for child in children:
            child.wait_for("ready")
        for child in children:
            delays.append(round(rng.uniform(0.2, 1.5), 3))
            time.sleep(delays[-1])
            os.kill(child.process.pid, signal.SIGKILL)
        for child in children:
            assert child.process.wait(timeout=30) == -signal.SIGKILL
            for line in child.finish():
                kind, _, run_id = line.partition(" ")
                if kind == "saved":
                    saved.add(run_id)
                elif kind == "deleting":
                    doomed.add(run_id)
        leftovers |= {p.name for p in registry.root.iterdir() if p.name.startswith(TEMP_PREFIX)}
        if leftovers:
            break
    context = f"(seed {seed}, kill delays {delays})"
    assert leftovers, f"no kill landed inside a save {context}"
    fresh = Registry(registry.root)
    skipped = []
    listed = {record.id: record for record in fresh.list_runs(skipped)}
    assert saved - doomed <= set(listed), f"runs reported saved are missing {context}"
    assert not [run_id for run_id in listed if run_id.startswith(".")], context
    assert not skipped, f"{skipped} {context}"
    for run_id in listed:  # every listed run loads: no half-written run is ever visible
        assert fresh.load_model(run_id).output_shape == (None, 10)
    assert_runs_intact(registry, good)
    # leftovers of a save in progress are kept (it may be another process still writing), removed when stale
    assert {p.name for p in registry.root.iterdir() if p.name.startswith(TEMP_PREFIX)} == leftovers
    stale = time.time() - STALE_TEMP_SECONDS - 60
    for path in [*registry.root.glob(f"{TEMP_PREFIX}*"), *registry.root.glob(f"*/{TEMP_PREFIX}*")]:
        os.utime(path, (stale, stale))
    cleaned = Registry(registry.root)
    assert not list(cleaned.root.glob(f"{TEMP_PREFIX}*")) and not list(cleaned.root.glob(f"*/{TEMP_PREFIX}*"))
    assert set(record.id for record in cleaned.list_runs()) == set(listed)


def test_opening_the_registry_while_another_process_saves_never_fails(registry, good):
    """Opening a registry removes stale temporaries; a temporary renamed away under it (a save or delete finishing
    elsewhere) at that moment must not make the constructor fail."""
    stop = threading.Event()

    def other_writer():  # what Registry.save_run and delete in another process do on disk, as fast as possible
        index = 0
        while not stop.is_set():
            temporary = registry.root / f"{TEMP_PREFIX}writer-{index}"
            temporary.mkdir()
            os.rename(temporary, registry.root / f"run-{index % 5}-being-replaced")
            os.rmdir(registry.root / f"run-{index % 5}-being-replaced")
            index += 1

    writer = threading.Thread(target=other_writer, daemon=True)
    writer.start()
    failures, opened, deadline = [], 0, time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            try:
                Registry(registry.root)
            except Exception as error:  # noqa: BLE001 - any failure here is the bug
                failures.append(repr(error))
            opened += 1
    finally:
        stop.set()
        writer.join()
    assert not failures, f"{len(failures)} of {opened} openings failed, e.g. {failures[0]}"
    assert_runs_intact(registry, good)


# --- files dropped into models/ by hand ---------------------------------------------------------------------------



HAND_DROPPED = {
    "empty-folder": (lambda folder: [p.unlink() for p in folder.iterdir()], "no run.json"),
    "truncated-keras": (lambda folder: (folder / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes()[:700]),
                        "model.keras"),
    "no-model-file": (lambda folder: (folder / MODEL_FILE).unlink(), "no model.keras"),
    "json-not-json": (lambda folder: (folder / RECORD_FILE).write_text("{not json", encoding="utf-8"),
                      "unreadable run.json"),
    "json-binary": (lambda folder: (folder / RECORD_FILE).write_bytes(b"\xff\xfe\x00garbage"), "unreadable run.json"),
    "json-a-list": (lambda folder: (folder / RECORD_FILE).write_text("[1, 2]", encoding="utf-8"), "not an object"),
    "json-missing-fields": (lambda folder: (folder / RECORD_FILE).write_text('{"name": "x"}', encoding="utf-8"),
                            "lacks the field(s) id, architecture, spec, config, status, created"),
}
BAD_FIELD_TYPES = {  # a run.json edited by hand with values of the wrong type
    "created-a-number": ({"created": 20240101}, "field 'created'"),
    "created-null": ({"created": None}, "field 'created'"),
    "name-a-number": ({"name": 7}, "field 'name'"),
    "seconds-a-string": ({"seconds": "fast"}, "field 'seconds'"),
    "accuracy-a-string": ({"test_accuracy": "high"}, "field 'test_accuracy'"),
    "epochs-a-string": ({"epochs": "ten"}, "field 'epochs'"),
    "params-a-list": ({"params": [1]}, "field 'params'"),
}


@pytest.mark.parametrize("folder_name", [*HAND_DROPPED, *BAD_FIELD_TYPES])
def test_broken_folders_are_skipped_with_a_warning_naming_them(folder_name, registry, good):
    folder = copy_of_good_run(registry, good, folder_name)
    if folder_name in HAND_DROPPED:
        damage, message = HAND_DROPPED[folder_name]
        damage(folder)
    else:
        changes, message = BAD_FIELD_TYPES[folder_name]
        values = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        (folder / RECORD_FILE).write_text(json.dumps(values | changes), encoding="utf-8")
    skipped = []
    listed = registry.list_runs(skipped)  # must not raise, whatever the folder holds
    assert folder_name not in {record.id for record in listed}
    warnings = [w for w in skipped if folder_name in w]
    assert len(warnings) == 1 and message in warnings[0], skipped
    assert [record.summary_row() for record in listed]  # every listed record can be shown in a table
    with pytest.raises(RegistryError, match=folder_name):
        registry.record(folder_name)
    assert_runs_intact(registry, good)


def test_a_copied_run_folder_is_listed_under_its_own_folder_name(registry, good):
    """A run.json carries an id; the folder is the truth, so a copy (or an id like '../../etc') cannot alias
    another run or escape the registry."""
    copy = copy_of_good_run(registry, good, "copied-by-hand")
    values = json.loads((copy / RECORD_FILE).read_text(encoding="utf-8"))
    (copy / RECORD_FILE).write_text(json.dumps(values | {"id": "../../etc"}), encoding="utf-8")
    listed = [record.id for record in registry.list_runs() if record.id != DEFAULT_ID]  # the shipped default shows too
    assert sorted(listed) == sorted([*good, "copied-by-hand"])
    assert registry.record("copied-by-hand").id == "copied-by-hand"
    registry.delete("copied-by-hand")
    assert_runs_intact(registry, good)


# --- run names and run ids ------------------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "traversal": ("../../etc/x", "../../etc/x"),
    "slashes": ("a/b\\c/../d", "a/b\\c/../d"),
    "absolute": ("/etc/passwd", "/etc/passwd"),
    "windows": ("C:\\Windows\\system32", "C:\\Windows\\system32"),
    "dots": ("..", ".."),
    "hidden-temp": (".tmp-looks-like-a-temporary", ".tmp-looks-like-a-temporary"),
    "very-long": ("x" * 10_000, "x" * 120),
    "unicode": ("数字 ✓ ünïcode", "数字 ✓ ünïcode"),
    "only-unicode": ("数字", "数字"),
    "empty": ("", "run"),
    "blank": ("   \t ", "run"),
    "nul-and-newlines": ("first\x00line\nsecond\r\nthird\t!", "first line second third !"),
}


@pytest.mark.parametrize("key", HOSTILE_NAMES)
def test_any_run_name_is_saved_inside_the_registry_with_a_sensible_display_name(key, registry, good, model,
                                                                                 tmp_path):
    name, shown = HOSTILE_NAMES[key]
    before = set(tmp_path.rglob("*"))
    record = save_run(registry, model, name=name)
    assert SAFE_ID.fullmatch(record.id) and len(record.id) <= 80 and not record.id.startswith(".")
    folder = (registry.root / record.id).resolve()
    assert folder.parent == registry.root and folder.is_dir()
    created = set(tmp_path.rglob("*")) - before
    assert all(registry.root in path.resolve().parents for path in created), f"written outside: {created}"
    again = {r.id: r for r in Registry(registry.root).list_runs()}[record.id]
    assert record.name == shown and again.name == shown
    registry.load_model(record.id)
    renamed = registry.rename(record.id, name + " (2)")
    assert renamed.id == record.id and registry.record(record.id).name == renamed.name
    assert_runs_intact(registry, good)


BAD_IDS = ["../x", "..", ".", "/etc", "/etc/passwd", "a/b", "a\\b", "", " ", "x\x00y", "x\n", "~", ".tmp-abc",
           "../victim", "./victim", "victim/..", "%2e%2e", None, 7]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=[repr(i) for i in BAD_IDS])
def test_run_ids_that_are_paths_are_refused_everywhere(bad_id, registry, good, model, tmp_path):
    victim = tmp_path / "victim"  # a run-like folder just outside the registry, which a traversal would reach
    shutil.copytree(registry.root / next(iter(good)), victim)
    calls = {
        "run_dir": lambda: registry.run_dir(bad_id), "record": lambda: registry.record(bad_id),
        "load_model": lambda: registry.load_model(bad_id), "model_path": lambda: registry.model_path(bad_id),
        "export": lambda: registry.export(bad_id), "rename": lambda: registry.rename(bad_id, "pwned"),
        "delete": lambda: registry.delete(bad_id),
        "save_run": lambda: registry.save_run(model, RunRecord(id="", name="x", architecture="custom", spec=[],
                                                               config={}, status="finished", created=""), bad_id),
    }
    if bad_id in (None, ""):
        del calls["save_run"]  # there None and "" mean "make an id", which is tested above
    for name, call in calls.items():
        with pytest.raises(RegistryError) as error:
            call()
        assert "not a valid run id" in str(error.value), f"{name}: {error.value}"
    assert (victim / RECORD_FILE).is_file() and (victim / MODEL_FILE).is_file()
    assert json.loads((victim / RECORD_FILE).read_text(encoding="utf-8"))["name"] != "pwned"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "victim"]
    assert_runs_intact(registry, good)


def test_each_listing_gets_its_own_skip_lines_none_kept_on_the_shared_registry(registry, small_dense_model):
    from helpers import save_run

    broken = save_run(registry, small_dense_model, name="broken").id
    (registry.root / broken / RECORD_FILE).write_text("{broken", encoding="utf-8")
    seen = {}

    def listing(name):
        mine = []
        registry.list_runs(mine)
        registry.list_interrupted(mine)
        seen[name] = mine

    sessions = [threading.Thread(target=listing, args=(name,)) for name in range(8)]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join()
    assert all(len(lines) == 1 and broken in lines[0] for lines in seen.values()), seen
    assert not hasattr(registry, "warnings")  # one registry serves every session of a server: it keeps none


def test_the_chosen_default_persists_and_a_deleted_one_falls_back_to_the_shipped_model(registry, small_dense_model):
    assert registry.default_id() == DEFAULT_ID  # nothing chosen: the shipped model
    record = save_run(registry, small_dense_model, name="mine")
    registry.set_default(record.id)
    assert Registry(registry.root).default_id() == record.id  # kept in the registry, seen by a new process
    registry.delete(record.id)
    assert registry.default_id() == DEFAULT_ID
    with pytest.raises(RegistryError, match="no run"):
        registry.set_default(record.id)
    with pytest.raises(RegistryError, match="not a valid run id"):
        registry.set_default("../elsewhere")
    (registry.root / DEFAULT_RUN_FILE).write_text("[not, json", encoding="utf-8")  # a damaged file: the shipped one
    assert registry.default_id() == DEFAULT_ID
