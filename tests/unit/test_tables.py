"""lenet_clients.tables prints the seed notebook's matrix and statistics exactly as R and caret printed them."""
import math

import numpy as np
import pytest

from lenet_clients import tables
from lenet_workers.engine.stats import by_class, overall

from test_stats import SEED_TABLE  # tests/unit is on sys.path (pytest rootdir-relative import)

# The seed's `cm$table` and `cm$overall` outputs, without knitr's "## " prefix (trailing spaces are R's).
SEED_CM_TABLE = """\
          Reference
Prediction    0    1    2    3    4    5    6    7    8    9
         0  974    0    1    0    0    2    3    0    2    0
         1    1 1131    0    0    0    0    2    2    0    0
         2    0    0 1025    1    1    0    0    2    0    0
         3    0    0    0 1000    0    5    1    1    1    2
         4    0    0    1    0  970    0    0    1    0    6
         5    1    0    0    6    0  878    4    0    2    2
         6    3    2    1    0    1    2  947    0    0    1
         7    1    0    2    0    0    0    0 1016    0    3
         8    0    2    2    3    0    4    1    1  966    1
         9    0    0    0    0   10    1    0    5    3  994"""

SEED_CM_OVERALL = """\
      Accuracy          Kappa  AccuracyLower  AccuracyUpper   AccuracyNull 
     0.9901000      0.9889958      0.9879601      0.9919467      0.1135000 
AccuracyPValue  McnemarPValue 
     0.0000000            NaN """


def test_seed_table_printed_like_caret():
    assert tables.confusion_table(SEED_TABLE) == SEED_CM_TABLE


def test_seed_overall_printed_like_r():
    assert tables.named_vector(overall(SEED_TABLE)) == SEED_CM_OVERALL


def test_small_table_narrows_its_columns_and_keeps_labels():
    text = tables.confusion_table(np.array([[5, 0], [1, 12]]), labels=["cat", "dog"])
    assert text.splitlines() == [
        "          Reference",
        "Prediction cat dog",
        "       cat   5   0",
        "       dog   1  12",
    ]


def test_by_class_block_is_carets_transposed_byclass_wrapped_at_80_columns():
    lines = tables.by_class_table(by_class(SEED_TABLE)).splitlines()
    assert len(lines) == 2 * 12 and max(map(len, lines)) <= 80
    assert lines[0].endswith("Class: 4 Class: 5") and lines[12].endswith("Class: 8 Class: 9")
    # caret: print(t(cm$byClass), digits = 4); digit 4's sensitivity 970/982 and prevalence 982/10000
    assert lines[1] == "Sensitivity            0.9939   0.9965   0.9932   0.9901   0.9878   0.9843"
    assert lines[8] == "Prevalence             0.0980   0.1135   0.1032   0.1010   0.0982   0.0892"
    assert lines[11].startswith("Balanced Accuracy ")


def test_nan_in_a_column_prints_as_nan():
    rows = by_class(np.array([[5, 1, 2], [0, 0, 0], [1, 3, 4]]))   # class 1 is never predicted
    column = [line.split()[-2] for line in tables.by_class_table(rows).splitlines()[1:]]
    assert column[4] == "NaN"                                       # precision 0/0
    assert column[:2] == ["0.00", "1.00"] and column[7] == "0.25"   # R: the decimals this column needs


@pytest.mark.parametrize("values, expected", [
    ([0.5, 0.25], ["0.50", "0.25"]),
    ([1.0, 2.0], ["1", "2"]),
    ([123.456, 0.1], ["123.456", "0.100"]),
    ([1e-10, 0.5], ["1e-10", "5e-01"]),            # fixed would need 10 decimals: R switches to scientific
    ([float("nan"), 0.123456789], ["NaN", "0.1234568"]),
    ([-0.5, 0.25], ["-0.50", "0.25"]),
])
def test_numbers_formatted_together_like_r(values, expected):
    assert tables.r_format(values) == expected


def test_worst_cases_lists_every_tied_cell_and_a_few_indices():
    text = tables.worst_cases([(9, 4, list(range(100, 112))), (7, 2, [5, 6])], show=10)
    lines = text.splitlines()
    assert lines[0].split() == ["Prediction", "Reference", "Count"]
    assert lines[1].split() == ["9", "4", "12"] and lines[2].split() == ["7", "2", "2"]
    assert lines[3] == "  4 predicted as 9: samples 100, 101, 102, 103, 104, 105, 106, 107, 108, 109 … (12 in all)"
    assert lines[4] == "  2 predicted as 7: samples 5, 6"
    assert tables.worst_cases([]) == "No misclassified samples."


def test_named_vector_wraps_like_r_at_the_given_width():
    text = tables.named_vector({"a": 1.5, "bb": 2.25, "ccc": math.pi}, width=20)
    assert text.splitlines() == ["       a       bb ", "1.500000 2.250000 ", "     ccc ", "3.141593 "]
