"""Map domain errors to gRPC status codes, in one place, for unary and streaming methods alike, and log every
call that does not end OK with its method and what the error names (job, model or request id)."""
import functools
import logging

import grpc
import redis

from services.errors import ServiceError

log = logging.getLogger("gateway")


def abort(context: grpc.ServicerContext, method: str, error: Exception):
    if isinstance(error, ServiceError):
        code, message = getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL), str(error)
    else:
        code, message = grpc.StatusCode.UNAVAILABLE, f"store unavailable: {error}"
    log.log(logging.ERROR if code == grpc.StatusCode.INTERNAL else logging.WARNING,
            "%s → %s: %s", method, code.name, message)
    context.abort(code, message)


def translated(behavior, streaming: bool):
    """Wrap a servicer method so ServiceError and Redis outages (refused, timed out) become proper statuses."""
    method = behavior.__name__
    if streaming:
        @functools.wraps(behavior)
        def stream(request, context):
            try:
                yield from behavior(request, context)
            except (ServiceError, redis.RedisError) as error:
                abort(context, method, error)
        return stream

    @functools.wraps(behavior)
    def unary(request, context):
        try:
            return behavior(request, context)
        except (ServiceError, redis.RedisError) as error:
            abort(context, method, error)
    return unary
