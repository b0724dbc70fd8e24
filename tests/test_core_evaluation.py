"""Evaluation figures against independent oracles (naive loops, Keras's own predict and evaluate)."""

import numpy as np

from mnist_core.model.evaluation import ImagePredictor, evaluate
from mnist_core.model.scores import confusion_matrix, per_class_metrics


def test_accuracy_and_loss_agree_with_keras(small_dense_model, test_sample):
    images, labels = test_sample
    result = evaluate(small_dense_model, images, labels)
    small_dense_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_loss, keras_accuracy = small_dense_model.evaluate(images.reshape(-1, 784) / 255.0, labels, verbose=0)
    assert abs(result.accuracy - keras_accuracy) < 1e-6 and abs(result.loss - keras_loss) < 1e-4
    assert result.accuracy > 0.85


def test_confusion_matrix_and_per_class_scores_match_naive_counts():
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 10, 400), rng.integers(0, 10, 400)
    naive = np.zeros((10, 10), int)
    for true, guess in zip(labels, predicted, strict=True):
        naive[true, guess] += 1
    matrix = confusion_matrix(labels, predicted)
    np.testing.assert_array_equal(matrix, naive)
    scores = per_class_metrics(matrix)
    for digit in range(10):
        tp = sum((labels == digit) & (predicted == digit))
        precision, recall = tp / sum(predicted == digit), tp / sum(labels == digit)
        assert np.isclose(scores.precision[digit], precision) and np.isclose(scores.recall[digit], recall)
        assert np.isclose(scores.f1[digit], 2 * precision * recall / (precision + recall))


def test_misclassified_lists_every_error_most_confident_first(small_dense_model, test_sample):
    images, labels = test_sample
    result = evaluate(small_dense_model, images, labels)
    errors = result.errors()
    assert len(errors) == int((result.predicted != labels).sum()) > 0
    assert (errors.true != errors.predicted).all() and errors.confidence.is_monotonic_decreasing
    first = errors.iloc[0]
    assert labels[first["index"]] == first.true and first.top3.startswith(f"{first.predicted}:")


def test_single_image_probabilities_equal_keras_predict(small_cnn_model, test_sample):
    images, _ = test_sample
    predictor = ImagePredictor(small_cnn_model)
    expected = small_cnn_model.predict(images[:3, ..., None] / 255.0, verbose=0)
    for image, reference in zip(images[:3], expected, strict=True):
        probabilities = predictor.probabilities(image)
        np.testing.assert_allclose(probabilities, reference, atol=1e-5)
        assert abs(probabilities.sum() - 1) < 1e-5


def test_activations_and_saliency_show_what_the_network_sees(small_cnn_model, small_dense_model, test_sample):
    image = test_sample[0][0]
    cnn = ImagePredictor(small_cnn_model)
    (name, feature_maps), = cnn.activations(image)
    assert feature_maps.shape == (14, 14, 8) and "conv" in name
    saliency = cnn.saliency(image)
    assert saliency.shape == (28, 28) and saliency.max() == 1.0 and saliency.min() >= 0
    hidden = ImagePredictor(small_dense_model).activations(image)
    assert [values.shape for _, values in hidden] == [(64,)]


def test_a_digit_never_predicted_or_never_present_scores_zero_not_nan():
    labels, predicted = np.array([0, 1, 9, 9]), np.array([0, 1, 1, 1])  # 9 never predicted, 2-8 never present
    scores = per_class_metrics(confusion_matrix(labels, predicted))
    assert scores.precision[9] == scores.recall[9] == scores.f1[9] == 0 and scores.support[9] == 2
    assert scores.precision[1] == 1 / 3 and scores.recall[1] == 1 and scores.support[5] == 0
    assert not scores.isna().to_numpy().any()
