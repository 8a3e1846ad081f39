"""The Open Inference Protocol's messages (KServe v2, as Triton writes it with its extensions: grpc_service.proto
and model_config.proto here, vendored unchanged from triton-inference-server/common at 83adf7c).

They live in a private descriptor pool, loaded from the descriptor set `make proto` writes: tritonclient registers
the same package `inference` in protobuf's default pool, and two copies there cannot coexist in one process. So
a test or a client may import tritonclient beside this module. `message("ModelInferRequest")` gives a class.
"""
from functools import cache
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

DESCRIPTORS = Path(__file__).with_name("grpc_service.binpb")
PACKAGE = "inference"

pool = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes()).file:
    pool.Add(_file)

SERVICE = pool.FindServiceByName(f"{PACKAGE}.GRPCInferenceService")


@cache
def message(name: str) -> type:
    """The message class `inference.NAME` (nested types as "ModelInferRequest.InferInputTensor")."""
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
