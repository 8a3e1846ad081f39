"""A trained LeNet as an ONNX model, converted by MXNet's own exporter (numpy, MXNet and onnx only)."""
import tempfile
import warnings
from pathlib import Path

import mxnet as mx
import numpy as np

from lenet_workers.engine.checkpoint import params_from_bytes
from lenet_workers.engine.lenet import INPUT_SHAPE, LABEL, Pixels

OPSET = 13  # MXNet 1.9.1's ONNX converters are written for opsets 12 and 13; the model declares the newer one


def inference_symbol(symbol_json: str, pixels: Pixels = Pixels()) -> mx.sym.Symbol:
    """The trained network without its training head: softmax over Full2, named SoftM like the layer it replaces.

    SoftmaxOutput computes exactly this softmax at inference, but MXNet's exporter cannot convert it (it wants a
    label input). The pixel scaling the model was trained with (`pixels`), if any, becomes part of the graph.
    """
    symbol = mx.sym.load_json(symbol_json)
    net = mx.sym.softmax(symbol.get_internals()["Full2_output"], name="SoftM")
    return net if pixels == Pixels() else net(data=pixels.scale(mx.sym.Variable("data")))


def to_onnx(symbol_json: str, params: bytes, pixels: Pixels = Pixels()) -> bytes:
    """ONNX model bytes: input "data" float32 (N, 1, 28, 28) raw 0-255 pixels, any N; output "SoftM" (N, 10).

    It takes the same pixels as Predict and gives the same probabilities. The result passes onnx.checker.
    """
    import onnx  # only ONNX export needs it
    from mxnet.onnx import export_model

    arg_params, aux_params = params_from_bytes(params)
    arg_params.pop(LABEL, None)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():  # the exporter only writes files
        warnings.simplefilter("ignore", DeprecationWarning)  # it uses onnx.mapping, deprecated since onnx 1.14
        path = export_model(inference_symbol(symbol_json, pixels), {**arg_params, **aux_params},
                            [(1, *INPUT_SHAPE)], np.float32, str(Path(tmp) / "model.onnx"), dynamic=True,
                            dynamic_input_shapes=[(None, *INPUT_SHAPE)])
        model = onnx.load_model_from_string(Path(path).read_bytes())
    _tidy(model)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _tidy(model) -> None:
    """Weights out of the graph inputs (so "data" is the only input), unused constants dropped, the opset the
    converters target declared, and the oldest IR version that has it."""
    import onnx

    graph = model.graph
    weights = {initializer.name for initializer in graph.initializer}
    used = {name for node in graph.node for name in node.input}
    inputs = [value for value in graph.input if value.name not in weights]
    initializers = [initializer for initializer in graph.initializer if initializer.name in used]
    del graph.input[:], graph.initializer[:]
    graph.input.extend(inputs)
    graph.initializer.extend(initializers)
    del model.opset_import[:]
    model.opset_import.append(onnx.helper.make_opsetid("", OPSET))
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    model.producer_name = "lenet-service (mxnet.onnx.export_model)"
