"""A real OTLP/gRPC trace receiver on loopback (opentelemetry-proto's TraceService), keeping every span the service's
processes export: what a collector, Jaeger or Tempo would receive. For the tracing tests and the tracing bench."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class Span:
    service: str               # the exporting process's service.name
    trace_id: str              # 32 hex digits
    span_id: str               # 16 hex digits
    parent_id: str             # "" for a root
    name: str
    start_ns: int
    end_ns: int
    kind: int
    attributes: dict = field(default_factory=dict, compare=False)

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self):
        self.spans: list[Span] = []
        self.exports = 0
        self.changed = threading.Condition()
        self.server = grpc.server(futures.ThreadPoolExecutor(4, thread_name_prefix="otlp"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(grace=None)

    def Export(self, request, context):
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received += [Span(str(resource.get("service.name", "")), span.trace_id.hex(), span.span_id.hex(),
                                  span.parent_span_id.hex(), span.name, span.start_time_unix_nano,
                                  span.end_time_unix_nano, span.kind,
                                  {a.key: _value(a.value) for a in span.attributes})
                             for span in scope_spans.spans]
        with self.changed:
            self.spans += received
            self.exports += 1
            self.changed.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, found: Callable[[list[Span]], object], seconds: float = 30.0):
        """The first truthy `found(spans)` as spans arrive; AssertionError after `seconds` without one."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while not (result := found(list(self.spans))):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not received within {seconds} s; have {len(self.spans)} spans: "
                                         f"{sorted({(s.service, s.name) for s in self.spans})}")
                self.changed.wait(left)
            return result

    def trace(self, trace_id: str) -> list[Span]:
        with self.changed:
            return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start_ns)


def server_span(spans: list[Span], method: str) -> Span | None:
    """The newest gateway server span of gRPC `method` (e.g. "/lenet.v1.Lenet/Predict")."""
    found = [s for s in spans if s.service == "lenet-gateway" and s.kind == 2 and s.name == method]
    return max(found, key=lambda s: s.start_ns) if found else None
