"""Search spaces for sweeps, as plain JSON data: a template ("dense" or "cnn") and, for each parameter, a fixed
value, a range (``{"low": .., "high": .., "log": true}``) or ``{"choices": [..]}``.

Parameters are training settings (any row of ``config.SETTINGS``) and the template's architecture knobs (``KNOBS``,
rows of the same kind); each row's type says how a range is searched (whole numbers for an int row, log scale
included). ``suggest`` turns one Optuna trial into a model spec and a ``TrainConfig``. No TensorFlow here, so a page
can check a space instantly; ``check_space`` checks every value the space can give and refuses a bad one, or a
network that would not fit this machine, with a message naming the parameter.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from mnist_core.errors import DigitLabError
from mnist_core.model.architectures import OPTIMIZER_SLOTS, SpecError, check_fits_machine
from mnist_core.model.config import SETTING, ConfigError, Setting, TrainConfig, names, parse_json, shown

TEMPLATES = ("dense", "cnn")
KNOBS = {knob.name: knob for knob in (  # the templates' architecture knobs, checked like training settings
    Setting("dense_blocks", int, None, "Dense (+ Dropout) blocks", low=0, high=8),
    Setting("dense_units", int, None, "units of each Dense block", low=1, high=8192),
    Setting("conv_blocks", int, None, "Conv2D + MaxPooling2D blocks, filters doubling in each", low=1, high=4),
    Setting("conv_filters", int, None, "filters of the first Conv2D", low=1, high=256),
    Setting("kernel_size", int, None, "side of each Conv2D kernel", low=1, high=9),
    Setting("dropout", float, None, "dropout rate after each Dense block (0: none)", low=0.0, high=0.95),
)}
# The knobs of each template and the value used when the space leaves one out (the knobs' own defaults).
TEMPLATE_DEFAULTS = {
    "dense": {"dense_blocks": 1, "dense_units": 64, "dropout": 0.0},
    "cnn": {"conv_blocks": 2, "conv_filters": 16, "kernel_size": 5, "dense_blocks": 1, "dense_units": 128,
            "dropout": 0.0},
}
RANGE_KEYS = {"low", "high", "log"}
MAX_CHOICES = 100
ALL_VALUES_UP_TO = 4  # a knob with at most this many values is tried at each; others at their lowest and highest


class SpaceError(DigitLabError, ValueError):
    """A search space that cannot be used; the message names the parameter and what is wrong."""


QUICK_SPACE = {
    "template": "dense",
    "params": {
        "optimizer": {"choices": ["adam", "rmsprop"]},
        "learning_rate": {"low": 3e-4, "high": 1e-2, "log": True},
        "batch_size": {"choices": [64, 128, 256]},
        "dense_blocks": {"low": 1, "high": 2},
        "dense_units": {"choices": [16, 32, 64]},
        "dropout": {"low": 0.0, "high": 0.3},
        "epochs": 1,
        "subset_size": 5000,
        "validation_split": 0.1,
    },
}
CNN_SPACE = {  # around the fast-cnn preset (2 conv blocks of 16/32 filters, Dense 128, one-cycle Adam)
    "template": "cnn",
    "params": {
        "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
        "batch_size": {"choices": [64, 128, 256]},
        "conv_blocks": {"low": 1, "high": 3},
        "conv_filters": {"choices": [8, 16, 32]},
        "kernel_size": {"choices": [3, 5]},
        "dense_units": {"choices": [64, 128, 256]},
        "dropout": {"low": 0.0, "high": 0.4},
        "optimizer": "adam",
        "lr_schedule": "one-cycle",
        "epochs": 2,
        "validation_split": 0.1,
        "steps_per_execution": 32,
    },
}
BUILT_IN_SPACES = {"quick": QUICK_SPACE, "cnn": CNN_SPACE}


def load_space(source: str) -> dict:
    """A built-in space by name, or a JSON file's space; checked (``SpaceError`` says what is wrong)."""
    if source in BUILT_IN_SPACES:
        return check_space(json.loads(json.dumps(BUILT_IN_SPACES[source])))  # a copy the caller may change
    path = Path(source)
    if not path.is_file():
        raise SpaceError(f"{source!r} is neither a built-in space ({', '.join(BUILT_IN_SPACES)}) nor a JSON file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpaceError(f"{source}: cannot be read ({getattr(error, 'strerror', None) or error}).") from None
    return parse_space(text)


def parse_space(text: str) -> dict:
    """A space from JSON text (a file, the page's editor), checked."""
    return check_space(parse_json(text, "the search space", SpaceError))


def row_of(name: str) -> Setting:
    return SETTING.get(name) or KNOBS[name]


def parameter_values(name: str, value) -> list:
    """Every value one parameter can give that bounds what it can give: a fixed value, each choice, or a range's two
    ends; each checked against the parameter's row (``SpaceError`` names it)."""
    row = row_of(name)
    if not isinstance(value, dict):
        if isinstance(value, list) or (value is None and not row.optional):
            raise SpaceError(f"parameter {name!r}: give a value, a range {{\"low\", \"high\"}} or "
                             f"{{\"choices\": [...]}}, got {shown(value)}.")
        values = [value]
    elif set(value) == {"choices"}:
        values = value["choices"]
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_CHOICES:
            raise SpaceError(f"parameter {name!r}: choices must be a list of 1 to {MAX_CHOICES} values, got "
                             f"{shown(values)}.")
    else:
        values = range_ends(name, value, row)
    for one in values:
        try:
            row.check(one)
        except ConfigError as error:
            raise SpaceError(f"parameter {name!r}: {error}") from None
    if name == "validation_split" and not all(one and one > 0 for one in values):
        raise SpaceError("validation_split must be above 0: trials are scored on validation accuracy.")
    return values


def range_ends(name: str, value: dict, row: Setting) -> list:
    """A range's low and high, once its shape fits the row: numbers (whole for an int row), low < high, log only
    above 0."""
    if not {"low", "high"} <= set(value) <= RANGE_KEYS:
        raise SpaceError(f"parameter {name!r}: a range has \"low\" and \"high\" (and optionally \"log\"); "
                         f"choices are {{\"choices\": [...]}}; got the keys {shown(sorted(map(str, value)))}.")
    if row.choices or row.kind is bool:
        raise SpaceError(f"parameter {name!r} takes {{\"choices\": [...]}}, not a range.")
    low, high, log = value["low"], value["high"], value.get("log", False)
    number = int if row.kind is int else (int, float)
    if not all(isinstance(end, number) and not isinstance(end, bool) and (isinstance(end, int) or math.isfinite(end))
               for end in (low, high)):  # ints of any length compare exactly; math.isfinite would overflow on them
        raise SpaceError(f"parameter {name!r}: low and high must be {'whole ' if row.kind is int else ''}numbers, "
                         f"got {shown(low)}, {shown(high)}.")
    if not low < high:
        raise SpaceError(f"parameter {name!r}: low and high must be numbers with low < high, got {shown(low)}, "
                         f"{shown(high)}.")
    if not isinstance(log, bool) or (log and low <= 0):
        raise SpaceError(f"parameter {name!r}: log must be true or false, and a log range needs low > 0.")
    return [low, high]


def tried_values(name: str, values: list, value) -> list:
    """The values of a knob the architecture is tried at: all of them when there are at most ``ALL_VALUES_UP_TO``
    (conv_blocks trades convolutions for the Flatten's size), else the lowest and highest (the rest lie between)."""
    if isinstance(value, dict) and "choices" not in value and row_of(name).kind is int:
        values = list(range(value["low"], value["high"] + 1)) if value["high"] - value["low"] < ALL_VALUES_UP_TO \
            else values
    distinct = sorted(set(values))
    return distinct if len(distinct) <= ALL_VALUES_UP_TO else [distinct[0], distinct[-1]]


def check_space(space) -> dict:
    """Return ``space`` if it is usable: known template and parameters, and every value each parameter can give
    allowed by its row; every training setting with every other (two at a time: rules such as label smoothing with
    the loss); and the network at every combination of its knobs' tried values, with the largest batch and the
    hungriest optimizer, built and fitting this machine (``check_fits_machine``)."""
    if not isinstance(space, dict) or set(space) != {"template", "params"}:
        raise SpaceError("a search space is an object with \"template\" and \"params\".")
    if not isinstance(space["template"], str) or space["template"] not in TEMPLATES:
        raise SpaceError(f"template must be one of {', '.join(TEMPLATES)}, got {shown(space['template'])}.")
    params = space["params"]
    if not isinstance(params, dict):
        raise SpaceError("\"params\" must be an object of parameter name → value, range or choices.")
    known = set(SETTING) | set(TEMPLATE_DEFAULTS[space["template"]])
    unknown = set(params) - known
    if unknown:
        raise SpaceError(f"unknown parameter(s) {names(unknown)} for the "
                         f"{space['template']} template; known: {', '.join(sorted(known))}.")
    values = {name: parameter_values(name, value) for name, value in params.items()}
    settings = {name: found for name, found in values.items() if name in SETTING}
    for chosen in pairs(settings):
        training_config(chosen)
    knobs = {name: tried_values(name, found, params[name]) for name, found in values.items() if name in KNOBS}
    heaviest = {"batch_size": max(settings.get("batch_size", [SETTING["batch_size"].default])),
                "optimizer": max(settings.get("optimizer", [SETTING["optimizer"].default]), key=OPTIMIZER_SLOTS.get)}
    for combination in itertools.product(*knobs.values()):
        chosen = dict(zip(knobs, combination, strict=True))
        where = ", ".join(f"{name}={value}" for name, value in chosen.items()) or "the template's defaults"
        try:
            build_settings(space["template"], {name: found[0] for name, found in settings.items()} | heaviest | chosen)
        except SpaceError as error:
            raise SpaceError(f"with {where}, batch_size={heaviest['batch_size']}: {error}") from None
    return space


def pairs(values: dict[str, list]):
    """Each parameter at its first value, then every value of one and every two values of two of them: every rule
    between two settings is met without trying the whole product."""
    first = {name: found[0] for name, found in values.items()}
    yield first
    varied = [name for name, found in values.items() if len(found) > 1]
    for name in varied:
        yield from (first | {name: one} for one in values[name][1:])
    for one, other in itertools.combinations(varied, 2):
        yield from (first | {one: a, other: b} for a, b in itertools.product(values[one], values[other]))


def training_config(chosen: dict) -> TrainConfig:
    try:
        return TrainConfig.from_dict({key: value for key, value in chosen.items() if key in SETTING})
    except ConfigError as error:
        raise SpaceError(f"a training setting in the space is out of range: {error}") from None


def build_settings(template: str, chosen: dict) -> tuple[list, TrainConfig]:
    """The model spec and training config for one choice of every parameter, refused (``SpaceError``) when a value
    is out of its row, the network cannot be built or does not fit this machine."""
    knobs = TEMPLATE_DEFAULTS[template] | {key: value for key, value in chosen.items() if key not in SETTING}
    for name, value in knobs.items():
        try:
            KNOBS[name].check(value)
        except ConfigError as error:
            raise SpaceError(f"parameter {name!r}: {error}") from None
    config = training_config(chosen)
    spec = template_spec(template, knobs)
    try:
        check_fits_machine(spec, config)
    except (SpecError, ConfigError) as error:
        raise SpaceError(f"the network cannot be trained here: {error}") from None
    return spec, config


def dense_blocks(knobs: dict) -> list[dict]:
    layer = [{"type": "Dense", "units": knobs["dense_units"], "activation": "relu"}]
    dropout = [{"type": "Dropout", "rate": knobs["dropout"]}] if knobs["dropout"] > 0 else []
    return (layer + dropout) * knobs["dense_blocks"]


def template_spec(template: str, knobs: dict) -> list[dict]:
    """Dense: blocks of Dense(units) [+ Dropout]. CNN: blocks of Conv2D('same', filters doubling per block) +
    MaxPool, then Flatten and the dense blocks."""
    if template == "dense":
        return dense_blocks(knobs)
    convolutions = []
    for block in range(knobs["conv_blocks"]):
        convolutions += [{"type": "Conv2D", "filters": knobs["conv_filters"] * 2 ** block,
                          "kernel_size": knobs["kernel_size"], "padding": "same", "activation": "relu"},
                         {"type": "MaxPooling2D", "pool_size": 2}]
    return convolutions + [{"type": "Flatten"}] + dense_blocks(knobs)


def suggest(trial, space: dict) -> tuple[list, TrainConfig]:
    """Ask an Optuna trial for every parameter of ``space`` (a range as its row's type: whole numbers for an int
    row, on a log scale when asked); fixed values are used as they are."""
    chosen = {}
    for name, value in space["params"].items():
        if not isinstance(value, dict):
            chosen[name] = value
        elif "choices" in value:
            chosen[name] = trial.suggest_categorical(name, value["choices"])
        elif row_of(name).kind is int:
            chosen[name] = trial.suggest_int(name, value["low"], value["high"], log=value.get("log", False))
        else:
            chosen[name] = trial.suggest_float(name, value["low"], value["high"], log=value.get("log", False))
    return build_settings(space["template"], chosen)


def space_rows(space: dict) -> list[dict]:
    """One row per parameter (name, kind, range or choices), for a table on the page or in the CLI."""
    rows = []
    for name, value in space["params"].items():
        if isinstance(value, dict) and "choices" in value:
            rows.append({"parameter": name, "searched": "choices", "values": ", ".join(map(str, value["choices"]))})
        elif isinstance(value, dict):
            scale = "log range" if value.get("log") else "range"
            rows.append({"parameter": name, "searched": scale, "values": f"{value['low']} … {value['high']}"})
        else:
            rows.append({"parameter": name, "searched": "fixed", "values": str(value)})
    return rows
