"""Training settings: one table (``SETTINGS``) of every setting's name, type, range or choices, default, help and CLI
flag, from which come the ``TrainConfig`` record and its checks, the Train page's widgets, the CLI's train flags and
the sweep spaces' checks; and the machine's limits (``LIMITS``: parameters, memory) that a network with its batch
must fit. No TensorFlow here, so pages and the CLI can check settings cheaply."""

from __future__ import annotations

import json
import math
import os
import reprlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from mnist_core.errors import DigitLabError
from mnist_core.model.checks import MAX_PARAMS

OPTIMIZER_CLASSES = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}  # setting -> class in keras.optimizers
OPTIMIZERS = tuple(OPTIMIZER_CLASSES)
SCHEDULES = ("constant", "one-cycle")
WARMUP_FRACTION = 0.25  # one-cycle: linear warm-up over the first quarter of training, then cosine decay to zero
SPARSE_LOSS = "sparse_categorical_crossentropy"
LOSSES = (SPARSE_LOSS, "categorical_crossentropy", "mean_squared_error")
# Keras dtype policies, and "auto": bfloat16 compute only where the CPU runs it natively (``precision`` module).
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
SHOWN = reprlib.Repr()  # a refused value is quoted briefly: a 400-digit number or a deep list is cut short
SHOWN.maxlevel, SHOWN.maxstring, SHOWN.maxlong, SHOWN.maxother = 3, 40, 40, 40
MAX_JSON_DEPTH = 8  # a search space nests 4 levels (space, params, a range, its choices), a spec 3


class ConfigError(DigitLabError, ValueError):
    """Training settings that cannot be used; the message names the setting, the value and the allowed range."""


def shown(value) -> str:
    """``repr(value)``, cut short: messages stay one readable line whatever was typed."""
    return SHOWN.repr(value)


def names(unknown) -> str:
    """Names a user gave (JSON keys, so text), sorted and each cut short, for a message."""
    return ", ".join(sorted(str(name)[:SHOWN.maxstring] for name in unknown))


def parse_json(text: str, what: str, error: type[DigitLabError]):
    """JSON text a user wrote (a spec, a search space) as Python values, or ``error`` saying why it cannot be: not
    JSON, a number too long to read, or nesting deeper than ``MAX_JSON_DEPTH`` (checked without recursion)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{what} is nested too deeply (at most {MAX_JSON_DEPTH} levels).") from None
    except json.JSONDecodeError as problem:
        raise error(f"{what} is not valid JSON ({problem}).") from None
    except ValueError:  # Python reads integers of at most 4,300 digits
        raise error(f"{what} holds a number with too many digits to be a setting.") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise error(f"{what} is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return value


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: a value's name, type (``kind``: int, float, bool or str), allowed range
    (``low``/``high``; ``low_excluded``: above ``low``) or ``choices``, default, help, and how the Train page shows it
    (``label``, number ``step`` and ``number_format``, under "More settings" when ``advanced``, enabled only when the
    bool setting ``needs`` is on). ``optional``: None is allowed too (``subset_size``: all images). The CLI flag is
    ``flag``; a machine limit (``env`` set) is no flag but an environment variable of the server's owner."""

    name: str
    kind: type
    default: object
    help: str
    label: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    low_excluded: bool = False
    optional: bool = False
    step: float | None = None
    number_format: str | None = None
    advanced: bool = False
    needs: str | None = None
    env: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def allowed(self) -> str:
        """The allowed values in words: "between 1 and 500", "above 0 and at most 10", "one of adam, rmsprop, sgd"."""
        if self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind is bool:
            return "true or false"
        if self.low_excluded:
            return f"above {self.low:g} and at most {self.high:g}"
        low, high = (f"{self.low:g}", f"{self.high:g}") if self.kind is float else (self.low, self.high)
        return f"between {low} and {high}"

    def check(self, value) -> None:
        """Raise ``ConfigError`` naming the setting when ``value`` is not one it allows."""
        if value is None and self.optional:
            return
        if self.choices:
            if isinstance(value, (str, int, float)) and value in self.choices:
                return
            raise ConfigError(f"{self.name} must be {self.allowed}, got {shown(value)}.")
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.name} must be true or false, got {shown(value)}.")
            return
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{self.name} must be a whole number, got {shown(value)}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not math.isfinite(value)):  # ints compare exactly, however long
            raise ConfigError(f"{self.name} must be a number, got {shown(value)}.")
        too_low = value <= self.low if self.low_excluded else value < self.low
        if too_low or value > self.high:
            raise ConfigError(f"{self.name} must be {self.allowed}, got {shown(value)}.")


MAX_EPOCHS = 500
SETTINGS = (
    Setting("optimizer", str, "adam", "how the weights follow the gradient", "Optimizer", choices=OPTIMIZERS),
    Setting("learning_rate", float, 1e-3, "size of each step (the peak of the one-cycle schedule)", "Learning rate",
            low=0.0, high=10.0, low_excluded=True, step=0.0005, number_format="%.5f"),
    Setting("lr_schedule", str, "constant", "constant rate, or one-cycle: a linear warm-up over the first quarter "
            "then cosine decay to zero", "Learning-rate schedule", choices=SCHEDULES),
    Setting("loss", str, "sparse_categorical_crossentropy", "what training minimises", "Loss", choices=LOSSES,
            advanced=True),
    Setting("batch_size", int, 128, "images per gradient step; memory grows with it", "Batch size",
            low=1, high=8192),
    Setting("epochs", int, 3, "passes over the training images", "Epochs", low=1, high=MAX_EPOCHS),
    Setting("validation_split", float, 0.1, "share of the training images held out to validate each epoch",
            "Validation split", low=0.0, high=0.9, step=0.05, number_format="%.2f"),
    Setting("seed", int, 42, "seed of the subset, the split, the shuffling and the initial weights", "Seed",
            low=0, high=2**31 - 1),
    Setting("early_stopping", bool, False, "stop when the validation loss has not improved for `patience` epochs",
            "Early stopping"),
    Setting("patience", int, 3, "epochs without a better validation loss before stopping", "Patience",
            low=1, high=MAX_EPOCHS, needs="early_stopping"),
    Setting("restore_best", bool, True, "after early stopping, keep the weights of the best epoch",
            "Restore the best epoch", advanced=True, needs="early_stopping"),
    Setting("subset_size", int, None, "train on a stratified subset of this many training images (none: all)",
            "Training subset size", low=10, high=10_000_000, optional=True, step=1000),
    Setting("steps_per_execution", int, 1, "batches per call into TensorFlow: faster on CPU; progress and Stop are "
            "then handled every that many batches", "Steps per execution", low=1, high=1000, advanced=True),
    Setting("precision", str, "float32", "Keras dtype policy of every layer but the output. mixed_bfloat16 computes "
            "in bfloat16: faster on CPUs that have it natively (AVX512-BF16, AMX), many times slower on others. auto "
            "uses it only where it is native; the run records what it used", "Precision", choices=PRECISIONS),
    Setting("label_smoothing", float, 0.0, "share of each target moved onto the other classes (cross-entropy only): "
            "a softer target that generalises better in short trainings", "Label smoothing", low=0.0, high=0.5,
            step=0.05, number_format="%.2f"),
    Setting("drawings_per_digit", int, 0, "add this many synthetic drawing-pad digits of every class (everyday writing "
            "styles, slants and stroke widths; mnist_core.training.drawings) to the training images",
            "Pad drawings per digit", low=0, high=20_000, advanced=True, step=500),
)
SETTING = {setting.name: setting for setting in SETTINGS}
MEMORY_SHARE = 0.5  # of the machine's memory, for one training's weights and batches; the rest stays for the server
CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")  # a container's limit, when it is lower than the machine's


def machine_memory_mb() -> int:
    """Memory of this machine in MB, or of its container where that is limited (cgroup v2)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = CGROUP_MEMORY_MAX.read_text().strip()
        total = min(total, int(limit)) if limit.isdigit() else total
    except OSError:
        pass
    return total // 2**20


LIMITS = (
    Setting("max_params", int, MAX_PARAMS, "the most parameters a network may hold: a saved model with more could "
            "not be loaded back", low=1_000, high=MAX_PARAMS, env="DIGIT_LAB_MAX_PARAMS"),
    Setting("memory_budget_mb", int, int(machine_memory_mb() * MEMORY_SHARE), "MB that one training's weights, "
            "optimizer state and batch activations may take (default: half of this machine's memory)",
            low=64, high=2**31, env="DIGIT_LAB_MEMORY_BUDGET_MB"),
)


@dataclass(frozen=True)
class Limits:
    """This server's limits on what a training may ask for (``LIMITS``, each overridable by its environment
    variable)."""

    max_params: int
    memory_budget_mb: int


def machine_limits() -> Limits:
    """The limits in force: each ``LIMITS`` row's environment variable where set (checked), else its default."""
    values = {}
    for limit in LIMITS:
        text = os.environ.get(limit.env, "").strip()
        if not text:
            values[limit.name] = limit.default
            continue
        value = int(text) if text.isdigit() else text
        try:
            limit.check(value)
        except ConfigError as error:
            raise ConfigError(f"${limit.env}: {error}") from None
        values[limit.name] = value
    return Limits(**values)


def from_table(cls):
    """Give ``cls`` one field per ``SETTINGS`` row, with its default, and make it a frozen dataclass."""
    cls.__annotations__ = {setting.name: f"{setting.kind.__name__}{' | None' if setting.optional else ''}"
                           for setting in SETTINGS}
    for setting in SETTINGS:
        setattr(cls, setting.name, setting.default)
    return dataclass(frozen=True)(cls)


@from_table
class TrainConfig:
    """Everything ``train`` needs besides the model spec and the data: one value of every row of ``SETTINGS``
    (fields, defaults, ranges and help come from the table), checked when made."""

    def __post_init__(self):
        for setting in fields(self):  # NumPy scalars (from a DataFrame, a slider over an array) become plain
            value = getattr(self, setting.name)  # Python values, so checks and run.json see ints, floats, bools
            if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
                object.__setattr__(self, setting.name, value.item())
        check_config(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a dict (a JSON record, CLI options); unknown keys are an error, missing ones take defaults."""
        unknown = set(values) - set(SETTING)
        if unknown:
            raise ConfigError(f"unknown training setting(s): {names(unknown)}.")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict(self.to_dict() | changes)


def one_hot_labels(config: TrainConfig) -> bool:
    """Whether the loss takes one-hot labels (the sparse loss takes class numbers, but cannot smooth them)."""
    return config.loss != SPARSE_LOSS or config.label_smoothing > 0


def check_config(config: TrainConfig) -> None:
    """Raise ``ConfigError`` on the first setting outside its row of ``SETTINGS``, or a combination that cannot be."""
    for setting in SETTINGS:
        setting.check(getattr(config, setting.name))
    if config.label_smoothing and config.loss == "mean_squared_error":
        raise ConfigError("label_smoothing applies to the cross-entropy losses only, not to mean_squared_error.")


def check_fits_data(config: TrainConfig, train_count: int) -> int:
    """Number of images left for training after subset and validation split; raises when a batch cannot be filled."""
    if config.subset_size is not None and config.subset_size > train_count:
        raise ConfigError(f"subset_size {config.subset_size} is larger than the {train_count} training images.")
    available = config.subset_size or train_count
    fitting = available - int(round(available * config.validation_split))
    if fitting < 1:
        raise ConfigError(f"validation_split {config.validation_split} leaves no training images out of {available}.")
    if config.batch_size > fitting:
        raise ConfigError(f"batch_size {config.batch_size} is larger than the {fitting} training images "
                          "(after subset and validation split); lower it or use more data.")
    return fitting
