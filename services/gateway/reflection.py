"""Server reflection under both names clients ask for: grpc.reflection.v1 (grpcurl and newer tools try it first)
and grpc.reflection.v1alpha (older ones).

grpcio-reflection implements only v1alpha. The v1 service has the same messages on the wire, so the same servicer
answers it; its descriptor is v1alpha's under the v1 package, registered so that v1 describes itself too.
"""
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1 = "grpc.reflection.v1.ServerReflection"


def _register_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(V1)
        return
    except KeyError:
        pass
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
    pool.Add(proto)


def enable(server: grpc.Server, service_names: list[str]) -> None:
    """Serve reflection v1 and v1alpha for `service_names` (the reflection services are added to the list)."""
    _register_v1_descriptor()
    names = [*service_names, V1, reflection.SERVICE_NAME]
    servicer = reflection.ReflectionServicer(names)
    reflection.enable_server_reflection(names, server)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": handler})])
