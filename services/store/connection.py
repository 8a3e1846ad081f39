"""The store's connection to Redis, and the one place its failures are translated.

Where Redis is (`Location`) comes from the settings: a URL, or Redis Sentinel addresses that name the primary, so
every process finds the new primary after a failover by itself. Celery's broker is derived from the same place
(`broker`), so the store and the task queue never disagree about which Redis they use.

Every wait is bounded: sockets time out after SOCKET_TIMEOUT_SECONDS (blocking reads are far shorter), and a lost
connection is retried briefly: for less time than Sentinel takes to promote a replica, so a write and the
confirmation that follows it (`confirm`) reach the same primary. What still fails leaves the store as Unavailable,
so nothing outside this package knows Redis or its exceptions.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from lenet_services import errors
from lenet_services.store import keys

SOCKET_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 3.0
SENTINEL_TIMEOUT_SECONDS = 1.0   # a sentinel that does not answer within this is skipped for the next one
PASSWORD_REFUSED = ("Redis refused this client's password (none given, or a wrong one): it goes in REDIS_URL, "
                    "redis://:PASSWORD@HOST:PORT/DB")


class Unavailable(errors.Unavailable):
    """Redis did not answer as it should (refused, timed out, loading, read-only, ...): the call may succeed later."""

    def __init__(self, error: Exception | str):
        super().__init__(f"store unavailable: {error}")


class NotReplicated(Unavailable):
    """A write reached the primary but not enough replicas confirmed it in time: a failover now could lose it."""


@dataclass(frozen=True)
class Location:
    """Where the store is: `url` alone, or `sentinels` ((host, port), …) that name the primary of `master`; the
    URL then gives the password, database and scheme (rediss: TLS), and the sentinels take the same password.
    `durable_replicas`: replicas that must confirm an acknowledged write (0: none; only with sentinels)."""
    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "lenet"
    durable_replicas: int = 0
    durable_timeout_seconds: float = 1.0

    @classmethod
    def of(cls, settings) -> "Location":
        """The location the service settings (lenet_protos.settings.ServiceSettings) name."""
        sentinels = parse_sentinels(settings.redis_sentinels)
        return cls(settings.redis_url, sentinels, settings.redis_sentinel_master,
                   settings.durable_replicas if sentinels else 0, settings.durable_timeout_seconds)

    def describe(self) -> str:
        """For messages: the URL without its password, or the sentinels and the master's name."""
        if self.sentinels:
            return f"the primary {self.master!r} of the sentinels {sentinel_list(self.sentinels)}"
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """"HOST:PORT,HOST:PORT" → ((host, port), …); ValueError naming the entry that is not HOST:PORT."""
    found = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"REDIS_SENTINELS: {entry!r} is not HOST:PORT")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


def sentinel_list(sentinels) -> str:
    return ",".join(f"{host}:{port}" for host, port in sentinels)


def connect(where: Location | str) -> redis.Redis:
    """A client for `where` (ValueError when its URL is malformed); it connects on its first command, and with
    sentinels asks them for the primary whenever it (re)connects."""
    where = Location(where) if isinstance(where, str) else where
    options = dict(socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                   health_check_interval=30, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
    if not where.sentinels:
        return redis.Redis.from_url(where.url, **options)
    params = redis.connection.parse_url(where.url)
    tls = params.pop("connection_class", None) is redis.SSLConnection
    params.pop("host", None), params.pop("port", None)
    secret = {key: params[key] for key in ("username", "password") if params.get(key)}
    sentinel = Sentinel(list(where.sentinels), sentinel_kwargs={
        **secret, "socket_timeout": SENTINEL_TIMEOUT_SECONDS, "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
        **({"ssl": True, **{k: v for k, v in params.items() if k.startswith("ssl_")}} if tls else {})})
    return sentinel.master_for(where.master, **params, **options, **({"ssl": True} if tls else {}))


def broker(where: Location | str) -> tuple[str, dict]:
    """Celery's broker URL and transport options for the same Redis: with sentinels, kombu's
    `sentinel://[:PASSWORD@]HOST:PORT;…` URL (the database in each) and the master's name."""
    where = Location(where) if isinstance(where, str) else where
    if not where.sentinels:
        return where.url, {}
    parts = urlsplit(where.url)
    secret = parts.netloc.rpartition("@")[0]
    urls = [urlunsplit(("sentinel", f"{secret}@{host}:{port}" if secret else f"{host}:{port}", parts.path, "", ""))
            for host, port in where.sentinels]
    password = redis.connection.parse_url(where.url).get("password")
    options = {"master_name": where.master,
               "sentinel_kwargs": {"socket_timeout": SENTINEL_TIMEOUT_SECONDS,
                                   "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
                                   **({"password": password} if password else {})}}
    return ";".join(urls), options


def confirm(client: redis.Redis, where: Location, what: str = "the write") -> None:
    """Wait until `where.durable_replicas` replicas hold every write this process made before (a mark written
    now, then WAIT on the same connection: replication is one ordered stream, so a replica that has the mark has
    all that came before it). NotReplicated naming `what` when fewer confirm within the timeout; nothing when none are
    asked."""
    if not where.durable_replicas:
        return
    timeout_ms = int(where.durable_timeout_seconds * 1000)
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(keys.REPLICATION_MARK)
        pipe.wait(where.durable_replicas, timeout_ms)
        _mark, confirmed = pipe.execute()
    if confirmed < where.durable_replicas:
        raise NotReplicated(
            f"{what} is on the primary, but {confirmed} of the {where.durable_replicas} replica(s) it waits for "
            f"confirmed it within {where.durable_timeout_seconds:g} s (WAIT): a failover now could lose it; "
            f"the replicas may be down (LENET_DURABLE_REPLICAS, LENET_DURABLE_TIMEOUT_SECONDS)")


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
        except redis.AuthenticationError as error:   # Redis's own words name its HELLO command, not the fix
            raise Unavailable(PASSWORD_REFUSED) from error
        except redis.RedisError as error:
            raise Unavailable(error) from error
    return call
