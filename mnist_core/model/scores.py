"""How good a set of predictions is and where it goes wrong: accuracy, log-loss, confusion matrix, per-class scores
and the misclassified images. NumPy, pandas and scikit-learn's metrics, so a page showing saved predictions needs no
TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mnist_core.data.mnist import NUM_CLASSES

EPSILON = 1e-7  # probability floor for the log-loss, as Keras uses


@dataclass(frozen=True, repr=False)
class Evaluation:
    """Probabilities of a model on a labelled set, with the figures derived from them."""

    probabilities: np.ndarray  # N×10
    labels: np.ndarray

    def __repr__(self) -> str:
        return f"Evaluation(n={len(self.labels)}, accuracy={self.accuracy:.4f}, loss={self.loss:.4f})"

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean())

    @property
    def loss(self) -> float:
        """Cross-entropy of the labels (scikit-learn's ``log_loss``, probabilities floored at Keras's epsilon)."""
        from sklearn.metrics import log_loss

        return float(log_loss(self.labels, np.clip(self.probabilities, EPSILON, 1.0), labels=range(NUM_CLASSES)))

    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predicted)

    def per_class(self) -> pd.DataFrame:
        return per_class_metrics(self.confusion())

    def errors(self) -> pd.DataFrame:
        return misclassified(self.probabilities, self.labels)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10×10 counts: row = true class, column = predicted class (scikit-learn's, over all ten digits)."""
    from sklearn.metrics import confusion_matrix as counts

    return counts(labels, predicted, labels=range(NUM_CLASSES)).astype(np.int64)


def per_class_metrics(confusion: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (0 where a class is never predicted or never present), by
    scikit-learn's ``precision_recall_fscore_support`` over the predictions the confusion matrix counts."""
    from sklearn.metrics import precision_recall_fscore_support

    true, predicted = np.nonzero(confusion)
    weights = confusion[true, predicted]
    precision, recall, f1, _ = precision_recall_fscore_support(
        true, predicted, labels=range(NUM_CLASSES), sample_weight=weights, zero_division=0)
    return pd.DataFrame({"digit": np.arange(NUM_CLASSES), "precision": precision, "recall": recall, "f1": f1,
                         "support": confusion.sum(axis=1)})


def misclassified(probabilities: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """One row per wrong prediction: test index, true and predicted digit, confidence, top-3; most confident first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    top3 = np.argsort(-probabilities[wrong], axis=1)[:, :3]
    frame = pd.DataFrame({
        "index": wrong,
        "true": labels[wrong],
        "predicted": predicted[wrong],
        "confidence": probabilities[wrong, predicted[wrong]],
        "top3": [", ".join(f"{d}: {probabilities[i, d]:.1%}" for d in row) for i, row in zip(wrong, top3, strict=True)],
    })
    return frame.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)
