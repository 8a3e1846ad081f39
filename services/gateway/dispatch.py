"""What the gateway does for each call, in store and queue terms; the servicer only translates gRPC.

Requests arrive validated. Work that needs MXNet goes to a worker queue: jobs by id, synchronous requests
(Predict, Inspect, ONNX export) through the store's request records.
"""
from collections.abc import Callable, Iterator

import numpy as np

from protos.contract import file_prefix
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import to_tensor
from services.errors import Unavailable, from_code
from services.store import Store
from services.store.jobs import FINAL
from workers import celery_app

INSPECT_WINDOW = 8          # chunks (≤ 4 MiB each) that may wait in Redis for a slow client
PREDICT_TIMEOUT = 120.0     # seconds a Predict waits for a worker
EXPORT_TIMEOUT = 120.0      # seconds an ONNX export waits for a worker


class Dispatcher:
    def __init__(self, store: Store, send: Callable[[str, list, str], None] = celery_app.send):
        self.store, self.send = store, send

    def queue_for(self, device: int) -> str:
        """GPU → "gpu"; ANY → "gpu" while a GPU worker is alive, else "cpu"; CPU or unset → "cpu"."""
        if device == pb.GPU or device == pb.ANY and "gpu" in self.store.workers.alive().values():
            return "gpu"
        return "cpu"

    # -- jobs ----------------------------------------------------------------------------------------
    def submit_training(self, request: pb.TrainRequest, owner: str = "") -> pb.Job:
        job = pb.Job(kind=pb.TRAIN, device=request.device, queue=self.queue_for(request.device), train=request,
                     owner=owner)
        return self._enqueue(job, "train", request.idempotency_key)

    def submit_evaluation(self, request: pb.EvaluationRequest, owner: str = "") -> pb.Job:
        model = self.store.models.get(request.model_id)
        device = request.device or model.device
        job = pb.Job(kind=pb.EVALUATE, device=device, queue=self.queue_for(device), evaluation=request,
                     model_id=model.id, owner=owner)
        return self._enqueue(job, "evaluate", request.idempotency_key)

    def _enqueue(self, job: pb.Job, task: str, idempotency_key: str) -> pb.Job:
        job, created = self.store.jobs.create(job, idempotency_key)
        if created:
            self.send(task, [job.id], job.queue)
            if job.queue not in self.store.workers.alive().values():
                self.store.jobs.emit(job.id, pb.JobEvent(
                    log=f"no {job.queue} worker is alive: the job waits on queue {job.queue} until one starts"))
        return job

    def watch(self, job_id: str, after: str, active: Callable[[], bool]) -> Iterator[pb.JobEvent]:
        """Events after `after` until the event that ends the job (or the caller goes away)."""
        self.store.jobs.get(job_id)
        while active():
            events = self.store.jobs.events(job_id, after, block_ms=1000)
            for event in events:
                yield event
                after = event.id
                if event.WhichOneof("kind") == "state" and event.state.state in FINAL:
                    return
            if not events and self.store.jobs.get(job_id).state in FINAL:
                return  # resumed after the final event

    # -- synchronous work on a worker ----------------------------------------------------------------
    def serving_queue(self, model: pb.Model) -> str:
        """Where a synchronous request for `model` goes: the queue of the device it was trained on while a
        worker serves it, else any queue with a live worker (weights run on either device); UNAVAILABLE when
        no worker is alive, rather than waiting for one."""
        alive = set(self.store.workers.alive().values())
        preferred = "gpu" if model.device == pb.GPU else "cpu"
        for queue in (preferred, *sorted(alive)):
            if queue in alive:
                return queue
        raise Unavailable("no worker is alive to compute this; start one with `lenet worker`")

    def ask_worker(self, task: str, request, model: pb.Model, timeout: float) -> bytes:
        """Send a request to a worker and wait for its reply payload, re-raising the error it reports."""
        queue = self.serving_queue(model)
        request_id = self.store.requests.open(request.SerializeToString())
        self.send(task, [request_id], queue)
        reply = self.store.requests.wait_reply(request_id, timeout)
        if reply.error_code:
            raise from_code(reply.error_code, reply.error_message)
        return reply.payload

    def predict(self, request: pb.PredictRequest) -> pb.PredictResponse:
        model = self.store.models.get(request.model_id)
        return pb.PredictResponse.FromString(self.ask_worker("predict", request, model, PREDICT_TIMEOUT))

    def inspect(self, request: pb.InspectRequest, active: Callable[[], bool]) -> Iterator[bytes]:
        """Serialized TensorChunks relayed from the worker as they come, never parsed or copied here; leaving
        early (the client cancelled, or an error) stops the worker, which then clears the stream."""
        model = self.store.models.get(request.model_id)
        queue = self.serving_queue(model)
        request_id = self.store.requests.open(request.SerializeToString(), window=INSPECT_WINDOW)
        self.send("inspect", [request_id], queue)
        after, finished = "0-0", False
        try:
            while active():
                for entry_id, kind, data in self.store.requests.take_chunks(request_id, after, block_ms=500):
                    after = entry_id
                    if kind == "end":
                        finished = True
                        return
                    if kind == "error":
                        finished = True
                        reply = pb.WorkerReply.FromString(data)
                        raise from_code(reply.error_code, reply.error_message)
                    yield data
        finally:
            if finished:
                self.store.requests.close(request_id)
            else:
                self.store.requests.cancel(request_id)

    # -- reads ---------------------------------------------------------------------------------------
    def samples(self, request: pb.GetSamplesRequest) -> pb.Samples:
        from workers.engine import mnist  # numpy only: the IDX reader, no MXNet

        images, labels = mnist.load_split(request.split or "test")
        indices = np.asarray(request.indices, dtype=np.int64)
        return pb.Samples(images=to_tensor(images[indices], "images"), labels=labels[indices].tolist())

    def export(self, request: pb.ExportModelRequest) -> pb.ExportModelResponse:
        """MXNet checkpoint files straight from the store; ONNX is converted by a worker, as it needs MXNet."""
        model = self.store.models.get(request.model_id)
        if request.format == pb.ONNX:
            return pb.ExportModelResponse.FromString(self.ask_worker("export", request, model, EXPORT_TIMEOUT))
        symbol, params = self.store.models.files(model.id)
        prefix = file_prefix(model.name)
        return pb.ExportModelResponse(files=[pb.ExportedFile(name=f"{prefix}-symbol.json", data=symbol.encode()),
                                             pb.ExportedFile(name=f"{prefix}-0000.params", data=params)])
