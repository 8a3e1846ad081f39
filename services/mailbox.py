"""A bounded hand-over of one stream's messages between two threads, with an end either side may set: how the
answer of one request crosses a process (the gateway's Relay handler → its Inspect call; a serving worker's
stream → gRPC's sending thread). The writer waits while it is full, so a slow reader slows the writer down and
memory stays bounded by the capacity."""
import threading
from collections import deque


class Ended(Exception):
    """The mailbox has ended (and, for a reader, is empty): `reason` says how."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Mailbox:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.items: deque = deque()
        self.reason: str | None = None      # set once, by end()
        self.changed = threading.Condition()

    def put(self, item, timeout: float) -> bool:
        """Hand `item` over, waiting up to `timeout` seconds for room: False when there was none. Ended once ended."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.reason is not None or len(self.items) < self.capacity,
                                         timeout):
                return False
            if self.reason is not None:
                raise Ended(self.reason)
            self.items.append(item)
            self.changed.notify_all()
            return True

    def get(self, timeout: float | None):
        """The next item, waiting up to `timeout` seconds (None: until one comes): None when none came. Ended once
        ended and empty."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.items or self.reason is not None, timeout):
                return None
            if self.items:
                self.changed.notify_all()
                return self.items.popleft()
            raise Ended(self.reason)

    def end(self, reason: str) -> None:
        """End it (the first reason stays): the writer's next put raises Ended, the reader's get once it is empty."""
        with self.changed:
            if self.reason is None:
                self.reason = reason
            self.changed.notify_all()
