"""The Redis store shared by gateway and workers: jobs and their events, models, requests, live workers.

Only this package knows Redis key names (keys.py). Values are protobuf bytes or plain hashes only, never
serialized Python objects.
"""
import os

import redis

from services.store.jobs import Jobs
from services.store.models import Models
from services.store.requests import Requests
from services.store.workers import Workers

DEFAULT_URL = "redis://localhost:6379/0"


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_URL)


class Store:
    """One connection pool, one attribute per noun."""

    def __init__(self, url: str | None = None):
        self.url = url or redis_url()
        self.redis = redis.Redis.from_url(self.url)
        self.jobs = Jobs(self.redis)
        self.models = Models(self.redis)
        self.requests = Requests(self.redis)
        self.workers = Workers(self.redis)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()
