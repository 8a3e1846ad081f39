"""Fast checks of clients.plots: each figure is a real, non-blank PNG of a sensible size."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from clients import plots

RNG = np.random.default_rng(0)
LAYER_SHAPES = {
    "Conv1": (20, 24, 24), "Act1": (20, 24, 24), "Pool1": (20, 12, 12),
    "Conv2": (50, 8, 8), "Act2": (50, 8, 8), "Pool2": (50, 4, 4),
    "Flat": (800,), "Full1": (500,), "Act3": (500,), "Full2": (10,), "SoftM": (10,),
}


def assert_png(path, min_wh=(200, 100), max_wh=(2000, 1600)):
    assert path.exists() and path.suffix == ".png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert min_wh[0] <= w <= max_wh[0] and min_wh[1] <= h <= max_wh[1], (w, h)
    assert img[..., :3].std() > 0, "blank image"


def test_digits(tmp_path):
    imgs = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    out = plots.digits(imgs, [f"label {i}" for i in range(7)], tmp_path / "d.png")
    assert_png(out, min_wh=(300, 150))


def test_probability_bars(tmp_path):
    p = RNG.random((10, 10))
    p /= p.sum(1, keepdims=True)
    out = plots.probability_bars(p, [f"#{i}" for i in range(10)], tmp_path / "p.png",
                                 true=[4] * 10, pred=list(p.argmax(1)))
    assert_png(out, min_wh=(600, 250))
    assert_png(plots.probability_bars(p[:1], ["one"], tmp_path / "p1.png"), min_wh=(150, 100))


def test_confusion_heatmap(tmp_path):
    table = np.diag([980, 1130, 1020, 1000, 970, 880, 950, 1015, 965, 990]) + RNG.integers(0, 6, (10, 10))
    out = plots.confusion_heatmap(table, tmp_path / "c.png")
    assert_png(out, min_wh=(500, 500))


def test_headings_and_highlight_change_the_picture(tmp_path):
    table = np.diag([98, 97, 99]) + np.array([[0, 1, 0], [0, 0, 3], [2, 0, 0]])
    plain = mpimg.imread(plots.confusion_heatmap(table, tmp_path / "c.png"))
    framed = mpimg.imread(plots.confusion_heatmap(table, tmp_path / "f.png", highlight=[(1, 2)]))

    def red(img):
        return ((img[..., 0] > 0.7) & (img[..., 1] < 0.4) & (img[..., 2] < 0.5)).sum()

    assert red(plain) == 0 and red(framed) > 100                 # the frame and its note are red
    imgs = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    untitled = mpimg.imread(plots.digits(imgs, ["a", "b", "c"], tmp_path / "d.png"))
    titled = mpimg.imread(plots.digits(imgs, ["a", "b", "c"], tmp_path / "t.png", title="Worst case"))
    assert titled.shape == untitled.shape and not np.array_equal(titled, untitled)
    p = np.full((2, 10), 0.1)
    assert_png(plots.probability_bars(p, ["x", "y"], tmp_path / "p.png", true=[1, 2], pred=[3, 4], title="t"))


@pytest.mark.parametrize("shape", [(20, 24, 24), (50, 4, 4), (1, 8, 8)])
@pytest.mark.parametrize("shared", [True, False])
def test_feature_maps(tmp_path, shape, shared):
    out = plots.feature_maps(RNG.normal(size=shape), tmp_path / "f.png", "maps", shared=shared)
    assert_png(out, min_wh=(100, 100))


def test_strip_and_bars(tmp_path):
    assert_png(plots.strip(RNG.normal(size=800), tmp_path / "s.png", "Flat"), min_wh=(600, 100))
    assert_png(plots.bars(RNG.normal(size=10), tmp_path / "b.png", "Full2"), min_wh=(400, 250))


@pytest.mark.parametrize("n", [1, 20])
def test_training_curve(tmp_path, n):
    epochs = np.arange(1, n + 1)
    out = plots.training_curve(epochs, np.linspace(0.9, 0.99, n), np.linspace(0.95, 0.98, n), tmp_path / "t.png")
    assert_png(out, min_wh=(400, 300))


def test_layer_figures_all_layers(tmp_path):
    acts = {name: RNG.normal(size=(3, *shape)) for name, shape in LAYER_SHAPES.items()}
    out = plots.layer_figures(acts, 2, tmp_path / "layers")
    expected = set(LAYER_SHAPES) | {"Full2-bars", "SoftM-bars"}
    assert set(out) == expected
    assert {p.name for p in (tmp_path / "layers").iterdir()} == {f"layer-{k}.png" for k in expected}
    for path in out.values():
        assert_png(path, min_wh=(300, 100))
    assert mpimg.imread(out["Conv2"]).shape[1] > mpimg.imread(out["Conv1"]).shape[1]  # 5x10 grid vs 4x5


def test_layer_figures_subset(tmp_path):
    out = plots.layer_figures({"Pool1": RNG.normal(size=(1, 20, 12, 12))}, 0, tmp_path)
    assert list(out) == ["Pool1"] and out["Pool1"].name == "layer-Pool1.png"


@pytest.mark.parametrize("call, match", [
    (lambda d: plots.digits(np.zeros((2, 784), np.uint8), ["a", "b"], d / "x.png"), r"\(N, 28, 28\)"),
    (lambda d: plots.digits(np.zeros((2, 28, 28), np.uint8), ["a"], d / "x.png"), "expected 2 entries"),
    (lambda d: plots.probability_bars(np.zeros(10), ["a"], d / "x.png"), r"\(N, classes\)"),
    (lambda d: plots.probability_bars(np.zeros((2, 10)), ["a", "b"], d / "x.png", true=[1]), "true"),
    (lambda d: plots.digits(np.zeros((2, 28, 28), np.uint8), ["a", "b"], d / "x.png", ncols=0), "ncols"),
    (lambda d: plots.confusion_heatmap(np.zeros((3, 4), int), d / "x.png"), "square"),
    (lambda d: plots.confusion_heatmap(np.zeros((3, 3), int), d / "x.png", labels=["a"]), "labels"),
    (lambda d: plots.feature_maps(np.zeros((8, 8)), d / "x.png", "t"), r"\(C, H, W\)"),
    (lambda d: plots.strip(np.zeros((2, 5)), d / "x.png", "t"), r"\(n,\)"),
    (lambda d: plots.bars(np.zeros((2, 5)), d / "x.png", "t"), r"\(n,\)"),
    (lambda d: plots.training_curve([1, 2], [0.9], [0.9, 0.95], d / "x.png"), "train_acc"),
    (lambda d: plots.layer_figures({"Conv1": np.zeros((2, 24, 24))}, 0, d), "Conv1 must be a 4-D"),
    (lambda d: plots.layer_figures({"Flat": np.zeros((2, 50, 4, 4))}, 0, d), "Flat must be a 2-D"),
    (lambda d: plots.layer_figures({"Flat": np.zeros((2, 800))}, 5, d), "out of range"),
    (lambda d: plots.layer_figures({"Conv3": np.zeros((2, 800))}, 0, d), "unknown layer"),
])
def test_bad_inputs_raise_value_error(tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path)
