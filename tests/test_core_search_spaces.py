"""Search spaces (mnist_core/sweeps/spaces.py): every value a space can give is checked against the settings table,
the network at its extremes is built and must fit this machine, and ranges are searched as their setting's type.
Pure Python and Optuna's in-memory storage; the sweeps that train are in tests/test_core_sweeps.py."""

from __future__ import annotations

import json

import pytest

# --- built-in and malformed spaces ------------------------------------------------------------------------------------


def test_built_in_spaces_are_valid_and_build_the_expected_models():
    import optuna

    from mnist_core.sweeps.spaces import BUILT_IN_SPACES, check_space, suggest

    for space in BUILT_IN_SPACES.values():
        check_space(space)
    fixed = optuna.trial.FixedTrial({"optimizer": "rmsprop", "learning_rate": 0.002, "batch_size": 64,
                                     "dense_blocks": 2, "dense_units": 32, "dropout": 0.1})
    spec, config = suggest(fixed, BUILT_IN_SPACES["quick"])
    block = [{"type": "Dense", "units": 32, "activation": "relu"}, {"type": "Dropout", "rate": 0.1}]
    assert spec == block + block
    assert (config.optimizer, config.learning_rate, config.batch_size, config.epochs, config.subset_size) == \
        ("rmsprop", 0.002, 64, 1, 5000)
    fixed = optuna.trial.FixedTrial({"learning_rate": 0.004, "batch_size": 128, "conv_blocks": 2,
                                     "conv_filters": 16, "kernel_size": 5, "dense_units": 128, "dropout": 0.0})
    spec, config = suggest(fixed, BUILT_IN_SPACES["cnn"])
    assert [layer["type"] for layer in spec] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten",
                                                 "Dense"]
    assert [spec[0]["filters"], spec[2]["filters"], spec[5]["units"]] == [16, 32, 128]  # as in fast-cnn
    assert (config.lr_schedule, config.steps_per_execution) == ("one-cycle", 32)


@pytest.mark.parametrize("space, message", [
    ({"template": "dense"}, "\"template\" and \"params\""),
    ({"template": "rnn", "params": {}}, "template must be one of"),
    ({"template": "dense", "params": {"conv_blocks": 2}}, "unknown parameter(s) conv_blocks"),
    ({"template": "dense", "params": {"learning_rate": {"low": 0.1, "high": 0.01}}}, "low < high"),
    ({"template": "dense", "params": {"learning_rate": {"low": 0, "high": 0.1, "log": True}}}, "log range needs"),
    ({"template": "dense", "params": {"batch_size": {"choices": []}}}, "choices must be a list of 1 to 100 values"),
    ({"template": "dense", "params": {"batch_size": {"low": 8}}}, "a range has"),
    ({"template": "dense", "params": {"optimizer": {"choices": ["adam", "lbfgs"]}}}, "optimizer must be one of"),
    ({"template": "dense", "params": {"validation_split": 0.0}}, "validation_split must be above 0"),
    ({"template": "dense", "params": {"dense_blocks": "two"}}, "'dense_blocks': dense_blocks must be a whole number"),
    ({"template": "cnn", "params": {"conv_blocks": 4, "kernel_size": 9}}, None),  # builds (padding 'same')
])
def test_bad_spaces_are_refused_with_a_message(space, message):
    from mnist_core.sweeps.spaces import SpaceError, check_space, parse_space

    if message is None:
        assert check_space(space) is space
        return
    with pytest.raises(SpaceError) as refused:
        parse_space(json.dumps(space))
    assert message in str(refused.value)


# --- every value, not the corners (issue 25, issue 28 class 1) ----------------------------------------------------

MIDDLE_VALUES = [  # each was accepted while only the first and last choice were checked
    ("validation_split", [0.1, 0.0, 0.2], "validation_split must be above 0"),
    ("epochs", [1, 10**9, 2], "'epochs': epochs must be between 1 and 500, got 1000000000"),
    ("optimizer", ["adam", "lbfgs", "sgd"], "'optimizer': optimizer must be one of adam, rmsprop, sgd, got 'lbfgs'"),
    ("learning_rate", [0.01, float("nan"), 0.02], "'learning_rate': learning_rate must be a number, got nan"),
    ("batch_size", [64, 10**6, 128], "'batch_size': batch_size must be between 1 and 8192, got 1000000"),
    ("dense_units", [16, 0, 64], "'dense_units': dense_units must be between 1 and 8192, got 0"),
    ("dropout", [0.1, 2.0, 0.2], "'dropout': dropout must be between 0 and 0.95, got 2.0"),
    ("precision", ["float32", "float16", "auto"], "'precision': precision must be one of auto, float32"),
]


@pytest.mark.parametrize("name, choices, message", MIDDLE_VALUES, ids=[name for name, _, _ in MIDDLE_VALUES])
def test_every_choice_is_checked_not_only_the_first_and_last(name, choices, message):
    from mnist_core.sweeps.spaces import SpaceError, check_space

    with pytest.raises(SpaceError) as refused:
        check_space({"template": "dense", "params": {name: {"choices": choices}}})
    assert message in str(refused.value)


@pytest.mark.parametrize("params, message", [
    ({"dense_units": {"low": 16.5, "high": 256}}, "'dense_units': low and high must be whole numbers, got 16.5, 256"),
    ({"optimizer": {"low": 1, "high": 2}}, "'optimizer' takes {\"choices\": [...]}, not a range"),
    ({"learning_rate": {"low": 10**400, "high": 10**401}}, "learning_rate must be above 0 and at most 10, got 1000"),
    ({"dense_units": 10**400}, "'dense_units': dense_units must be between 1 and 8192, got 10000000"),
    ({"learning_rate": {"low": float("-inf"), "high": 0.1}}, "low and high must be numbers, got -inf, 0.1"),
    ({"loss": {"choices": ["sparse_categorical_crossentropy", "mean_squared_error"]},
      "label_smoothing": {"low": 0.0, "high": 0.2}}, "label_smoothing applies to the cross-entropy losses only"),
    ({"batch_size": {"choices": list(range(1, 102))}}, "choices must be a list of 1 to 100 values"),
])
def test_ranges_fit_their_setting_and_settings_fit_each_other(params, message):
    from mnist_core.sweeps.spaces import SpaceError, check_space

    with pytest.raises(SpaceError) as refused:
        check_space({"template": "dense", "params": params})
    assert message in str(refused.value) and len(str(refused.value)) < 400


def test_the_network_at_every_combination_of_its_knobs_extremes_must_be_buildable_and_fit(monkeypatch):
    from mnist_core.sweeps.spaces import SpaceError, check_space

    too_many = {"template": "dense", "params": {"dense_units": {"choices": [8192, 16, 32]},
                                                "dense_blocks": {"low": 1, "high": 2}}}
    with pytest.raises(SpaceError) as refused:  # the corners (16, 1) and (32, 2) are small: (8192, 2) is not
        check_space(too_many)
    assert "with dense_units=8192, dense_blocks=2" in str(refused.value)
    assert "this network holds 73,629,706 parameters; at most 8,000,000" in str(refused.value)

    deep = {"template": "cnn", "params": {"conv_filters": 160, "conv_blocks": {"low": 1, "high": 4}, "kernel_size": 1}}
    with pytest.raises(SpaceError, match="with conv_filters=160, conv_blocks=4, kernel_size=1, batch_size=128: .*"
                                         "layer 7 .Conv2D.: filters must be between 1 and 1024, got 1280"):
        check_space(deep)
    # one conv block leaves the largest Flatten: a middle value of conv_blocks can hold the most parameters
    wide = {"template": "cnn", "params": {"conv_filters": 64, "conv_blocks": {"choices": [2, 1, 3]},
                                          "dense_units": 1024}}
    with pytest.raises(SpaceError, match="with conv_filters=64, conv_blocks=1, dense_units=1024.*12,8"):
        check_space(wide)

    memory = {"template": "cnn", "params": {"conv_filters": {"choices": [8, 128]}, "conv_blocks": 1,
                                            "dense_units": 16, "batch_size": {"choices": [64, 4096, 128]}}}
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "2048")
    with pytest.raises(SpaceError) as refused:
        check_space(memory)
    assert "with conv_filters=128, conv_blocks=1, dense_units=16, batch_size=4096" in str(refused.value)
    assert "per batch of 4,096 to train; this machine allows 2.0 GB; try batch_size <= " in str(refused.value)
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "8192")
    assert check_space(memory) is memory


def test_a_space_with_a_huge_number_or_deep_nesting_gets_one_clear_message():
    from mnist_core.sweeps.spaces import SpaceError, parse_space

    for text, message in [
        ('{"template": "dense", "params": {"dense_units": ' + "9" * 400 + "}}", "dense_units must be between 1"),
        ('{"template": "dense", "params": {"epochs": ' + "9" * 5000 + "}}", "holds a number with too many digits"),
        ('{"template": "dense", "params": {"epochs": ' + "[" * 50_000 + "]" * 50_000 + "}}", "nested too deeply"),
        ('{"template": "dense", "params": {"epochs": {"choices": [[[[[[1]]]]]]}}}', "nested too deeply"),
        ('{"template": ' + "[" * 900 + "]" * 900 + ', "params": {}}', "nested too deeply"),
    ]:
        with pytest.raises(SpaceError) as refused:
            parse_space(text)
        assert message in str(refused.value) and len(str(refused.value)) < 300


def test_a_log_range_of_whole_numbers_is_searched_as_whole_numbers():
    import optuna

    from mnist_core.sweeps.spaces import check_space, suggest

    space = check_space({"template": "dense", "params": {"dense_units": {"low": 16, "high": 256, "log": True},
                                                         "learning_rate": {"low": 1, "high": 2}}})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        spec, config = suggest(trial, space)
        assert type(spec[0]["units"]) is int and 16 <= spec[0]["units"] <= 256
        assert type(config.learning_rate) is float  # a float setting's range is searched as floats, ends or not
        study.tell(trial, 0.5)
    assert study.trials[0].distributions["dense_units"] == optuna.distributions.IntDistribution(16, 256, log=True)
