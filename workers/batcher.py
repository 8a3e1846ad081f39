"""The serving process's one MXNet thread, with a dynamic batcher in front of it, as Triton's.

Every MXNet call of a serving process runs here, in order: Predict calls and pieces of longer work (a forward
pass of an Inspect stream, a slice of an evaluation, an ONNX conversion), so a Predict never waits for more than
one such piece. Concurrent Predict calls for the same model run as one forward pass: once the first arrives the
batcher takes what else is queued for that model, waiting at most `max_delay` seconds, up to `max_batch` images;
each caller gets exactly its own rows. Batches are padded to a power of two, so a handful of bound executors
serve every batch size up to `max_batch`; a larger single call runs in the engine's own batches.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from lenet_protos import tracing
from lenet_workers import worker_metrics as metrics

log = logging.getLogger(__name__)


@dataclass
class _Predict:
    model_id: str
    images: np.ndarray        # N×28×28, uint8 or float32 pixels 0–255
    future: Future
    context: object = None    # the caller's trace (None: not tracing)
    queued_ns: int = 0        # time.time_ns() when it reached the batcher


@dataclass
class _Work:
    run: Callable
    future: Future


class Batcher:
    def __init__(self, predictor_of: Callable, max_batch: int = 64, max_delay: float = 0.0):
        """`predictor_of(model_id)` gives the model's engine Predictor (called on the MXNet thread)."""
        self.predictor_of, self.max_batch, self.max_delay = predictor_of, max_batch, max_delay
        self.queue: queue.Queue = queue.Queue()
        self.batches = 0          # forward passes run for Predict calls
        self.predictions = 0      # images they covered
        threading.Thread(target=self._loop, name="mxnet", daemon=True).start()

    def predict(self, model_id: str, images: np.ndarray, context=None) -> Future:
        """Class probabilities (float32 N×10) for `images`, batched with other callers'; the wait and the forward
        pass are spans of `context`'s trace."""
        future: Future = Future()
        self.queue.put(_Predict(model_id, images, future, context, time.time_ns()))
        return future

    def run(self, work: Callable):
        """Run `work()` on the MXNet thread and return its result (or raise its error) to the caller."""
        future: Future = Future()
        self.queue.put(_Work(work, future))
        return future.result()

    def _loop(self) -> None:
        held: deque = deque()     # taken while gathering a batch, but for another model or too big: next
        while True:
            item = held.popleft() if held else self.queue.get()
            if isinstance(item, _Work):
                _settle(item.future, item.run)
                continue
            batch, rows = [item], len(item.images)
            deadline = time.monotonic() + self.max_delay
            while rows < self.max_batch:
                try:
                    following = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if isinstance(following, _Predict) and following.model_id == item.model_id \
                        and rows + len(following.images) <= self.max_batch:
                    batch.append(following)
                    rows += len(following.images)
                else:
                    held.append(following)
            self._forward(item.model_id, batch, rows)

    def _forward(self, model_id: str, batch: list[_Predict], rows: int) -> None:
        started = time.time_ns()
        try:
            predictor = self.predictor_of(model_id)
            images = np.concatenate([_as_float(p.images) for p in batch]) if len(batch) > 1 else batch[0].images
            if rows > self.max_batch:                         # one large call: the engine's own batches
                probabilities = predictor.predict(images)
            else:
                size = 1 << max(0, rows - 1).bit_length()    # the power of two ≥ rows
                padding = np.zeros((size - rows, *images.shape[1:]), images.dtype)
                probabilities = predictor.predict(np.concatenate([images, padding]), batch_size=size)[:rows]
        except Exception as error:
            for predict in batch:
                predict.future.set_exception(error)
            return
        self.batches, self.predictions = self.batches + 1, self.predictions + rows
        metrics.BATCH_IMAGES.observe(rows)
        ended = time.time_ns()
        for predict in batch:   # each caller's trace sees the wait and the pass its rows were in
            tracing.record("batch wait", predict.queued_ns, started, predict.context, batch_images=rows,
                           batch_calls=len(batch))
            tracing.record("forward", started, ended, predict.context, batch_images=rows)
        start = 0
        for predict in batch:
            predict.future.set_result(probabilities[start:start + len(predict.images)])
            start += len(predict.images)


def _as_float(images: np.ndarray) -> np.ndarray:
    return images if images.dtype == np.float32 else images.astype(np.float32)


def _settle(future: Future, work: Callable) -> None:
    try:
        future.set_result(work())
    except BaseException as error:  # handed to the caller, who raises it
        future.set_exception(error)
