"""ExportModel against the real stack: the files open in MXNet's own loader and in ONNX Runtime and give Predict's
answers; the `lenet export` command writes them."""
import hashlib
import json
from pathlib import Path

import grpc
import mxnet as mx
import numpy as np
import onnx
import onnxruntime
import pytest

from lenet_clients.cli import main
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_cli import run, succeeded


@pytest.fixture(scope="module")
def predicted(client, trained_model):
    """200 test images, the probabilities and labels Predict gives for them, and whether the model scales pixels."""
    images, _ = client.samples(range(200))
    probabilities, labels = client.predict(trained_model.model_id, images)
    normalize = client.model(trained_model.model_id).hyper_parameters.normalize
    return images, probabilities, labels, normalize


def test_mxnet_checkpoint_loads_with_mxnet_and_predicts_as_predict_does(client, trained_model, predicted, tmp_path):
    images, probabilities, labels, normalize = predicted
    paths = client.export(trained_model.model_id, tmp_path)
    assert [path.name for path in paths] == ["small-symbol.json", "small-0000.params"]

    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(tmp_path / "small"), 0)
    assert {"Conv1_weight", "Full2_bias"} <= set(arg_params)
    # grad_req="write": "null" turns on MXNet 1.9.1's MKLDNN fusion (see workers/engine/inference.py).
    executor = symbol.simple_bind(mx.cpu(), grad_req="write", data=(len(images), 1, 28, 28))
    executor.copy_params_from(arg_params, aux_params)
    data = images[:, None].astype(np.float32)
    executor.forward(is_train=False, data=data / 255 if normalize else data)
    loaded = executor.outputs[0].asnumpy()

    np.testing.assert_allclose(loaded, probabilities, rtol=0, atol=1e-5)
    assert np.array_equal(loaded.argmax(axis=1), labels)
    assert len(set(labels.tolist())) > 3  # a trained model, not one answer for every image


def test_onnx_model_is_valid_and_predicts_as_predict_does(client, trained_model, predicted, tmp_path):
    images, probabilities, labels, _ = predicted
    (path,) = client.export(trained_model.model_id, tmp_path, format="onnx")
    assert path.name == "small.onnx"

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [value.name for value in model.graph.input] == ["data"]
    assert [value.name for value in model.graph.output] == ["SoftM"]
    assert {"Conv", "Tanh", "MaxPool", "Gemm", "Softmax"} <= {node.op_type for node in model.graph.node}

    session = onnxruntime.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    data = images[:, None].astype(np.float32)  # the same 0–255 pixels Predict takes
    (output,) = session.run(["SoftM"], {"data": data})
    np.testing.assert_allclose(output, probabilities, rtol=0, atol=1e-4)
    assert np.array_equal(output.argmax(axis=1), labels)
    (one,) = session.run(["SoftM"], {"data": data[7:8]})  # the batch size is free
    np.testing.assert_allclose(one, probabilities[7:8], rtol=0, atol=1e-4)


@pytest.mark.parametrize("export_format", [pb.MXNET, pb.ONNX])
def test_unknown_model_is_not_found(client, export_format):
    with pytest.raises(grpc.RpcError) as caught:
        client.stub.ExportModel(pb.ExportModelRequest(model_id="feedfacefeedface", format=export_format), timeout=60)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "feedfacefeedface" in caught.value.details()


def test_unknown_format_is_invalid_argument(client, trained_model):
    with pytest.raises(grpc.RpcError) as caught:
        client.stub.ExportModel(pb.ExportModelRequest(model_id=trained_model.model_id, format=7), timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details().startswith("format")


def test_cli_writes_the_files_and_lists_them_as_json(stack, client, trained_model, tmp_path):
    listed = json.loads(succeeded(run("export", trained_model.model_id, "--format", "mxnet", "--out",
                                      str(tmp_path / "cli"), "--json", gateway=stack.address)))
    expected = {path.name: path.read_bytes() for path in client.export(trained_model.model_id, tmp_path / "lib")}
    assert [entry["name"] for entry in listed] == list(expected)
    for entry in listed:
        written = Path(entry["path"]).read_bytes()
        assert written == expected[entry["name"]] and Path(entry["path"]).parent == tmp_path / "cli"
        assert entry["size"] == len(written) and entry["sha256"] == hashlib.sha256(written).hexdigest()


def test_cli_prints_the_paths_and_reports_an_unknown_model(stack, client, trained_model, tmp_path, capsys):
    assert main(["export", trained_model.model_id, "--format", "onnx", "--out", str(tmp_path),
                 "--gateway", stack.address]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "small.onnx")]
    weights = 4 * client.model(trained_model.model_id).parameter_count  # float32 bytes
    assert weights < (tmp_path / "small.onnx").stat().st_size < weights + 100_000
    assert main(["export", "feedfacefeedface", "--out", str(tmp_path), "--gateway", stack.address]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_a_model_mxnet_cannot_read_is_an_internal_error_not_the_callers(stack, client):
    from lenet_services.store import Store

    broken = Store(stack.redis_url).models.save(pb.Model(name="broken", device=pb.CPU), "{}", b"not params",
                                                pb.Graph())
    with pytest.raises(grpc.RpcError) as caught:
        client.export(broken.id, "unused", format="onnx")
    assert caught.value.code() == grpc.StatusCode.INTERNAL and broken.id in caught.value.details()
