"""Live workers: each refreshes its record and its place in one sorted set, so finding the living costs the
same however many workers have come and gone (no SCAN of the keyspace).

A record expires with its heartbeat; the sorted set's score is that expiry time, so a range read from now on
is the set of the living.
"""
import time
from datetime import datetime, timezone

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import keys
from lenet_services.store.connection import guarded


@guarded
class LiveWorkers:
    def __init__(self, client: redis.Redis, ttl_seconds: float):
        self.redis = client
        self.ttl_seconds = ttl_seconds   # a worker silent this long is gone

    def heartbeat(self, worker: pb.Worker) -> None:
        """Record `worker` (its name, lane, what it runs) as alive for another ttl_seconds."""
        now = time.time()
        worker.last_seen = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z")
        with self.redis.pipeline() as tx:
            tx.set(keys.worker(worker.name), worker.SerializeToString(), px=int(self.ttl_seconds * 1000))
            tx.zadd(keys.WORKERS, {worker.name: now + self.ttl_seconds})
            tx.zremrangebyscore(keys.WORKERS, "-inf", now)   # the dead leave the set as others beat
            tx.execute()

    def leave(self, name: str) -> None:
        with self.redis.pipeline() as tx:
            tx.delete(keys.worker(name))
            tx.zrem(keys.WORKERS, name)
            tx.execute()

    def alive(self) -> list[pb.Worker]:
        """The living workers, by lane then name."""
        names = [name.decode() for name in self.redis.zrangebyscore(keys.WORKERS, time.time(), "+inf")]
        records = self.redis.mget([keys.worker(name) for name in names]) if names else []
        workers = [pb.Worker.FromString(data) for data in records if data is not None]
        return sorted(workers, key=lambda worker: (worker.lane, worker.name))

    def lanes(self) -> dict[str, int]:
        """Lane → how many live workers serve it."""
        counts: dict[str, int] = {}
        for worker in self.alive():
            counts[worker.lane] = counts.get(worker.lane, 0) + 1
        return counts

    def is_alive(self, name: str) -> bool:
        score = self.redis.zscore(keys.WORKERS, name)
        return score is not None and score > time.time()

    def waiting(self, lane: str) -> tuple[int, int]:
        """(jobs, requests) waiting on a lane: Celery's queue lists (every priority) and the lane's request list."""
        with self.redis.pipeline(transaction=False) as pipe:
            for queue in keys.celery_queues(lane):
                pipe.llen(queue)
            pipe.llen(keys.lane_requests(lane))
            *jobs, requests = pipe.execute()
        return sum(jobs), requests

    def jobs_first_in_line(self, lane: str) -> int:
        """Jobs waiting on a lane at the first priority (what no sweep's trial waits behind)."""
        return self.redis.llen(keys.celery_queue(lane))
