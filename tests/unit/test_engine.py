"""The LeNet symbol, training, checkpoints and inference, on real MNIST (run with LENET_DATA_DIR set)."""
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from lenet_protos import mnist
from lenet_protos.contract import HyperParams
from lenet_workers.engine.checkpoint import params_from_bytes, params_to_bytes, save_checkpoint_files
from lenet_workers.engine.devices import context
from lenet_workers.engine.inference import Predictor
from lenet_workers.engine.lenet import LAYERS, layer_outputs, layer_table, lenet, to_dot
from lenet_workers.engine.training import train

SHAPES = {"Conv1": [20, 24, 24], "Act1": [20, 24, 24], "Pool1": [20, 12, 12], "Conv2": [50, 8, 8],
          "Act2": [50, 8, 8], "Pool2": [50, 4, 4], "Flat": [800], "Full1": [500], "Act3": [500], "Full2": [10],
          "SoftM": [10]}


@pytest.fixture(scope="module")
def data(data_dir):
    train_x, train_y = mnist.load_split("train", data_dir)
    test_x, test_y = mnist.load_split("test", data_dir)
    return train_x[:2000], train_y[:2000], test_x[:1000], test_y[:1000]


@pytest.fixture(scope="module")
def trained(data):
    """Seed settings on the first 2,000 training images, 4 epochs (one epoch alone reaches only about 0.5)."""
    batches, epochs = [], []
    result = train(HyperParams(epochs=4), *data, on_batch=batches.append, on_epoch=epochs.append,
                   batch_event_every=7)
    return result, batches, epochs


def test_layer_table_matches_the_seed_network():
    table = layer_table(lenet())
    assert [row["name"] for row in table] == list(LAYERS)
    assert {row["name"]: row["output_shape"] for row in table} == SHAPES
    counts = {row["name"]: row["parameter_count"] for row in table}
    assert (counts["Conv1"], counts["Conv2"], counts["Full1"], counts["Full2"]) == (520, 25050, 400500, 5010)
    assert sum(counts.values()) == 431080
    rows = {row["name"]: row for row in table}
    assert rows["Conv1"]["op"] == "Convolution" and rows["Conv1"]["attributes"] == "5×5, 20 filters"
    assert rows["Pool2"]["attributes"] == "max 2×2 / 2"
    assert rows["Act3"]["attributes"] == "tanh" and rows["Full1"]["attributes"] == "500 units"


def test_dot_draws_the_chain_left_to_right():
    dot = to_dot(lenet())
    assert "rankdir=LR" in dot
    assert all(f'"{name}" [label=' in dot for name in LAYERS)
    chain = ("data", *LAYERS)
    assert all(f'"{a}" -> "{b}";' in dot for a, b in zip(chain, chain[1:]))
    assert dot.count("->") == len(LAYERS)


def test_layer_outputs_in_the_order_asked_and_unknown_names_refused():
    assert layer_outputs(lenet(), ["Pool2", "Conv1"]).list_outputs() == ["Pool2_output", "Conv1_output"]
    with pytest.raises(ValueError, match="unknown layer 'Conv3': valid layers are Conv1, Act1"):
        layer_outputs(lenet(), ["Conv1", "Conv3"])


def test_training_with_seed_settings_learns(trained):
    result, batches, epochs = trained
    assert [h.epoch for h in result.history] == [1, 2, 3, 4] and not result.stopped
    assert result.history[-1].test_accuracy >= 0.85
    assert result.history[0].test_accuracy > 0.3  # well above chance after 20 steps
    assert epochs == result.history and epochs[-1].params == result.params
    assert [(b.epoch, b.batch) for b in batches if b.epoch == 1] == [(1, 7), (1, 14), (1, 20)]
    assert all(b.batches_per_epoch == 20 and b.samples_per_second > 0 for b in batches)
    assert batches[-1].train_accuracy == result.history[-1].train_accuracy


def test_training_is_deterministic_for_a_seed(data):
    small = (data[0][:300], data[1][:300], data[2][:100], data[3][:100])
    first, second = (train(HyperParams(epochs=1), *small) for _ in range(2))
    assert first.params == second.params
    assert train(HyperParams(epochs=1, seed=7), *small).params != first.params


def test_should_stop_stops_within_one_batch(data):
    checks = []
    seen = []

    def should_stop():
        checks.append(1)
        return len(checks) > 25  # epoch 1 asks 20 + 2 times (1,000 eval images in batches of 500): batch 4 of epoch 2

    result = train(HyperParams(epochs=3), *data, should_stop=should_stop, on_batch=seen.append, batch_event_every=1)
    assert result.stopped
    assert [h.epoch for h in result.history] == [1]
    assert (seen[-1].epoch, seen[-1].batch) == (2, 3)


def test_should_stop_is_asked_during_the_evaluation_too(data):
    """20 training batches, then 1,000 eval images in batches of 300: the 22nd question comes after the first
    eval batch, and stopping there ends the run without a result for the epoch."""
    checks, evaluating = [], []

    def should_stop():
        checks.append(1)
        return len(checks) == 22

    result = train(HyperParams(epochs=2), *data, should_stop=should_stop, on_evaluating=evaluating.append,
                   eval_batch_size=300)
    assert result.stopped and result.history == [] and evaluating == [1] and len(checks) == 22


def test_each_epochs_test_accuracy_is_that_of_its_checkpoint(data, trained):
    """The evaluation executor is bound once: it must score every epoch's weights, not the first ones it saw."""
    _, _, test_x, test_y = data
    for epoch in trained[0].history:
        predicted = Predictor(trained[0].symbol_json, epoch.params).predict(test_x).argmax(axis=1)
        assert epoch.test_accuracy == (predicted == test_y).mean()


def test_resume_from_a_checkpoint_runs_the_remaining_epochs(data, trained):
    result = train(HyperParams(epochs=4), *data, start_epoch=3, initial_params=trained[0].history[2].params)
    assert [h.epoch for h in result.history] == [4]
    assert result.history[0].test_accuracy >= 0.85


def test_eval_accuracy_ignores_the_padding_of_a_short_last_batch(data, trained):
    """With a zero learning rate the trained weights stay put, so the eval accuracy must equal the Predictor's."""
    train_x, train_y, test_x, test_y = data
    result = train(HyperParams(epochs=1, learning_rate=0.0), train_x[:250], train_y[:250], test_x[:150],
                   test_y[:150], initial_params=trained[0].params)
    predicted = Predictor(result.symbol_json, result.params).predict(test_x[:150]).argmax(axis=1)
    assert result.history[0].test_accuracy == pytest.approx((predicted == test_y[:150]).mean())


def test_checkpoint_files_open_with_mxnet_and_predict_the_same(tmp_path, data, trained):
    result = trained[0]
    images = data[2][:64]
    paths = save_checkpoint_files(tmp_path / "lenet", result.symbol_json, result.params, epoch=4)
    assert [p.name for p in paths] == ["lenet-symbol.json", "lenet-0004.params"]
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(tmp_path / "lenet"), 4)
    assert sorted(arg_params) == sorted(params_from_bytes(result.params)[0])

    mx.model.save_checkpoint(str(tmp_path / "reference"), 4, symbol, arg_params, aux_params)
    assert (tmp_path / "reference-0004.params").read_bytes() == params_to_bytes(arg_params, aux_params)

    module = mx.mod.Module(symbol, label_names=["SoftM_label"])
    module.bind([("data", (len(images), 1, 28, 28))], for_training=False)
    module.set_params(arg_params, aux_params)
    expected = module.predict(mx.io.NDArrayIter(images.astype(np.float32)[:, None], batch_size=len(images)))
    np.testing.assert_allclose(Predictor(result.symbol_json, result.params).predict(images),
                               expected.asnumpy(), atol=1e-6)


def test_predictions_are_probabilities_whatever_the_input_layout(data, trained):
    predictor = Predictor(trained[0].symbol_json, trained[0].params)
    images = data[2][:30]
    probabilities = predictor.predict(images, batch_size=8)
    assert probabilities.shape == (30, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(predictor.predict(images[:, None].astype(np.float32)), probabilities, atol=1e-6)


def test_activations_of_a_short_last_batch_equal_one_at_a_time(data, trained):
    predictor = Predictor(trained[0].symbol_json, trained[0].params)
    images = data[2][:7]
    batched = list(predictor.activations(images, batch_size=5))
    assert [start for start, _ in batched] == [0, 5]
    assert {name: list(out.shape) for name, out in batched[1][1].items()} == {
        name: [2, *shape] for name, shape in SHAPES.items()}
    single = list(predictor.activations(images, layers=LAYERS, batch_size=1))
    for name in LAYERS:
        together = np.concatenate([out[name] for _, out in batched])
        alone = np.concatenate([out[name] for _, out in single])
        assert together.dtype == np.float32
        assert np.abs(together - alone).max() <= 1e-5, name


def test_activations_agree_with_numpy(data, trained):
    """Guards against MXNet's MKLDNN fusion, which returns grouped Act outputs without their tanh."""
    _, layer = next(Predictor(trained[0].symbol_json, trained[0].params).activations(data[2][:3]))
    for act, before in (("Act1", "Conv1"), ("Act2", "Conv2"), ("Act3", "Full1")):
        np.testing.assert_allclose(layer[act], np.tanh(layer[before]), atol=1e-6)
    np.testing.assert_array_equal(layer["Pool1"], layer["Act1"].reshape(3, 20, 12, 2, 12, 2).max(axis=(3, 5)))
    np.testing.assert_array_equal(layer["Flat"], layer["Pool2"].reshape(3, 800))
    exp = np.exp(layer["Full2"] - layer["Full2"].max(axis=1, keepdims=True))
    np.testing.assert_allclose(layer["SoftM"], exp / exp.sum(axis=1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 28, 28), np.float64), "uint8 or float32"),
    (np.zeros((2, 28, 27), np.uint8), r"shape \(N, 28, 28\) or \(N, 1, 28, 28\)"),
    (np.zeros((2, 3, 28, 28), np.uint8), r"got \(2, 3, 28, 28\)"),
    (np.zeros((0, 28, 28), np.uint8), "N >= 1"),
])
def test_predictor_refuses_bad_images(trained, images, message):
    predictor = Predictor(trained[0].symbol_json, trained[0].params)
    with pytest.raises(ValueError, match=message):
        predictor.predict(images)
    with pytest.raises(ValueError, match=message):
        predictor.activations(images)


def test_predictor_refuses_bad_layers_batch_sizes_and_params(trained):
    predictor = Predictor(trained[0].symbol_json, trained[0].params)
    images = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="unknown layer 'Pool3'"):
        predictor.activations(images, layers=["Pool3"])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predictor.activations(images, batch_size=0)
    arg_params, aux_params = params_from_bytes(trained[0].params)
    del arg_params["Full2_bias"]
    with pytest.raises(ValueError, match="lack Full2_bias"):
        Predictor(trained[0].symbol_json, params_to_bytes(arg_params, aux_params))


def test_devices():
    assert context("cpu") == mx.cpu()
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        context("tpu")
    if mx.context.num_gpus() == 0:
        with pytest.raises(RuntimeError, match="no GPU visible to MXNet"):
            context("gpu")


def test_the_engine_imports_no_service_machinery_and_mnist_no_mxnet():
    """MXNet itself may pull in protobuf (through onnx), so only what the engine adds on top is checked."""
    code = ("import sys, lenet_protos.mnist; assert 'mxnet' not in sys.modules; "
            "import mxnet, lenet_protos.contract; before = set(sys.modules); "
            "import lenet_workers.engine.training, lenet_workers.engine.inference, lenet_workers.engine.devices; "
            "added = set(sys.modules) - before; "
            "print(sorted(m for m in added if m.split('.')[0] in ('grpc', 'google', 'redis', 'celery')))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
