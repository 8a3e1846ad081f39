"""Server reflection under both names clients ask for: grpc.reflection.v1 (grpcurl and newer tools try it first)
and grpc.reflection.v1alpha (older ones), over one descriptor pool of every service the gateway serves.

grpcio-reflection implements only v1alpha. The v1 service has the same messages on the wire, so the same servicer
answers it; its descriptor is v1alpha's under the v1 package, added so that v1 describes itself too. The Open
Inference Protocol's files live in a pool of their own (lenet_protos.inference), so the reflection pool is made of
copies of each service's file and its dependencies, wherever they live.
"""
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor, ServiceDescriptor
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1 = "grpc.reflection.v1.ServerReflection"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name, proto.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.")
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.")
    for message in proto.message_type:
        for field in message.field:
            if field.type_name:
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.")
    return proto


def _pool_of(services: list[ServiceDescriptor]) -> descriptor_pool.DescriptorPool:
    """A pool holding the files of `services`, their dependencies first, and the v1 reflection file."""
    pool, added = descriptor_pool.DescriptorPool(), set()

    def add(file: FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        pool.Add(proto)
        added.add(file.name)
    for service in services:
        add(service.file)
    pool.Add(_v1_file())
    return pool


def enable(server: grpc.Server, services: list[ServiceDescriptor]) -> None:
    """Serve reflection v1 and v1alpha for `services` (the reflection services are added to them)."""
    own = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
    names = [*(service.full_name for service in services), V1, reflection.SERVICE_NAME]
    servicer = reflection.ReflectionServicer(names, pool=_pool_of([*services, own]))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": handler})])
