"""Long streams (WatchJob, Inspect) hold a server thread each while open. Bounding them per client and in all,
below the server's thread count, keeps threads free for unary calls and health checks whatever the streams do."""
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from lenet_services.errors import ResourceExhausted


class StreamLimits:
    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self.open: Counter = Counter()
        self.lock = threading.Lock()

    def count(self) -> int:
        return sum(self.open.values())

    @contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold one stream slot for `client` while the block runs; RESOURCE_EXHAUSTED when none is free."""
        with self.lock:
            if self.open[client] >= self.per_client:
                raise ResourceExhausted(f"{self.per_client} streams are open for {client} already (the most one "
                                        f"client may hold); close one first")
            if sum(self.open.values()) >= self.total:
                raise ResourceExhausted(f"the gateway holds {self.total} open streams (its limit); retry later")
            self.open[client] += 1
        try:
            yield
        finally:
            with self.lock:
                self.open[client] -= 1
                if not self.open[client]:
                    del self.open[client]
