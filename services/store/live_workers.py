"""Live workers: each refreshes a short-lived hash, so the gateway knows which devices have capacity."""
import redis

from services.store import keys


class LiveWorkers:
    def __init__(self, client: redis.Redis, ttl_seconds: float):
        self.redis = client
        self.ttl_seconds = ttl_seconds   # a worker silent this long is gone

    def heartbeat(self, name: str, device: str, pid: int) -> None:
        with self.redis.pipeline() as tx:
            tx.hset(keys.worker(name), mapping={"device": device, "pid": pid})
            tx.pexpire(keys.worker(name), int(self.ttl_seconds * 1000))
            tx.execute()

    def leave(self, name: str) -> None:
        self.redis.delete(keys.worker(name))

    def alive(self) -> dict[str, str]:
        """Live worker name → device."""
        found = {}
        for key in self.redis.scan_iter(match=keys.WORKER_PATTERN):
            device = self.redis.hget(key, "device")
            if device is not None:
                found[key.decode().removeprefix(keys.worker(""))] = device.decode()
        return found
