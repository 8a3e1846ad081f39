"""The Redis store shared by gateway and workers: jobs and their events, models, requests, live workers.

Only this package knows Redis key names (keys.py). Values are protobuf bytes or plain hashes only, never
serialized Python objects. Every wait is bounded: sockets time out after SOCKET_TIMEOUT_SECONDS, blocking reads
are far shorter, and a lost connection is retried briefly, then surfaces as redis.ConnectionError.
"""
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from services.store import keys
from services.store.jobs import Jobs
from services.store.live_workers import LiveWorkers
from services.store.models import Models
from services.store.requests import Requests

SOCKET_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 3.0


class Store:
    """One connection pool, one attribute per noun. `heartbeat_seconds`: how long a silent worker counts as
    alive; `retention_seconds`: how long ended jobs are kept."""

    def __init__(self, url: str, heartbeat_seconds: float = 30.0, retention_seconds: float = 7 * 24 * 3600.0):
        self.url = url
        self.heartbeat_seconds = heartbeat_seconds
        self.redis = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=30, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
        self.jobs = Jobs(self.redis, retention_seconds)
        self.models = Models(self.redis)
        self.requests = Requests(self.redis)
        self.workers = LiveWorkers(self.redis, heartbeat_seconds)

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
