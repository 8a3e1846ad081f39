"""A serving worker's lane: it takes Predict, Inspect and export requests from its serve lane as they come and
answers each, all MXNet work going through the process's Batcher; Inspect's chunks go to the waiting gateway
directly when it can be reached (lenet_workers.chunk_sinks), else through the store.

One thread reads the lane (whatever waits is taken in one read, so concurrent Predicts reach the batcher
together), one writes Predict replies (all that are ready in one round trip), and a small pool runs streams and
exports, each stream abandoned when its reader takes nothing for the idle bound.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from lenet_protos import tracing
from lenet_protos.contract import CHUNK_BYTES, INSPECT_BATCH_DEFAULT, INSPECT_FIRST_BATCH, LAYERS, file_prefix, \
    onnx_file
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.shared_memory import RingWriter
from lenet_protos.tensors import NUMPY_DTYPES, chunk_frame, images_from_tensor, tensor_bytes, to_tensor
from lenet_services.errors import InvalidArgument, ResourceExhausted, ServiceError
from lenet_services.store import Unavailable
from lenet_services.store.requests import Cancelled
from lenet_workers import model_cache, worker_metrics as metrics
from lenet_workers.batcher import Batcher
from lenet_workers.chunk_sinks import Sinks, StoreSink
from lenet_workers.context import WorkerContext
from lenet_workers.datasets import resolve
from lenet_workers.engine import onnx_export

log = logging.getLogger(__name__)
STREAMS = 2            # Inspect streams and exports a serving process runs at once; more wait on the lane


class LaneServer:
    def __init__(self, worker: WorkerContext, batcher: Batcher):
        self.worker, self.batcher = worker, batcher
        self.replies: queue.Queue = queue.Queue()
        self.pool = ThreadPoolExecutor(STREAMS, thread_name_prefix="stream")
        self.stopped = threading.Event()
        self.sinks = Sinks(worker.store.requests, worker.settings.stream_idle_seconds)

    def start(self) -> LaneServer:
        threading.Thread(target=self._read_lane, name="lane", daemon=True).start()
        threading.Thread(target=self._write_replies, name="replies", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    # -- the lane ------------------------------------------------------------------------------------
    def _read_lane(self) -> None:
        requests, failing = self.worker.store.requests, False
        while not self.stopped.is_set():
            try:
                first = requests.first_waiting(self.worker.lane)
                taken_ns = time.time_ns()
                taken = [] if first is None else \
                    requests.claim_with_more(self.worker.lane, first, self.worker.settings.batch_max, self.worker.name)
                claimed_ns = time.time_ns()
                failing = _recovered(failing, "lane")
            except Unavailable as error:
                failing = _failing(failing, "lane", error, self.stopped)
                continue
            for request in taken:
                kind, context = request.WhichOneof("request"), tracing.context_of(request.trace_context)
                tracing.record("lane wait", int(request.sent_at * 1e9) or taken_ns, taken_ns, context,
                               lane=self.worker.lane)
                tracing.record("claim", taken_ns, claimed_ns, context, requests=len(taken))
                if kind == "predict":
                    self._predict(request, context)
                else:
                    self.pool.submit(self._traced, self._inspect if kind == "inspect" else self._export, request,
                                     context)

    @staticmethod
    def _traced(work, request: pb.LaneRequest, context) -> None:
        with tracing.span(request.WhichOneof("request"), context):
            work(request)

    def _predict(self, request: pb.LaneRequest, context) -> None:
        try:
            images = images_from_tensor(request.predict.images)
        except ValueError as error:
            self._answer(request.request_id, error, context)
            return
        future = self.batcher.predict(request.predict.model_id, images, context)
        future.add_done_callback(lambda done: self._answer(request.request_id, done, context))

    def _answer(self, request_id: str, outcome: Future | Exception, context=None) -> None:
        """Queue the reply: a PredictResponse from a finished future, or the error (with its trace's context and
        when it was queued, for the "reply write" span)."""
        if isinstance(outcome, Future) and outcome.exception() is None:
            probabilities = outcome.result()
            response = pb.PredictResponse(probabilities=to_tensor(probabilities, "probabilities"),
                                          labels=probabilities.argmax(axis=1).tolist())
            reply = pb.WorkerReply(payload=response.SerializeToString())
        else:
            reply = error_reply(outcome.exception() if isinstance(outcome, Future) else outcome)
        self.replies.put((request_id, reply, "predict", context, time.time_ns()))

    def _write_replies(self) -> None:
        failing = False
        while True:
            ready = [self.replies.get()]
            while not self.replies.empty():
                ready.append(self.replies.get_nowait())
            try:
                self.worker.store.requests.reply([(request_id, reply) for request_id, reply, *_ in ready])
                failing = _recovered(failing, "replies")
            except Unavailable as error:   # the callers' calls fail with UNAVAILABLE meanwhile
                failing = _failing(failing, "replies", error, self.stopped)
            written = time.time_ns()
            for request_id, reply, kind, context, queued in ready:
                tracing.record("reply write", queued, written, context, bytes=len(reply.payload), replies=len(ready))
                counted(kind, "failed" if reply.error_code else "succeeded")
                if reply.error_code:
                    log.warning("%s request %s: %s %s", kind, request_id, reply.error_code, reply.error_message)
            self.worker.status.requests += len(ready)

    # -- streams and exports -------------------------------------------------------------------------
    def _inspect(self, request: pb.LaneRequest) -> None:
        """Forward passes in batches; every layer's rows go out as chunks of at most CHUNK_BYTES, each written
        straight into its message buffer (lenet_protos.tensors.chunk_frame), one buffer reused for all chunks."""
        requests, request_id, inspect = self.worker.store.requests, request.request_id, request.inspect
        outcome, sink, ring = "failed", None, None
        try:
            requests.start_stream(request_id)
            sink = self.sinks.open(request)   # before the work: a relay stream connects meanwhile
            if inspect.HasField("shared_memory"):
                ring = RingWriter.attach(inspect.shared_memory)   # None: the client is on another host
            selection = resolve(inspect.samples, self.worker.settings.data_dir, "samples")
            layers, dtype = list(inspect.layers) or list(LAYERS), inspect.dtype
            predictor = self.batcher.run(lambda: model_cache.predictor(self.worker, inspect.model_id))
            passes = predictor.batches(selection.images, layers, inspect.batch_size or INSPECT_BATCH_DEFAULT,
                                       NUMPY_DTYPES[dtype], 0 if inspect.batch_size else INSPECT_FIRST_BATCH)
            total, buffer = len(selection.images), None
            while True:
                with tracing.span("forward"):
                    batch = self.batcher.run(lambda: next(passes, None))
                if batch is None:
                    break
                with tracing.span("reply write", images=batch.shape(layers[0])[0]):
                    for layer in layers:
                        for start, stop in row_ranges(batch.shape(layer), NUMPY_DTYPES[dtype].itemsize):
                            chunk = pb.TensorChunk(layer=layer, sample_start=batch.start + start,
                                                   sample_count=stop - start, total_samples=total)
                            shape = (stop - start, *batch.shape(layer)[1:])
                            if ring is None:
                                frame, data = chunk_frame(chunk, shape, dtype, buffer)
                                batch.copy_rows(layer, start, stop, data)
                                sink.send(frame)
                                buffer = frame.obj  # sent: reuse its memory for the next chunk
                            else:
                                sink.send(self._into_slot(ring, sink, chunk, shape, dtype,
                                                          lambda out: batch.copy_rows(layer, start, stop, out)))
            sink.finish()
            outcome = "succeeded"
        except Cancelled:
            requests.close(request_id)
            outcome = "cancelled"
        except Exception as error:
            log.warning("inspect request %s failed: %s", request_id, error)
            (sink or StoreSink(requests, request_id, 0)).fail(error_reply(error))
        finally:
            if ring is not None:
                ring.close()
            counted("inspect", outcome)
            self.worker.status.requests += 1

    @staticmethod
    def _into_slot(ring: RingWriter, sink: StoreSink, chunk: pb.TensorChunk, shape: tuple, dtype: int, copy_rows
                   ) -> bytes:
        """The chunk's rows, written by copy_rows(out), in the ring's next slot once its reader has freed it; the
        chunk, naming the slot, serialized."""
        slot = None

        def freed() -> bool:
            nonlocal slot
            slot = ring.take_next()
            return slot is not None
        try:
            sink.wait_for(freed)
        except OSError as error:   # the slot's first use found /dev/shm full
            raise ResourceExhausted(f"shared_memory: no room in /dev/shm for the client's ring ({error})") from None
        chunk.tensor.CopyFrom(pb.Tensor(name=chunk.layer, shape=shape, dtype=dtype))
        chunk.shared_memory_slot = slot
        copy_rows(np.frombuffer(ring.data(slot, tensor_bytes(chunk.tensor)), dtype=NUMPY_DTYPES[dtype]).reshape(shape))
        return chunk.SerializeToString()

    def _export(self, request: pb.LaneRequest) -> None:
        """The model as ONNX (converting needs MXNet, hence here; the gateway serves MXNet checkpoints itself)."""
        store = self.worker.store

        def convert() -> pb.ExportModelResponse:
            model = store.models.get(request.export.model_id)
            symbol_json, params = store.models.files(model.id)
            with model_cache.reading(model.id, "exported"):
                onnx_model = onnx_export.to_onnx(symbol_json, params, model_cache.model_pixels(model))
            return pb.ExportModelResponse(files=[pb.ExportedFile(name=onnx_file(file_prefix(model.name)),
                                                                 data=onnx_model)])

        try:
            with tracing.span("convert"):
                reply = pb.WorkerReply(payload=self.batcher.run(convert).SerializeToString())
        except Exception as error:
            reply = error_reply(error)
        self.replies.put((request.request_id, reply, "export", tracing.current(), time.time_ns()))


def counted(kind: str, outcome: str) -> None:
    metrics.TASKS.labels(kind, outcome).inc()


def row_ranges(shape: tuple, itemsize: int):
    """(start, stop) row ranges of an array of `shape`, each at most CHUNK_BYTES (at least one row)."""
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    step = max(1, CHUNK_BYTES // max(row_bytes, 1))
    for start in range(0, shape[0], step):
        yield start, min(start + step, shape[0])


def error_reply(error: BaseException) -> pb.WorkerReply:
    code = error.code if isinstance(error, ServiceError) else \
        InvalidArgument.code if isinstance(error, ValueError) else "INTERNAL"
    return pb.WorkerReply(error_code=code, error_message=str(error))


def _failing(already: bool, what: str, error: Exception, stopped: threading.Event) -> bool:
    """Log a store outage once, wait a moment, and say it is ongoing."""
    if not already:
        log.warning("%s: store unreachable (%s); retrying", what, error)
    stopped.wait(1.0)
    return True


def _recovered(failing: bool, what: str) -> bool:
    if failing:
        log.warning("%s: store reachable again", what)
    return False
