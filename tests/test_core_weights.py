"""First-layer pictures against the kernels themselves: softmax-regression templates are the kernel reshaped,
conv pictures the kernels, and the diverging colour map puts white at zero."""

import numpy as np

from mnist_core.insight.weights import DIVERGING_COLOURS, diverging_rgb, first_layer_weights
from mnist_core.model.architectures import build_model


def test_softmax_regression_templates_are_the_kernel_reshaped():
    model = build_model([])
    weights = first_layer_weights(model)
    kernel = np.asarray(model.layers[-1].kernel)
    assert weights.kind == "templates" and weights.titles[3] == "digit 3"
    assert weights.pictures.shape == (10, 28, 28)
    for digit in range(10):
        np.testing.assert_array_equal(weights.pictures[digit].ravel(), kernel[:, digit])


def test_dense_units_after_augmentation_are_pictures_of_their_weights():
    model = build_model([{"type": "Dense", "units": 16}])
    weights = first_layer_weights(model)
    assert weights.kind == "dense" and weights.pictures.shape == (16, 28, 28) and weights.titles[0] == "unit 0"
    np.testing.assert_array_equal(weights.pictures[5].ravel(), np.asarray(model.layers[0].kernel)[:, 5])


def test_conv_kernels_skip_augmentation_layers(small_cnn_model):
    model = build_model([{"type": "RandomRotation", "factor": 0.1},
                         {"type": "Conv2D", "filters": 6, "kernel_size": 5}, {"type": "Flatten"}])
    weights = first_layer_weights(model)
    kernel = np.asarray(model.layers[1].kernel)
    assert weights.kind == "conv" and weights.pictures.shape == (6, 5, 5)
    np.testing.assert_array_equal(weights.pictures[2], kernel[:, :, 0, 2])
    assert first_layer_weights(small_cnn_model).pictures.shape == (8, 5, 5)


def test_diverging_colours_white_at_zero_and_ends_at_the_limit():
    picture = diverging_rgb(np.array([[-2.0, 0.0, 2.0, 4.0]]), limit=2.0)
    assert picture.dtype == np.uint8 and picture.shape == (1, 4, 3)
    np.testing.assert_array_equal(picture[0, 0], DIVERGING_COLOURS[0])
    np.testing.assert_array_equal(picture[0, 1], DIVERGING_COLOURS[2])
    np.testing.assert_array_equal(picture[0, 2], DIVERGING_COLOURS[-1])
    np.testing.assert_array_equal(picture[0, 3], DIVERGING_COLOURS[-1])  # beyond the limit: clipped
    assert (diverging_rgb(np.zeros((2, 2))) == DIVERGING_COLOURS[2]).all()  # all zero: white, no division by 0
