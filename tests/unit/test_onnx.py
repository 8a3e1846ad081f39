"""ONNX conversion in the engine and exported file names, without the service."""
import mxnet as mx
import numpy as np
import onnx
import onnxruntime
import pytest

from lenet_protos.contract import file_prefix
from lenet_workers.engine.checkpoint import params_to_bytes
from lenet_workers.engine.onnx_export import OPSET, to_onnx
from lenet_workers.engine.inference import Predictor
from lenet_workers.engine.lenet import LABEL, Pixels, lenet


@pytest.fixture(scope="module")
def untrained():
    """The seed's symbol with random ±0.07 weights, as symbol JSON and .params bytes."""
    symbol = lenet()
    shapes, _, _ = symbol.infer_shape(data=(1, 1, 28, 28))
    rng = np.random.default_rng(5)
    weights = {name: mx.nd.array(rng.uniform(-0.07, 0.07, shape).astype(np.float32))
               for name, shape in zip(symbol.list_arguments(), shapes) if name not in ("data", LABEL)}
    return symbol.tojson(), params_to_bytes(weights, {})


@pytest.mark.parametrize("pixels", [Pixels(), Pixels(normalize=True), Pixels(True, 0.1307, 0.3081)],
                         ids=["raw", "normalized", "standardized"])
def test_onnx_takes_raw_pixels_and_gives_the_predictors_probabilities(untrained, pixels):
    symbol_json, params = untrained
    model = onnx.load_model_from_string(to_onnx(symbol_json, params, pixels))
    onnx.checker.check_model(model, full_check=True)
    assert [opset.version for opset in model.opset_import] == [OPSET]
    assert [value.name for value in model.graph.input] == ["data"]  # weights are initializers, not inputs
    assert ("Div" in {node.op_type for node in model.graph.node}) == (pixels != Pixels())

    images = np.random.default_rng(1).integers(0, 256, (9, 28, 28), dtype=np.uint8)
    expected = Predictor(symbol_json, params, pixels=pixels).predict(images)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (output,) = session.run(["SoftM"], {"data": images[:, None].astype(np.float32)})
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-5)
    assert len(set(expected.argmax(axis=1).tolist())) > 1  # the random net separates these images at all


@pytest.mark.parametrize("name, prefix", [("small", "small"), ("lenet-v1.2_b", "lenet-v1.2_b"), ("", "lenet"),
                                          ("..", "lenet"), ("../../etc/passwd", "_.._etc_passwd"),
                                          (".hidden", "hidden"), ("-rf", "rf"), ("a b/c", "a_b_c"),
                                          ("x" * 100, "x" * 64)])
def test_file_prefix_is_a_plain_file_name(name, prefix):
    assert file_prefix(name) == prefix
