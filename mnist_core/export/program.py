"""Every run as a plain Keras program: a script, or a Jupyter notebook with a markdown cell per step.

The program needs keras, numpy and the standard library only. Its layers are the architecture builder's own calls
(``architectures.layer_calls``), its subset and validation split the project's own functions (their source), and its
settings a checked ``TrainConfig``. Every value enters the code as the ``repr`` of a checked literal and names only
as string literals, never in comments or Markdown, so a hostile run name or setting cannot become code. No TensorFlow
here: the Train page shows the code live.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import textwrap
from dataclasses import dataclass

from mnist_core.data import mnist
from mnist_core.data.inputs import PIXEL_MAX
from mnist_core.data.mnist import NUM_CLASSES
from mnist_core.errors import DigitLabError
from mnist_core.model.architectures import MODEL_NAME, LayerCall, layer_calls
from mnist_core.model.config import OPTIMIZER_CLASSES, WARMUP_FRACTION, ConfigError, TrainConfig, one_hot_labels
from mnist_core.model.precision import resolved_precision
from mnist_core.store.records import RunRecord, slug

TEST_BATCH = 1000
COMMENT_WIDTH = 110
FINETUNE_MNIST_IMAGES = 3000  # what Digit Lab's fine-tune mixes in when a record does not say
LAYER_NOTES = {
    "Conv2D": "filters that learn small local patterns (strokes, curves)",
    "MaxPooling2D": "keeps the strongest response in each window: smaller maps, some tolerance to shifts",
    "Dense": "every input connected to every unit",
    "Dropout": "switches random units off while training, against overfitting",
    "Flatten": "the image maps as one long vector, for the Dense layers",
    "BatchNormalization": "normalises the activations: steadier, faster training",
    "RandomRotation": "augmentation: turns each training image a little (training only)",
    "RandomTranslation": "augmentation: shifts each training image a little (training only)",
    "RandomZoom": "augmentation: zooms each training image a little (training only)",
}


class ExportError(DigitLabError):
    """A run that cannot be written as a program (an uploaded model: nobody knows how it was trained)."""


@dataclass(frozen=True)
class Step:
    """One step of the program: a title, a few words for a learner (Markdown in a notebook, comments in a script)
    and its code."""

    title: str
    text: str
    code: str


@dataclass(frozen=True)
class Origin:
    """What the program reproduces: the run's name and, for a saved run, its id, lineage and results."""

    name: str
    architecture: str
    run_id: str | None = None
    parent: str | None = None  # a fine-tune's base run
    sweep: tuple[str, int] | None = None  # (study, trial)
    epochs: tuple = ()
    test_accuracy: float | None = None


def literal(value) -> str:
    """``value`` as Python source: the ``repr`` of a plain literal (a number, text, None, or a tuple or list of
    them), checked to read back as that very value, so nothing else can enter the program."""
    if isinstance(value, (tuple, list)):
        for item in value:
            literal(item)
    elif not isinstance(value, (bool, int, float, str, type(None))) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ExportError(f"{value!r} cannot be written into a program.")
    text = repr(value)
    if "\n" in text or ast.literal_eval(text) != value:
        raise ExportError(f"{value!r} cannot be written into a program.")
    return text


def number(value, spec: str) -> str:
    """A recorded figure for comments and Markdown: formatted when it is a finite number, else "-"."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return format(value, spec) if ok else "-"


def layer_line(call: LayerCall, is_output: bool) -> str:
    """One layer of the ``Sequential`` list, with a note for learners; hidden layers use ``PRECISION``."""
    arguments = [literal(value) for value in call.args]
    for key, value in call.options.items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ExportError(f"{key!r} is not a layer setting.")
        arguments.append(f"{key}=PRECISION" if key == "dtype" and not is_output else f"{key}={literal(value)}")
    if call.kind == "Input":
        note = "28×28 images, one grey channel" if len(call.args[0]) == 3 else "the 784 pixels of an image in a row"
    else:
        note = "the output: one probability per digit, in float32" if is_output else LAYER_NOTES[call.kind]
    return f"    # {note}\n    layers.{call.kind}({', '.join(arguments)}),"


def settings_lines(config: TrainConfig, origin: Origin, precision: str) -> list[str]:
    """The constants at the top of the program, each with what it means."""
    lines = [
        f"RUN_NAME = {literal(origin.name)}  # the Digit Lab run (or Train page) this program reproduces",
        f"ARCHITECTURE = {literal(origin.architecture)}",
    ]
    if origin.run_id is not None:
        lines.append(f"RUN_ID = {literal(origin.run_id)}")
    if origin.sweep is not None:
        lines += [f"SWEEP = {literal(origin.sweep[0])}  # the sweep (hyperparameter search) that tried these settings",
                  f"SWEEP_TRIAL = {literal(origin.sweep[1])}  # its trial number"]
    if origin.parent is not None:
        lines.append(f"PARENT_RUN = {literal(origin.parent)}  # fine-tuned from this run: training starts from its "
                     "weights")
    lines += [
        f"SEED = {literal(config.seed)}  # same seed, same subset, split and starting weights",
        f"SUBSET_SIZE = {literal(config.subset_size or 0)}  # train on a stratified subset of this many images "
        "(0: all of them)",
        f"VALIDATION_SPLIT = {literal(config.validation_split)}  # share of the training images held out to "
        "watch for overfitting",
        f"BATCH_SIZE = {literal(config.batch_size)}",
        f"EPOCHS = {literal(config.epochs)}",
        f"LEARNING_RATE = {literal(config.learning_rate)}"
        + ("  # the peak of the one-cycle schedule" if config.lr_schedule == "one-cycle" else ""),
        f"LABEL_SMOOTHING = {literal(config.label_smoothing)}  # share of each target moved onto the other digits",
        f"STEPS_PER_EXECUTION = {literal(config.steps_per_execution)}  # batches per call into TensorFlow (faster "
        "on CPU)",
        f"PRECISION = {literal(precision)}  # the hidden layers' dtype policy (mixed_bfloat16: fast with native "
        "bfloat16 only)",
    ]
    if config.early_stopping:
        lines.append(f"PATIENCE = {literal(config.patience)}  # early stopping: epochs without improvement")
    return lines


def arguments_code(origin: Origin, notebook: bool) -> str:
    """Where the data comes from and where the model goes: options of a script, plain settings in a notebook."""
    model_file = literal(f"{slug(origin.name)}.keras")
    if notebook:
        lines = ['DATA_PATH = os.environ.get("MNIST_PATH")  # or the path of a Keras mnist.npz; None downloads MNIST',
                 f"MODEL_FILE = {model_file}"]
        if origin.parent is not None:
            lines.append('PARENT_MODEL = "parent.keras"  # the parent run\'s .keras (Models page, Download .keras)')
        return "\n".join(lines)
    lines = [
        'parser = argparse.ArgumentParser(description="Train a Digit Lab network with plain Keras.")',
        'parser.add_argument("--data", help="a Keras mnist.npz (default: $MNIST_PATH, else download MNIST)")',
        'parser.add_argument("--subset", type=int, default=SUBSET_SIZE, help="train on this many images (0: all)")',
        f'parser.add_argument("--out", default={model_file}, help="where to save the trained model")',
    ]
    if origin.parent is not None:
        lines.append('parser.add_argument("--parent", default="parent.keras", '
                     'help="the parent run\'s .keras (Models page, Download .keras)")')
    lines += ["args = parser.parse_args()",
              'DATA_PATH = args.data or os.environ.get("MNIST_PATH")',
              "SUBSET_SIZE, MODEL_FILE = args.subset, args.out"]
    if origin.parent is not None:
        lines.append("PARENT_MODEL = args.parent")
    return "\n".join(lines)


def network_code(spec: list[dict], precision: str, origin: Origin) -> str:
    """The network: the builder's layers, or for a fine-tune the parent's model with only its Dense layers left
    trainable (as Digit Lab fine-tunes)."""
    if origin.parent is not None:
        return textwrap.dedent("""\
            keras.utils.set_random_seed(SEED)
            model = keras.saving.load_model(PARENT_MODEL, compile=False)
            for layer in model.layers:  # only the Dense layers learn: the feature layers keep what they know
                layer.trainable = isinstance(layer, layers.Dense)
            model.summary()""")
    calls = layer_calls(spec, precision)
    lines = [layer_line(call, position == len(calls) - 1) for position, call in enumerate(calls)]
    return "\n".join(["keras.utils.set_random_seed(SEED)  # the same starting weights on every run",
                      "model = keras.Sequential([", *lines, f"], name={literal(MODEL_NAME)})", "model.summary()"])


def compile_code(config: TrainConfig) -> str:
    """Optimizer, learning-rate schedule, loss and metric, as Digit Lab compiles them."""
    one_hot = one_hot_labels(config)
    lines = ["steps_per_epoch = math.ceil(len(y_fit) / BATCH_SIZE)"]
    if config.lr_schedule == "one-cycle":
        lines += [
            f"# One-cycle: the rate climbs linearly from 0 to LEARNING_RATE over the first {WARMUP_FRACTION:.0%} of "
            "the steps,",
            "# then falls to 0 along a cosine.",
            "total_steps = steps_per_epoch * EPOCHS",
            f"warmup_steps = int(total_steps * {literal(WARMUP_FRACTION)})",
            "learning_rate = keras.optimizers.schedules.CosineDecay(",
            "    0.0, max(1, total_steps - warmup_steps), alpha=0.0, warmup_target=LEARNING_RATE,",
            "    warmup_steps=warmup_steps)",
        ]
    else:
        lines.append("learning_rate = LEARNING_RATE  # constant")
    if config.label_smoothing > 0:
        loss = "keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)"
    else:
        loss = literal(config.loss)
    metric = "CategoricalAccuracy" if one_hot else "SparseCategoricalAccuracy"
    lines += [
        f"optimizer = keras.optimizers.{OPTIMIZER_CLASSES[config.optimizer]}(learning_rate=learning_rate)",
        f"model.compile(optimizer=optimizer, loss={loss},",
        f'              metrics=[keras.metrics.{metric}(name="accuracy")], steps_per_execution=STEPS_PER_EXECUTION)',
    ]
    return "\n".join(lines)


def train_code(config: TrainConfig) -> str:
    lines = ["callbacks = []"]
    if config.early_stopping:
        monitor = '"val_loss" if len(y_val) else "loss"'
        lines = [f"callbacks = [keras.callbacks.EarlyStopping(monitor={monitor}, patience=PATIENCE,",
                 f"                                           restore_best_weights={literal(config.restore_best)})]"]
    lines += ["history = model.fit(",
              "    x_fit, y_fit, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True, callbacks=callbacks, verbose=2,",
              "    validation_data=(x_val, y_val) if len(y_val) else None)"]
    return "\n".join(lines)


def expectation(origin: Origin) -> str:
    """The run's own results, as Markdown: what a learner should see."""
    if origin.test_accuracy is None and not origin.epochs:
        return "Digit Lab has no results for these settings yet: train them there to compare."
    text = f"Digit Lab's run reached **test accuracy {number(origin.test_accuracy, '.4f')}**"
    if not origin.epochs:
        return text + "."
    columns = [key for key in ("loss", "accuracy", "val_loss", "val_accuracy")
               if any(isinstance(row, dict) and key in row for row in origin.epochs)]
    rows = [f"| {number(row.get('epoch', position), 'd')} | "
            + " | ".join(number(row.get(key), ".4f") for key in columns) + " |"
            for position, row in enumerate(origin.epochs, start=1) if isinstance(row, dict)]
    return "\n".join([text + " after these epochs (yours will differ a little: the order of the batches is "
                      "Keras's own here):", "", "| epoch | " + " | ".join(columns) + " |",
                      "|" + " --- |" * (len(columns) + 1), *rows])


def program_steps(spec: list[dict], config: TrainConfig, origin: Origin, notebook: bool) -> list[Step]:
    """The steps of the program that trains ``spec`` under ``config``."""
    precision = resolved_precision(config.precision)
    one_hot = one_hot_labels(config)
    source_of = {name: inspect.getsource(getattr(mnist, name)) for name in ("stratified_subset", "validation_split")}
    lineage = ""
    if origin.parent is not None:
        lineage = ("This run was **fine-tuned** from the run in `PARENT_RUN`: it starts from that model (download "
                   "its `.keras` on the Models page) and trains its Dense layers only. Digit Lab mixed your own "
                   "drawings (My digits) into MNIST; this program has MNIST only. ")
    if config.drawings_per_digit:
        lineage += (f"Digit Lab also trained it on {number(config.drawings_per_digit, ',d')} synthetic drawing-pad "
                    "digits of every class (`mnist_core.training.drawings`); this program has MNIST only, so its "
                    "model will read pad drawings less well. ")
    if origin.sweep is not None:
        lineage += (f"This run is trial {number(origin.sweep[1], 'd')} of the sweep in `SWEEP`: the settings its "
                    "search picked. ")
    imports = ["import argparse"] * (not notebook) + ["import math", "import os", "", "import keras",
                                                      "import numpy as np", "from keras import layers"]
    return [
        Step("Imports", "Keras (TensorFlow runs under it), numpy and the standard library: nothing else.",
             "\n".join(imports)),
        Step("Settings", lineage + "Everything Digit Lab recorded about this run, as plain constants.",
             "\n".join([*settings_lines(config, origin, precision), "", arguments_code(origin, notebook)])),
        Step("Load MNIST", "60,000 training and 10,000 test images of 28×28 grey pixels (0-255) with their digits.",
             textwrap.dedent("""\
                def load_mnist(path):
                    \"\"\"(x_train, y_train), (x_test, y_test) from a Keras mnist.npz, or downloaded by Keras.\"\"\"
                    if path:
                        with np.load(path, allow_pickle=False) as arrays:
                            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
                    return keras.datasets.mnist.load_data()


                (x_train, y_train), (x_test, y_test) = load_mnist(DATA_PATH)
                print(f"MNIST: {len(y_train):,} training and {len(y_test):,} test images")""")),
        Step("Subset and validation split",
             "The same images Digit Lab trained on: a stratified subset (each digit in its share) when the run had "
             "one, and a seeded validation split, by Digit Lab's own two functions.",
             "\n".join([source_of["stratified_subset"], "", source_of["validation_split"], "",
                        "if SUBSET_SIZE:",
                        "    keep = stratified_subset(y_train, SUBSET_SIZE, SEED)",
                        "    x_train, y_train = x_train[keep], y_train[keep]",
                        "fit_index, val_index = validation_split(len(y_train), VALIDATION_SPLIT, SEED)",
                        'print(f"training on {len(fit_index):,} images, validating on {len(val_index):,}")'])),
        Step("The network", "Layer by layer, exactly as Digit Lab builds it."
             + (" Its hidden layers compute in bfloat16 (`PRECISION`); the output stays float32."
                if precision != "float32" else ""),
             network_code(spec, precision, origin)),
        Step("Inputs and labels",
             "Pixels scaled to [0, 1] and shaped like the network's input; "
             + ("labels as one-hot vectors (label smoothing and the categorical losses need them)."
                if one_hot else "labels as digit numbers (the sparse loss takes them so)."),
             textwrap.dedent(f"""\
                def as_input(images):
                    \"\"\"Pixels 0..255 as floats in [0, 1], shaped like the network's input.\"\"\"
                    return (images.astype("float32") / {literal(PIXEL_MAX)}).reshape((len(images), \
*model.input_shape[1:]))


                def as_target(labels):
                    return {f"keras.utils.to_categorical(labels, {NUM_CLASSES})" if one_hot else "labels"}


                x_fit, y_fit = as_input(x_train[fit_index]), as_target(y_train[fit_index])
                x_val, y_val = as_input(x_train[val_index]), as_target(y_train[val_index])""")),
        Step("Optimizer, schedule and loss", "How the weights move after each batch, and what they minimise.",
             compile_code(config)),
        Step("Train", "Keras shuffles the training images each epoch and prints one line per epoch.",
             train_code(config)),
        Step("Test and save", expectation(origin) + "\n\nThe saved `.keras` file can be uploaded on Digit Lab's "
             "Models page (or `python -m mnist_core import FILE.keras`).",
             textwrap.dedent(f"""\
                loss, accuracy = model.evaluate(as_input(x_test), as_target(y_test), batch_size={TEST_BATCH}, \
verbose=0)
                model.save(MODEL_FILE)
                print(f"saved {{MODEL_FILE}}")
                print(f"test accuracy: {{accuracy:.4f}}")""")),
    ]


def comment_lines(text: str) -> list[str]:
    """A step's Markdown as comment lines: text wrapped, table rows kept as they are, paragraphs apart."""
    lines = []
    for paragraph in text.replace("**", "").replace("`", "").split("\n\n"):
        rows = paragraph.splitlines() if paragraph.lstrip().startswith("|") else textwrap.wrap(paragraph, COMMENT_WIDTH)
        lines += ["", *rows] if lines else rows
    return [f"# {line}".rstrip() for line in lines]


def script(spec: list[dict], config: TrainConfig, origin: Origin) -> str:
    """The program as one Python script (its last line of output: ``test accuracy: 0.xxxx``)."""
    header = textwrap.dedent("""\
        #!/usr/bin/env python3
        \"\"\"A Digit Lab run as a plain Keras program (keras, numpy and the standard library only).

        python THIS_FILE.py [--data mnist.npz] [--subset N] [--out model.keras]
        MNIST comes from --data, else the .npz named by $MNIST_PATH, else keras.datasets.mnist.load_data().
        \"\"\"
        """)
    parts = [header]
    for step in program_steps(spec, config, origin, notebook=False):
        parts.append("\n".join([f"# --- {step.title} " + "-" * (COMMENT_WIDTH - len(step.title)),
                                *comment_lines(step.text), step.code]))
    return "\n\n".join(parts) + "\n"


def notebook(spec: list[dict], config: TrainConfig, origin: Origin) -> str:
    """The program as a Jupyter notebook (JSON text): a Markdown cell, then a code cell, per step."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell(
        "# A Digit Lab run in plain Keras\n\nThis notebook trains the network of the Digit Lab run named in "
        "`RUN_NAME` below, with its settings, using keras, numpy and the standard library only. "
        "Set `MNIST_PATH` to a Keras `mnist.npz`, or let Keras download MNIST.")]
    for step in program_steps(spec, config, origin, notebook=True):
        cells += [nbformat.v4.new_markdown_cell(f"## {step.title}\n\n{step.text}"),
                  nbformat.v4.new_code_cell(step.code)]
    for position, cell in enumerate(cells):  # stable ids (nbformat draws random ones): the same run, the same file
        cell.id = f"cell-{position}"
    book = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(book)
    return nbformat.writes(book)


def run_origin(record: RunRecord) -> tuple[list[dict], TrainConfig, Origin]:
    """A saved run's spec, checked settings and origin; ``ExportError`` for a run with no recorded training."""
    if record.spec is None or record.config is None:
        raise ExportError(f"run {record.id!r} was uploaded: Digit Lab does not know how it was trained, so it has no "
                          "program to show.")
    try:
        config = TrainConfig.from_dict(record.config)
    except TypeError as error:
        raise ConfigError(f"run {record.id!r} has unusable settings ({error}).") from None
    sweep = record.sweep or {}
    finetune = record.finetune or {}
    images = finetune.get("mnist_images")
    if record.parent is not None:  # as Digit Lab fine-tunes: a stratified MNIST subset, no validation split
        images = images if isinstance(images, int) and not isinstance(images, bool) else FINETUNE_MNIST_IMAGES
        config = config.replace(subset_size=images, validation_split=0.0)
    origin = Origin(
        name=record.name, architecture=record.architecture, run_id=record.id, parent=record.parent,
        sweep=(sweep["study"], sweep["trial"]) if {"study", "trial"} <= set(sweep) else None,
        epochs=tuple(record.epochs), test_accuracy=record.test_accuracy)
    return record.spec, config, origin


def run_script(record: RunRecord) -> str:
    return script(*run_origin(record))


def run_notebook(record: RunRecord) -> str:
    return notebook(*run_origin(record))
