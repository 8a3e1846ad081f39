"""Fast checks of lenet_clients.plots: each figure is a real, non-blank PNG of a sensible size."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from lenet_clients import plots

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
    assert titled.shape[1] == untitled.shape[1] and titled.shape[0] > untitled.shape[0]   # room for the heading
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
    assert {mpimg.imread(path).shape[1] for path in out.values()} == {plots.DISPLAY_WIDTH * plots.PIXEL_RATIO}
    conv1, conv2 = mpimg.imread(out["Conv1"]), mpimg.imread(out["Conv2"])
    assert conv1.shape[1] == conv2.shape[1] and conv2.shape[0] > conv1.shape[0]    # 2×10 maps vs 5×10, one width


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


def test_every_figure_is_one_width_at_twice_the_display_resolution(tmp_path):
    p = np.full((2, 10), 0.1)
    paths = [plots.digits(RNG.integers(0, 256, (5, 28, 28)), list("abcde"), tmp_path / "d.png"),
             plots.probability_bars(p, ["x", "y"], tmp_path / "p.png", true=[1, 2], pred=[3, 4]),
             plots.confusion_heatmap(np.eye(10) * 90 + 1, tmp_path / "c.png", title=""),
             plots.training_curve([1, 2], [0.9, 0.95], [0.92, 0.96], tmp_path / "t.png"),
             plots.network_graph([{"name": "Conv1", "op": "Convolution", "attributes": "5×5, 20 filters",
                                   "output_shape": (20, 24, 24), "parameter_count": 520}], tmp_path / "g.png"),
             plots.feature_maps(RNG.normal(size=(20, 12, 12)), tmp_path / "f.png"),
             plots.strip(RNG.normal(size=500), tmp_path / "s.png"),
             plots.bars(RNG.normal(size=10), tmp_path / "b.png", true=3)]   # the rest: test_layer_figures_all_layers
    widths = {mpimg.imread(path).shape[1] for path in paths}
    assert widths == {plots.DISPLAY_WIDTH * plots.PIXEL_RATIO}


def near(img: np.ndarray, hex_color: str) -> int:
    """How many pixels of `img` have (nearly) this colour."""
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(img[..., :3] - rgb).max(axis=2) < 0.03).sum())


DARKEST_BLUE, DARKEST_RED = "#053061", "#67001f"    # the ends of RdBu_r


def test_each_map_has_its_own_diverging_scale_centred_on_zero(tmp_path):
    ramp = np.linspace(-1, 1, 64).reshape(8, 8)
    assert plots.value_scale(ramp)[1:] == (-1, 1) and plots.value_scale(ramp * 1000)[1:] == (-1000, 1000)
    assert plots.value_scale(ramp + 1)[0] is plots.HEAT_CMAP and plots.value_scale(ramp + 1)[1] == 0
    maps = np.stack([ramp, ramp * 1000])                       # two maps, a thousand times apart
    for shared, small_map_full_range in ((False, True), (True, False)):
        img = mpimg.imread(plots.feature_maps(maps, tmp_path / f"{shared}.png", shared=shared))
        left, right = img[:, : img.shape[1] // 2], img[:, img.shape[1] // 2:]
        assert near(right, DARKEST_BLUE) > 100 and near(right, DARKEST_RED) > 100
        assert (near(left, DARKEST_BLUE) > 100 and near(left, DARKEST_RED) > 100) == small_map_full_range
    heat = mpimg.imread(plots.feature_maps((ramp + 1)[None], tmp_path / "heat.png"))
    assert near(heat, "#ff0000") > 100 and near(heat, DARKEST_BLUE) == 0   # R's heat colours, no blue


def test_one_colour_rule_per_layer(tmp_path):
    """A map with no value < 0 in a layer that has some is drawn blue–red like its neighbours, not in heat colours."""
    ramp = np.linspace(-1, 1, 64).reshape(8, 8)
    assert plots.value_scale(ramp + 1, signed=True)[0] == plots.SIGNED_CMAP
    img = mpimg.imread(plots.feature_maps(np.stack([ramp, ramp + 1]), tmp_path / "layer.png"))
    right = img[:, img.shape[1] // 2:]
    assert near(right, DARKEST_RED) > 100 and near(right, "#ff0000") == 0


def test_class_colours_mean_the_same_in_every_bar_chart(tmp_path):
    assert plots.class_colors(10, true=4, pred=9)[4] == plots.TRUE_COLOR
    assert plots.class_colors(10, true=4, pred=9)[9] == plots.PRED_COLOR
    assert plots.class_colors(10, true=4, pred=4).count(plots.PRED_COLOR) == 0      # right: green only

    probabilities = np.eye(10)[[9]] * 0.6 + 0.04
    worst = mpimg.imread(plots.probability_bars(probabilities, ["#1"], tmp_path / "p.png", true=[4], pred=[9]))
    softmax = mpimg.imread(plots.bars(probabilities[0], tmp_path / "b.png", true=4))
    for img in (worst, softmax):
        assert near(img, plots.TRUE_COLOR) > 200 and near(img, plots.PRED_COLOR) > 200
