"""Map domain errors to gRPC status codes, in one place, for unary and streaming methods alike."""
import functools

import grpc
import redis

from services.errors import ServiceError


def abort(context: grpc.ServicerContext, error: Exception):
    if isinstance(error, ServiceError):
        context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL), str(error))
    context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable: {error}")


def translated(behavior, streaming: bool):
    """Wrap a servicer method so ServiceError and Redis outages become proper statuses."""
    if streaming:
        @functools.wraps(behavior)
        def stream(request, context):
            try:
                yield from behavior(request, context)
            except (ServiceError, redis.RedisError) as error:
                abort(context, error)
        return stream

    @functools.wraps(behavior)
    def unary(request, context):
        try:
            return behavior(request, context)
        except (ServiceError, redis.RedisError) as error:
            abort(context, error)
    return unary
