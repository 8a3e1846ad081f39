"""The Redis store shared by gateway and workers: jobs with their events, leases, checkpoints and evaluations;
models; requests; live workers; sweeps and their Optuna studies.

Only this package knows Redis: its key names (keys.py) and its exceptions, which leave it as Unavailable
(connection.py). Values are protobuf bytes or plain hashes only, never serialized Python objects. Every wait is
bounded.
"""
from lenet_services.store import keys
from lenet_services.store.checkpoints import Checkpoints
from lenet_services.store.connection import Unavailable, connect, guarded
from lenet_services.store.evaluations import Evaluations
from lenet_services.store.events import Events
from lenet_services.store.jobs import Jobs
from lenet_services.store.leases import Leases, StopReason
from lenet_services.store.live_workers import LiveWorkers
from lenet_services.store.models import Models
from lenet_services.store.requests import Requests
from lenet_services.store.studies import Studies
from lenet_services.store.sweeps import Sweeps

__all__ = ["Store", "StopReason", "Unavailable"]


@guarded
class Store:
    """One connection pool, one attribute per noun. `heartbeat_seconds`: how long a silent worker counts as
    alive; `retention_seconds`: how long ended jobs are kept."""

    def __init__(self, url: str, heartbeat_seconds: float = 30.0, retention_seconds: float = 7 * 24 * 3600.0):
        self.url = url
        self.heartbeat_seconds = heartbeat_seconds
        self.redis = connect(url)
        self.events = Events(self.redis)
        self.jobs = Jobs(self.redis, self.events, retention_seconds)
        self.leases = Leases(self.redis)
        self.checkpoints = Checkpoints(self.redis)
        self.evaluations = Evaluations(self.redis)
        self.models = Models(self.redis)
        self.requests = Requests(self.redis)
        self.workers = LiveWorkers(self.redis, heartbeat_seconds)
        self.sweeps = Sweeps(self.redis, retention_seconds)
        self.studies = Studies(self.redis)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def owned_records(self) -> bool:
        """Whether any job or model has an owner (jobs and models both mark it): the store has served a gateway
        with tokens."""
        return bool(self.redis.exists(keys.OWNED))

    def uptime_seconds(self) -> float:
        """How long the Redis server has run: after a restart, workers need a heartbeat period to be seen again."""
        return float(self.redis.info("server")["uptime_in_seconds"])

    def close(self) -> None:
        self.redis.close()
