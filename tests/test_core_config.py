"""Training settings (mnist_core/config.py): every bad value is refused naming the setting, the same through the
constructor and through ``replace`` (the path run.json records and the CLI take), and settings that do not fit the
data are refused before training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_core.config import MAX_LEARNING_RATE, ConfigError, TrainConfig
from mnist_core.training import prepare_data

BAD_SETTINGS = [
    ({"epochs": 0}, "epochs must be between 1 and 500, got 0"),
    ({"epochs": -3}, "epochs must be between 1 and 500, got -3"),
    ({"epochs": 501}, "epochs must be between 1 and 500"),
    ({"epochs": 2.5}, "epochs must be a whole number, got 2.5"),
    ({"epochs": "3"}, "epochs must be a whole number, got '3'"),
    ({"epochs": True}, "epochs must be a whole number, got True"),
    ({"epochs": None}, "epochs must be a whole number, got None"),
    ({"batch_size": 0}, "batch_size must be between 1"),
    ({"batch_size": 10**6}, "batch_size must be between 1 and 8192"),
    ({"batch_size": False}, "batch_size must be a whole number, got False"),
    ({"batch_size": "64"}, "batch_size must be a whole number"),
    ({"learning_rate": 0}, "learning_rate must be above 0"),
    ({"learning_rate": 0.0}, "learning_rate must be above 0"),
    ({"learning_rate": -1e-3}, "learning_rate must be above 0"),
    ({"learning_rate": float("nan")}, "learning_rate must be a number, got nan"),
    ({"learning_rate": float("inf")}, "learning_rate must be a number, got inf"),
    ({"learning_rate": MAX_LEARNING_RATE * 1.01}, f"at most {MAX_LEARNING_RATE}"),
    ({"learning_rate": 1e300}, f"at most {MAX_LEARNING_RATE}"),
    ({"learning_rate": "0.01"}, "learning_rate must be a number, got '0.01'"),
    ({"learning_rate": True}, "learning_rate must be a number, got True"),
    ({"validation_split": 1}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": 1.0}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": 1.5}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": -0.1}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": float("nan")}, "validation_split must be a fraction in [0, 1)"),
    ({"validation_split": "0.1"}, "validation_split must be a fraction"),
    ({"validation_split": True}, "validation_split must be a fraction"),
    ({"optimizer": "adamw"}, "optimizer must be one of adam, rmsprop, sgd, got 'adamw'"),
    ({"optimizer": "ADAM"}, "optimizer must be one of adam, rmsprop, sgd, got 'ADAM'"),
    ({"optimizer": "adagrad"}, "optimizer must be one of adam, rmsprop, sgd"),
    ({"optimizer": ""}, "optimizer must be one of"),
    ({"optimizer": None}, "optimizer must be one of"),
    ({"lr_schedule": "cosine"}, "lr_schedule must be one of constant, one-cycle"),
    ({"loss": "hinge"}, "loss must be one of"),
    ({"early_stopping": "yes"}, "early_stopping and restore_best must be true or false"),
    ({"early_stopping": 1}, "early_stopping and restore_best must be true or false"),
    ({"restore_best": "no"}, "early_stopping and restore_best must be true or false"),
    ({"patience": 0}, "patience must be between 1"),
    ({"seed": -1}, "seed must be between 0"),
    ({"seed": "42"}, "seed must be a whole number"),
    ({"subset_size": 5}, "subset_size must be between 10"),
    ({"subset_size": "1000"}, "subset_size must be a whole number"),
    ({"steps_per_execution": 0}, "steps_per_execution must be between 1"),
    ({"precision": "float16"}, "precision must be one of auto, float32, mixed_bfloat16, got 'float16'"),
    ({"label_smoothing": -0.1}, "label_smoothing must be a fraction in [0, 0.5] (e.g. 0.1), got -0.1"),
    ({"label_smoothing": 0.6}, "label_smoothing must be a fraction in [0, 0.5]"),
    ({"label_smoothing": float("nan")}, "label_smoothing must be a fraction in [0, 0.5]"),
    ({"label_smoothing": True}, "label_smoothing must be a fraction"),
    ({"label_smoothing": "0.1"}, "label_smoothing must be a fraction"),
    ({"label_smoothing": 0.1, "loss": "mean_squared_error"}, "label_smoothing applies to the cross-entropy losses"),
]


@pytest.mark.parametrize("changes, message", BAD_SETTINGS, ids=[repr(c)[1:-1] for c, _ in BAD_SETTINGS])
def test_train_config_refuses_bad_settings_naming_them(changes, message):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**changes)
    assert message in str(error.value)
    with pytest.raises(ConfigError) as again:  # the same through the path JSON records and the CLI take
        TrainConfig().replace(**changes)
    assert message in str(again.value)


def test_numpy_numbers_are_accepted_as_plain_python_values():
    config = TrainConfig(epochs=np.int64(2), batch_size=np.int32(64), learning_rate=np.float32(0.5),
                         validation_split=np.float64(0.2), early_stopping=np.bool_(True))
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()  # run.json can hold it
    assert type(config.epochs) is int and type(config.learning_rate) is float and config.early_stopping is True
    with pytest.raises(ConfigError, match="epochs must be between 1 and 500, got 0"):
        TrainConfig(epochs=np.int64(0))
    with pytest.raises(ConfigError, match="learning_rate must be a number, got nan"):
        TrainConfig(learning_rate=np.float32("nan"))
    with pytest.raises(ConfigError, match="epochs must be a whole number"):
        TrainConfig(epochs=np.array([1, 2]))


def test_a_record_from_before_label_smoothing_loads_without_it():
    saved = TrainConfig().to_dict()
    del saved["label_smoothing"]
    assert TrainConfig.from_dict(saved).label_smoothing == 0.0


def test_unknown_setting_names_are_refused_not_ignored():
    with pytest.raises(ConfigError, match="unknown training setting.*learning_rte"):
        TrainConfig.from_dict({"learning_rte": 0.1})


@pytest.mark.parametrize("changes, message", [
    ({"subset_size": 100, "batch_size": 500}, "batch_size 500 is larger than the 90 training images"),
    ({"batch_size": 1000, "subset_size": 1000, "validation_split": 0.1},
     "batch_size 1000 is larger than the 900 training images"),
    ({"batch_size": 8192, "subset_size": 1000, "validation_split": 0.5}, "batch_size 8192 is larger than the 500"),
    ({"subset_size": 100_000}, "subset_size 100000 is larger than the 60000 training images"),
    ({"subset_size": 10, "validation_split": 0.99}, "validation_split 0.99 leaves no training images out of 10"),
])
def test_a_batch_or_split_that_does_not_fit_the_data_is_refused(mnist, changes, message):
    with pytest.raises(ConfigError) as error:
        prepare_data(mnist, TrainConfig(**changes))
    assert message in str(error.value)

