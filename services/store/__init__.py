"""The Redis store shared by gateway and workers: jobs with their events, leases, checkpoints and evaluations;
models; requests; live workers; sweeps and their Optuna studies.

Only this package knows Redis: its key names (keys.py) and its exceptions, which leave it as Unavailable
(connection.py). Values are protobuf bytes or plain hashes only, never serialized Python objects. Every wait is
bounded.
"""
import time

from lenet_services.store import keys
from lenet_services.store.checkpoints import Checkpoints
from lenet_services.store.connection import Location, NotReplicated, Unavailable, confirm, connect, guarded
from lenet_services.store.evaluations import Evaluations
from lenet_services.store.events import Events
from lenet_services.store.jobs import Jobs
from lenet_services.store.leases import Leases, StopReason
from lenet_services.store.live_workers import LiveWorkers
from lenet_services.store.models import Models
from lenet_services.store.requests import Requests
from lenet_services.store.studies import Studies
from lenet_services.store.sweeps import Sweeps

__all__ = ["Location", "NotReplicated", "Store", "StopReason", "Unavailable"]


@guarded
class Store:
    """One connection pool, one attribute per noun. `where`: a Redis URL or a Location (sentinels);
    `heartbeat_seconds`: how long a silent worker counts as alive; `retention_seconds`: how long ended jobs are
    kept."""

    def __init__(self, where: Location | str, heartbeat_seconds: float = 30.0,
                 retention_seconds: float = 7 * 24 * 3600.0):
        self.where = Location(where) if isinstance(where, str) else where
        self.heartbeat_seconds = heartbeat_seconds
        self.redis = connect(self.where)
        self._primary: tuple[str, float] = ("", 0.0)    # (run id, when this store first saw it)
        self.events = Events(self.redis)
        self.checkpoints = Checkpoints(self.redis)
        self.jobs = Jobs(self.redis, self.events, self.checkpoints, retention_seconds)
        self.leases = Leases(self.redis)
        self.evaluations = Evaluations(self.redis)
        self.models = Models(self.redis)
        self.requests = Requests(self.redis)
        self.workers = LiveWorkers(self.redis, heartbeat_seconds)
        self.sweeps = Sweeps(self.redis, retention_seconds)
        self.studies = Studies(self.redis)

    @classmethod
    def of(cls, settings) -> "Store":
        """The store the service settings name, with their heartbeat and retention."""
        return cls(Location.of(settings), settings.heartbeat_seconds, settings.retention_seconds)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def owned_records(self) -> bool:
        """Whether any job or model has an owner (jobs and models both mark it): the store has served a gateway
        with tokens."""
        return bool(self.redis.exists(keys.OWNED))

    def primary_seconds(self) -> float:
        """How long the primary has served: its uptime, or less when this store saw another primary before it
        (a failover promoted a replica that has run for long). After either, workers need a heartbeat period to
        renew their leases there."""
        server = self.redis.info("server")
        now = time.monotonic()
        if server["run_id"] != self._primary[0]:
            self._primary = (server["run_id"], now if self._primary[0] else now - server["uptime_in_seconds"])
        return min(float(server["uptime_in_seconds"]), now - self._primary[1])

    def confirm(self, what: str = "the write") -> None:
        """Return once the replicas that acknowledged writes wait for (Location.durable_replicas) hold every write
        this process made before; NotReplicated (an Unavailable) naming `what` when they do not within the timeout.
        Call it after a write the caller is told succeeded, before telling it."""
        confirm(self.redis, self.where, what)

    def route(self) -> tuple[str, str] | None:
        """(this host's address, the store's) on a connection to the store; None over a Unix socket. Tells the
        gateway which of its addresses workers, which reach the store too, can reach it by."""
        pool = self.redis.connection_pool
        connection = pool.get_connection()
        try:
            connection.connect()
            local, peer = connection._sock.getsockname(), connection._sock.getpeername()
            return (local[0], peer[0]) if isinstance(local, tuple) else None
        finally:
            pool.release(connection)

    def close(self) -> None:
        self.redis.close()
