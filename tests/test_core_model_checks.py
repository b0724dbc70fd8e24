"""Model uploads are checked before Keras sees them (mnist_core/model/checks.py): every model Digit Lab or Keras saves
for an MNIST classifier passes and loads; a hostile corpus crafted here, one file per class, is refused with its
message by the app's import and by the CLI, in child processes whose peak memory and writes are measured, while a
server process keeps predicting a known MNIST digit exactly as before."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from functools import partial
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from crafted_files import (
    BOMB_BYTES,
    MB,
    SET_EPSILON,
    changed_dense,
    edited,
    external_link_weights,
    functional_model,
    h5_dataset_bomb,
    header_only_csv,
    keras_bytes,
    lambda_model_bytes,
    many_empty_members,
    members_of,
    npz_with_images,
    padded_with_members,
    sequential_model,
    side_node,
    weights_zip_bomb,
    zipped,
)
from faults_helpers import MARKER_ENV, NO_TENSORFLOW_PEAK_KB, assert_runs_intact, copy_of_good_run, write_marker
from helpers import PROJECT, two_at_a_time
from mnist_core.cli.main import main as cli_main
from mnist_core.model.architectures import build_model
from mnist_core.model.checks import (
    CONFIG,
    MAX_PARAMS,
    WEIGHTS,
    ModelFileError,
    check_config,
    check_weights,
    read_members,
)
from mnist_core.store.files import MODEL_FILE, TEMP_PREFIX
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import DEFAULT_ID, PROJECT_MODELS, Registry
from mnist_core.training.presets import PRESETS

EXTRA_PEAK_KB = 150 * 1024  # a refused upload may raise a server's peak memory by at most this much
MAX_WRITTEN = 64 * 1024  # bytes a refused upload may cause to be written (nothing is extracted or staged)
CLI_WRITTEN_BLOCKS = 2048  # 1 MB in 512-byte blocks


# --- the hostile corpus: one file per class --------------------------------------------------------------------------

HOSTILE = {  # class: (file name, how to make it from (folder, sequential, functional), what the refusal says)
    "lambda-layer": ("lambda.keras", lambda d, seq, fun: lambda_model_bytes(d), "a Lambda layer"),
    "class-outside-keras": ("custom.keras", lambda d, seq, fun: edited(seq, changed_dense(
        module="mnist_evil.layers", class_name="Payload")), "'Payload' from the module 'mnist_evil.layers'"),
    "function-in-side-node": ("side-function.keras", lambda d, seq, fun: edited(fun, side_node(
        {"module": "keras.layers", "class_name": "Activation", "registered_name": None,
         "config": {"name": "side", "activation": SET_EPSILON}})),
        "a reference to the function keras.config.set_epsilon"),
    "op-node": ("op-node.keras", lambda d, seq, fun: edited(fun, side_node(
        {"module": "keras.src.ops.numpy", "class_name": "Absolute", "registered_name": None,
         "config": {"name": "absolute"}})), "'Absolute' from the module 'keras.src.ops.numpy'"),
    "disguised-class": ("disguised.keras", lambda d, seq, fun: edited(seq, changed_dense(registered_name="Lambda")),
                        "registered as 'Lambda'"),
    "python-lambda-activation": ("lambda-activation.keras", lambda d, seq, fun: edited(seq, changed_dense(
        config={"activation": {"class_name": "__lambda__", "config": {"code": "", "defaults": None,
                                                                      "closure": None}}})), "a Python lambda"),
    "deep-nesting": ("deep.keras", lambda d, seq, fun: edited(seq, lambda config: b"[" * 100_000 + b"]" * 100_000),
                     "nested too deeply"),
    "oversized-layer": ("oversized.keras", lambda d, seq, fun: edited(seq, changed_dense(config={"units": 10 ** 8})),
                        f"at most {MAX_PARAMS:,}"),
    "weights-zip-bomb": ("weights-bomb.keras", lambda d, seq, fun: weights_zip_bomb(seq),
                         f"{WEIGHTS} declares"),
    "padding-members": ("padding.keras", lambda d, seq, fun: padded_with_members(seq),
                        "150 unexpected member(s)"),
    "h5-dataset-bomb": ("h5-bomb.keras", lambda d, seq, fun: h5_dataset_bomb(seq), "declares arrays of"),
    "npz-header-10^12-images": ("huge-header.npz", lambda d, seq, fun: npz_with_images((10 ** 12, 28, 28), False),
                                "x_train declares the shape (1000000000000, 28, 28)"),
    "npz-deflated-gigabyte": ("deflated.npz", lambda d, seq, fun: npz_with_images((BOMB_BYTES // 784, 28, 28), True),
                              f"x_train declares the shape ({BOMB_BYTES // 784}, 28, 28)"),
    "csv-header-only": ("header-only.csv", lambda d, seq, fun: header_only_csv(), "a header but no rows"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """The hostile files on disk, by class, and one good model file to import last."""
    folder = tmp_path_factory.mktemp("hostile")
    sequential, functional = keras_bytes(sequential_model(), folder), keras_bytes(functional_model(), folder)
    paths = {}
    for kind, (name, make, _) in HOSTILE.items():
        paths[kind] = folder / name
        paths[kind].write_bytes(make(folder, sequential, functional))
    paths["good"] = folder / "good.keras"
    paths["good"].write_bytes(keras_bytes(build_model(PRESETS["fast-cnn"].spec), folder))
    return paths


def run_server_child(corpus, root, mnist_path, temporary) -> subprocess.CompletedProcess:
    """Every hostile file, then the good one, through the app's imports in one server-like child process."""
    files = [str(corpus[kind]) for kind in HOSTILE] + [str(corpus["good"])]
    return subprocess.run([sys.executable, str(PROJECT / "tests" / "import_child.py"), str(root), mnist_path, *files],
                          capture_output=True, text=True, timeout=300, env=os.environ | {"TMPDIR": str(temporary)})


@pytest.fixture(scope="module")
def children(corpus, mnist_path, tmp_path_factory) -> dict:
    """This module's child processes, two at a time (each measures only itself): the server-like child, one CLI
    process per hostile file and the CLI's import of the good model, each kind with registry folders of its own."""
    folders = {name: tmp_path_factory.mktemp(name) for name in ("models", "child-tmp", "cli-models", "good-models")}
    good = ["import", str(corpus["good"]), "--name", "vetted fast-cnn", "--json"]
    calls = {"server": partial(run_server_child, corpus, folders["models"], mnist_path, folders["child-tmp"]),
             "good import": partial(run_cli, good, folders["good-models"])}
    calls |= {kind: partial(run_cli, cli_arguments(kind, corpus[kind]), folders["cli-models"]) for kind in HOSTILE}
    return {"folders": folders} | two_at_a_time(calls)


@pytest.fixture(scope="module")
def server_child(children) -> dict:
    """What the server-like child printed: its baseline, then a line per hostile file and one for the good one."""
    done = children["server"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(children["folders"]["child-tmp"].iterdir())  # nothing extracted or left behind
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {"baseline": lines[0], **{kind: line for kind, line in zip([*HOSTILE, "good"], lines[1:], strict=True)}}


def test_the_bombs_in_the_corpus_really_hold_what_they_claim(corpus):
    """Without the checks each would cost a GiB: the deflated members really expand to it, the HDF5 array really
    declares it, the padding members are really there."""
    with zipfile.ZipFile(corpus["weights-zip-bomb"]) as archive:
        assert archive.getinfo(WEIGHTS).file_size > BOMB_BYTES and archive.testzip() is None
    with zipfile.ZipFile(corpus["npz-deflated-gigabyte"]) as archive:
        assert archive.getinfo("x_train.npy").file_size > BOMB_BYTES - MB
    with zipfile.ZipFile(corpus["padding-members"]) as archive:
        assert sum(info.file_size for info in archive.infolist()) > 150 * MB
    with zipfile.ZipFile(corpus["h5-dataset-bomb"]) as archive, h5py.File(io.BytesIO(archive.read(WEIGHTS))) as h5:
        sizes = []
        h5.visititems(lambda name, entry: sizes.append(entry.nbytes) if isinstance(entry, h5py.Dataset) else None)
        assert max(sizes) >= BOMB_BYTES and archive.getinfo(WEIGHTS).file_size < MB


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_upload_is_refused_with_its_message_and_the_server_is_unharmed(kind, server_child):
    baseline, result = server_child["baseline"], server_child[kind]
    assert result["outcome"].startswith("refused: "), result["outcome"]
    assert HOSTILE[kind][2] in result["outcome"], result["outcome"]
    assert result["peak_kb"] - baseline["peak_kb"] <= EXTRA_PEAK_KB, (kind, result["peak_kb"], baseline["peak_kb"])
    assert result["written"] <= MAX_WRITTEN, (kind, result["written"])
    assert result["same_prediction"] and result["digit"] == baseline["digit"] == 7  # MNIST test image 0 is a 7
    assert result["settings"] == baseline["settings"]
    assert result["runs"] == baseline["runs"] == [DEFAULT_ID]


def test_a_good_model_imported_after_the_hostile_ones_is_accepted(server_child):
    good = server_child["good"]
    assert good["outcome"].startswith("accepted as "), good["outcome"]
    assert len(good["runs"]) == 2 and good["same_prediction"]


def run_cli(args: list[str], models) -> dict:
    """One real ``python -m mnist_core`` process, with its peak memory and block writes (from its rusage)."""
    wrapper = ("import json, resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps({'rc': done.returncode, 'out': done.stdout, 'err': done.stderr,"
               " 'peak_kb': usage.ru_maxrss, 'blocks': usage.ru_oublock}))")
    env = os.environ | {"DIGIT_LAB_MODELS": str(models), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(models)}
    done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "mnist_core", *args],
                          capture_output=True, text=True, cwd=PROJECT, env=env, timeout=300)
    return json.loads(done.stdout)


def cli_arguments(kind: str, path) -> list[str]:
    return ["import", str(path)] if str(path).endswith(".keras") else ["evaluate", "--data", str(path)]


@pytest.mark.parametrize("kind", HOSTILE)
def test_the_cli_refuses_each_hostile_file_in_one_line_with_exit_2(kind, children):
    result = children[kind]
    assert result["rc"] == 2, result
    assert "Traceback" not in result["err"], result["err"]
    errors = [line for line in result["err"].splitlines() if line.startswith("error: ")]  # after any import warning
    assert len(errors) == 1 and HOSTILE[kind][2] in errors[0], result["err"]
    assert result["peak_kb"] <= NO_TENSORFLOW_PEAK_KB, (kind, result["peak_kb"])  # refused before TensorFlow loads
    assert result["blocks"] <= CLI_WRITTEN_BLOCKS, (kind, result["blocks"])
    assert [path.name for path in children["folders"]["cli-models"].iterdir() if not path.name.startswith(".")] == []


def test_the_cli_imports_a_good_model_like_the_app(children):
    result = children["good import"]
    assert result["rc"] == 0, result["err"]
    payload = json.loads(result["out"])
    record = Registry(children["folders"]["good-models"]).record(payload["run_id"])
    assert record.name == "vetted fast-cnn" and record.architecture == "uploaded" and payload["params"] == 80202


# --- what passes: every model Digit Lab builds, and Keras's own saves of plausible MNIST classifiers ------------------


def wide_functional_model():
    """A Functional model using every allowlisted layer kind, initializers, a regularizer and a constraint."""
    layers = keras.layers
    inputs = keras.Input((784,))
    x = layers.Rescaling(1 / 255.0)(layers.Reshape((28, 28, 1))(inputs))
    for augmentation in (layers.RandomZoom(0.1), layers.RandomContrast(0.1), layers.RandomRotation(0.05),
                         layers.RandomTranslation(0.1, 0.1), layers.GaussianNoise(0.1)):
        x = augmentation(x)
    a = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(
        8, 3, padding="same", kernel_initializer="he_normal", kernel_regularizer=keras.regularizers.L2(1e-4),
        kernel_constraint=keras.constraints.MaxNorm(3))(x)))
    b = layers.Conv2D(8, 1, padding="same", activation="elu")(x)
    x = layers.Concatenate()([layers.Add()([a, b]), a])
    x = layers.LayerNormalization()(layers.MaxPooling2D()(layers.SpatialDropout2D(0.1)(layers.AveragePooling2D(2)(x))))
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Activation("gelu")(layers.LeakyReLU()(layers.Dense(32, kernel_regularizer="l2")(x)))
    return keras.Model(inputs, layers.Softmax()(layers.Dense(10)(layers.Dropout(0.2)(x))))


def nested_compiled_model():
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.Sequential([keras.layers.Dense(10, activation="softmax")])])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_passes_the_checks_imports_and_loads_again(preset, registry, tmp_path, test_sample):
    model = build_model(PRESETS[preset].spec)
    record = registry.import_model(preset, keras_bytes(model, tmp_path))
    loaded = registry.load_model(record.id)  # what the checks accepted loads again from the registry
    images = test_sample[0][:4].astype("float32") / 255.0
    images = images.reshape(4, *model.input_shape[1:])
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


@pytest.mark.parametrize("make", [wide_functional_model, nested_compiled_model, functional_model],
                         ids=["every-allowed-layer", "nested-and-compiled", "functional"])
def test_plausible_keras_models_pass_and_import(make, registry, tmp_path):
    model = make()
    path = tmp_path / "saved-by-keras.keras"
    model.save(path)  # Keras's own save, with its compile_config when compiled
    record = registry.import_model("plausible", path.read_bytes())
    assert registry.load_model(record.id).count_params() == model.count_params()


def test_the_shipped_default_model_passes_the_checks():
    members = read_members((PROJECT_MODELS / DEFAULT_ID / MODEL_FILE).read_bytes())
    check_config(members[CONFIG])
    check_weights(members[WEIGHTS])


# --- what is refused, case by case (no child process needed) ----------------------------------------------------------


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases")
    return keras_bytes(sequential_model(), folder), keras_bytes(functional_model(), folder)


CONFIG_CASES = {  # (edit of the Sequential model's config, what the refusal says)
    "unknown-activation-name": (changed_dense(config={"activation": "set_epsilon"}), "the activation 'set_epsilon'"),
    "unknown-initializer-name": (changed_dense(config={"kernel_initializer": "stft"}), "the initializer 'stft'"),
    "function-as-initializer": (changed_dense(config={"kernel_initializer": SET_EPSILON}), "keras.config.set_epsilon"),
    "layer-without-module": (changed_dense(module=None), "'Dense' without a module"),
    "keras-internal-module": (changed_dense(module="keras.src.layers.core.dense"), "'keras.src.layers.core.dense'"),
    "odd-dtype-policy": (changed_dense(config={"dtype": {"module": "keras", "class_name": "DTypePolicy",
                                                         "config": {"name": "int8_from_float32"}}}),
                         "dtype policy 'int8_from_float32'"),
    "nested-compile-config": (changed_dense(compile_config={"loss": SET_EPSILON}), "training settings"),
    "no-build-config": (changed_dense(build_config=None), "no saved input shape"),
    "tensor-value": (changed_dense(config={"use_bias": {"class_name": "__tensor__", "config": {"value": 1}}}),
                     "a __tensor__ value"),
    "not-a-model": (lambda config: b'["a list"]', "not a Sequential or Functional model"),
    "not-json": (lambda config: b"{nope", "not valid JSON"),
    "too-deep-but-parsable": (lambda config: json.dumps(config | {"x": json.loads("[" * 70 + "]" * 70)}).encode(),
                              "nested deeper than 64"),
    "too-many-layers": (lambda config: config["config"]["layers"].extend(
        [{"module": "keras.layers", "class_name": "Dropout", "config": {"name": f"d{i}", "rate": 0.1}}
         for i in range(400)]), "layers; at most 300"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_configs_outside_the_allowlist_are_refused_naming_what_was_found(case, bases, registry):
    edit, message = CONFIG_CASES[case]
    content = edited(bases[0], edit)
    with pytest.raises(ModelFileError) as error:
        check_config(members_of(content)[CONFIG])
    assert message in str(error.value)
    with pytest.raises(RegistryError) as error:
        registry.import_model("hostile", content)
    assert message in str(error.value)
    assert [record.id for record in registry.list_runs()] == [DEFAULT_ID]


ARCHIVE_CASES = {
    "duplicate-member": (lambda seq: duplicated_config(seq), "same member twice"),
    "missing-weights": (lambda seq: zipped({CONFIG: members_of(seq)[CONFIG]}), f"lacks {WEIGHTS}"),
    "many-empty-members": (lambda seq: many_empty_members(), "member list is far longer"),
    "too-large-file": (lambda seq: bytes(60 * MB), "larger than"),
    "compression-ratio": (lambda seq: zipped(members_of(seq) | {CONFIG: b" " * (900 * 1024) + members_of(seq)[CONFIG]},
                                             zipfile.ZIP_DEFLATED), "zip bomb"),
    "external-link-in-weights": (external_link_weights, "a link (leak)"),
}


def duplicated_config(content: bytes) -> bytes:
    buffer = io.BytesIO()
    members = members_of(content)
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate it is asked to write
        for name, data in [*members.items(), (CONFIG, members[CONFIG])]:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("case", ARCHIVE_CASES)
def test_archives_outside_the_bounds_are_refused_before_reading(case, bases, registry):
    make, message = ARCHIVE_CASES[case]
    with pytest.raises(RegistryError) as error:
        registry.import_model("hostile", make(bases[0]))
    assert message in str(error.value)
    assert [record.id for record in registry.list_runs()] == [DEFAULT_ID]


# --- models that carry code or are not MNIST classifiers, refused by the registry -----------------------------------


def lambda_model(marker: Path, kind: str):
    """A real Keras model whose middle layer is code; building or calling it writes ``marker``."""
    layers = keras.layers
    if kind == "python-lambda":
        path = str(marker)
        code = layers.Lambda(lambda x: (open(path, "a").write("the model's code ran\n"), x)[1])
    elif kind == "named-function":
        code = layers.Lambda(write_marker)
    else:
        code = ExecutingLayer()
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), code, layers.Dense(10, activation="softmax")])


@keras.saving.register_keras_serializable(package="faults")
class ExecutingLayer(keras.layers.Layer):
    """A custom layer: its code would run on load if a registry trusted classes from outside Keras."""

    def call(self, x):
        write_marker(x)
        return x


@pytest.mark.parametrize("kind", ["python-lambda", "named-function", "custom-layer"])
def test_a_model_carrying_code_is_refused_and_its_code_never_runs(kind, registry, good, tmp_path, monkeypatch,
                                                                  capsys):
    marker = tmp_path / "code-ran.txt"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    path = tmp_path / "evil.keras"
    lambda_model(marker, kind).save(path)  # saving is allowed (safe_mode applies to loading)
    assert marker.exists()  # building the model ran its code once, here: the marker works
    marker.unlink()
    expected = "Lambda" if kind != "custom-layer" else "ExecutingLayer"

    # 1. dropped into models/ by hand, with a valid run.json
    folder = copy_of_good_run(registry, good, f"dropped-{kind}")
    shutil.copyfile(path, folder / MODEL_FILE)
    with pytest.raises(RegistryError) as error:
        registry.load_model(folder.name)
    assert "refused" in str(error.value) and "code" in str(error.value) and expected in str(error.value)
    # 2. uploaded through import_model
    with pytest.raises(RegistryError) as error:
        registry.import_model("innocent upload", path.read_bytes())
    assert "refused" in str(error.value) and expected in str(error.value)
    # 3. the CLI refuses it too
    assert cli_main(["evaluate", "--model", folder.name, "--models", str(registry.root)]) == 2
    assert "refused" in capsys.readouterr().err

    assert not marker.exists(), "the model's code ran"
    assert "innocent upload" not in {record.name for record in registry.list_runs()}
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*")), "the upload's staging file was left behind"
    assert_runs_intact(registry, good)


@pytest.mark.parametrize("inputs, outputs, message", [
    ((32, 32, 3), 10, "its input shape is (32, 32, 3)"),
    ((28, 28, 1), 5, "its output shape is (5,); expected 10 classes"),
    ((28, 28, 3), 10, "its input shape is (28, 28, 3)"),
], ids=["cifar-input", "five-classes", "colour-input"])
def test_a_model_of_the_wrong_shape_is_refused(inputs, outputs, message, registry, good, tmp_path):
    wrong = keras.Sequential([keras.Input(inputs), keras.layers.Flatten(),
                              keras.layers.Dense(outputs, activation="softmax")])
    path = tmp_path / "wrong.keras"
    wrong.save(path)
    with pytest.raises(RegistryError) as error:
        registry.import_model("wrong shape", path.read_bytes())
    assert "not an MNIST classifier" in str(error.value) and message in str(error.value)
    folder = copy_of_good_run(registry, good, "wrong-shape")
    shutil.copyfile(path, folder / MODEL_FILE)
    with pytest.raises(RegistryError, match=re.escape(message)):
        registry.load_model("wrong-shape")
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*"))
    assert_runs_intact(registry, good)


@pytest.mark.parametrize("content, message", [
    (b"", "not a Keras model file"),
    (b"PK\x03\x04 truncated zip", "not a Keras model file"),
    (b"hello, I am a text file", "not a Keras model file"),
], ids=["empty", "truncated-zip", "text"])
def test_an_upload_that_is_not_a_keras_file_is_refused(content, message, registry, good):
    with pytest.raises(RegistryError, match=message):
        registry.import_model("junk", content)
    assert not list(registry.root.glob(f"{TEMP_PREFIX}*"))
    assert_runs_intact(registry, good)


def test_an_upload_cut_short_is_refused(registry, good, small_dense_model, tmp_path):
    path = tmp_path / "whole.keras"
    small_dense_model.save(path)
    content = path.read_bytes()
    for size in (len(content) // 3, len(content) - 200):
        with pytest.raises(RegistryError, match="not a Keras model file|could not be read"):
            registry.import_model("cut", content[:size])
    assert_runs_intact(registry, good)
