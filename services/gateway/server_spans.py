"""A server span per gRPC call, continuing the caller's `traceparent`, that asks the sampler first.

The maintained server instrumentation (opentelemetry-instrumentation-grpc) builds every call's attributes (its
metadata as a dict, twice; the peer parsed), wraps its servicer context and only then lets the sampler decide, so at
1 % sampling the 99 calls nobody records still pay for all of it: 13–17 µs of CPU per call against about 5 µs here
(BENCHMARKS.md, "Tracing: what an unsampled call pays"). Here the SDK samples first; only a recorded span is given
the peer and the user agent. Span names and attributes are the maintained instrumentation's (rpc.system,
rpc.service, rpc.method, rpc.grpc.status_code, rpc.user_agent, net.peer.ip, net.peer.port), so a trace reads the
same in any backend. The client side stays the maintained one (lenet_protos.tracing.channel)."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Status, StatusCode

from lenet_protos import tracing
from lenet_protos.settings import TracingSettings

TRACER = trace.get_tracer("lenet.grpc.server")
STREAMING = {"unary_unary": False, "stream_unary": False, "unary_stream": True, "stream_stream": True}


class _Metadata(Getter):
    """Reads W3C headers straight from a call's metadata (a tuple of (key, value) pairs), with no dict built."""

    def get(self, carrier, key):
        found = [value for name, value in carrier if name == key]
        return found or None

    def keys(self, carrier):
        return [name for name, _ in carrier]


METADATA = _Metadata()


@lru_cache(maxsize=None)
def _attributes(method: str) -> dict:
    """The attributes every call of `method` ("/package.Service/Method") starts with, before the sampler."""
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
            "rpc.grpc.status_code": grpc.StatusCode.OK.value[0]}


def _describe(span, context: grpc.ServicerContext) -> None:
    """What only a recorded span is given: the caller's user agent and address (as "ipv4:127.0.0.1:57284")."""
    agent = METADATA.get(context.invocation_metadata(), "user-agent")
    if agent:
        span.set_attribute("rpc.user_agent", agent[0])
    peer = context.peer()
    if not peer.startswith("unix:"):
        ip, _, port = peer.split(",")[0].partition(":")[2].rpartition(":")
        span.set_attributes({"net.peer.ip": unquote(ip), "net.peer.port": port})


def _end(span, context: grpc.ServicerContext, error: BaseException | None) -> None:
    """The call's status on its span: the code the handler set or aborted with; CANCELLED for a stream its caller
    left, UNKNOWN for an uncaught error."""
    ended = grpc.StatusCode.CANCELLED if isinstance(error, GeneratorExit) else grpc.StatusCode.UNKNOWN
    code = context.code() or (grpc.StatusCode.OK if error is None else ended)
    if error is not None and type(error) not in (Exception, GeneratorExit):   # an abort raises a bare Exception
        span.record_exception(error)
    if code != grpc.StatusCode.OK:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        span.set_status(Status(StatusCode.ERROR, f"{code}:{context.details() or ''}"))


def _begin(method: str, context: grpc.ServicerContext):
    """The call's span, made current; the SDK samples before anything else is done. Returns (span, token)."""
    parent = propagate.extract(context.invocation_metadata(), getter=METADATA)
    span = TRACER.start_span(method, context=parent, kind=trace.SpanKind.SERVER, attributes=_attributes(method))
    if span.is_recording():
        _describe(span, context)
    return span, otel_context.attach(trace.set_span_in_context(span, parent))


def _finish(span, token, context: grpc.ServicerContext, error: BaseException | None) -> None:
    otel_context.detach(token)
    if span.is_recording():
        _end(span, context, error)
        span.end()


class ServerSpans(grpc.ServerInterceptor):
    """The outermost interceptor: every call (the token check included) runs inside its server span, but those of
    the `excluded` services (OTEL_PYTHON_GRPC_EXCLUDED_SERVICES, read as the maintained instrumentation reads it:
    e.g. grpc.health.v1.Health, whose probes would otherwise be most of the traces)."""

    def __init__(self, excluded: Iterable[str] = ()):
        self.excluded = tuple(f"/{service}/" for service in excluded)

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(self.excluded):
            return handler
        kind = next(kind for kind in STREAMING if getattr(handler, kind) is not None)
        behaviour, method = getattr(handler, kind), details.method

        def unary(request, context):
            span, token = _begin(method, context)
            try:
                reply = behaviour(request, context)
            except BaseException as error:
                _finish(span, token, context, error)
                raise
            _finish(span, token, context, None)
            return reply

        def streaming(request, context):
            span, token = _begin(method, context)
            try:
                yield from behaviour(request, context)
            except BaseException as error:
                _finish(span, token, context, error)
                raise
            _finish(span, token, context, None)

        return handler._replace(**{kind: streaming if STREAMING[kind] else unary})


def interceptors() -> list[grpc.ServerInterceptor]:
    """[ServerSpans(…)] in a process that traces, else none (a call pays nothing)."""
    return [ServerSpans(TracingSettings().excluded_services)] if tracing.on() else []
