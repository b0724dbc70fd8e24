"""Training settings as one validated value; no TensorFlow here, so pages and the CLI can check settings cheaply."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import DigitLabError

OPTIMIZER_CLASSES = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}  # setting -> class in keras.optimizers
OPTIMIZERS = tuple(OPTIMIZER_CLASSES)
SCHEDULES = ("constant", "one-cycle")
WARMUP_FRACTION = 0.25  # one-cycle: linear warm-up over the first quarter of training, then cosine decay to zero
SPARSE_LOSS = "sparse_categorical_crossentropy"
LOSSES = (SPARSE_LOSS, "categorical_crossentropy", "mean_squared_error")
# Keras dtype policies, and "auto": bfloat16 compute only where the CPU runs it natively (``precision`` module).
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
MAX_LEARNING_RATE = 10.0
MAX_EPOCHS = 500
MAX_BATCH_SIZE = 8192
MAX_LABEL_SMOOTHING = 0.5


class ConfigError(DigitLabError, ValueError):
    """Training settings that cannot be used; the message names the setting, the value and the allowed range."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``train`` needs besides the model spec and the data.

    ``subset_size`` trains on a stratified subset of that many training images (``None``: all of them);
    ``steps_per_execution`` runs that many batches per call into TensorFlow (faster on CPU; progress events and stop
    requests are then handled every that many batches); ``precision`` is the Keras dtype policy of every layer but the
    output (``mixed_bfloat16``: compute in bfloat16, keep weights in float32: ~25% faster on CPUs with native
    bfloat16, many times slower on others; ``auto``: bfloat16 only where it is native, and a run records which);
    ``label_smoothing`` moves that share of each target onto the other classes (cross-entropy only): a softer target
    that generalises better in short trainings (one epoch of fast-cnn: +0.15 points).
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    loss: str = "sparse_categorical_crossentropy"
    batch_size: int = 128
    epochs: int = 3
    validation_split: float = 0.1
    seed: int = 42
    early_stopping: bool = False
    patience: int = 3
    restore_best: bool = True
    subset_size: int | None = None
    steps_per_execution: int = 1
    precision: str = "float32"
    label_smoothing: float = 0.0

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
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}.")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict(self.to_dict() | changes)


def one_hot_labels(config: TrainConfig) -> bool:
    """Whether the loss takes one-hot labels (the sparse loss takes class numbers, but cannot smooth them)."""
    return config.loss != SPARSE_LOSS or config.label_smoothing > 0


def require_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}.")


def require_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")


def check_config(config: TrainConfig) -> None:
    """Raise ``ConfigError`` on the first setting out of range or of the wrong type."""
    require_choice("optimizer", config.optimizer, OPTIMIZERS)
    require_choice("lr_schedule", config.lr_schedule, SCHEDULES)
    require_choice("loss", config.loss, LOSSES)
    require_choice("precision", config.precision, PRECISIONS)
    rate = config.learning_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        raise ConfigError(f"learning_rate must be a number, got {rate!r}.")
    if not 0 < rate <= MAX_LEARNING_RATE:
        raise ConfigError(f"learning_rate must be above 0 and at most {MAX_LEARNING_RATE}, got {rate}.")
    require_int("batch_size", config.batch_size, 1, MAX_BATCH_SIZE)
    require_int("epochs", config.epochs, 1, MAX_EPOCHS)
    split = config.validation_split
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ConfigError(f"validation_split must be a fraction in [0, 1) (e.g. 0.1), got {split!r}.")
    require_int("seed", config.seed, 0, 2**31 - 1)
    if not isinstance(config.early_stopping, bool) or not isinstance(config.restore_best, bool):
        raise ConfigError("early_stopping and restore_best must be true or false.")
    require_int("patience", config.patience, 1, MAX_EPOCHS)
    if config.subset_size is not None:
        require_int("subset_size", config.subset_size, 10, 10_000_000)
    require_int("steps_per_execution", config.steps_per_execution, 1, 1000)
    smoothing = config.label_smoothing
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not (
            0 <= smoothing <= MAX_LABEL_SMOOTHING):
        raise ConfigError(f"label_smoothing must be a fraction in [0, {MAX_LABEL_SMOOTHING}] (e.g. 0.1), "
                          f"got {smoothing!r}.")
    if smoothing and config.loss == "mean_squared_error":
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
