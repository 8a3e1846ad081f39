"""The Redis store shared by gateway and workers: jobs and their events, models, requests, live workers.

Only this package knows Redis key names (keys.py). Values are protobuf bytes or plain hashes only, never
serialized Python objects.
"""
import redis

from services.store.jobs import Jobs
from services.store.live_workers import LiveWorkers
from services.store.models import Models
from services.store.requests import Requests


class Store:
    """One connection pool, one attribute per noun. `heartbeat_seconds`: how long a silent worker counts as
    alive; `retention_seconds`: how long ended jobs are kept."""

    def __init__(self, url: str, heartbeat_seconds: float = 30.0, retention_seconds: float = 7 * 24 * 3600.0):
        self.url = url
        self.redis = redis.Redis.from_url(url)
        self.jobs = Jobs(self.redis, retention_seconds)
        self.models = Models(self.redis)
        self.requests = Requests(self.redis)
        self.workers = LiveWorkers(self.redis, heartbeat_seconds)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()
