"""PNG figures for the seed notebook's pictures: numpy arrays in, a PNG path out.

Uses matplotlib's object API on the Agg canvas only (no pyplot, no display), so it
is safe in servers and worker threads.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import SymLogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

DPI = 110
MAP_CMAP = "inferno"  # feature maps and strips (a dark-to-light "heat" scale, like R's image())
BAR_COLOR = "#9aa5b1"
TRUE_COLOR = "#2a9d4b"
PRED_COLOR = "#d1495b"

MAP_LAYERS = ("Conv1", "Act1", "Pool1", "Conv2", "Act2", "Pool2")
STRIP_LAYERS = ("Flat", "Full1", "Act3")
BAR_LAYERS = ("Full2", "SoftM")


# ---------------------------------------------------------------- helpers

def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained", facecolor="white")
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


# ---------------------------------------------------------------- figures

def digits(images, titles: Sequence[str], path, ncols: int = 5, title: str = "") -> Path:
    """Grid of MNIST digits, dark strokes on white (the seed's show_digit), one title each, optional heading."""
    images = _array(images, 3, "digits", "(N, 28, 28)")
    _check_len(titles, len(images), "digits titles")
    n = len(images)
    cols = _cols(n, ncols)
    fig = _figure(1.35 * cols, 1.5 * math.ceil(n / cols))
    for ax, img, caption in zip(_grid(fig, n, ncols), images, titles):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(caption, fontsize=9)
        _no_ticks(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def probability_bars(probs, titles: Sequence[str], path, ncols: int = 5,
                     true: Sequence[int] | None = None, pred: Sequence[int] | None = None, title: str = "") -> Path:
    """One bar chart of class probabilities per sample (the seed's barplot of wpred)."""
    probs = _array(probs, 2, "probability_bars", "(N, classes)")
    n, k = probs.shape
    for seq, what in ((titles, "probability_bars titles"), (true, "true"), (pred, "pred")):
        _check_len(seq, n, what)
    cols = _cols(n, ncols)
    fig = _figure(2.0 * cols, 1.7 * math.ceil(n / cols) + 0.35)
    axes = _grid(fig, n, ncols, sharey=True)
    for i, (ax, p, caption) in enumerate(zip(axes, probs, titles)):
        colors = [BAR_COLOR] * k
        if pred is not None:
            colors[int(pred[i])] = PRED_COLOR
        if true is not None:
            colors[int(true[i])] = TRUE_COLOR
        bars_ = ax.bar(range(k), p, color=colors, width=0.8)
        if pred is not None and true is not None and pred[i] == true[i]:
            bars_[int(pred[i])].set(edgecolor=PRED_COLOR, linewidth=2)  # correct: green with red rim
        ax.set_ylim(0, 1)
        ax.set_xticks(range(k))
        ax.tick_params(labelsize=7, length=2)
        ax.set_title(caption, fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    if true is not None or pred is not None:
        handles = [Patch(color=color, label=label) for color, label, given in
                   ((TRUE_COLOR, "true class", true), (PRED_COLOR, "predicted class", pred)) if given is not None]
        where = "outside lower center" if title else "outside upper center"  # a heading takes the top
        fig.legend(handles=handles, loc=where, ncols=len(handles), fontsize=8, frameon=False)
    return _save(fig, path)


def confusion_heatmap(table, path, labels: Sequence[str] | None = None,
                      title: str = "Confusion matrix", highlight: Sequence[tuple[int, int]] = ()) -> Path:
    """Counts heatmap, rows = Prediction, columns = Reference (caret's cm$table), log colour scale; the
    (row, column) cells in `highlight` (e.g. the worst case) get a red frame."""
    table = _array(table, 2, "confusion_heatmap", "(k, k)")
    k = table.shape[0]
    if table.shape != (k, k):
        raise ValueError(f"confusion_heatmap: expected a square (k, k) table, got shape {table.shape}")
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    _check_len(labels, k, "confusion_heatmap labels")
    size = 1.5 + 0.5 * k
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    norm = SymLogNorm(linthresh=1, linscale=0.5, vmin=0, vmax=max(float(table.max()), 1.0))
    im = ax.imshow(table, cmap="Blues", norm=norm)
    for (r, c), v in np.ndenumerate(table):
        color = "white" if norm(v) > 0.6 else ("#bbbbbb" if v == 0 else "black")
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=9 if k <= 12 else 6, color=color)
    for r, c in highlight:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=PRED_COLOR, linewidth=2.5))
    if len(highlight):
        fig.supxlabel("red frame: the largest off-diagonal count (worst case)", fontsize=9, color=PRED_COLOR)
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("Reference (true label)")
    ax.set_ylabel("Prediction")
    ax.tick_params(length=0)
    total = table.sum()
    acc = f" — accuracy {np.trace(table) / total:.2%}" if total else ""
    ax.set_title(f"{title}{acc}", fontsize=11)
    ticks = [t for t in (0, 1, 10, 100, 1000, 10000, 100000) if t <= norm.vmax]
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, ticks=ticks, format="%d")
    cbar.set_label("count (log scale)", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    return _save(fig, path)


def feature_maps(maps, path, title: str, ncols: int | None = None, shared: bool = True) -> Path:
    """All C channel images of one sample (the seed's image() grids), no ticks."""
    maps = _array(maps, 3, "feature_maps", "(C, H, W)")
    c = len(maps)
    ncols = _cols(c, ncols or (5 if c <= 25 else 10))
    nrows = math.ceil(c / ncols)
    fig = _figure(1.05 * ncols + (0.7 if shared else 0), 1.2 * nrows + 0.45)
    vmin, vmax = (float(maps.min()), float(maps.max())) if shared else (None, None)
    for i, (ax, m) in enumerate(zip(_grid(fig, c, ncols), maps)):
        im = ax.imshow(m, cmap=MAP_CMAP, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(str(i), fontsize=7, pad=2)
        _no_ticks(ax)
    scale = "shared colour scale" if shared else "each map on its own colour scale"
    fig.suptitle(f"{title}  ({scale})", fontsize=11)
    if shared:
        cbar = fig.colorbar(im, ax=fig.axes[:c], shrink=0.7, aspect=25, pad=0.02)
        cbar.ax.tick_params(labelsize=8)
    return _save(fig, path)


def strip(vector, path, title: str) -> Path:
    """A 1-D layer output as a thin heat strip over unit index (the seed's 1-row image())."""
    vector = _array(vector, 1, "strip", "(n,)")
    n = len(vector)
    fig = _figure(9.0, 1.7)
    ax = fig.add_subplot()
    im = ax.imshow(vector[None, :], cmap=MAP_CMAP, aspect="auto", interpolation="nearest",
                   extent=(-0.5, n - 0.5, 0, 1))
    ax.set_yticks([])
    if n <= 20:
        ax.set_xticks(range(n))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, steps=[1, 2, 5, 10], integer=True))
    ax.set_xlabel("unit index", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=11)
    fig.colorbar(im, ax=ax, pad=0.01, aspect=8).ax.tick_params(labelsize=8)
    return _save(fig, path)


def bars(vector, path, title: str, labels: Sequence[str] | None = None) -> Path:
    """Bar chart of one output vector (the seed's barplot of Full2 / SoftM); the largest bar is highlighted."""
    vector = _array(vector, 1, "bars", "(n,)")
    n = len(vector)
    labels = [str(i) for i in range(n)] if labels is None else [str(s) for s in labels]
    _check_len(labels, n, "bars labels")
    fig = _figure(5.5, 3.2)
    ax = fig.add_subplot()
    colors = [BAR_COLOR] * n
    colors[int(np.argmax(vector))] = PRED_COLOR
    ax.bar(range(n), vector, color=colors, width=0.75)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(n), labels)
    ax.set_xlabel("class", fontsize=9)
    ax.set_ylabel("output", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def training_curve(epochs, train_acc, test_acc, path) -> Path:
    """Train and test accuracy per epoch, with markers (so a single epoch shows too)."""
    epochs = _array(epochs, 1, "training_curve epochs", "(E,)")
    series = {"train": train_acc, "test": test_acc}
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    for (name, acc), color in zip(series.items(), ("#3a6ea5", PRED_COLOR)):
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
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title("Accuracy per epoch", fontsize=11)
    return _save(fig, path)


def layer_figures(activations: Mapping[str, np.ndarray], sample: int, out_dir,
                  name_of_sample: str = "") -> dict[str, Path]:
    """The seed's picture of each layer for one sample; keys are file stems minus 'layer-'.
    `name_of_sample` (e.g. "test image #65") replaces "sample N" in the titles."""
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
        desc = f"{len(x)} maps of {x.shape[1]}×{x.shape[2]}" if x.ndim == 3 else f"{len(x)} units"
        title = f"{name} — {name_of_sample or f'sample {sample}'}: {desc}"
        if name in MAP_LAYERS:
            out[name] = feature_maps(x, out_dir / f"layer-{name}.png", title)
        else:
            out[name] = strip(x, out_dir / f"layer-{name}.png", title)
        if name in BAR_LAYERS:
            out[f"{name}-bars"] = bars(x, out_dir / f"layer-{name}-bars.png", title)
    return out


# Node colours of the seed's graph.viz, by operator.
OP_COLORS = {"data": "#8dd3c7", "Convolution": "#fb8072", "FullyConnected": "#fb8072", "Activation": "#ffffb3",
             "Pooling": "#80b1d3", "Flatten": "#fdb462", "SoftmaxOutput": "#b3de69"}
ROUND_OPS = ("data", "Pooling", "Flatten")  # drawn as ovals, the others as boxes, as graph.viz does


def network_graph(layers: Sequence[Mapping], path, title: str = "", per_row: int = 7) -> Path:
    """The layer chain like the seed's graph.viz: one node per layer (operator, name, settings) coloured by
    operator, its output shape and parameter count below, the input first; left to right, wrapping after
    `per_row` nodes (LeNet: the convolutional stages, then the classifier).

    `layers`: mappings with name, op, attributes, output_shape and parameter_count, in forward order."""
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

    if not layers:
        raise ValueError("network_graph: no layers")
    nodes = [{"name": "data", "op": "data", "attributes": "", "output_shape": (1, 28, 28), "parameter_count": 0},
             *layers]
    step, width, height, row_step = 1.6, 1.25, 0.95, 2.1  # data units are inches
    cols, rows = min(per_row, len(nodes)), math.ceil(len(nodes) / per_row)
    top = 1.0 if title else 0.6
    fig = Figure(figsize=(step * cols + 0.1, row_step * rows + top - 0.75), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-step / 2, step * (cols - 0.5) + 0.1)
    ax.set_ylim(-row_step * (rows - 1) - 1.35, top)
    ax.set_axis_off()

    def place(i: int) -> tuple[float, float]:
        return (i % per_row) * step, -(i // per_row) * row_step

    arrow = dict(arrowstyle="-|>", mutation_scale=12, linewidth=1.2, color="#333333", shrinkA=0, shrinkB=0)
    for i, node in enumerate(nodes):
        (x, y), color = place(i), OP_COLORS.get(node["op"], "#dddddd")
        edge = dict(facecolor=color, edgecolor="#555555", linewidth=1.2)
        if node["op"] in ROUND_OPS:
            ax.add_patch(Ellipse((x, y), width + 0.1, height, **edge))
        else:
            ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                        boxstyle="round,pad=0,rounding_size=0.08", **edge))
        ax.text(x, y + 0.24, "input" if node["op"] == "data" else node["op"], ha="center", va="center",
                fontsize=7, color="#444444")
        ax.text(x, y + 0.02, node["name"], ha="center", va="center", fontsize=10, fontweight="bold", color="#111111")
        ax.text(x, y - 0.22, node["attributes"], ha="center", va="center", fontsize=7.5, color="#222222")
        ax.text(x, y - 0.68, "×".join(str(int(d)) for d in node["output_shape"]), ha="center", va="center",
                fontsize=8.5, color="#222222")
        if node["parameter_count"]:
            ax.text(x, y - 0.9, f"{int(node['parameter_count']):,} params", ha="center", va="center", fontsize=7,
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
            "its parameters", fontsize=7, color="#777777", va="center")
    if title:
        ax.text(step * (cols - 1) / 2, top - 0.22, title, ha="center", va="center", fontsize=12)
    return _save(fig, path)
