"""Search spaces for sweeps, as plain JSON data: a template ("dense" or "cnn") and, for each parameter, a fixed
value, a range (``{"low": .., "high": .., "log": true}``; whole numbers when both ends are) or ``{"choices": [..]}``.

Parameters are training settings (any ``TrainConfig`` field) and the template's architecture knobs; ``suggest``
turns one Optuna trial into a model spec and a ``TrainConfig``. No TensorFlow here, so a page can check a space
instantly; ``check_space`` refuses a bad one with a message naming the parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

from .architectures import SpecError, summarize_spec
from .config import ConfigError, TrainConfig
from .errors import DigitLabError

TEMPLATES = ("dense", "cnn")
# Architecture knobs of each template and the value used when the space leaves one out.
TEMPLATE_DEFAULTS = {
    "dense": {"dense_blocks": 1, "dense_units": 64, "dropout": 0.0},
    "cnn": {"conv_blocks": 2, "conv_filters": 16, "kernel_size": 5, "dense_blocks": 1, "dense_units": 128,
            "dropout": 0.0},
}
KNOB_LIMITS = {"dense_blocks": (0, 8), "dense_units": (1, 8192), "conv_blocks": (1, 4), "conv_filters": (1, 256),
               "kernel_size": (1, 9)}  # whole-number knobs and their bounds; dropout is a rate in [0, 0.95]
MAX_DROPOUT = 0.95
TRAINING_SETTINGS = tuple(setting.name for setting in fields(TrainConfig))
RANGE_KEYS = {"low", "high", "log"}


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
    try:
        space = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpaceError(f"the search space is not valid JSON ({error}).") from None
    return check_space(space)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_parameter(name: str, value) -> None:
    """One parameter's shape: a fixed JSON value, a numeric range or a non-empty list of choices."""
    if not isinstance(value, dict):
        if isinstance(value, (list, type(None))) and name != "subset_size":
            raise SpaceError(f"parameter {name!r}: give a value, a range {{\"low\", \"high\"}} or "
                             f"{{\"choices\": [...]}}, got {value!r}.")
        return
    if set(value) == {"choices"}:
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"parameter {name!r}: choices must be a non-empty list, got {choices!r}.")
        if any(isinstance(choice, (dict, list)) for choice in choices):
            raise SpaceError(f"parameter {name!r}: choices must be plain values (numbers, text, true/false).")
        return
    if not {"low", "high"} <= set(value) <= RANGE_KEYS:
        raise SpaceError(f"parameter {name!r}: a range has \"low\" and \"high\" (and optionally \"log\"); "
                         f"choices are {{\"choices\": [...]}}; got the keys {sorted(value)}.")
    low, high, log = value["low"], value["high"], value.get("log", False)
    if not is_number(low) or not is_number(high) or not low < high:
        raise SpaceError(f"parameter {name!r}: low and high must be numbers with low < high, got {low!r}, {high!r}.")
    if not isinstance(log, bool) or (log and low <= 0):
        raise SpaceError(f"parameter {name!r}: log must be true or false, and a log range needs low > 0.")


def check_space(space) -> dict:
    """Return ``space`` if it is usable: known template and parameters, well-formed ranges, and its smallest and
    largest settings give a valid model and training config (validation data is required to score trials)."""
    if not isinstance(space, dict) or set(space) != {"template", "params"}:
        raise SpaceError("a search space is an object with \"template\" and \"params\".")
    if space["template"] not in TEMPLATES:
        raise SpaceError(f"template must be one of {', '.join(TEMPLATES)}, got {space['template']!r}.")
    params = space["params"]
    if not isinstance(params, dict):
        raise SpaceError("\"params\" must be an object of parameter name → value, range or choices.")
    known = set(TRAINING_SETTINGS) | set(TEMPLATE_DEFAULTS[space["template"]])
    unknown = set(params) - known
    if unknown:
        raise SpaceError(f"unknown parameter(s) {', '.join(sorted(unknown))} for the {space['template']} template; "
                         f"known: {', '.join(sorted(known))}.")
    for name, value in params.items():
        check_parameter(name, value)
    for corner in (0, -1):  # every range at its low end and first choice, then high ends and last choices
        spec, config = settings_at(space, corner)
        if config.validation_split <= 0:
            raise SpaceError("validation_split must be above 0: trials are scored on validation accuracy.")
        try:
            summarize_spec(spec)
        except SpecError as error:
            raise SpaceError(f"the architecture at the {'low' if corner == 0 else 'high'} end of the ranges cannot "
                             f"be built: {error}") from None
    return space


def settings_at(space: dict, corner: int) -> tuple[list, TrainConfig]:
    """The spec and config with every range at its low (``corner`` 0) or high (-1) end."""
    chosen = {}
    for name, value in space["params"].items():
        if isinstance(value, dict) and "choices" in value:
            chosen[name] = value["choices"][corner]
        elif isinstance(value, dict):
            chosen[name] = value["low"] if corner == 0 else value["high"]
        else:
            chosen[name] = value
    return build_settings(space["template"], chosen)


def build_settings(template: str, chosen: dict) -> tuple[list, TrainConfig]:
    """The model spec and training config for one choice of every parameter (``ConfigError`` → ``SpaceError``)."""
    knobs = TEMPLATE_DEFAULTS[template] | {key: value for key, value in chosen.items() if key not in TRAINING_SETTINGS}
    check_knobs(knobs)
    try:
        config = TrainConfig.from_dict({key: value for key, value in chosen.items() if key in TRAINING_SETTINGS})
    except ConfigError as error:
        raise SpaceError(f"a training setting in the space is out of range: {error}") from None
    return template_spec(template, knobs), config


def check_knobs(knobs: dict) -> None:
    """Architecture knobs must be whole numbers within ``KNOB_LIMITS`` and a dropout rate within [0, 0.95]."""
    for name, value in knobs.items():
        if name == "dropout":
            if not is_number(value) or not 0 <= value <= MAX_DROPOUT:
                raise SpaceError(f"parameter 'dropout' must be a rate from 0 to {MAX_DROPOUT}, got {value!r}.")
            continue
        low, high = KNOB_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SpaceError(f"parameter {name!r} must be a whole number from {low} to {high}, got {value!r}.")


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
    """Ask an Optuna trial for every parameter of ``space``; fixed values are used as they are."""
    chosen = {}
    for name, value in space["params"].items():
        if not isinstance(value, dict):
            chosen[name] = value
        elif "choices" in value:
            chosen[name] = trial.suggest_categorical(name, value["choices"])
        elif isinstance(value["low"], int) and isinstance(value["high"], int) and not value.get("log", False):
            chosen[name] = trial.suggest_int(name, value["low"], value["high"])
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
