"""Confusion-matrix statistics matching R caret's confusionMatrix(), so our numbers compare with the seed notebook.

Tables follow caret's orientation: rows are predictions, columns are references.
"""

import numpy as np
from scipy.stats import binomtest, chi2
from sklearn.metrics import confusion_matrix

from lenet_protos.contract import CLASS_STATISTICS, CLASSES, OVERALL_STATISTICS

BY_CLASS_NAMES = tuple(CLASS_STATISTICS)   # caret's names, in caret's order
OVERALL_NAMES = tuple(OVERALL_STATISTICS)


def confusion_table(predicted, reference, classes=CLASSES):
    """Count samples per (prediction, reference); sklearn puts the truth in rows, caret in columns, hence `.T`."""
    counts = confusion_matrix(reference, predicted, labels=range(classes))
    return counts.T.astype(np.int64)


def overall(table):
    """caret's `overall` vector; all NaN for an empty table, where caret's binom.test calls fail to NA."""
    table = np.asarray(table)
    n = int(table.sum())
    if n == 0:
        return dict.fromkeys(OVERALL_NAMES, float("nan"))
    correct = int(np.trace(table))
    accuracy = correct / n
    chance = float(np.sum(table.sum(axis=1) / n * (table.sum(axis=0) / n)))  # e1071::classAgreement's pc
    no_information = float(table.sum(axis=0).max() / n)  # largest reference class, as caret's propTest
    interval = binomtest(correct, n).proportion_ci(method="exact")
    return {
        "Accuracy": accuracy,
        "Kappa": (accuracy - chance) / (1 - chance) if chance != 1 else float("nan"),
        "AccuracyLower": float(interval.low),
        "AccuracyUpper": float(interval.high),
        "AccuracyNull": no_information,
        "AccuracyPValue": float(binomtest(correct, n, p=no_information, alternative="greater").pvalue),
        "McnemarPValue": _mcnemar_p_value(table),
    }


def _mcnemar_p_value(table):
    """R's mcnemar.test(table)$p.value: Bowker's symmetry test, Yates-corrected only for an asymmetric 2×2.

    An empty symmetric pair makes a 0/0 term, so the p-value is NaN exactly as in R.
    """
    table = np.asarray(table, dtype=float)
    k = len(table)
    upper = np.triu_indices(k, 1)
    differences = (table - table.T)[upper]
    totals = (table + table.T)[upper]
    if k == 2 and differences.any():
        differences = np.abs(differences) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.sum(differences**2 / totals)
    return float(chi2.sf(statistic, k * (k - 1) / 2))


def by_class(table, labels=None):
    """caret's `byClass` rows, one-vs-rest per class; 0/0 gives NaN where caret gives NA.

    PPV and NPV use caret's prevalence formulas, not TP/(TP+FP) directly. For a 2×2 table,
    the first dict is what caret reports with the first class as `positive`.
    """
    table = np.asarray(table)
    labels = range(len(table)) if labels is None else labels
    n = table.sum()
    hits = np.diag(table)
    predicted = table.sum(axis=1)
    actual = table.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sensitivity = hits / actual
        specificity = (n - predicted - actual + hits) / (n - actual)
        prevalence = actual / n
        precision = hits / predicted
        columns = (
            sensitivity,
            specificity,
            sensitivity * prevalence / (sensitivity * prevalence + (1 - specificity) * (1 - prevalence)),
            specificity * (1 - prevalence) / ((1 - sensitivity) * prevalence + specificity * (1 - prevalence)),
            precision,
            sensitivity,
            2 * precision * sensitivity / (precision + sensitivity),
            prevalence,
            hits / n,
            predicted / n,
            (sensitivity + specificity) / 2,
        )
    return [
        {"Class": label, **{name: float(column[i]) for name, column in zip(BY_CLASS_NAMES, columns)}}
        for i, label in enumerate(labels)
    ]


def worst_cells(table):
    """The notebook's "worst case": every off-diagonal cell holding the most errors,
    as (prediction, reference, count)."""
    errors = np.array(table)
    np.fill_diagonal(errors, 0)
    most = errors.max()
    if most == 0:
        return []
    return [(int(row), int(col), int(most)) for row, col in np.argwhere(errors == most)]


def cell_indices(predicted, reference):
    """Sample positions behind each non-empty off-diagonal cell, to show the images a class is confused with."""
    predicted = np.asarray(predicted)
    reference = np.asarray(reference)
    wrong = np.flatnonzero(predicted != reference)
    pairs = np.column_stack([predicted[wrong], reference[wrong]])
    cells, cell_of_sample = np.unique(pairs, axis=0, return_inverse=True)
    return {
        (int(pred), int(ref)): wrong[cell_of_sample == i]
        for i, (pred, ref) in enumerate(cells)
    }
