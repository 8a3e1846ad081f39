"""OpenTelemetry traces for every process of the service and for its clients, configured the standard way.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only form, or OTEL_TRACES_EXPORTER) is set and
OTEL_SDK_DISABLED is not (lenet_protos.settings.TracingSettings). Then `start` installs the SDK's TracerProvider with
a batch processor per exporter named by OTEL_TRACES_EXPORTER (default otlp, over gRPC), and the SDK itself reads
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and the exporter's variables as
it defines them; a process only names its default service.name. With tracing off nothing is installed: no
exporter thread runs, and the helpers below return at once (one shared null context), so a call pays nothing.

Trace context crosses processes as W3C `traceparent` (OTEL_PROPAGATORS): in gRPC metadata (the gateway's own
server spans, services/gateway/server_spans.py, and the maintained client instrumentation), in Celery's task headers
(the Celery instrumentation), and in the records that cross Redis (`carrier` into a LaneRequest's or a Job's
trace_context, `context_of` out of it).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lenet_protos.settings import TracingSettings

TRACER = trace.get_tracer("lenet")
EXPORTERS = "opentelemetry_traces_exporter"   # the entry-point group the SDK's exporters register under
OTLP = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}   # "otlp" by protocol, as the SDK's own
_NOTHING = contextlib.nullcontext()
W3C = TraceContextTextMapPropagator()
_on = False


def start(service: str, settings: TracingSettings | None = None, always: bool = False) -> bool:
    """Install the SDK for this process when the settings turn tracing on; `service` is its service.name unless
    OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names one. `always` (a client asked to trace, `lenet --trace`):
    trace even when nothing is exported, every call sampled, so a trace id exists to print and the service
    continues it. Returns whether spans are recorded. ValueError names an unknown exporter."""
    global _on
    settings = settings or TracingSettings()
    if _on or not settings.on and not always:
        return _on
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource, **({"sampler": ALWAYS_ON} if always else {}))
    names = [name.strip() for name in (settings.traces_exporter or "otlp").split(",") if name.strip()]
    for name in names if settings.on else []:
        if name == "none":
            continue
        name = OTLP.get(settings.exporter_otlp_protocol, name) if name == "otlp" else name
        found = entry_points(group=EXPORTERS, name=name)
        if not found:
            raise ValueError(f"OTEL_TRACES_EXPORTER: no exporter named {name!r} is installed")
        provider.add_span_processor(BatchSpanProcessor(next(iter(found)).load()()))
    trace.set_tracer_provider(provider)
    _on = True
    return True


def on() -> bool:
    return _on


def _sampled(context: Context | None) -> bool:
    """Whether the current span (or `context`'s) is part of a sampled trace: only then are children recorded."""
    return trace.get_current_span(context).get_span_context().trace_flags.sampled


def span(name: str, context: Context | None = None, links: Iterable[Context] = (), root: bool = False,
         **attributes):
    """`with tracing.span("validate"):` a span around the block, the current span's child (or `context`'s).

    Only under a sampled parent (`root`: a trace of its own, e.g. the CLI's command): roots are the instrumented
    servers' and Celery's, where the sampler decides, so a call that is not sampled pays for no span of ours."""
    if not _on or not (root or _sampled(context)):
        return _NOTHING
    return TRACER.start_as_current_span(name, context=context, attributes=attributes or None,
                                        links=[Link(trace.get_current_span(linked).get_span_context())
                                               for linked in links])


def record(name: str, start_ns: int, end_ns: int, context: Context | None = None, **attributes) -> Context | None:
    """A span for a stretch that is already over (times from time.time_ns()), e.g. a wait measured elsewhere;
    returns the context its own children go in. Only under a sampled parent, as `span`."""
    if not _on or not _sampled(context):
        return None
    recorded = TRACER.start_span(name, context=context, start_time=start_ns, attributes=attributes or None)
    recorded.end(end_time=max(start_ns, end_ns))
    return trace.set_span_in_context(recorded, context)


def current() -> Context | None:
    """The current context, to carry into another thread (None when off)."""
    if not _on:
        return None
    from opentelemetry.context import get_current
    return get_current()


def carrier(context: Context | None = None) -> dict[str, str]:
    """The current (or `context`'s) trace context as W3C headers, for a record that crosses Redis; none when it is not
    sampled, as nothing downstream records a span then (and a worker's own spans start only under a sampled one)."""
    headers: dict[str, str] = {}
    if _on and _sampled(context):
        propagate.inject(headers, context=context)
    return headers


def context_of(headers: Mapping[str, str]) -> Context | None:
    """The context a record carried (`carrier`), to continue its trace; None when off or it carried none."""
    return propagate.extract(dict(headers)) if _on and headers else None


def trace_id(context: Context | None = None, sampled: bool = False) -> str:
    """The current (or `context`'s) trace id as 32 hex digits ("" when none; `sampled`: only a recorded one)."""
    if not _on:
        return ""
    found = trace.get_current_span(context).get_span_context()
    return format(found.trace_id, "032x") if found.is_valid and (found.trace_flags.sampled or not sampled) else ""


def trace_id_of(headers: Mapping[str, str]) -> str:
    """The trace id that W3C headers (a Job's trace_context) carry, whether or not this process traces ("": none)."""
    found = trace.get_current_span(W3C.extract(dict(headers))).get_span_context()
    return format(found.trace_id, "032x") if found.is_valid else ""


def channel(grpc_channel):
    """`grpc_channel` with the maintained client instrumentation (a client span per call, `traceparent` sent)
    when this process traces: `start` was called, or the application installed a tracer provider of its own."""
    if not _on and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return grpc_channel
    from opentelemetry.instrumentation.grpc import client_interceptor
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
    return intercept_channel(grpc_channel, client_interceptor())


def flush() -> None:
    """Export what is finished now (a short-lived client, before it exits)."""
    if _on:
        trace.get_tracer_provider().force_flush()
