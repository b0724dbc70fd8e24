"""The embedding engine against independent oracles: PCA against NumPy's SVD, the hidden layer against the model's
own weights applied by hand, logits against the model's probabilities, t-SNE keeping well-separated clusters apart."""

import numpy as np
import pytest

from mnist_core.insight.embedding import (
    LOGITS_LAYER,
    PIXELS_LAYER,
    map_frame,
    model_representation,
    pca_2d,
    pixel_representation,
    sample_indices,
    tsne_2d,
)


def test_pca_matches_numpy_svd_up_to_sign(mnist):
    features = mnist.x_test[:300].reshape(300, -1).astype(np.float64) / 255
    centred = features - features.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ directions[:2].T
    got = pca_2d(features)
    signs = np.sign((got * expected).sum(axis=0))
    np.testing.assert_allclose(got * signs, expected, atol=1e-8)


def test_sample_keeps_each_digit_share_and_all_means_all(mnist):
    everything = sample_indices(mnist.y_test, None)
    assert np.array_equal(everything, np.arange(10_000))
    assert np.array_equal(sample_indices(mnist.y_test, 20_000), everything)
    chosen = sample_indices(mnist.y_test, 1000)
    assert len(chosen) == len(set(chosen)) == 1000
    shares = np.bincount(mnist.y_test[chosen], minlength=10) / 1000
    np.testing.assert_allclose(shares, np.bincount(mnist.y_test, minlength=10) / 10_000, atol=0.001)
    with pytest.raises(ValueError):
        sample_indices(mnist.y_test, 0)


def test_pixels_are_the_images_scaled_to_one(mnist):
    representation = pixel_representation(mnist.x_test[:5])
    assert representation.layer == PIXELS_LAYER and representation.features.shape == (5, 784)
    np.testing.assert_allclose(representation.features, mnist.x_test[:5].reshape(5, -1) / 255, atol=1e-7)


def test_dense_hidden_layer_equals_its_weights_applied_by_hand(small_dense_model, test_sample):
    images, _ = test_sample
    representation = model_representation(small_dense_model, images[:50])
    hidden = small_dense_model.layers[-2]
    kernel, bias = (np.asarray(w) for w in hidden.get_weights())
    expected = np.asarray(hidden.activation(images[:50].reshape(50, -1).astype(np.float32) / 255 @ kernel + bias))
    assert representation.layer == hidden.name and not representation.is_logits
    np.testing.assert_allclose(representation.features, expected, atol=1e-4)


def test_cnn_representation_is_its_last_hidden_layer(small_cnn_model, test_sample):
    representation = model_representation(small_cnn_model, test_sample[0][:20])
    assert representation.features.shape == (20, 32)


def test_softmax_regression_uses_logits_whose_softmax_is_the_prediction(test_sample):
    from scipy.special import softmax

    from mnist_core.model.architectures import build_model
    from mnist_core.model.evaluation import predict_probabilities

    model = build_model([])  # the output layer alone, as the softmax-regression preset builds it
    images = test_sample[0][:40]
    representation = model_representation(model, images)
    assert representation.layer == LOGITS_LAYER and representation.is_logits
    assert representation.features.shape == (40, 10)
    np.testing.assert_allclose(softmax(representation.features, axis=1), predict_probabilities(model, images),
                               atol=1e-5)


def test_tsne_keeps_separate_clusters_apart_and_reports_progress():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 20, (3, 60))
    labels = np.repeat(np.arange(3), 40)
    features = centres[labels] + rng.normal(0, 1, (120, 60))
    reports = []
    coordinates = tsne_2d(features, lambda fraction, text: reports.append(fraction), n_jobs=1)
    assert coordinates.shape == (120, 2)
    distances = np.linalg.norm(coordinates[:, None] - coordinates[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).all()  # every point's nearest neighbour is in its cluster
    assert reports[0] == 0 and reports[-1] == pytest.approx(1.0) and reports == sorted(reports)


def test_map_frame_marks_wrong_predictions_and_top3():
    probabilities = np.array([[0.7, 0.2, 0.1] + [0] * 7, [0.1, 0.6, 0.3] + [0] * 7])
    frame = map_frame(np.array([[0, 1], [2, 3]]), np.array([5, 9]), np.array([0, 2]), probabilities)
    assert frame["index"].tolist() == [5, 9] and frame["predicted"].tolist() == [0, 1]
    assert frame["wrong"].tolist() == [False, True]
    assert frame["confidence"].tolist() == [0.7, 0.6]
    assert frame["top3"][1] == "1: 60.0%, 2: 30.0%, 0: 10.0%"
    assert "predicted" not in map_frame(np.zeros((2, 2)), np.array([5, 9]), np.array([0, 2])).columns
