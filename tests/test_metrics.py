"""Metrics, each checked against a small case worked by hand."""

import numpy as np
import pytest

from digitnet.metrics import (
    calibration,
    confusion_matrix,
    expected_calibration_error,
    most_confident_mistakes,
    per_class_report,
)

# Seven examples of three classes. By hand:
#   true 0: predicted 0, 1        -> row [1, 1, 0]
#   true 1: predicted 1, 1        -> row [0, 2, 0]
#   true 2: predicted 2, 0, 2     -> row [1, 0, 2]
Y = np.array([0, 0, 1, 1, 2, 2, 2])
PREDICTED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert confusion_matrix(Y, PREDICTED).tolist() == expected
    assert confusion_matrix(Y, PREDICTED, n_classes=4).tolist() == [[*row, 0] for row in expected] + [[0, 0, 0, 0]]


def test_precision_recall_f1_and_support_match_the_hand_worked_case():
    report = per_class_report(Y, PREDICTED)
    # precision = diagonal / column sums (2, 3, 2); recall = diagonal / row sums (2, 2, 3)
    np.testing.assert_allclose(report.precision, [1 / 2, 2 / 3, 2 / 2])
    np.testing.assert_allclose(report.recall, [1 / 2, 2 / 2, 2 / 3])
    # F1 = 2pr / (p + r): 0.5, 2(2/3)(1)/(5/3) = 0.8, and the same 0.8 for class 2
    np.testing.assert_allclose(report.f1, [0.5, 0.8, 0.8])
    assert report.support.tolist() == [2, 2, 3]
    assert report.accuracy == pytest.approx(5 / 7)
    assert report.macro["f1"] == pytest.approx((0.5 + 0.8 + 0.8) / 3)
    assert report.weighted["f1"] == pytest.approx((2 * 0.5 + 2 * 0.8 + 3 * 0.8) / 7)
    assert report.rows()[1] == {"class": 1, "precision": pytest.approx(2 / 3), "recall": 1.0, "f1": 0.8, "support": 2}


def test_a_class_never_predicted_or_never_present_scores_zero_not_nan():
    report = per_class_report(np.array([0, 1]), np.array([0, 0]), n_classes=3)
    assert report.precision.tolist() == [0.5, 0.0, 0.0]
    assert report.recall.tolist() == [1.0, 0.0, 0.0]
    assert not np.isnan(report.f1).any()


def test_calibration_error_matches_the_hand_worked_case():
    P = np.array([[0.90, 0.10], [0.30, 0.70], [0.65, 0.35], [0.55, 0.45]])
    y = np.array([0, 0, 0, 0])  # right, wrong, right, right
    c = calibration(P, y, n_bins=5)  # bins of width 0.2
    # [0.8, 1]: conf 0.9, accuracy 1 -> gap 0.1, 1 prediction
    # [0.6, 0.8): conf (0.7 + 0.65) / 2 = 0.675, accuracy 1/2 -> gap 0.175, 2 predictions
    # [0.4, 0.6): conf 0.55, accuracy 1 -> gap 0.45, 1 prediction
    assert c.count.tolist() == [0, 0, 1, 2, 1]
    np.testing.assert_allclose(c.confidence[2:], [0.55, 0.675, 0.9])
    np.testing.assert_allclose(c.accuracy[2:], [1.0, 0.5, 1.0])
    assert np.isnan(c.accuracy[:2]).all()  # empty bins have no accuracy
    assert c.ece == pytest.approx((1 * 0.45 + 2 * 0.175 + 1 * 0.1) / 4)  # = 0.225
    assert expected_calibration_error(P, y, n_bins=5) == pytest.approx(0.225)


def test_certain_and_right_is_perfectly_calibrated():
    P = np.eye(3)[[0, 1, 2, 1]]  # probability 1 lands in the last bin
    c = calibration(P, np.array([0, 1, 2, 1]))
    assert c.count[-1] == 4
    assert c.ece == 0.0


def test_most_confident_mistakes_come_first_and_right_answers_never():
    P = np.array([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.3, 0.7]])
    y = np.array([1, 0, 1, 0, 0])  # rows 0, 1 and 4 are wrong, with confidence 0.6, 0.9 and 0.7
    assert most_confident_mistakes(P, y, k=10).tolist() == [1, 4, 0]
    assert most_confident_mistakes(P, y, k=2).tolist() == [1, 4]
    assert most_confident_mistakes(P, np.array([0, 1, 1, 0, 1]), k=3).tolist() == []
