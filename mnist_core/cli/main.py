"""``python -m mnist_core``: presets, train, evaluate, predict, list and kaggle, on the same registry as the app.

Every command takes ``--json`` for machine-readable output; user errors (``DigitLabError``) go to stderr in one line
with exit code 2; any other exception is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_core.cli import insight, my_digits, sweeps
from mnist_core.cli.common import chosen_run, dataset, download_progress, emit, write_output
from mnist_core.data.drawing import ImageInputError
from mnist_core.data.mnist import read_kaggle_test, submission_csv
from mnist_core.errors import DigitLabError
from mnist_core.model.architectures import SpecError, check_fits_machine
from mnist_core.model.checks import MAX_ARCHIVE_BYTES, ModelFileError
from mnist_core.model.config import SETTINGS, ConfigError, TrainConfig, parse_json
from mnist_core.statuses import FAILED
from mnist_core.store.records import RegistryError, default_run_name
from mnist_core.store.registry import Registry
from mnist_core.training.presets import PRESETS, get_preset

# --- commands ---------------------------------------------------------------------------------------------------


def command_presets(args) -> None:
    rows = [{"name": p.name, "title": p.title, "description": p.description, "source": p.source}
            for p in PRESETS.values()]
    emit(args, rows, "\n".join(f"{row['name']:<20} {row['description']}" for row in rows))


def given_settings(args) -> dict:
    """The training settings given as flags (the others stay as the preset or the defaults have them)."""
    return {setting.name: getattr(args, setting.name) for setting in SETTINGS
            if getattr(args, setting.name, None) is not None}


def add_setting_flags(command) -> None:
    """One flag per row of the settings table, with its type, choices, range and help."""
    for setting in SETTINGS:
        if setting.kind is bool:
            options = {"action": argparse.BooleanOptionalAction}
        elif setting.choices:
            options = {"choices": setting.choices}
        else:
            options = {"type": setting.kind, "metavar": setting.kind.__name__.upper()}
        default = "none" if setting.default is None else setting.default
        command.add_argument(setting.flag, dest=setting.name, **options, help=f"{setting.help} ({setting.allowed}; "
                             f"default: the preset's, else {default})".replace("%", "%%"))


def train_request(args):
    """The run that ``train --preset`` or ``train --spec`` asks for."""
    from mnist_core.jobs.requests import RunRequest

    if args.spec:
        try:
            text = Path(args.spec).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SpecError(f"{args.spec}: cannot be read ({getattr(error, 'strerror', None) or error}).") from None
        spec, architecture, base = parse_json(text, args.spec, SpecError), "custom", TrainConfig()
    else:
        preset = get_preset(args.preset)
        spec, architecture, base = preset.spec, preset.name, preset.config
    config = base.replace(**given_settings(args))
    check_fits_machine(spec, config)  # before MNIST and TensorFlow load
    return RunRequest(args.name or default_run_name(architecture), architecture, spec, config)


def command_train(args) -> int:
    if args.resume:
        given = [*given_settings(args)] + (["name"] if args.name else [])
        if given:
            raise ConfigError(f"--resume goes on with the run's own name and settings; leave out {', '.join(given)}.")
    else:
        request = train_request(args)
    data = dataset(args)
    from keras.utils import Progbar

    from mnist_core.jobs.runs import execute_run, resume_run  # TensorFlow only once the settings and data passed

    registry = Registry(args.models)
    bar = {}

    def show(event) -> None:
        if args.json or event.kind != "batch":
            return
        if event.epoch not in bar:
            print(f"Epoch {event.epoch}/{event.epochs}", file=sys.stderr)
            bar[event.epoch] = Progbar(event.steps_per_epoch, stateful_metrics=list(event.metrics))
        bar[event.epoch].update(event.step, values=list(event.metrics.items()))

    if args.resume:
        record = resume_run(args.resume, data, registry, on_event=show)
    else:
        record = execute_run(request, data, registry, on_event=show)
    payload = {"run_id": record.id, "status": record.status, "reason": record.reason,
               "test_accuracy": record.test_accuracy, "test_loss": record.test_loss, "seconds": record.seconds}
    accuracy = "-" if record.test_accuracy is None else f"{record.test_accuracy:.4f}"
    emit(args, payload, f"{record.status}: {record.reason}\nrun {record.id}: test accuracy {accuracy}, "
                        f"{record.seconds:.1f} s of training")
    if record.status == FAILED:  # saved for inspection, but a script must see that training failed
        print(f"error: the run failed (saved as {record.id}): {record.reason}", file=sys.stderr)
        return 1
    return 0


def command_evaluate(args) -> None:
    registry = Registry(args.models)
    run_id = chosen_run(registry, args.model)
    record = registry.record(run_id)  # an unknown run is refused before MNIST and TensorFlow load
    data = dataset(args)  # a data set that cannot be used is refused before TensorFlow loads
    from mnist_core.model.evaluation import evaluate

    result = evaluate(registry.load_model(run_id), data.x_test, data.y_test)
    payload = {"run_id": run_id, "test_accuracy": result.accuracy, "test_loss": result.loss,
               "seconds": record.seconds, "errors": int((result.predicted != result.labels).sum())}
    emit(args, payload, f"run {run_id}: test accuracy {result.accuracy:.4f}, loss {result.loss:.4f}, "
                        f"{payload['errors']} errors of {len(result.labels)}")


def command_predict(args) -> int:
    from mnist_core.data.drawing import image_file_to_mnist

    registry = Registry(args.models)
    run_id = chosen_run(registry, args.model)
    registry.record(run_id)  # an unknown run is refused before TensorFlow loads
    from mnist_core.model.evaluation import ImagePredictor

    predictor = ImagePredictor(registry.load_model(run_id))
    failures = 0
    for name in args.images:
        try:
            probabilities = predictor.probabilities(image_file_to_mnist(Path(name).read_bytes()))
        except (ImageInputError, OSError) as error:
            failures += 1
            print(f"error: {name}: {error}", file=sys.stderr)
            continue
        digit = int(probabilities.argmax())
        emit(args, {"file": name, "digit": digit, "probabilities": [round(float(p), 6) for p in probabilities]},
             f"{name}: {digit} ({probabilities[digit]:.1%})")
    return 1 if failures else 0


def command_list(args) -> None:
    registry = Registry(args.models)
    skipped: list[str] = []
    runs = registry.list_runs(skipped)
    rows = [record.summary_row() for record in registry.list_interrupted(skipped) + runs]
    for warning in skipped:
        print(f"warning: {warning}", file=sys.stderr)
    default = registry.default_id()
    for row in rows:
        row["default"] = row["id"] == default
    lines = [f"{'*' if row['default'] else ' '} {row['id']:<44} {row['architecture']:<18} {row['status']:<11} "
             f"{'-' if row['test_accuracy'] is None else format(row['test_accuracy'], '.4f')}" for row in rows]
    emit(args, rows, "\n".join([*lines, "* the default model (`python -m mnist_core default RUN_ID` changes it)"])
         if lines else f"no runs in {registry.root}")


def command_default(args) -> None:
    """Show the default model, or make ``args.run`` the default (what the pages preselect and the CLI uses)."""
    registry = Registry(args.models)
    if args.run is not None:
        registry.set_default(args.run)
    run_id = registry.default_id()
    if run_id is None:
        raise RegistryError("no default model: none was chosen and the shipped one is not installed; "
                            "`python -m mnist_core default RUN_ID` chooses one (see `python -m mnist_core list`).")
    record = registry.record(run_id)
    emit(args, {"run_id": run_id, "name": record.name, "test_accuracy": record.test_accuracy},
         f"default model: {run_id} (“{record.name}”)")


def command_download(args) -> None:
    from mnist_core.data.download import download_mnist

    data = download_mnist(None if args.json else download_progress)
    emit(args, {"path": data.source, "train": len(data.y_train), "test": len(data.y_test)},
         f"MNIST saved to {data.source}: {len(data.y_train):,} training and {len(data.y_test):,} test images")


def command_kaggle(args) -> None:
    registry = Registry(args.models)
    run_id = chosen_run(registry, args.model)
    images = read_kaggle_test(args.test_csv)  # a file that cannot be used is refused before TensorFlow loads
    from mnist_core.model.evaluation import predict_probabilities

    labels = predict_probabilities(registry.load_model(run_id), images).argmax(axis=1)
    write_output(args.out, submission_csv(labels))
    emit(args, {"run_id": run_id, "rows": len(labels), "out": str(args.out)},
         f"wrote {len(labels)} predictions to {args.out} (model {run_id})")



def command_import(args) -> None:
    """Add a .keras file as a run through exactly the Models page's import (same checks, same messages)."""
    path = Path(args.file)
    try:
        with path.open("rb") as handle:  # never more than the largest model file accepted, however large it is
            content = handle.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error.strerror or error}).") from None
    record = Registry(args.models).import_model(args.name or path.stem, content)
    emit(args, {"run_id": record.id, "name": record.name, "params": record.params, "file": str(path)},
         f"imported {path} as “{record.name}” (run {record.id}, {record.params:,} parameters)")

def command_code(args) -> None:
    """A run (or a preset) as a plain Keras script or Jupyter notebook: to stdout, or to ``--out``."""
    from mnist_core.export.program import Origin, notebook, run_origin, script

    if args.preset:
        preset = get_preset(args.preset)
        spec, config, origin = preset.spec, preset.config, Origin(preset.name, preset.name)
    else:
        spec, config, origin = run_origin(Registry(args.models).record(args.run))
    text = (notebook if args.notebook else script)(spec, config, origin)
    if args.out is None:
        print(text, end="")
        return
    write_output(args.out, text)
    emit(args, {"run_id": origin.run_id, "preset": args.preset, "out": str(args.out),
                "kind": "notebook" if args.notebook else "script"},
         f"wrote the {'notebook' if args.notebook else 'script'} of {origin.run_id or args.preset} to {args.out}")


# --- parser -----------------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--models", help="registry folder (default: $DIGIT_LAB_MODELS or ./models)")
    common.add_argument("--data", help="MNIST file or folder (default: $MNIST_PATH, the Keras cache, download)")
    top = argparse.ArgumentParser(prog="python -m mnist_core", description="Digit Lab: MNIST with Keras.")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("presets", parents=[common], help="list the preset architectures")

    train = commands.add_parser("train", parents=[common], help="train a preset or a spec file and save the run")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=list(PRESETS))
    source.add_argument("--spec", help="JSON file with a list of layers")
    source.add_argument("--resume", metavar="RUN_ID",
                        help="go on with an interrupted run after its last finished epoch (see `list`)")
    train.add_argument("--name", help="display name of the run")
    add_setting_flags(train)

    for name, helptext in (("evaluate", "test accuracy and loss of a saved model"),
                           ("predict", "predict the digit in image files"),
                           ("kaggle", "write a Kaggle submission.csv for a test.csv")):
        command = commands.add_parser(name, parents=[common], help=helptext)
        command.add_argument("--model", help="run id (default: the default model)")
        if name == "predict":
            command.add_argument("images", nargs="+", metavar="IMAGE")
        if name == "kaggle":
            command.add_argument("test_csv", metavar="TEST_CSV")
            command.add_argument("--out", default="submission.csv")
    commands.add_parser("list", parents=[common], help="list saved runs (* marks the default model)")
    default = commands.add_parser("default", parents=[common],
                                  help="show the default model, or make a run the default (pages and CLI use it)")
    default.add_argument("run", nargs="?", help="the run id to make the default (see `list`)")
    commands.add_parser("download", parents=[common],
                        help="download MNIST into the Keras cache ($DIGIT_LAB_MNIST_URL, $DIGIT_LAB_MNIST_SHA256)")
    model_import = commands.add_parser("import", parents=[common],
                                       help="check a .keras model file and add it as a run (exit 2 when refused)")
    model_import.add_argument("file", metavar="FILE.keras")
    model_import.add_argument("--name", help="display name of the run (default: the file's name)")
    code = commands.add_parser("code", parents=[common],
                               help="a run (or a preset) as a plain Keras script or Jupyter notebook")
    what = code.add_mutually_exclusive_group(required=True)
    what.add_argument("run", nargs="?", metavar="RUN", help="run id (see `list`)")
    what.add_argument("--preset", choices=list(PRESETS), help="a preset with its own settings instead of a run")
    code.add_argument("--notebook", action="store_true", help="a Jupyter notebook (.ipynb) instead of a script")
    code.add_argument("--out", help="file to write (default: print it)")
    insight.add_parsers(commands, common)
    sweeps.add_parsers(commands, common)
    my_digits.add_parsers(commands, common)
    return top


COMMANDS = {"presets": command_presets, "train": command_train, "evaluate": command_evaluate,
            "predict": command_predict, "list": command_list, "kaggle": command_kaggle, "download": command_download,
            "default": command_default,
            "import": command_import, "code": command_code,
            "robustness": insight.command_robustness, "embedding": insight.command_embedding,
            "calibration": insight.command_calibration,
            "sweep": sweeps.command_sweep,
            "mine": my_digits.command_mine, "finetune": my_digits.command_finetune}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except DigitLabError as error:  # anything else is a bug: its traceback is kept (exit 1)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resumable = " (a training run is kept up to its last finished epoch: `list` shows it, `train --resume " \
                    "RUN_ID` goes on with it)" if args.command == "train" else ""
        print(f"interrupted{resumable}", file=sys.stderr)
        return 130
