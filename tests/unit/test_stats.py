"""The engine's confusion statistics must reproduce what caret printed in the seed notebook."""

import math

import numpy as np
import pytest
from scipy.stats import chi2
from sklearn.metrics import cohen_kappa_score

from lenet_workers.engine.stats import by_class, cell_indices, confusion_table, overall, worst_cells

# cm$table from the seed notebook: rows Prediction, columns Reference.
SEED_TABLE = np.array([
    [974, 0, 1, 0, 0, 2, 3, 0, 2, 0],
    [1, 1131, 0, 0, 0, 0, 2, 2, 0, 0],
    [0, 0, 1025, 1, 1, 0, 0, 2, 0, 0],
    [0, 0, 0, 1000, 0, 5, 1, 1, 1, 2],
    [0, 0, 1, 0, 970, 0, 0, 1, 0, 6],
    [1, 0, 0, 6, 0, 878, 4, 0, 2, 2],
    [3, 2, 1, 0, 1, 2, 947, 0, 0, 1],
    [1, 0, 2, 0, 0, 0, 0, 1016, 0, 3],
    [0, 2, 2, 3, 0, 4, 1, 1, 966, 1],
    [0, 0, 0, 0, 10, 1, 0, 5, 3, 994],
])

# Every off-diagonal pair is non-empty, so Bowker's test is defined.
ASYMMETRIC_3X3 = np.array([
    [10, 2, 3],
    [5, 20, 1],
    [6, 4, 30],
])


def samples_of(table):
    """One (prediction, reference) sample per count, so table-level results can be checked from raw labels."""
    predictions, references = np.indices(table.shape)
    counts = table.ravel()
    return np.repeat(predictions.ravel(), counts), np.repeat(references.ravel(), counts)


def bowker_p_value_by_loop(table):
    statistic = 0.0
    k = len(table)
    for i in range(k):
        for j in range(i + 1, k):
            statistic += (table[i, j] - table[j, i]) ** 2 / (table[i, j] + table[j, i])
    return chi2.sf(statistic, k * (k - 1) // 2)


def test_seed_overall_matches_caret_printout():
    stats = overall(SEED_TABLE)
    assert stats["Accuracy"] == pytest.approx(0.9901, abs=1e-6)
    assert stats["Kappa"] == pytest.approx(0.9889958, abs=1e-6)
    assert stats["AccuracyLower"] == pytest.approx(0.9879601, abs=1e-6)
    assert stats["AccuracyUpper"] == pytest.approx(0.9919467, abs=1e-6)
    assert stats["AccuracyNull"] == pytest.approx(0.1135, abs=1e-6)
    assert stats["AccuracyPValue"] == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(stats["McnemarPValue"])


def test_kappa_agrees_with_sklearn_on_samples():
    predicted, reference = samples_of(SEED_TABLE)
    assert overall(SEED_TABLE)["Kappa"] == pytest.approx(cohen_kappa_score(predicted, reference), abs=1e-12)


def test_seed_worst_cell_is_four_predicted_as_nine():
    assert worst_cells(SEED_TABLE) == [(9, 4, 10)]


def test_seed_rebuilt_from_samples():
    predicted, reference = samples_of(SEED_TABLE)
    table = confusion_table(predicted, reference)
    assert table.dtype == np.int64
    np.testing.assert_array_equal(table, SEED_TABLE)


def test_bowker_p_value_for_three_classes():
    # statistic = 9/7 + 9/9 + 9/5 = 143/35 on 3 df; chi-square(3) survival in closed form.
    statistic = 143 / 35
    by_hand = math.erfc(math.sqrt(statistic / 2)) + math.sqrt(2 * statistic / math.pi) * math.exp(-statistic / 2)
    p_value = overall(ASYMMETRIC_3X3)["McnemarPValue"]
    assert p_value == pytest.approx(bowker_p_value_by_loop(ASYMMETRIC_3X3), rel=1e-12)
    assert p_value == pytest.approx(by_hand, rel=1e-9)
    assert p_value == pytest.approx(0.252356047, abs=1e-9)


def test_two_by_two_uses_yates_correction():
    # R: (|3 - 8| - 1)^2 / (3 + 8) = 16/11 on 1 df.
    p_value = overall(np.array([[10, 3], [8, 20]]))["McnemarPValue"]
    assert p_value == pytest.approx(math.erfc(math.sqrt(16 / 11 / 2)), rel=1e-9)
    assert p_value == pytest.approx(0.227799994, abs=1e-9)


def test_symmetric_two_by_two_skips_correction_like_r():
    assert overall(np.array([[10, 4], [4, 20]]))["McnemarPValue"] == pytest.approx(1.0)


@pytest.mark.parametrize("table", [
    np.array([[10, 0], [0, 20]]),
    np.array([[10, 2, 0], [5, 20, 1], [0, 4, 30]]),
])
def test_empty_symmetric_pair_gives_nan(table):
    assert math.isnan(overall(table)["McnemarPValue"])


def test_seed_by_class_for_digit_four():
    four = by_class(SEED_TABLE)[4]
    specificity = (10000 - 978 - 982 + 970) / (10000 - 982)
    assert four["Class"] == 4
    assert four["Sensitivity"] == pytest.approx(970 / 982)
    assert four["Recall"] == four["Sensitivity"]
    assert four["Specificity"] == pytest.approx(specificity)
    assert four["Precision"] == pytest.approx(970 / 978)
    assert four["Pos Pred Value"] == pytest.approx(970 / 978)
    assert four["Neg Pred Value"] == pytest.approx((10000 - 978 - 982 + 970) / (10000 - 978))
    assert four["F1"] == pytest.approx(2 * 970 / (978 + 982))
    assert four["Prevalence"] == pytest.approx(982 / 10000)
    assert four["Detection Rate"] == pytest.approx(970 / 10000)
    assert four["Detection Prevalence"] == pytest.approx(978 / 10000)
    assert four["Balanced Accuracy"] == pytest.approx((970 / 982 + specificity) / 2)


def test_by_class_uses_given_labels():
    assert [row["Class"] for row in by_class(ASYMMETRIC_3X3, labels=["a", "b", "c"])] == ["a", "b", "c"]


def test_class_never_predicted_has_nan_precision_like_caret():
    never_predicted = by_class(np.array([[5, 1, 2], [0, 0, 0], [1, 3, 4]]))[1]
    assert never_predicted["Sensitivity"] == 0.0
    assert never_predicted["Specificity"] == 1.0
    assert never_predicted["Detection Prevalence"] == 0.0
    assert never_predicted["Neg Pred Value"] == pytest.approx(1 - 4 / 16)
    for name in ("Precision", "Pos Pred Value", "F1"):
        assert math.isnan(never_predicted[name])


def test_class_absent_from_reference_has_nan_sensitivity():
    absent = by_class(np.array([[5, 0, 2], [1, 0, 3], [1, 0, 4]]))[1]
    for name in ("Sensitivity", "Recall", "Balanced Accuracy"):
        assert math.isnan(absent[name])
    assert absent["Precision"] == 0.0


def test_confusion_table_rows_are_predictions():
    table = confusion_table(predicted=[1, 1, 2, 0], reference=[0, 1, 0, 0], classes=3)
    np.testing.assert_array_equal(table, [
        [1, 0, 0],
        [1, 1, 0],
        [1, 0, 0],
    ])


def test_cell_indices_agree_with_table():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 4, size=200)
    predicted = np.where(rng.random(200) < 0.3, rng.integers(0, 4, size=200), reference)
    table = confusion_table(predicted, reference, classes=4)
    cells = cell_indices(predicted, reference)
    off_diagonal = {(p, r) for p, r in zip(*np.nonzero(table)) if p != r}
    assert set(cells) == off_diagonal
    for (p, r), positions in cells.items():
        assert len(positions) == table[p, r]
        assert np.all(predicted[positions] == p) and np.all(reference[positions] == r)


def test_cell_indices_empty_without_errors():
    assert cell_indices([0, 1, 2], [0, 1, 2]) == {}


def test_worst_cells_returns_all_ties():
    table = np.array([[9, 3, 0], [1, 9, 3], [3, 0, 9]])
    assert worst_cells(table) == [(0, 1, 3), (1, 2, 3), (2, 0, 3)]


def test_worst_cells_empty_without_errors():
    assert worst_cells(np.diag([5, 6, 7])) == []


def test_empty_table_gives_nan_like_caret():
    assert all(math.isnan(value) for value in overall(np.zeros((3, 3), dtype=np.int64)).values())
