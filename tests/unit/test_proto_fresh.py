"""The generated code under protos/lenet/v1 (and the inference protocol's descriptor set) matches what `make proto`
produces now, and lenet.proto documents itself: every RPC, message, enum, field and enum value carries a comment."""
import pytest
from proto_text import elements

from lenet_protos import generate

GENERATED = ["protos/lenet/v1/lenet_pb2.py", "protos/lenet/v1/lenet_pb2.pyi", "protos/lenet/v1/lenet_pb2_grpc.py",
             "protos/lenet/internal/v1/relay_pb2.py", "protos/lenet/internal/v1/relay_pb2.pyi",
             "protos/lenet/internal/v1/relay_pb2_grpc.py"]


def test_generated_code_is_fresh(tmp_path):
    generate.generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / name).read_text()
        committed = (generate.ROOT / name).read_text()
        assert committed == fresh, f"{name} is stale: run `make proto`"
    descriptors = generate.INFERENCE_DESCRIPTORS
    assert (tmp_path / descriptors).read_bytes() == (generate.ROOT / descriptors).read_bytes(), \
        f"{descriptors} is stale: run `make proto`"


def test_the_text_reader_sees_every_element_of_the_descriptor():
    from lenet_protos.lenet.v1 import lenet_pb2 as pb

    found = elements()
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        assert message.name in found
        for field in message.fields:
            assert f"{message.name}.{field.name}" in found
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        assert all(f"{enum.name}.{value.name}" in found for value in enum.values)
    assert all(f"Lenet.{method.name}" in found for method in pb.DESCRIPTOR.services_by_name["Lenet"].methods)


@pytest.mark.parametrize("element", elements().values(), ids=lambda element: element.name)
def test_every_element_is_commented(element):
    assert element.comment, f"undocumented {element.kind}: {element.name}"
