"""Specs: the plain-Python summary is checked against Keras itself, and broken specs are refused by name."""

import re

import pytest

from mnist_core.model.architectures import SpecError, build_model, count_params, summarize_spec
from mnist_core.training.presets import PRESETS

CUSTOM_SPECS = [
    [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "strides": 2},
     {"type": "BatchNormalization"}, {"type": "MaxPooling2D", "pool_size": 3}],
    [{"type": "Dense", "units": 10, "activation": "tanh"}, {"type": "BatchNormalization"},
     {"type": "Dropout", "rate": 0.5}],
    [{"type": "RandomZoom", "factor": 0.1}, {"type": "RandomRotation", "factor": 0.05},
     {"type": "Conv2D", "filters": 4, "kernel_size": 3}],
]


@pytest.mark.parametrize("spec", [p.spec for p in PRESETS.values()] + CUSTOM_SPECS,
                         ids=list(PRESETS) + ["custom-conv", "custom-dense", "custom-augmented"])
def test_summary_matches_the_keras_model_it_builds(spec):
    model = build_model(spec)
    rows = summarize_spec(spec)
    assert count_params(spec) == model.count_params()
    assert [row.output_shape for row in rows] == [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert [row.params for row in rows] == [layer.count_params() for layer in model.layers]


def test_presets_cover_the_seed_models():
    assert count_params(PRESETS["dense32-rmsprop"].spec) == 25450  # (784+1)*32 + (32+1)*10, as seed 000 says
    assert count_params(PRESETS["softmax-regression"].spec) == 7850
    assert all(p.description and p.source for p in PRESETS.values())


@pytest.mark.parametrize("spec, message", [
    ([{"type": "Dense", "units": -5}], r"layer 1 \(Dense\): units must be between 1"),
    ([{"type": "Conv2D", "filters": 8, "kernel_size": 29}], r"layer 1 \(Conv2D\): kernel_size must be between"),
    ([{"type": "Conv2D", "kernel_size": 5}, {"type": "MaxPooling2D", "pool_size": 4},
      {"type": "Conv2D", "kernel_size": 7}], r"layer 3 \(Conv2D\): kernel 7×7 is larger than its 6×6 input"),
    ([{"type": "Conv2D"}, {"type": "Flatten"}, {"type": "Conv2D"}], r"layer 3 \(Conv2D\): needs an image input"),
    ([{"type": "Conv2D"}, {"type": "Dense"}], r"layer 2 \(Dense\): needs a flat input; add a Flatten"),
    ([{"type": "Transformer"}], r"layer 1: unknown layer type 'Transformer'"),
    ([{"type": "Dense", "units": "many"}], r"layer 1 \(Dense\): units must be an integer"),
    ([{"type": "Dense", "size": 3}], r"layer 1 \(Dense\): unknown setting\(s\) size"),
    ([{"type": "Dropout", "rate": 1.5}], r"layer 1 \(Dropout\): rate must be between 0.0 and 0.95"),
    ([{"type": "Dense"}, {"type": "RandomZoom"}], r"layer 2 \(RandomZoom\): needs an image input"),
    ({"type": "Dense"}, r"a spec is a list of layers"),
])
def test_unbuildable_specs_are_refused_naming_layer_and_problem(spec, message):
    with pytest.raises(SpecError, match=message):
        summarize_spec(spec)
    with pytest.raises(SpecError, match=message):
        build_model(spec)


# --- what training a spec costs, before it trains --------------------------------------------------------------------

MEASURED_SPECS = {  # (spec, batch size, optimizer): activations dominate the first, weights and Adam's state the second
    "conv-activations": ([{"type": "Conv2D", "filters": 64, "kernel_size": 3, "padding": "same"},
                          {"type": "MaxPooling2D"}, {"type": "Flatten"}, {"type": "Dense", "units": 128}], 384, "adam"),
    "dense-weights": ([{"type": "Dense", "units": 2048}, {"type": "Dense", "units": 2048}], 256, "adam"),
}


@pytest.mark.parametrize("spec", [p.spec for p in PRESETS.values()] + CUSTOM_SPECS + [
    spec for spec, _, _ in MEASURED_SPECS.values()], ids=list(PRESETS) + ["custom-conv", "custom-dense",
                                                                            "custom-augmented", *MEASURED_SPECS])
def test_the_footprint_counts_the_parameters_and_activations_of_the_keras_model(spec):
    import math

    from mnist_core.model.architectures import ACTIVATION_COPIES, FLOAT_BYTES, OPTIMIZER_SLOTS, estimate_footprint

    model = build_model(spec)
    values = math.prod(model.input_shape[1:]) + sum(math.prod(layer.output.shape[1:]) for layer in model.layers)
    for optimizer in OPTIMIZER_SLOTS:
        footprint = estimate_footprint(spec, 100, optimizer)
        assert footprint.params == model.count_params()
        assert footprint.bytes_per_image == FLOAT_BYTES * ACTIVATION_COPIES * values
        assert footprint.total_bytes == footprint.fixed_bytes + 100 * footprint.bytes_per_image
    assert estimate_footprint(spec, 1, "adam").fixed_bytes > estimate_footprint(spec, 1, "sgd").fixed_bytes


def test_the_footprint_is_within_a_factor_of_two_of_the_memory_a_real_training_adds(mnist_path):
    """Each spec trains three batches in a fresh process of its own (tests/footprint_child.py), which reports the
    peak resident memory the training added."""
    import json
    import os
    import subprocess
    import sys

    from helpers import PROJECT
    from mnist_core.model.architectures import estimate_footprint

    children = {name: subprocess.Popen(
        [sys.executable, str(PROJECT / "tests" / "footprint_child.py"), json.dumps(spec), str(batch), optimizer],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"MNIST_PATH": mnist_path, "TF_CPP_MIN_LOG_LEVEL": "2"})
        for name, (spec, batch, optimizer) in MEASURED_SPECS.items()}
    for name, child in children.items():
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
        spec, batch, optimizer = MEASURED_SPECS[name]
        estimate = estimate_footprint(spec, batch, optimizer).total_bytes
        assert estimate > 100 * 2**20  # large enough that TensorFlow's own small allocations do not decide
        assert 0.5 < int(out) / estimate < 2, (name, int(out), estimate)


def test_a_network_that_does_not_fit_is_refused_saying_what_would():
    from mnist_core.model.architectures import MAX_SPEC_LAYERS, check_fits_machine, estimate_footprint
    from mnist_core.model.config import ConfigError, Limits, TrainConfig

    wide = [{"type": "Conv2D", "filters": 256, "kernel_size": 3, "padding": "same"}]
    limits = Limits(max_params=8_000_000, memory_budget_mb=4096)
    with pytest.raises(ConfigError) as refused:
        check_fits_machine(wide, TrainConfig(batch_size=8192), limits)
    message = str(refused.value)
    assert message.startswith("this network needs ~24.6 GB per batch of 8,192 to train; this machine allows 4.0 GB; "
                              "try batch_size <= "), message
    fitting = int(re.search(r"batch_size <= ([\d,]+), or fewer filters or units\.$", message)[1].replace(",", ""))
    assert check_fits_machine(wide, TrainConfig(batch_size=fitting), limits).total_bytes <= 4096 * 2**20
    with pytest.raises(ConfigError):
        check_fits_machine(wide, TrainConfig(batch_size=fitting + 1), limits)
    with pytest.raises(ConfigError, match="even a batch of 1 does not fit"):
        check_fits_machine(wide + [{"type": "Flatten"}, {"type": "Dense", "units": 24}], TrainConfig(batch_size=1),
                           Limits(8_000_000, 64))  # 4.8 million weights: 115 MB before any image
    huge = [{"type": "Dense", "units": 8192}, {"type": "Dense", "units": 8192}]
    with pytest.raises(ConfigError, match="this network holds 73,629,706 parameters; at most 8,000,000 are allowed"):
        check_fits_machine(huge, TrainConfig(batch_size=1), limits)
    assert estimate_footprint(huge, 1).params == 73_629_706
    with pytest.raises(SpecError, match=f"at most {MAX_SPEC_LAYERS} layers"):
        summarize_spec([{"type": "Dropout", "rate": 0.1}] * (MAX_SPEC_LAYERS + 1))
    summarize_spec([{"type": "Dropout", "rate": 0.1}] * MAX_SPEC_LAYERS)
    with pytest.raises(SpecError, match=r"units must be between 1 and 8192, got 100000000000000000\.\.\.0+\.$"):
        summarize_spec([{"type": "Dense", "units": 10**400}])
