"""Evaluation results as text laid out like R prints them in the seed notebook (plain strings, no I/O).

    confusion_table(table)   caret's `cm$table`: "Reference" over the columns, "Prediction" beside the rows
    named_vector(overall)    R's print of a named numeric vector, e.g. `cm$overall`
    by_class_table(rows)     caret's "Statistics by Class:" block, i.e. `print(t(cm$byClass), digits = 4)`
    worst_cases(cells)       the notebook's worst (prediction, reference) cell(s) and a few of their samples

Numbers follow R's formatting rules (common decimals for a vector or a matrix column, `digits` significant
digits for the value that needs most, NaN printed as NaN, lines wrapped at `width` like R's default 80).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

R_WIDTH = 80


def r_format(values: Iterable[float], digits: int = 7) -> list[str]:
    """Format numbers together as R's format()/print() does: fixed notation with the decimals the most
    demanding value needs at `digits` significant digits, or scientific when that is narrower."""
    values = [float(v) for v in values]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [_special(v) for v in values]
    negative = any(v < 0 for v in finite)
    exponents, significants = zip(*(_significant(v, digits) for v in finite))
    left = max(e + 1 if e >= 0 else 1 for e in exponents)
    right = max(max(0, s - e - 1) for e, s in zip(exponents, significants))
    fixed_width = negative + left + (right + 1 if right else 0)
    mantissa = max(significants)
    sci_width = negative + (mantissa + 1 if mantissa > 1 else 1) + (5 if max(map(abs, exponents)) >= 100 else 4)
    if fixed_width <= sci_width:
        return [f"{v:.{right}f}" if math.isfinite(v) else _special(v) for v in values]
    return [f"{v:.{mantissa - 1}e}" if math.isfinite(v) else _special(v) for v in values]


def _significant(value: float, digits: int) -> tuple[int, int]:
    """(decimal exponent, significant digits left after rounding to `digits` and dropping trailing zeros)."""
    if value == 0:
        return 0, 1
    mantissa, exponent = f"{abs(value):.{digits - 1}e}".split("e")
    return int(exponent), max(1, len(mantissa.replace(".", "").rstrip("0")))


def _special(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")


def confusion_table(table, labels: Sequence[str] | None = None) -> str:
    """caret's cm$table: rows are predictions, columns references, all counts in one common width."""
    table = np.asarray(table)
    k = len(table)
    labels = [str(label) for label in (range(k) if labels is None else labels)]
    cells = [[str(int(v)) for v in row] for row in table]
    width = max(len(text) for text in [*labels, *(c for row in cells for c in row)])
    stub = max(len("Prediction"), *(len(label) for label in labels))
    lines = [" " * stub + "Reference",
             "Prediction".ljust(stub) + "".join(" " + label.rjust(width) for label in labels)]
    lines += [label.rjust(stub) + "".join(" " + c.rjust(width) for c in row) for label, row in zip(labels, cells)]
    return "\n".join(lines)


def named_vector(values: Mapping[str, float], digits: int = 7, width: int = R_WIDTH) -> str:
    """R's print of a named numeric vector: names right-aligned over values, as many per line as fit."""
    texts = r_format(values.values(), digits)
    column = max(len(text) for text in [*values, *texts])
    per_line = max(1, width // (column + 1))
    names = list(values)
    lines = []
    for start in range(0, len(names), per_line):
        lines.append("".join(name.rjust(column) + " " for name in names[start:start + per_line]))
        lines.append("".join(text.rjust(column) + " " for text in texts[start:start + per_line]))
    return "\n".join(lines)


def by_class_table(rows: Sequence[Mapping], digits: int = 4, width: int = R_WIDTH) -> str:
    """caret's "Statistics by Class:" matrix: one column per class ("Class: 4"), one row per statistic.

    `rows` are caret's byClass rows as dicts: {"Class": label, "Sensitivity": …, …} in caret's order.
    Each column has its own decimals (R formats a matrix column by column); columns wrap at `width`.
    """
    if not rows:
        return ""
    names = [name for name in rows[0] if name != "Class"]
    headers = [f"Class: {row['Class']}" for row in rows]
    columns = [r_format([row[name] for name in names], digits) for row in rows]
    widths = [max(len(header), *map(len, column)) for header, column in zip(headers, columns)]
    stub = max(map(len, names))
    blocks, start = [], 0
    while start < len(rows):
        end, used = start, stub
        while end < len(rows) and (end == start or used + 1 + widths[end] <= width):
            used += 1 + widths[end]
            end += 1
        lines = [" " * stub + "".join(" " + headers[j].rjust(widths[j]) for j in range(start, end))]
        lines += [name.ljust(stub) + "".join(" " + columns[j][i].rjust(widths[j]) for j in range(start, end))
                  for i, name in enumerate(names)]
        blocks.append("\n".join(lines))
        start = end
    return "\n".join(blocks)


def worst_cases(cells: Sequence[tuple[int, int, Sequence[int]]], labels: Sequence[str] | None = None,
                show: int = 10) -> str:
    """The worst off-diagonal cell(s) as (prediction, reference, sample indices), like the notebook's
    `which(errors == max(errors), arr.ind = T)`, plus the first `show` indices of each."""
    if not cells:
        return "No misclassified samples."
    name = (lambda k: str(k)) if labels is None else (lambda k: str(labels[k]))
    rows = [("Prediction", "Reference", "Count")] + [(name(p), name(r), str(len(ix))) for p, r, ix in cells]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  " + " ".join(text.rjust(w) for text, w in zip(row, widths)) for row in rows]
    for prediction, reference, indices in cells:
        shown = ", ".join(str(int(i)) for i in list(indices)[:show])
        more = f" … ({len(indices)} in all)" if len(indices) > show else ""
        lines.append(f"  {name(reference)} predicted as {name(prediction)}: samples {shown}{more}")
    return "\n".join(lines)
