"""The gateway's Open Inference Protocol messages (lenet_protos.inference, a private descriptor pool) and tritonclient's
(protobuf's default pool) load in one process and read each other's bytes; the service has every RPC we serve."""
import tritonclient.grpc  # noqa: F401  (its generated `inference` package first, as in a client's process)
from tritonclient.grpc import service_pb2

from lenet_protos import inference
from lenet_services.gateway.inference_servicer import InferenceServicer


def test_both_copies_of_the_inference_package_coexist_and_agree_on_the_wire():
    ours = inference.message("ModelInferRequest")(model_name="digits", raw_input_contents=[b"\x00\x01"])
    ours.inputs.add(name="data", datatype="UINT8", shape=[1, 28, 28])
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.model_name == "digits" and list(theirs.inputs[0].shape) == [1, 28, 28]
    assert inference.message("ModelInferRequest").FromString(theirs.SerializeToString()) == ours
    assert type(ours) is not service_pb2.ModelInferRequest


def test_the_servicer_answers_the_protocols_rpcs():
    served = {method.name for method in inference.SERVICE.methods if hasattr(InferenceServicer, method.name)}
    assert served == {"ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer",
                      "ModelConfig", "ModelStatistics", "RepositoryIndex"}
