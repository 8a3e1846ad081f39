"""The Open Inference Protocol over HTTP/REST (`/v2`, on the gateway's REST port), driven by tritonclient.http as
its documentation shows: JSON tensors and Triton's binary tensor extension both ways, the same answers as Predict
and Inspect, errors as {"error": "…"} with our status codes' HTTP statuses, nothing changed in the store."""
import gc
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from lenet_protos import contract


def alice() -> dict:
    """A new headers dict per call: tritonclient.http writes Inference-Header-Content-Length into the one given."""
    return {"Authorization": "Bearer alice-secret"}


@pytest.fixture(scope="module")
def http_client(oip_stack):
    client = triton.InferenceServerClient(oip_stack.stack.http_url.removeprefix("http://"))
    yield client
    client.close()
    del client
    gc.collect()   # its gevent pool is in a reference cycle: collect it here, not from another test's thread


def images_input(images: np.ndarray, binary: bool = True, name: str = "data") -> triton.InferInput:
    tensor = triton.InferInput(name, list(images.shape), "UINT8" if images.dtype == np.uint8 else "FP32")
    tensor.set_data_from_numpy(images, binary_data=binary)
    return tensor


def test_health_metadata_and_configuration(http_client, oip_stack):
    model = oip_stack.model_id
    assert http_client.is_server_live() and http_client.is_server_ready()
    assert http_client.get_server_metadata(headers=alice())["name"] == "lenet"
    assert http_client.is_model_ready(model, headers=alice()) and http_client.is_model_ready(model, "1", alice())
    metadata = http_client.get_model_metadata(model, headers=alice())
    assert metadata["inputs"] == [{"name": "data", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert {o["name"]: o["shape"] for o in metadata["outputs"]} == \
        {layer: [-1, *shape] for layer, shape in contract.LAYER_SHAPES.items()}
    config = http_client.get_model_config(model, headers=alice())
    assert config["max_batch_size"] == contract.MAX_IMAGES and "dynamic_batching" in config
    assert config["input"] == [{"name": "data", "data_type": "TYPE_FP32", "dims": [28, 28]}]
    assert {"name": model, "version": "1", "state": "READY"} in http_client.get_model_repository_index(headers=alice())


def test_infer_equals_predict_and_inspect_binary_and_json(http_client, oip_stack):
    images = oip_stack.images
    for binary in (True, False):
        for sent in (images, images.astype(np.float32)[:, None]):
            result = http_client.infer(oip_stack.model_id, [images_input(sent, binary)], headers=alice())
            np.testing.assert_allclose(result.as_numpy("SoftM"), oip_stack.probabilities, atol=1e-6)
        wanted = [triton.InferRequestedOutput("Conv1", binary_data=binary), triton.InferRequestedOutput("SoftM")]
        result = http_client.infer(oip_stack.model_id, [images_input(images, binary)], outputs=wanted,
                                   headers=alice(), request_id="r-1")
        response = result.get_response()
        assert response["id"] == "r-1" and response["model_version"] == "1"
        assert [output["name"] for output in response["outputs"]] == ["Conv1", "SoftM"]
        assert ("data" not in response["outputs"][0]) == binary
        assert result.as_numpy("Conv1").shape == (len(images), 20, 24, 24)
        np.testing.assert_allclose(result.as_numpy("Conv1"), oip_stack.layers["Conv1"], atol=1e-6)
        np.testing.assert_allclose(result.as_numpy("SoftM"), oip_stack.probabilities, atol=1e-6)


def test_statistics_count_the_inferences(http_client, oip_stack):
    http_client.infer(oip_stack.model_id, [images_input(oip_stack.images)], headers=alice())
    (stats,) = http_client.get_inference_statistics(oip_stack.model_id, headers=alice())["model_stats"]
    assert stats["version"] == "1" and stats["inference_count"] >= len(oip_stack.images)
    assert stats["inference_stats"]["success"]["count"] == stats["execution_count"] >= 1


def test_bad_requests_are_refused_naming_the_field_and_change_nothing(http_client, oip_stack):
    model, images = oip_stack.model_id, oip_stack.images
    before = oip_stack.snapshot()
    int32 = triton.InferInput("data", [1, 28, 28], "INT32")
    int32.set_data_from_numpy(images[:1].astype(np.int32))
    cases = [
        (lambda: http_client.infer(model, [int32], headers=alice()), "400", "inputs[0].datatype"),
        (lambda: http_client.infer(model, [images_input(images[:, :27])], headers=alice()), "400", "inputs[0]"),
        (lambda: http_client.infer("0" * 16, [images_input(images)], headers=alice()), "404", "0" * 16),
        (lambda: http_client.infer(model, [images_input(images)], model_version="2", headers=alice()), "404",
         "model_version"),
        (lambda: http_client.infer(model, [images_input(images)], outputs=[triton.InferRequestedOutput("Conv9")],
                                   headers=alice()), "400", "outputs[0].name"),
        (lambda: http_client.infer(model, [images_input(np.zeros((contract.MAX_IMAGES + 1, 28, 28), np.uint8))],
                                   headers=alice()), "429", "inputs[0].shape"),
        (lambda: http_client.infer(model, [images_input(images)]), "401", "authorization"),
        (lambda: http_client.infer(model, [images_input(images)], headers={"Authorization": "Bearer bob-secret"}),
         "404", model),
    ]
    for call, status, named in cases:
        with pytest.raises(InferenceServerException) as caught:
            call()
        assert (caught.value.status(), named in caught.value.message()) == (status, True), caught.value.message()
    with pytest.raises(urllib.error.HTTPError) as caught:          # the protocol's error body, as JSON
        urllib.request.urlopen(urllib.request.Request(f"{oip_stack.stack.http_url}/v2/models/{'0' * 16}",
                                                      headers=alice()), timeout=30)
    assert caught.value.code == 404 and set(json.loads(caught.value.read())) == {"error"}
    assert oip_stack.snapshot() == before
