"""Training settings (mnist_core/model/config.py): every bad value is refused naming the setting, the same through the
constructor and through ``replace`` (the path run.json records and the CLI take), and settings that do not fit the
data are refused before training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_core.model.config import ConfigError, TrainConfig
from mnist_core.training.loop import prepare_data

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
    ({"learning_rate": 10.1}, "learning_rate must be above 0 and at most 10, got 10.1"),
    ({"learning_rate": 1e300}, "at most 10"),
    ({"learning_rate": 10**400}, "at most 10, got 100000000000000000...0000000000000000000."),  # no overflow
    ({"epochs": 10**9}, "epochs must be between 1 and 500, got 1000000000"),
    ({"epochs": 10**400}, "epochs must be between 1 and 500, got 100000000000000000...0000000000000000000."),
    ({"learning_rate": "0.01"}, "learning_rate must be a number, got '0.01'"),
    ({"learning_rate": True}, "learning_rate must be a number, got True"),
    ({"validation_split": 1}, "validation_split must be between 0 and 0.9, got 1"),
    ({"validation_split": 0.95}, "validation_split must be between 0 and 0.9, got 0.95"),
    ({"validation_split": 1.5}, "validation_split must be between 0 and 0.9"),
    ({"validation_split": -0.1}, "validation_split must be between 0 and 0.9"),
    ({"validation_split": float("nan")}, "validation_split must be a number, got nan"),
    ({"validation_split": "0.1"}, "validation_split must be a number, got '0.1'"),
    ({"validation_split": True}, "validation_split must be a number, got True"),
    ({"optimizer": "adamw"}, "optimizer must be one of adam, rmsprop, sgd, got 'adamw'"),
    ({"optimizer": "ADAM"}, "optimizer must be one of adam, rmsprop, sgd, got 'ADAM'"),
    ({"optimizer": "adagrad"}, "optimizer must be one of adam, rmsprop, sgd"),
    ({"optimizer": ""}, "optimizer must be one of"),
    ({"optimizer": None}, "optimizer must be one of"),
    ({"optimizer": ["adam"]}, "optimizer must be one of adam, rmsprop, sgd, got ['adam']"),
    ({"lr_schedule": "cosine"}, "lr_schedule must be one of constant, one-cycle"),
    ({"loss": "hinge"}, "loss must be one of"),
    ({"early_stopping": "yes"}, "early_stopping must be true or false, got 'yes'"),
    ({"early_stopping": 1}, "early_stopping must be true or false, got 1"),
    ({"restore_best": "no"}, "restore_best must be true or false"),
    ({"patience": 0}, "patience must be between 1"),
    ({"seed": -1}, "seed must be between 0"),
    ({"seed": "42"}, "seed must be a whole number"),
    ({"subset_size": 5}, "subset_size must be between 10"),
    ({"subset_size": "1000"}, "subset_size must be a whole number"),
    ({"steps_per_execution": 0}, "steps_per_execution must be between 1"),
    ({"precision": "float16"}, "precision must be one of auto, float32, mixed_bfloat16, got 'float16'"),
    ({"label_smoothing": -0.1}, "label_smoothing must be between 0 and 0.5, got -0.1"),
    ({"label_smoothing": 0.6}, "label_smoothing must be between 0 and 0.5"),
    ({"label_smoothing": float("nan")}, "label_smoothing must be a number, got nan"),
    ({"label_smoothing": True}, "label_smoothing must be a number"),
    ({"label_smoothing": "0.1"}, "label_smoothing must be a number"),
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
    ({"subset_size": 10, "validation_split": 0.9}, "batch_size 128 is larger than the 1 training images"),
])
def test_a_batch_or_split_that_does_not_fit_the_data_is_refused(mnist, changes, message):
    with pytest.raises(ConfigError) as error:
        prepare_data(mnist, TrainConfig(**changes))
    assert message in str(error.value)



# --- the settings table ---------------------------------------------------------------------------------------------


def test_train_config_is_made_from_the_settings_table():
    from dataclasses import fields

    from mnist_core.model.config import SETTINGS

    assert [field.name for field in fields(TrainConfig)] == [setting.name for setting in SETTINGS]
    assert TrainConfig().to_dict() == {setting.name: setting.default for setting in SETTINGS}
    for setting in SETTINGS:
        assert setting.help and setting.label and setting.flag == "--" + setting.name.replace("_", "-")
        setting.check(setting.default)
        if setting.needs is not None:
            assert SETTINGS.index(setting) > SETTINGS.index(next(s for s in SETTINGS if s.name == setting.needs))


def test_every_number_setting_is_refused_just_outside_its_range_and_accepted_at_its_ends():
    from mnist_core.model.config import SETTINGS

    for setting in (setting for setting in SETTINGS if setting.kind in (int, float)):
        step = 1 if setting.kind is int else 1e-9
        TrainConfig(**{setting.name: setting.high})
        if not setting.low_excluded:
            TrainConfig(**{setting.name: setting.low})
        for outside in (setting.low - step * (not setting.low_excluded), setting.high + step):
            with pytest.raises(ConfigError, match=f"^{setting.name} must be "):
                TrainConfig(**{setting.name: setting.kind(outside)})


def test_user_json_that_is_too_long_or_too_deep_gets_one_clear_message():
    from mnist_core.model.config import MAX_JSON_DEPTH, parse_json

    assert parse_json('[{"units": ' + "1" * 400 + "}]", "the spec", ConfigError) == [{"units": int("1" * 400)}]
    for text, message in [("1" * 5000, "the spec holds a number with too many digits"),
                          ("[" * 100_000 + "]" * 100_000, "the spec is nested too deeply"),
                          ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "the spec is nested too deeply"),
                          ("[1,", "the spec is not valid JSON (Expecting value")]:
        with pytest.raises(ConfigError) as refused:
            parse_json(text, "the spec", ConfigError)
        assert str(refused.value).startswith(message) and len(str(refused.value)) < 200
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "the spec", ConfigError)


def test_machine_limits_come_from_the_table_or_the_owners_environment(monkeypatch):
    from mnist_core.model.checks import MAX_PARAMS
    from mnist_core.model.config import LIMITS, machine_limits, machine_memory_mb

    monkeypatch.delenv("DIGIT_LAB_MEMORY_BUDGET_MB", raising=False)
    monkeypatch.delenv("DIGIT_LAB_MAX_PARAMS", raising=False)
    limits = machine_limits()
    assert limits.max_params == MAX_PARAMS  # what the registry loads back
    assert limits.memory_budget_mb == machine_memory_mb() // 2 > 0
    assert {limit.name for limit in LIMITS} == set(vars(limits))
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "512")
    assert machine_limits().memory_budget_mb == 512
    for bad in ("lots", "-5", "10", str(10**400)):
        monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", bad)
        with pytest.raises(ConfigError, match=r"^\$DIGIT_LAB_MEMORY_BUDGET_MB: memory_budget_mb must be"):
            machine_limits()
    monkeypatch.setenv("DIGIT_LAB_MAX_PARAMS", str(MAX_PARAMS + 1))  # more could not be loaded back
    monkeypatch.delenv("DIGIT_LAB_MEMORY_BUDGET_MB")
    with pytest.raises(ConfigError, match="max_params must be between"):
        machine_limits()
