"""The Open Inference Protocol over gRPC on the gateway's own port, driven by tritonclient (a client nobody here
wrote) as its documentation shows: health, metadata, Triton's configuration, statistics and repository index, and
inference whose answers equal Predict's probabilities and Inspect's layers. Bad requests get the status our API
gives, naming the field, and change nothing in the store. A real gateway with tokens, redis-server and worker.

This process imports tritonclient's `inference` messages; the gateway's own copy lives in another process (and in
a private descriptor pool: tests/unit/test_inference_messages.py imports both)."""
import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from lenet_protos import contract

ALICE = {"authorization": "Bearer alice-secret"}
BOB = {"authorization": "Bearer bob-secret"}


@pytest.fixture(scope="module")
def grpc_client(oip_stack):
    client = triton.InferenceServerClient(oip_stack.stack.address)
    yield client
    client.close()


def images_input(images: np.ndarray, name: str = "data") -> triton.InferInput:
    tensor = triton.InferInput(name, list(images.shape), "UINT8" if images.dtype == np.uint8 else "FP32")
    tensor.set_data_from_numpy(images)
    return tensor


def refused(call) -> tuple[str, str]:
    """(status, message) of the InferenceServerException the call raises."""
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value.status(), caught.value.message()


def test_health_metadata_and_configuration(grpc_client, oip_stack):
    model = oip_stack.model_id
    assert grpc_client.is_server_live() and grpc_client.is_server_ready()      # probes need no token
    server = grpc_client.get_server_metadata(headers=ALICE, as_json=True)
    assert server["name"] == "lenet" and "model_configuration" in server["extensions"]
    assert grpc_client.is_model_ready(model, headers=ALICE)
    assert grpc_client.is_model_ready(model, "1", headers=ALICE)
    metadata = grpc_client.get_model_metadata(model, headers=ALICE, as_json=True)
    assert metadata["versions"] == ["1"] and metadata["platform"] == "mxnet"
    assert metadata["inputs"] == [{"name": "data", "datatype": "FP32", "shape": ["-1", "28", "28"]}]
    outputs = {output["name"]: [int(d) for d in output["shape"]] for output in metadata["outputs"]}
    assert metadata["outputs"][0]["name"] == "SoftM" and outputs["SoftM"] == [-1, 10]
    assert outputs == {layer: [-1, *shape] for layer, shape in contract.LAYER_SHAPES.items()}
    config = grpc_client.get_model_config(model, headers=ALICE).config
    assert config.max_batch_size == contract.MAX_IMAGES and config.HasField("dynamic_batching")
    assert [(i.name, list(i.dims)) for i in config.input] == [("data", [28, 28])]
    assert {o.name: list(o.dims) for o in config.output}["Conv1"] == [20, 24, 24]
    index = grpc_client.get_model_repository_index(headers=ALICE, as_json=True)["models"]
    assert {"name": model, "version": "1", "state": "READY"} in index
    assert grpc_client.get_model_repository_index(headers=BOB, as_json=True) == {}   # bob sees none of alice's


def test_infer_equals_predict_for_uint8_and_fp32_pixels(grpc_client, oip_stack):
    images, probabilities = oip_stack.images, oip_stack.probabilities
    for sent in (images, images.astype(np.float32)[:, None]):          # UINT8 [N,28,28] and FP32 [N,1,28,28]
        result = grpc_client.infer(oip_stack.model_id, [images_input(sent, "pixels")], headers=ALICE)
        assert result.get_output("SoftM").datatype == "FP32"
        np.testing.assert_allclose(result.as_numpy("SoftM"), probabilities, atol=1e-6)
        assert result.get_response().model_version == "1"


def test_model_name_takes_every_registry_reference(grpc_client, oip_stack):
    """model_name is any model reference: the registered name (with or without model_version), NAME/VERSION."""
    images = oip_stack.images[:2]
    for name, version in (("oip", ""), ("oip", "1"), ("oip/1", ""), (oip_stack.model_id, "1")):
        result = grpc_client.infer(name, [images_input(images)], model_version=version, headers=ALICE)
        np.testing.assert_allclose(result.as_numpy("SoftM"), oip_stack.probabilities[:2], atol=1e-6)
        assert result.get_response().model_version == "1"


def test_requested_layers_equal_inspect(grpc_client, oip_stack):
    wanted = [triton.InferRequestedOutput("Conv1"), triton.InferRequestedOutput("SoftM")]
    result = grpc_client.infer(oip_stack.model_id, [images_input(oip_stack.images)], outputs=wanted, headers=ALICE)
    assert [output.name for output in result.get_response().outputs] == ["Conv1", "SoftM"]
    conv1 = result.as_numpy("Conv1")
    assert conv1.shape == (len(oip_stack.images), 20, 24, 24)
    np.testing.assert_allclose(conv1, oip_stack.layers["Conv1"], atol=1e-6)
    np.testing.assert_allclose(result.as_numpy("SoftM"), oip_stack.probabilities, atol=1e-6)
    one = grpc_client.infer(oip_stack.model_id, [images_input(oip_stack.images[:1])],
                            outputs=[triton.InferRequestedOutput("Conv1")], headers=ALICE)
    assert one.as_numpy("Conv1").shape == (1, 20, 24, 24)


def test_typed_contents_get_typed_outputs(oip_stack):
    """tritonclient sends raw contents only; its generated stub sends typed ones (uint_contents for UINT8)."""
    images = oip_stack.images
    request = service_pb2.ModelInferRequest(model_name=oip_stack.model_id, id="typed-1")
    request.inputs.add(name="data", datatype="UINT8", shape=images.shape).contents.uint_contents.extend(
        images.ravel().tolist())
    request.outputs.add(name="Pool1")
    with grpc.insecure_channel(oip_stack.stack.address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(request, metadata=list(ALICE.items()), timeout=60)
    assert response.id == "typed-1" and not response.raw_output_contents
    (output,) = response.outputs
    assert output.name == "Pool1" and list(output.shape) == [len(images), 20, 12, 12]
    np.testing.assert_allclose(np.asarray(output.contents.fp32_contents).reshape(output.shape),
                               oip_stack.layers["Pool1"], atol=1e-6)


def test_statistics_count_the_inferences(grpc_client, oip_stack):
    grpc_client.infer(oip_stack.model_id, [images_input(oip_stack.images)], headers=ALICE)
    (stats,) = grpc_client.get_inference_statistics(oip_stack.model_id, headers=ALICE).model_stats
    assert stats.name == oip_stack.model_id and stats.version == "1"
    assert stats.execution_count >= 1 and stats.inference_count >= len(oip_stack.images)
    assert stats.inference_stats.success.count == stats.execution_count and stats.inference_stats.success.ns > 0
    assert stats.last_inference > 0


def test_bad_requests_are_refused_naming_the_field_and_change_nothing(grpc_client, oip_stack):
    model, images = oip_stack.model_id, oip_stack.images
    before = oip_stack.snapshot()
    int32 = triton.InferInput("data", [1, 28, 28], "INT32")
    int32.set_data_from_numpy(images[:1].astype(np.int32))
    cases = [
        (lambda: grpc_client.infer(model, [int32], headers=ALICE), "INVALID_ARGUMENT", "inputs[0].datatype"),
        (lambda: grpc_client.infer(model, [images_input(images[:, :27])], headers=ALICE), "INVALID_ARGUMENT",
         "inputs[0]"),
        (lambda: grpc_client.infer(model, [images_input(images), images_input(images)], headers=ALICE),
         "INVALID_ARGUMENT", "inputs"),
        (lambda: grpc_client.infer("0" * 16, [images_input(images)], headers=ALICE), "NOT_FOUND", "0" * 16),
        (lambda: grpc_client.infer(model, [images_input(images)], model_version="2", headers=ALICE), "NOT_FOUND",
         "model_version"),
        (lambda: grpc_client.infer(model, [images_input(images)], outputs=[triton.InferRequestedOutput("Conv9")],
                                   headers=ALICE), "INVALID_ARGUMENT", "outputs[0].name"),
        (lambda: grpc_client.infer(model, [images_input(np.zeros((contract.MAX_IMAGES + 1, 28, 28), np.uint8))],
                                   headers=ALICE), "RESOURCE_EXHAUSTED", "inputs[0].shape"),
        (lambda: grpc_client.infer(model, [images_input(images)]), "UNAUTHENTICATED", "authorization"),
        (lambda: grpc_client.infer(model, [images_input(images)], headers=BOB), "NOT_FOUND", model),
        (lambda: grpc_client.get_model_metadata(model, headers=BOB), "NOT_FOUND", model),
        (lambda: grpc_client.is_model_ready(model), "UNAUTHENTICATED", "authorization"),
    ]
    for call, status, named in cases:
        code, message = refused(call)
        assert (code, named in message) == (f"StatusCode.{status}", True), message
    assert oip_stack.snapshot() == before
