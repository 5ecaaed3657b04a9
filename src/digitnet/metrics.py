"""How good a classifier is, from its labels, predictions and probabilities: plain NumPy, no network needed.

Every function takes arrays and returns arrays or small dataclasses, so a notebook can compute the same numbers
the report shows:

    >>> P = network.predict_proba(test.X)                  # doctest: +SKIP
    >>> confusion_matrix(test.y, P.argmax(axis=1))          # doctest: +SKIP
    >>> per_class_report(test.y, P.argmax(axis=1)).f1       # doctest: +SKIP
    >>> calibration(P, test.y).ece                          # doctest: +SKIP

Labels ``y`` are (n,) integers in 0..k-1; probabilities ``P`` are (n, k) with rows summing to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(y: np.ndarray, predictions: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts (k, k): row ``i``, column ``j`` is how many examples of class ``i`` were predicted as ``j``.

    The diagonal holds the correct predictions; each row sums to that class's support. ``n_classes`` defaults
    to the largest label or prediction plus one.
    """
    y, predictions = np.asarray(y), np.asarray(predictions)
    if n_classes is None:
        n_classes = int(max(y.max(initial=-1), predictions.max(initial=-1))) + 1
    # Count each (true, predicted) pair as one flat index into the k*k cells.
    cells = np.bincount(y * n_classes + predictions, minlength=n_classes * n_classes)  # (k*k,)
    return cells.reshape(n_classes, n_classes).astype(np.int64)  # (k, k)


@dataclass(frozen=True)
class ClassReport:
    """Precision, recall, F1 and support of each class, (k,) arrays, with their averages.

    precision = TP / (TP + FP): of the examples predicted as this class, the fraction that are.
    recall    = TP / (TP + FN): of the examples of this class, the fraction found.
    F1        = 2 precision recall / (precision + recall), their harmonic mean.
    A class that is never predicted (or never present) gets 0, as scikit-learn does, rather than NaN.
    """

    precision: np.ndarray  # (k,)
    recall: np.ndarray  # (k,)
    f1: np.ndarray  # (k,)
    support: np.ndarray  # (k,) examples of each class
    accuracy: float

    @property
    def macro(self) -> dict[str, float]:
        """The unweighted mean over classes: every digit counts the same."""
        return {name: float(getattr(self, name).mean()) for name in ("precision", "recall", "f1")}

    @property
    def weighted(self) -> dict[str, float]:
        """The mean over classes weighted by support: every example counts the same."""
        weights = self.support / max(self.support.sum(), 1)
        return {name: float(getattr(self, name) @ weights) for name in ("precision", "recall", "f1")}

    def rows(self) -> list[dict[str, float | int]]:
        """One dict per class (class, precision, recall, f1, support), e.g. for ``pandas.DataFrame``."""
        return [
            {"class": k, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for k, (p, r, f, s) in enumerate(zip(self.precision, self.recall, self.f1, self.support, strict=True))
        ]


def per_class_report(y: np.ndarray, predictions: np.ndarray, n_classes: int | None = None) -> ClassReport:
    """Precision, recall, F1 and support of each class; see ``ClassReport``."""
    return report_from_confusion(confusion_matrix(y, predictions, n_classes))


def report_from_confusion(confusion: np.ndarray) -> ClassReport:
    """The same report, read off a confusion matrix (k, k) with true classes as rows."""
    true_positives = np.diag(confusion).astype(np.float64)  # (k,)
    predicted = confusion.sum(axis=0)  # (k,) column sums: TP + FP
    support = confusion.sum(axis=1)  # (k,) row sums: TP + FN
    precision = _divide(true_positives, predicted)
    recall = _divide(true_positives, support)
    f1 = _divide(2 * precision * recall, precision + recall)
    accuracy = float(true_positives.sum() / max(confusion.sum(), 1))
    return ClassReport(precision, recall, f1, support.astype(np.int64), accuracy)


@dataclass(frozen=True)
class Calibration:
    """How far the model's confidence is from its accuracy, bin by bin (a reliability diagram's numbers).

    The confidence of a prediction is its largest probability. Predictions are put into ``n_bins`` equal bins
    of confidence; in each, a calibrated model is right as often as it is confident. The expected calibration
    error is the mean gap, weighted by how many predictions fall in each bin:

        ECE = sum over bins b of (n_b / n) * |accuracy_b - confidence_b|
    """

    edges: np.ndarray  # (n_bins + 1,) from 0 to 1; bin b holds confidences in [edges[b], edges[b+1]), 1 in the last
    confidence: np.ndarray  # (n_bins,) mean confidence in each bin; NaN where the bin is empty
    accuracy: np.ndarray  # (n_bins,) fraction right in each bin; NaN where the bin is empty
    count: np.ndarray  # (n_bins,) predictions in each bin
    ece: float  # expected calibration error, in [0, 1]


def calibration(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 10) -> Calibration:
    """Bin the predictions by confidence and compare each bin's confidence with its accuracy."""
    confidence = probabilities.max(axis=1).astype(np.float64)  # (n,)
    correct = probabilities.argmax(axis=1) == y  # (n,)
    edges = np.linspace(0.0, 1.0, n_bins + 1)  # (n_bins + 1,)
    bins = np.digitize(confidence, edges[1:-1])  # (n,) bin of each prediction, 0..n_bins-1
    count = np.bincount(bins, minlength=n_bins)  # (n_bins,)
    with np.errstate(invalid="ignore"):  # an empty bin's mean is 0 / 0: NaN, as documented
        mean_confidence = np.bincount(bins, confidence, n_bins) / count
        accuracy = np.bincount(bins, correct, n_bins) / count
    filled = count > 0
    gaps = np.abs(accuracy[filled] - mean_confidence[filled])
    ece = float(gaps @ count[filled] / max(len(y), 1))
    return Calibration(edges, mean_confidence, accuracy, count, ece)


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE in [0, 1]; see ``Calibration``."""
    return calibration(probabilities, y, n_bins).ece


def most_confident_mistakes(probabilities: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Row indices (at most ``k``) of the wrong predictions, the most confident first.

    These are where the model is surest and wrong: often a badly written digit, sometimes a wrong label.
    """
    predictions = probabilities.argmax(axis=1)  # (n,)
    wrong = np.flatnonzero(predictions != y)  # (m,)
    confidence = probabilities[wrong, predictions[wrong]]  # (m,)
    order = np.argsort(-confidence, kind="stable")  # ties keep row order, so the gallery is reproducible
    return wrong[order[:k]]


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # numerator / denominator, with 0 where the denominator is 0 (no predictions or no examples of a class)
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out
