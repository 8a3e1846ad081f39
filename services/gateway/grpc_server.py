"""Build and run the gateway: the Lenet service, the Open Inference Protocol, grpc.health.v1 and server reflection
on one port."""
from concurrent import futures

import grpc
from google.protobuf import message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from lenet_protos import inference
from lenet_protos.contract import MAX_MESSAGE_BYTES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.gateway import reflection
from lenet_services.gateway.auth import Auth, AuthInterceptor
from lenet_services.gateway.gateway_metrics import GatewayMetrics
from lenet_services.gateway.inference_protocol import InferenceProtocol
from lenet_services.gateway.inference_servicer import InferenceServicer
from lenet_services.gateway import relay, server_spans
from lenet_services.gateway.service import LenetService
from lenet_services.gateway.servicer import LenetServicer
from lenet_services.gateway.status_codes import translated
from lenet_services.gateway.stream_limits import StreamLimits

SERVICE = pb.DESCRIPTOR.services_by_name["Lenet"]
# Health checks answer without a token, as grpc.health.v1 does (Kubernetes probes carry none).
OPEN_METHODS = {f"/{inference.SERVICE.full_name}/ServerLive", f"/{inference.SERVICE.full_name}/ServerReady"}
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
           ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


def serialize(message) -> bytes:
    """Messages are serialized as usual; Inspect relays chunks that are already serialized bytes."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def handler(service, servicer, metrics: GatewayMetrics) -> grpc.GenericRpcHandler:
    """Handlers for every method of `service` (a service descriptor) that `servicer` defines, built from the
    descriptor, with errors translated."""
    handlers = {}
    for method in service.methods:
        if not hasattr(servicer, method.name):
            continue
        request_class = message_factory.GetMessageClass(method.input_type)
        streaming = method.server_streaming
        make = grpc.unary_stream_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(translated(getattr(servicer, method.name), streaming, metrics),
                                     request_deserializer=request_class.FromString,
                                     response_serializer=serialize)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


UNARY_THREADS = 32         # threads left for unary calls and health checks however many streams are open
QUEUED_CALLS = 256         # calls that may wait for a thread; beyond them a call is RESOURCE_EXHAUSTED at once


def credentials(settings) -> grpc.ServerCredentials | None:
    """TLS from the tls_cert/tls_key files (and client certificates checked against tls_client_ca); None: plaintext."""
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not settings.tls_cert or not settings.tls_key:
        raise ValueError("TLS needs both LENET_TLS_CERT and LENET_TLS_KEY")
    client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
                                       root_certificates=client_ca, require_client_auth=client_ca is not None)


def build(service: LenetService, auth: Auth, port: int, host: str = "127.0.0.1",
          metrics: GatewayMetrics | None = None, protocol: InferenceProtocol | None = None
          ) -> tuple[grpc.Server, int]:
    """A started server speaking our contract and the Open Inference Protocol (over `protocol`, which the REST
    front end may share); returns it with the port actually bound (port 0 picks a free one).

    Streams hold a thread while open; StreamLimits keeps them below the pool, so UNARY_THREADS always serve
    unary calls and health checks; each Inspect may hold a second thread for its worker's relay stream."""
    settings = service.settings
    metrics = metrics or GatewayMetrics(service.store)
    protocol = protocol or InferenceProtocol(service)
    tls = credentials(settings)
    threads = settings.max_streams * (2 if service.relay else 1) + UNARY_THREADS
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rpc"), options=OPTIONS,
                         interceptors=[*server_spans.interceptors(),
                                       AuthInterceptor(auth, [SERVICE.full_name, inference.SERVICE.full_name],
                                                       open_methods=OPEN_METHODS)],
                         maximum_concurrent_rpcs=threads + QUEUED_CALLS)
    streams = StreamLimits(settings.max_streams, settings.max_streams_per_client)
    metrics.streams.set_function(streams.count)
    server.add_generic_rpc_handlers([handler(SERVICE, LenetServicer(service, auth, streams), metrics),
                                     handler(inference.SERVICE, InferenceServicer(protocol, auth), metrics)])
    if service.relay:
        server.add_generic_rpc_handlers([relay.handler(service.relay)])
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable(server, [SERVICE, inference.SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"]])
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, tls) if tls else server.add_insecure_port(address)
    if bound == 0:
        raise RuntimeError(f"cannot listen on {host}:{port}")
    if service.relay:
        service.relay.address = "" if settings.relay_address == "off" else settings.relay_address
        if not settings.relay_address:
            service.relay.locate = lambda: relay.advertised(host, bound, service.store.route())
        service.relay.tls = tls is not None
    server.start()
    for name in ("", SERVICE.full_name):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
