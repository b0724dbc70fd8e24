"""The code exporter: every run as a plain Keras script and notebook that train what the run trained, on real MNIST,
and that no run name or setting can inject code into."""

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pytest

from helpers import run_cli, two_at_a_time
from mnist_core.export.program import (
    ExportError,
    Origin,
    program_steps,
    run_notebook,
    run_origin,
    run_script,
    script,
)
from mnist_core.model.architectures import build_model, count_params
from mnist_core.model.config import ConfigError, TrainConfig
from mnist_core.store.records import RunRecord
from mnist_core.training.presets import PRESETS

ACCURACY_POINTS = 0.005  # the exported program's test accuracy against the run's own (batch order differs)
SMALL_SPEC = [{"type": "Dense", "units": 64}]
# One-cycle annealing to zero makes one epoch on 10,000 images land within ~0.1 point whatever the batch order.
SMALL_CONFIG = TrainConfig(subset_size=10_000, epochs=1, batch_size=32, validation_split=0.1, seed=1,
                           lr_schedule="one-cycle", learning_rate=3e-3, label_smoothing=0.1)
ACCURACY_LINE = "test accuracy: "
HOSTILE_NAMES = [
    '"; import os; os.system("touch PWNED") #',
    "'; import os; os.system('touch PWNED') #",
    'x"""\nimport os; os.system("touch PWNED")\n"""',
    "x'''\nimport os\nos.system('touch PWNED')\n#",
    "line\rimport os; os.system('touch PWNED')",
    "sep\u2028import os; os.system('touch PWNED')",
    "\u202eevil\u2066 ]) ; __import__('os').system('touch PWNED') #",
    "\\\"; import os; os.system('touch PWNED') #",
    "{__import__('os').system('touch PWNED')}",
    "</script><img src=x onerror=alert(1)> **bold** [link](http://x)",
]


def last_accuracy(text: str) -> float:
    """The accuracy of the ``test accuracy: 0.xxxx`` line, which must be the last line printed."""
    last = text.strip().splitlines()[-1]
    assert last.startswith(ACCURACY_LINE), text[-2000:]
    return float(last.removeprefix(ACCURACY_LINE))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, mnist_path):
    """A real run (Dense(64), one epoch of one-cycle Adam on a 10,000-image subset) saved in its own registry."""
    from mnist_core.data.sources import load_mnist
    from mnist_core.jobs.requests import RunRequest
    from mnist_core.jobs.runs import execute_run
    from mnist_core.store.registry import Registry

    registry = Registry(tmp_path_factory.mktemp("models"))
    record = execute_run(RunRequest("small", "custom", SMALL_SPEC, SMALL_CONFIG), load_mnist(mnist_path), registry)
    return registry, record


@pytest.fixture(scope="module")
def ran(small_run, mnist_path, tmp_path_factory):
    """The run's exported script and the program of a fine-tune of it, each written to a file and run as a user
    would, and the run's notebook executed cell by cell in a kernel, each in a folder of its own, two processes at a
    time: {name: (finished process or executed notebook, the model it saved)}."""
    import nbclient
    import nbformat

    registry, record = small_run
    tuned = RunRecord.from_dict(asdict(record) | {"parent": record.id, "finetune": {"mnist_images": 3000}})
    programs = {"script": (record, []), "tuned": (tuned, ["--parent", str(registry.model_path(record.id))])}

    def run(name: str):
        folder = tmp_path_factory.mktemp(name)
        program, saved = folder / f"{name}.py", folder / f"{name}.keras"
        program.write_text(run_script(programs[name][0]), encoding="utf-8")
        done = subprocess.run([sys.executable, str(program), "--data", mnist_path, *programs[name][1], "--out",
                               str(saved)], capture_output=True, text=True, cwd=folder, timeout=600)
        return done, saved

    def run_notebook_cells():
        folder = tmp_path_factory.mktemp("notebook")
        book = nbformat.reads(run_notebook(record), as_version=4)
        nbclient.NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
                                ).execute(env=os.environ | {"MNIST_PATH": mnist_path})  # a kernel subprocess
        return book, folder

    return two_at_a_time({"notebook": run_notebook_cells} | {name: partial(run, name) for name in programs})


def test_the_exported_script_trains_to_the_runs_accuracy_and_saves_an_importable_model(small_run, ran):
    registry, record = small_run
    done, saved = ran["script"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training on 9,000 images, validating on 1,000" in done.stdout  # the run's subset and split
    assert abs(last_accuracy(done.stdout) - record.test_accuracy) <= ACCURACY_POINTS
    imported = registry.import_model("exported", saved.read_bytes())  # the Models page's check
    assert imported.params == record.params == count_params(SMALL_SPEC)


def test_a_fine_tuned_runs_program_trains_on_from_its_parent(small_run, ran):
    registry, record = small_run
    done, saved = ran["tuned"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training on 3,000 images, validating on 0" in done.stdout
    assert last_accuracy(done.stdout) > record.test_accuracy - 0.02  # it starts from the trained parent
    assert registry.import_model("tuned", saved.read_bytes()).params == record.params


def test_the_exported_notebook_runs_cell_by_cell_to_the_runs_accuracy(small_run, ran):
    registry, record = small_run
    book, folder = ran["notebook"]
    kinds = [cell.cell_type for cell in book.cells]
    assert kinds[0] == "markdown" and kinds[1::2] == ["markdown"] * (len(kinds) // 2)  # a markdown cell per step
    expected = f"test accuracy {record.test_accuracy:.4f}"
    assert any(expected in cell.source and "| 1 |" in cell.source for cell in book.cells)  # the run's own figures
    printed = "".join(output.get("text", "") for output in book.cells[-1].outputs)
    assert abs(last_accuracy(printed) - record.test_accuracy) <= ACCURACY_POINTS
    saved = next(folder.glob("*.keras"))
    assert registry.import_model("from notebook", saved.read_bytes()).params == record.params


def built_network(spec, config) -> object:
    """The network the exported program builds, by running its steps up to the network (no data, no training)."""
    steps = {step.title: step.code for step in program_steps(spec, config, Origin("p", "p"), notebook=True)}
    scope = {}
    for title in ("Imports", "Settings", "The network"):
        exec(compile(steps[title], title, "exec"), scope)  # noqa: S102 - the program under test
    return scope["model"]


def without_names(config: dict) -> list[dict]:
    return [{key: value for key, value in layer["config"].items() if key != "name"} | {"class": layer["class_name"]}
            for layer in config["layers"]]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_for_every_preset_the_program_builds_the_same_layers_and_parameters(preset):
    spec, config = PRESETS[preset].spec, PRESETS[preset].config
    exported = built_network(spec, config)
    ours = build_model(spec, precision=config.precision)
    assert without_names(exported.get_config()) == without_names(ours.get_config())
    assert exported.count_params() == ours.count_params() == count_params(spec)


def hostile_record(name: str, **changes) -> RunRecord:
    values = dict(id="20261202-000000-x-0000", name=name, architecture=name, spec=SMALL_SPEC,
                  config=SMALL_CONFIG.to_dict(), status="finished", created="2026-12-02T00:00:00+00:00",
                  epochs=[{"epoch": 1, "loss": name, "accuracy": 0.9}], test_accuracy=0.9,
                  sweep={"study": name, "trial": 3}, parent=None)
    return RunRecord.from_dict(values | changes)


def string_constants(tree: ast.AST) -> set:
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_stay_string_literals(name, tmp_path, monkeypatch):
    record = hostile_record(name, parent=name)
    text = run_script(record)
    tree = ast.parse(text)
    assert {name} <= string_constants(tree)  # the name itself, as text
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "system"]
    assert name not in "\n".join(line.partition("#")[2] for line in text.splitlines())  # never in a comment
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["p.py"])
    scope = {}
    for step in program_steps(*run_origin(record), notebook=False)[:2]:  # imports, settings and options
        exec(compile(step.code, step.title, "exec"), scope)  # noqa: S102 - the program under test
    assert scope["RUN_NAME"] == scope["ARCHITECTURE"] == scope["PARENT_RUN"] == scope["SWEEP"] == name
    assert not (tmp_path / "PWNED").exists()
    book = json.loads(run_notebook(record))
    markdown = "".join("".join(cell["source"]) for cell in book["cells"] if cell["cell_type"] == "markdown")
    assert name not in markdown and "PWNED" not in markdown and "<img" not in markdown
    for cell in (cell for cell in book["cells"] if cell["cell_type"] == "code"):
        ast.parse("".join(cell["source"]))


@pytest.mark.parametrize("changes, error", [
    ({"config": SMALL_CONFIG.to_dict() | {"epochs": "1); __import__('os').system('touch PWNED') #"}}, ConfigError),
    ({"config": SMALL_CONFIG.to_dict() | {"seed; import os": 1}}, ConfigError),
    ({"config": SMALL_CONFIG.to_dict() | {"learning_rate": float("nan")}}, ConfigError),
    ({"spec": [{"type": "Dense", "units": "__import__('os')"}]}, Exception),
    ({"spec": [{"type": "Dense", "units=1); import os #": 1}]}, Exception),
    ({"spec": [{"type": "Dense", "activation": "relu'); import os #"}]}, Exception),
    ({"spec": [{"type": "__import__('os').system"}]}, Exception),
    ({"sweep": {"study": "s", "trial": {"__class__": "x"}}}, ExportError),
    ({"spec": None, "config": None, "architecture": "uploaded"}, ExportError),
])
def test_hostile_or_missing_settings_are_refused_with_a_message(changes, error):
    from mnist_core.errors import DigitLabError

    with pytest.raises(error) as raised:
        run_script(hostile_record("run", **changes))
    assert isinstance(raised.value, DigitLabError) and str(raised.value)


def test_a_fine_tuned_run_starts_from_its_parent_and_a_sweep_run_names_its_sweep():
    fine_tuned = run_script(hostile_record("tuned", parent="20261201-base-0001", sweep=None,
                                           finetune={"mnist_images": 3000}))
    assert "PARENT_RUN = '20261201-base-0001'" in fine_tuned and "keras.saving.load_model(PARENT_MODEL" in fine_tuned
    assert "fine-tuned" in fine_tuned and "SUBSET_SIZE = 3000" in fine_tuned and "keras.Sequential" not in fine_tuned
    trial = run_script(hostile_record("sweep s #3"))
    assert "SWEEP = 'sweep s #3'" in trial and "SWEEP_TRIAL = 3" in trial and "trial 3 of the sweep" in trial


def test_the_cli_writes_script_and_notebook_and_refuses_what_it_cannot_export(small_run, tmp_path):
    registry, record = small_run
    for flags, suffix in (([], ".py"), (["--notebook"], ".ipynb")):
        out = tmp_path / f"run{suffix}"
        done = run_cli("code", record.id, *flags, "--out", str(out), "--json", models=registry.root)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["out"] == str(out)
        assert out.read_text(encoding="utf-8") == (run_notebook if flags else run_script)(record)
    printed = run_cli("code", "--preset", "fast-cnn", models=registry.root)
    assert printed.returncode == 0 and printed.stdout == script(PRESETS["fast-cnn"].spec, PRESETS["fast-cnn"].config,
                                                                Origin("fast-cnn", "fast-cnn"))
    uploaded = registry.import_model("upload", registry.export(record.id))
    for run in ("no-such-run", "../etc", uploaded.id):
        done = run_cli("code", run, models=registry.root)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    other = tmp_path / "other"
    shutil.copytree(Path(registry.root) / record.id, other / record.id)
    hostile = other / record.id / "run.json"
    values = json.loads(hostile.read_text(encoding="utf-8"))
    hostile.write_text(json.dumps(values | {"config": SMALL_CONFIG.to_dict() | {"optimizer": "adam')#"}}))
    done = run_cli("code", record.id, models=other)
    assert done.returncode == 2 and "optimizer" in done.stderr and done.stderr.startswith("error: ")


def test_a_run_trained_on_pad_drawings_says_that_the_program_trains_on_mnist_only():
    drawn, plain = PRESETS["drawn-cnn"], PRESETS["best-cnn"]
    text = script(drawn.spec, drawn.config, Origin(drawn.name, drawn.name))
    assert "1,500 synthetic drawing-pad digits" in text and "this program has MNIST only" in text
    assert "drawing-pad" not in script(plain.spec, plain.config, Origin(plain.name, plain.name))
