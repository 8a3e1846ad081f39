"""The store's connection to Redis, and the one place its failures are translated.

Every wait is bounded: sockets time out after SOCKET_TIMEOUT_SECONDS (blocking reads are far shorter), and a lost
connection is retried briefly. What still fails leaves the store as Unavailable, so nothing outside this package
knows Redis or its exceptions.
"""
import functools
import inspect

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from lenet_services import errors

SOCKET_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 3.0


class Unavailable(errors.Unavailable):
    """Redis did not answer as it should (refused, timed out, loading, read-only, ...): the call may succeed later."""

    def __init__(self, error: Exception):
        super().__init__(f"store unavailable: {error}")


def connect(url: str) -> redis.Redis:
    """A client for `url` (ValueError when it is malformed); it connects on its first command."""
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))


def guarded(cls: type) -> type:
    """Class decorator: every public method of `cls` raises Unavailable where Redis fails."""
    for name, method in list(vars(cls).items()):
        if inspect.isfunction(method) and not name.startswith("_"):
            setattr(cls, name, _guard(method))
    return cls


def _guard(method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except redis.RedisError as error:
            raise Unavailable(error) from error
    return call
