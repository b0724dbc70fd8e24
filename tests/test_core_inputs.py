"""Images as models take them (mnist_core/data/inputs.py): one scaling rule for training, evaluation and the app."""

import numpy as np

from mnist_core.data.inputs import as_model_input, scaled_pixels


def test_bytes_are_scaled_to_0_1_and_floats_are_kept(test_sample):
    images, _ = test_sample
    scaled = scaled_pixels(images)
    assert scaled.dtype == np.float32 and scaled.min() == 0.0 and scaled.max() == 1.0
    np.testing.assert_allclose(scaled, images.astype(np.float64) / 255, rtol=1e-6)  # the documented MNIST scale
    np.testing.assert_array_equal(scaled_pixels(scaled.astype(np.float64)), scaled)  # [0, 1] floats pass unchanged


def test_inputs_take_the_shape_of_each_model(test_sample, small_dense_model, small_cnn_model):
    images, _ = test_sample
    for model in (small_dense_model, small_cnn_model):
        x = as_model_input(images[:7], model)
        assert x.shape == (7, *model.input_shape[1:]) and x.dtype == np.float32
        np.testing.assert_array_equal(x.reshape(7, 28, 28), scaled_pixels(images[:7]))


def test_the_training_pipeline_scales_like_prediction_does(test_sample, small_cnn_model):
    from mnist_core.training.loop import make_dataset

    images, labels = test_sample
    batch, _ = next(iter(make_dataset(images[:32], labels[:32], 32, small_cnn_model)))
    np.testing.assert_array_equal(batch.numpy(), as_model_input(images[:32], small_cnn_model))
