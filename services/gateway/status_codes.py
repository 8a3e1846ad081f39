"""Every call's outcome in one place, for unary and streaming methods alike: domain errors mapped to gRPC status
codes, every call that does not end OK logged with its method and what the error names (job, model or request
id), and every call counted and timed for the metrics."""
import functools
import logging
import time

import grpc

from lenet_protos import tracing
from lenet_services import logs
from lenet_services.errors import ServiceError
from lenet_services.gateway.gateway_metrics import GatewayMetrics

log = logging.getLogger("gateway")


# The same errors over HTTP (the dashboard's API and the Open Inference Protocol's REST side); the rest are 500.
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
               "FAILED_PRECONDITION": 409, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}


def status_of(error: Exception) -> tuple[grpc.StatusCode, str]:
    """A ServiceError's own code (the store's Unavailable among them: "store unavailable: …"); INTERNAL for
    anything else, which is a bug: logged here with its traceback."""
    if isinstance(error, ServiceError):
        return getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL), str(error)
    log.error("unexpected error", exc_info=error)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}"


def http_status_of(error: Exception) -> tuple[grpc.StatusCode, int, str]:
    """status_of, with the HTTP status that code maps to."""
    code, message = status_of(error)
    return code, HTTP_STATUS.get(code.name, 500), message


def translated(behavior, streaming: bool, metrics: GatewayMetrics):
    """Wrap a servicer method so its errors become proper statuses (status_of), and so the call is logged when it
    fails and counted either way."""
    method = behavior.__name__

    def finish(context, started: float, error: Exception | None = None) -> None:
        code, message = status_of(error) if error else (grpc.StatusCode.OK, "")
        metrics.rpcs.labels(method, code.name).inc()
        trace_id = tracing.trace_id(sampled=True)   # a slow bucket leads to a trace (OpenMetrics exemplars)
        metrics.seconds.labels(method).observe(time.perf_counter() - started,
                                               exemplar={"trace_id": trace_id} if trace_id else None)
        if error:
            log.log(logging.ERROR if code == grpc.StatusCode.INTERNAL else logging.WARNING, "%s → %s: %s",
                    method, code.name, message)
            context.abort(code, message)

    if streaming:
        @functools.wraps(behavior)
        def stream(request, context):
            started = time.perf_counter()
            try:
                yield from behavior(request, context)
            except Exception as error:
                finish(context, started, error)
            finish(context, started)
        return stream

    @functools.wraps(behavior)
    def unary(request, context):
        started = time.perf_counter()
        with logs.about(job_id=getattr(request, "job_id", "")):
            try:
                response = behavior(request, context)
            except Exception as error:
                finish(context, started, error)
            finish(context, started)
        return response
    return unary
