"""How far to trust a model's confidence: the reliability table (confidence bins against accuracy), the expected
calibration error (ECE), and temperature scaling fitted on held-out images to correct over- or under-confidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from mnist_core.errors import UsageError

BINS = 15  # as in Guo et al. 2017, "On Calibration of Modern Neural Networks"
EPSILON = 1e-12
TEMPERATURE_RANGE = (0.05, 20.0)


def reliability_table(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """One row per confidence bin (equal width over [0, 1]; empty bins dropped): lower and upper edge, count, mean
    confidence and accuracy of the predictions whose top probability falls in it."""
    if bins < 1:
        raise UsageError(f"the number of confidence bins must be at least 1, got {bins}.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # a confidence of exactly 1 belongs to the last bin; every bin is (lower, upper] otherwise
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "confidence": confidence, "correct": correct.astype(float)})
    table = frame.groupby("bin").agg(count=("correct", "size"), confidence=("confidence", "mean"),
                                     accuracy=("correct", "mean")).reset_index()
    table.insert(1, "lower", edges[table["bin"]])
    table.insert(2, "upper", edges[table["bin"] + 1])
    return table.drop(columns="bin")


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE: the count-weighted mean gap |accuracy − confidence| over the confidence bins (0 = perfectly calibrated)."""
    table = reliability_table(probabilities, labels, bins)
    return float((table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum() / len(labels))


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities a softmax would give with its logits divided by ``temperature`` (log-probabilities differ
    from the logits by a constant per row, which the softmax ignores, so the logits are not needed)."""
    return softmax(np.log(np.clip(probabilities, EPSILON, 1.0)) / temperature, axis=1)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (fit on held-out images)."""
    logs = np.log(np.clip(probabilities, EPSILON, 1.0))
    rows = np.arange(len(labels))

    def loss(temperature: float) -> float:
        return float(-log_softmax(logs / temperature, axis=1)[rows, labels].mean())

    return float(minimize_scalar(loss, bounds=TEMPERATURE_RANGE, method="bounded").x)


def held_out_split(data, training_config: dict | None, trained_on: str | None = None):
    """The validation images and labels a run was trained beside (its saved settings replayed on ``data``), or None
    when it had none (no settings saved, e.g. an uploaded model, or a validation split of 0) or when ``data`` is not
    the data set it trained on (``trained_on``, its fingerprint, when the run recorded it)."""
    from mnist_core.model.config import ConfigError, TrainConfig
    from mnist_core.training.loop import prepare_data

    if trained_on is not None and trained_on != data.fingerprint:
        return None
    try:
        prepared = prepare_data(data, TrainConfig.from_dict(training_config or {})) if training_config else None
    except (ConfigError, ValueError):
        return None
    if prepared is None or len(prepared.y_val) == 0:
        return None
    return prepared.x_val, prepared.y_val
