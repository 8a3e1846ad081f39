"""Concurrent Predict calls for one model, on one gateway, sent to its serve lane as one request.

Every call that reaches a worker costs a Redis round trip each way and the worker's handling of a request;
coalescing spreads those over the calls that arrive together. A call waits for no timer: whatever is queued when
a sender is free goes at once, so a lone call goes alone; under load, groups form while the few senders are busy
with the previous ones (as Nagle's algorithm does for small writes). The worker's dynamic batcher then joins groups
from every gateway into its forward passes.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from lenet_protos import tracing
from lenet_services.errors import DeadlineExceeded


@dataclass
class _Call:
    lane: str
    model_id: str
    images: np.ndarray          # N×28×28, uint8 or float32 pixels 0–255
    deadline: float             # time.monotonic()
    future: Future = field(default_factory=Future)
    context: object = field(default_factory=tracing.current)   # the caller's trace (None when not tracing)


class Coalescer:
    def __init__(self, send: Callable[[str, str, np.ndarray, float], np.ndarray], most_images: int,
                 senders: int = 4):
        """`send(lane, model_id, images, deadline)` returns the probabilities of `images` (raising what the
        worker reports); groups hold at most `most_images` images; `senders` groups may be in flight at once."""
        self.send, self.most_images = send, most_images
        self.calls: queue.Queue[_Call] = queue.Queue()
        self.senders = threading.Semaphore(senders)   # groups in flight: while they are, the next ones grow
        self.pool = ThreadPoolExecutor(senders, thread_name_prefix="predict")
        threading.Thread(target=self._gather, name="coalescer", daemon=True).start()

    def predict(self, lane: str, model_id: str, images: np.ndarray, deadline: float) -> np.ndarray:
        """The probabilities of `images` (float32 N×10), sent with whatever else waits for the same model;
        DeadlineExceeded once `deadline` (time.monotonic()) passes."""
        call = _Call(lane, model_id, images, deadline)
        self.calls.put(call)
        try:
            return call.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise DeadlineExceeded(f"Predict of model {model_id}: no answer before the deadline") from None

    def _gather(self) -> None:
        held: list[_Call] = []
        while True:
            held.append(self.calls.get())
            self.senders.acquire()            # a sender is free: take everything waiting now, without waiting more
            while True:
                try:
                    held.append(self.calls.get_nowait())
                except queue.Empty:
                    break
            groups: dict[tuple[str, str], list[_Call]] = {}
            for call in held:
                groups.setdefault((call.lane, call.model_id), []).append(call)
            held = []
            parts = [part for group in groups.values() for part in _parts(group, self.most_images)]
            for number, part in enumerate(parts):
                if number:
                    self.senders.acquire()
                self.pool.submit(self._send, part)

    def _send(self, group: list[_Call]) -> None:
        images = group[0].images if len(group) == 1 else \
            np.concatenate([call.images if call.images.dtype == np.float32 else call.images.astype(np.float32)
                            for call in group])
        try:   # in the first caller's trace, linked to the others'
            with tracing.span("lane round trip", group[0].context, [call.context for call in group[1:]],
                              calls=len(group), images=len(images)):
                probabilities = self.send(group[0].lane, group[0].model_id, images, max(c.deadline for c in group))
        except BaseException as error:
            for call in group:
                call.future.set_exception(error)
            return
        finally:
            self.senders.release()
        start = 0
        for call in group:
            call.future.set_result(probabilities[start:start + len(call.images)])
            start += len(call.images)


def _parts(group: list[_Call], most_images: int) -> list[list[_Call]]:
    """The group in consecutive parts of at most `most_images` images (a larger call alone)."""
    parts, part, images = [], [], 0
    for call in group:
        if part and images + len(call.images) > most_images:
            parts.append(part)
            part, images = [], 0
        part.append(call)
        images += len(call.images)
    return [*parts, part] if part else parts
