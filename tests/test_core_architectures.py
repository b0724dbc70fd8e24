"""Specs: the plain-Python summary is checked against Keras itself, and broken specs are refused by name."""

import pytest

from mnist_core.architectures import SpecError, build_model, count_params, summarize_spec
from mnist_core.presets import PRESETS

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
