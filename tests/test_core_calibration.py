"""Calibration against toy predictors whose answer is known: a perfectly calibrated one has ECE 0, an overconfident
one the gap by hand; temperature scaling recovers the temperature that made a predictor overconfident."""

import numpy as np
import pytest
from scipy.special import softmax

from mnist_core.insight.calibration import (
    expected_calibration_error,
    fit_temperature,
    held_out_split,
    reliability_table,
    with_temperature,
)


def toy(confidences_and_hits: list[tuple[float, int, int]]):
    """Probabilities and labels: per (confidence, predictions, correct ones), rows predicting class 0 with that
    confidence, the first ``correct`` of them labelled 0 and the rest 1."""
    rows, labels = [], []
    for confidence, count, correct in confidences_and_hits:
        row = np.full(10, (1 - confidence) / 9)
        row[0] = confidence
        rows += [row] * count
        labels += [0] * correct + [1] * (count - correct)
    return np.array(rows), np.array(labels)


def test_perfectly_calibrated_predictor_has_zero_ece():
    probabilities, labels = toy([(0.6, 50, 30), (0.8, 100, 80), (0.9, 200, 180), (1.0, 10, 10)])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0, abs=1e-12)
    table = reliability_table(probabilities, labels)
    assert table["count"].tolist() == [50, 100, 200, 10]
    np.testing.assert_allclose(table["accuracy"], table["confidence"])
    assert ((table["lower"] < table["confidence"]) & (table["confidence"] <= table["upper"] + 1e-12)).all()


def test_overconfident_predictor_ece_is_the_weighted_gap():
    probabilities, labels = toy([(0.9, 100, 60), (0.7, 300, 210)])  # gaps 0.3 and 0.0
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.3 * 100 / 400)


def test_bins_must_be_positive():
    probabilities, labels = toy([(0.9, 10, 9)])
    with pytest.raises(ValueError, match="at least 1"):
        reliability_table(probabilities, labels, bins=0)


def test_temperature_one_changes_nothing_and_fitting_recovers_the_true_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (20_000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(logits, axis=1)])  # drawn from softmax(logits)
    overconfident = softmax(2 * logits, axis=1)
    np.testing.assert_allclose(with_temperature(overconfident, 1.0), overconfident, atol=1e-9)
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    fixed = with_temperature(overconfident, temperature)
    assert expected_calibration_error(fixed, labels) < expected_calibration_error(overconfident, labels) / 3


def test_held_out_split_replays_the_runs_validation_split(mnist):
    from mnist_core.model.config import TrainConfig
    from mnist_core.training.loop import prepare_data

    config = TrainConfig(subset_size=3000, validation_split=0.2, seed=7)
    images, labels = held_out_split(mnist, config.to_dict())
    expected = prepare_data(mnist, config)
    np.testing.assert_array_equal(images, expected.x_val)
    np.testing.assert_array_equal(labels, expected.y_val)
    assert len(labels) == 600
    assert held_out_split(mnist, config.replace(validation_split=0.0).to_dict()) is None
    assert held_out_split(mnist, None) is None
    assert held_out_split(mnist, config.to_dict(), trained_on="another data set") is None  # not replayed elsewhere
    assert held_out_split(mnist, config.to_dict(), trained_on=mnist.fingerprint) is not None
    assert held_out_split(mnist, {"not a setting": 1}) is None
