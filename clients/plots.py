"""PNG figures for the seed notebook's pictures: numpy arrays in, a PNG path out.

Every figure is FIGURE_WIDTH inches wide, laid out for DISPLAY_DPI (so each is DISPLAY_WIDTH CSS pixels wide in a
page) and saved at twice that resolution, sharp on HiDPI screens. Colours keep one meaning in every figure:
feature maps and strips of signed layers on a blue–white–red scale centred on 0 (SIGNED_CMAP), non-negative ones
on R's heat.colors (the seed's image() default); in class bar charts the true class is TRUE_COLOR, a predicted
class that is not the true one PRED_COLOR, every other class BAR_COLOR.

Uses matplotlib's object API on the Agg canvas only (no pyplot, no display), so it is safe in servers and worker
threads.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize, SymLogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from lenet_clients.report import PIXEL_RATIO   # PNG pixels per CSS pixel, as the report shows them
from lenet_protos import contract

FIGURE_WIDTH = 9.6      # inches: every figure, so all line up in a report
DISPLAY_DPI = 100       # the layout's pixels per inch: FIGURE_WIDTH × DISPLAY_DPI CSS pixels on a page
DISPLAY_WIDTH = round(FIGURE_WIDTH * DISPLAY_DPI)
DPI = DISPLAY_DPI * PIXEL_RATIO
# The contract's colours and layer groups, as the dashboard draws them too: signed maps negative blue, 0 white,
# positive red; non-negative maps on R's heat.colors.
SIGNED_CMAP = LinearSegmentedColormap.from_list("signed", contract.SIGNED_COLORS)
HEAT_CMAP = LinearSegmentedColormap.from_list("r_heat_colors", contract.HEAT_COLORS)
COUNT_CMAP = LinearSegmentedColormap.from_list("counts", contract.COUNT_COLORS)
BAR_COLOR, TRUE_COLOR, PRED_COLOR = (contract.COLORS[role] for role in ("other", "true", "predicted"))
TRAIN_COLOR, TEST_COLOR = contract.COLORS["train"], contract.COLORS["test"]
MAP_LAYERS, STRIP_LAYERS, BAR_LAYERS = contract.MAP_LAYERS, contract.STRIP_LAYERS, contract.BAR_LAYERS


# ---------------------------------------------------------------- helpers

def _figure(height: float, layout: str | None = "constrained") -> Figure:
    """A figure FIGURE_WIDTH inches wide, as every layout here assumes."""
    fig = Figure(figsize=(FIGURE_WIDTH, height), dpi=DISPLAY_DPI, layout=layout, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def _array(x, ndim: int, what: str, shape_hint: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{what}: expected a non-empty {ndim}-D array {shape_hint}, got shape {arr.shape}")
    return arr


def _check_len(seq, n: int, what: str) -> None:
    if seq is not None and len(seq) != n:
        raise ValueError(f"{what}: expected {n} entries (one per sample), got {len(seq)}")


def _cols(n: int, ncols: int) -> int:
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    return min(ncols, n)


def _grid(fig: Figure, n: int, ncols: int, **kw) -> list:
    """n axes on a ceil(n/ncols) x ncols grid; unused cells are hidden."""
    ncols = _cols(n, ncols)
    axes = fig.subplots(math.ceil(n / ncols), ncols, squeeze=False, **kw).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def _no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def value_scale(values: np.ndarray, signed: bool | None = None) -> tuple[str | LinearSegmentedColormap, float, float]:
    """(colour map, low, high) for one map or strip, auto-scaled on its own values: signed ones on SIGNED_CMAP
    symmetric around 0 (±their largest |value|), non-negative ones on HEAT_CMAP from 0 to their largest. `signed`
    is the layer's (any value < 0), so that every map of a layer follows one rule; by default, the values' own."""
    largest = float(np.abs(values).max()) or 1.0
    if float(values.min()) < 0 if signed is None else signed:
        return SIGNED_CMAP, -largest, largest
    return HEAT_CMAP, 0.0, largest


def class_colors(k: int, true: int | None = None, pred: int | None = None) -> list[str]:
    """Bar colours for k classes: the true class green, a predicted class that is not the true one red."""
    colors = [BAR_COLOR] * k
    if pred is not None and pred != true:
        colors[int(pred)] = PRED_COLOR
    if true is not None:
        colors[int(true)] = TRUE_COLOR
    return colors


def _class_legend(fig: Figure, true_given: bool, pred_given: bool) -> None:
    handles = [Patch(color=color, label=label) for color, label, given in
               ((TRUE_COLOR, "true class", true_given), (PRED_COLOR, "predicted class (when wrong)", pred_given),
                (BAR_COLOR, "other classes", True)) if given]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)


# ---------------------------------------------------------------- figures

def digits(images, titles: Sequence[str], path, ncols: int = 5, title: str = "") -> Path:
    """Grid of MNIST digits, dark strokes on white (the seed's show_digit), one title each, optional heading."""
    images = _array(images, 3, "digits", "(N, 28, 28)")
    _check_len(titles, len(images), "digits titles")
    n = len(images)
    cols = _cols(n, ncols)
    rows = math.ceil(n / cols)
    fig = _figure(rows * FIGURE_WIDTH / max(cols, 5) * 1.12 + (0.4 if title else 0))
    for ax, img, caption in zip(_grid(fig, n, cols), images, titles):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(caption, fontsize=10)
        _no_ticks(ax)
    if title:
        fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def probability_bars(probs, titles: Sequence[str], path, ncols: int = 5,
                     true: Sequence[int] | None = None, pred: Sequence[int] | None = None, title: str = "") -> Path:
    """One bar chart of class probabilities per sample (the seed's barplot of wpred), coloured by class_colors."""
    probs = _array(probs, 2, "probability_bars", "(N, classes)")
    n, k = probs.shape
    for seq, what in ((titles, "probability_bars titles"), (true, "true"), (pred, "pred")):
        _check_len(seq, n, what)
    cols = _cols(n, ncols)
    fig = _figure(1.9 * math.ceil(n / cols) + 0.45 + (0.4 if title else 0))
    axes = _grid(fig, n, cols, sharey=True)
    for i, (ax, p, caption) in enumerate(zip(axes, probs, titles)):
        ax.bar(range(k), p, color=class_colors(k, None if true is None else true[i],
                                               None if pred is None else pred[i]), width=0.8)
        ax.set_ylim(0, 1)
        ax.set_xticks(range(k))
        ax.tick_params(labelsize=9, length=2)
        ax.set_title(caption, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=12)
    _class_legend(fig, true is not None, pred is not None)
    return _save(fig, path)


def confusion_heatmap(table, path, labels: Sequence[str] | None = None,
                      title: str = "Confusion matrix", highlight: Sequence[tuple[int, int]] = ()) -> Path:
    """Counts heatmap, rows = Prediction, columns = Reference (caret's cm$table), log colour scale; the
    (row, column) cells in `highlight` (e.g. the worst case) get a red frame. `title` "" leaves it out."""
    table = _array(table, 2, "confusion_heatmap", "(k, k)")
    k = table.shape[0]
    if table.shape != (k, k):
        raise ValueError(f"confusion_heatmap: expected a square (k, k) table, got shape {table.shape}")
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    _check_len(labels, k, "confusion_heatmap labels")
    fig = _figure(6.6 + (0.45 if title else 0))
    ax = fig.add_subplot()
    norm = SymLogNorm(linthresh=1, linscale=0.5, vmin=0, vmax=max(float(table.max()), 1.0))
    im = ax.imshow(table, cmap=COUNT_CMAP, norm=norm)
    for (r, c), v in np.ndenumerate(table):
        text = contract.COUNT_TEXT
        color = text["light"] if norm(v) > text["dark_from"] else text["zero"] if v == 0 else text["dark"]
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=11 if k <= 12 else 7, color=color)
    for r, c in highlight:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=PRED_COLOR, linewidth=2.5))
    if len(highlight):
        fig.supxlabel("red frame: the largest off-diagonal count (the worst case)", fontsize=10, color=PRED_COLOR)
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.tick_params(length=0, labelsize=11, labelbottom=False, labeltop=True)
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("Reference (true class)", fontsize=11, labelpad=8)
    ax.set_ylabel("Prediction", fontsize=11)
    if title:
        total = table.sum()
        accuracy = f" — accuracy {np.trace(table) / total:.2%}" if total else ""
        fig.suptitle(f"{title}{accuracy}", fontsize=12)
    ticks = [t for t in (0, 1, 10, 100, 1000, 10000, 100000) if t <= norm.vmax]
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, ticks=ticks, format="%d")
    cbar.set_label("count (log scale)", fontsize=10)
    cbar.ax.tick_params(labelsize=9)
    return _save(fig, path)


def feature_maps(maps, path, title: str = "", ncols: int | None = None, shared: bool = False) -> Path:
    """All C channel images of one sample (the seed's image() grids), no ticks, ten to a row. Each map is scaled
    on its own, as R's image() does (`shared`: one scale for the whole layer instead), on value_scale's colours,
    signed or heat for the whole layer.
    Laid out by hand: constrained layout takes seconds over fifty axes."""
    maps = _array(maps, 3, "feature_maps", "(C, H, W)")
    c, h, w = maps.shape
    ncols = _cols(c, ncols or 10)
    nrows = math.ceil(c / ncols)
    cell = FIGURE_WIDTH / max(ncols, 10)            # a map never wider than a tenth of the figure
    side, label = cell * 0.8, 0.2                   # a map's width; room for its number above it
    row = side * h / w + label + 0.06
    top, legend = (0.45 if title else 0.05), 0.8
    height = top + nrows * row + legend
    fig = _figure(height, layout=None)
    left = (FIGURE_WIDTH - ncols * cell) / 2 + (cell - side) / 2
    layer_scale = value_scale(maps)
    for i, m in enumerate(maps):
        x, y = left + (i % ncols) * cell, height - top - (i // ncols + 1) * row
        ax = fig.add_axes((x / FIGURE_WIDTH, y / height, side / FIGURE_WIDTH, side * h / w / height))
        cmap, low, high = layer_scale if shared else value_scale(m, signed=layer_scale[1] < 0)
        ax.imshow(m, cmap=cmap, vmin=low, vmax=high, interpolation="nearest", aspect="auto")
        ax.set_title(str(i), fontsize=9, pad=2)
        _no_ticks(ax)
    bar = fig.add_axes((0.3, 0.42 / height, 0.4, 0.16 / height))
    cmap, low, high = layer_scale
    if shared:
        _colorbar(fig, bar, cmap, low, high, "value (one scale for the layer)")
    else:
        signed = low < 0
        _colorbar(fig, bar, cmap, -1.0 if signed else 0.0, 1.0, "each map scaled to its own largest |value|",
                  ["−max", "0", "+max"] if signed else ["0", "max"])
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.12 / height, va="top")
    return _save(fig, path)


def _colorbar(fig: Figure, ax, cmap, low: float, high: float, label: str, tick_labels: list[str] | None = None):
    """A horizontal colour bar drawn in `ax`."""
    bar = fig.colorbar(ScalarMappable(norm=Normalize(low, high), cmap=cmap), cax=ax, orientation="horizontal")
    if tick_labels:
        bar.set_ticks(np.linspace(low, high, len(tick_labels)), labels=tick_labels)
    bar.ax.tick_params(labelsize=9, length=2)
    bar.set_label(label, fontsize=9, labelpad=2)
    return bar


def strip(vector, path, title: str = "", xlabel: str = "unit index") -> Path:
    """A 1-D layer output as a thin heat strip over unit index (the seed's 1-row image()), on value_scale's
    colours."""
    vector = _array(vector, 1, "strip", "(n,)")
    n = len(vector)
    fig = _figure(1.3 + (0.35 if title else 0))
    ax = fig.add_subplot()
    cmap, low, high = value_scale(vector)
    im = ax.imshow(vector[None, :], cmap=cmap, vmin=low, vmax=high, aspect="auto", interpolation="nearest",
                   extent=(-0.5, n - 0.5, 0, 1))
    ax.set_yticks([])
    if n <= 20:
        ax.set_xticks(range(n))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, steps=[1, 2, 5, 10], integer=True))
    ax.set_xlabel(xlabel, fontsize=10)
    ax.tick_params(labelsize=9)
    if title:
        ax.set_title(title, fontsize=12)
    fig.colorbar(im, ax=ax, pad=0.01, aspect=8).ax.tick_params(labelsize=9)
    return _save(fig, path)


def bars(vector, path, title: str = "", labels: Sequence[str] | None = None, true: int | None = None) -> Path:
    """Bar chart of one output vector (the seed's barplot of Full2 / SoftM), coloured by class_colors: the largest
    bar is the predicted class; `true` is the true class when known."""
    vector = _array(vector, 1, "bars", "(n,)")
    n = len(vector)
    labels = [str(i) for i in range(n)] if labels is None else [str(s) for s in labels]
    _check_len(labels, n, "bars labels")
    fig = _figure(2.5 + (0.35 if title else 0))
    ax = fig.add_subplot()
    ax.bar(range(n), vector, color=class_colors(n, true, int(np.argmax(vector))), width=0.7)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(n), labels)
    ax.set_xlabel("class", fontsize=10)
    ax.set_ylabel("output", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=12)
    _class_legend(fig, true is not None, True)
    return _save(fig, path)


def training_curve(epochs, train_acc, test_acc, path, title: str = "Accuracy per epoch") -> Path:
    """Train and test accuracy per epoch, with markers (so a single epoch shows too)."""
    epochs = _array(epochs, 1, "training_curve epochs", "(E,)")
    series = {"train": train_acc, "test": test_acc}
    fig = _figure(3.8)
    ax = fig.add_subplot()
    for (name, acc), color in zip(series.items(), (TRAIN_COLOR, TEST_COLOR)):
        if acc is None:
            continue
        acc = _array(acc, 1, f"training_curve {name}_acc", "(E,)")
        _check_len(acc, len(epochs), f"training_curve {name}_acc")
        ax.plot(epochs, acc, marker="o", markersize=5, color=color, label=f"{name} (last {acc[-1]:.4f})")
    ax.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10], integer=True))
    ax.margins(x=0.04, y=0.12)
    if len(epochs) == 1:
        ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
        ax.set_xticks([epochs[0]])
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=10)
    if title:
        ax.set_title(title, fontsize=12)
    return _save(fig, path)


def layer_figures(activations: Mapping[str, np.ndarray], sample: int, out_dir,
                  name_of_sample: str = "", true: int | None = None, titles: bool = True) -> dict[str, Path]:
    """The seed's picture of each layer for one sample; keys are file stems minus 'layer-'.
    `name_of_sample` (e.g. "test image #65") replaces "sample N" in the titles; `true` (the sample's class, when
    known) colours the Full2 and SoftM bars as every class bar chart; `titles` False leaves titles out (a report
    names each figure itself)."""
    out_dir = Path(out_dir)
    known = MAP_LAYERS + STRIP_LAYERS + BAR_LAYERS
    unknown = sorted(set(activations) - set(known))
    if unknown:
        raise ValueError(f"layer_figures: unknown layer(s) {unknown}; expected some of {list(known)}")
    out: dict[str, Path] = {}
    for name in (n for n in known if n in activations):
        arr = np.asarray(activations[name])
        want = 4 if name in MAP_LAYERS else 2
        if arr.ndim != want:
            hint = "(N, C, H, W)" if want == 4 else "(N, units)"
            raise ValueError(f"layer_figures: {name} must be a {want}-D array {hint}, got shape {arr.shape}")
        if not 0 <= sample < len(arr):
            raise ValueError(f"layer_figures: sample {sample} out of range for {name} with {len(arr)} samples")
        x = arr[sample]
        title = f"{name} — {name_of_sample or f'sample {sample}'}: {describe_layer(x.shape)}" if titles else ""
        if name in MAP_LAYERS:
            out[name] = feature_maps(x, out_dir / f"layer-{name}.png", title)
        else:
            out[name] = strip(x, out_dir / f"layer-{name}.png", title, "class" if name in BAR_LAYERS else "unit index")
        if name in BAR_LAYERS:
            out[f"{name}-bars"] = bars(x, out_dir / f"layer-{name}-bars.png", title, true=true)
    return out


def describe_layer(shape: Sequence[int]) -> str:
    """One sample's layer output in words: "20 maps of 24×24" or "800 units"."""
    return f"{shape[0]} maps of {shape[1]}×{shape[2]}" if len(shape) == 3 else f"{shape[0]} units"


def network_graph(layers: Sequence[Mapping], path, title: str = "", per_row: int = 7) -> Path:
    """The layer chain like the seed's graph.viz: one node per layer (operator, name, settings) coloured by
    operator, its output shape and parameter count below, the input first; left to right, wrapping after
    `per_row` nodes (LeNet: the convolutional stages, then the classifier).

    `layers`: mappings with name, op, attributes, output_shape and parameter_count, in forward order."""
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

    if not layers:
        raise ValueError("network_graph: no layers")
    nodes = [{"name": contract.INPUT_NODE, "op": contract.INPUT_NODE, "attributes": "",
              "output_shape": contract.INPUT_SHAPE, "parameter_count": 0}, *layers]
    cols, rows = min(per_row, len(nodes)), math.ceil(len(nodes) / per_row)
    step = (FIGURE_WIDTH - 0.1) / cols                     # data units are inches
    width, height, row_step = step - 0.22, 0.95, 2.1
    top = 1.0 if title else 0.6
    fig = _figure(row_step * rows + top - 0.75, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-step / 2, step * (cols - 0.5) + 0.1)
    ax.set_ylim(-row_step * (rows - 1) - 1.35, top)
    ax.set_axis_off()

    def place(i: int) -> tuple[float, float]:
        return (i % per_row) * step, -(i // per_row) * row_step

    arrow = dict(arrowstyle="-|>", mutation_scale=12, linewidth=1.2, color="#333333", shrinkA=0, shrinkB=0)
    for i, node in enumerate(nodes):
        (x, y), color = place(i), contract.OPERATOR_COLORS.get(node["op"], "#dddddd")
        edge = dict(facecolor=color, edgecolor="#555555", linewidth=1.2)
        if node["op"] in contract.ROUND_OPERATORS:
            ax.add_patch(Ellipse((x, y), width + 0.1, height, **edge))
        else:
            ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                        boxstyle="round,pad=0,rounding_size=0.08", **edge))
        ax.text(x, y + 0.25, "input" if node["op"] == contract.INPUT_NODE else node["op"], ha="center", va="center",
                fontsize=8, color="#444444")
        ax.text(x, y + 0.02, node["name"], ha="center", va="center", fontsize=11, fontweight="bold", color="#111111")
        ax.text(x, y - 0.23, node["attributes"], ha="center", va="center", fontsize=8.5, color="#222222")
        ax.text(x, y - 0.68, "×".join(str(int(d)) for d in node["output_shape"]), ha="center", va="center",
                fontsize=9.5, color="#222222")
        if node["parameter_count"]:
            ax.text(x, y - 0.9, f"{int(node['parameter_count']):,} params", ha="center", va="center", fontsize=8,
                    color="#666666")
        if not i:
            continue
        (px, py) = place(i - 1)
        if py == y:
            ax.add_patch(FancyArrowPatch((px + width / 2 + 0.05, y), (x - width / 2 - 0.05, y), **arrow))
        else:  # wrap: out of the row's last node to the right, down below its labels, back left, into the next
            right, gap = px + step / 2 - 0.05, py - 1.15
            ax.plot([px + width / 2 + 0.05, right, right, x, x], [py, py, gap, gap, y + height / 2 + 0.22],
                    color="#333333", linewidth=1.2, solid_joinstyle="round")
            ax.add_patch(FancyArrowPatch((x, y + height / 2 + 0.25), (x, y + height / 2 + 0.02), **arrow))
    ax.text(-step / 2 + 0.08, -row_step * (rows - 1) - 1.22, "under each node: its output shape for one image, "
            "its parameters", fontsize=8.5, color="#777777", va="center")
    if title:
        ax.text(step * (cols - 1) / 2, top - 0.22, title, ha="center", va="center", fontsize=12)
    return _save(fig, path)
