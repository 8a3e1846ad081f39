"""What the gateway does for each RPC, in store and queue terms, and every rule about who may do what.

The servicer only translates gRPC to these calls (as KServe's servicer calls its data plane): each method takes
the request message and the Caller, validates every field, and returns the response message (or an iterator of
them for streams). Work that needs MXNet goes to a worker queue: jobs by id, synchronous requests (Predict,
Inspect, ONNX export) through the store's request records.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from protos import contract, mnist
from protos.contract import FINAL_STATES
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import to_tensor
from services.errors import FailedPrecondition, PermissionDenied, Unavailable, from_code
from services.gateway import validation as check
from services.store import Store
from services.store.jobs import Idempotency

INSPECT_WINDOW = 8          # chunks (≤ 4 MiB each) that may wait in Redis for a slow client
PREDICT_TIMEOUT = 120.0     # seconds a Predict waits for a worker
EXPORT_TIMEOUT = 120.0      # seconds an ONNX export waits for a worker


class TaskSender(Protocol):
    def send(self, task: str, args: list, queue: str) -> None: ...


@dataclass(frozen=True)
class Caller:
    """Who calls: the token's user ("" on an open gateway, where `secured` is False)."""
    user: str = ""
    secured: bool = False

    def may_change(self, owner: str) -> bool:
        return not self.secured or not owner or owner == self.user


class LenetService:
    def __init__(self, store: Store, tasks: TaskSender, data_dir: Path):
        self.store, self.tasks, self.data_dir = store, tasks, Path(data_dir)

    # -- jobs ----------------------------------------------------------------------------------------
    def submit_training(self, request: pb.TrainRequest, caller: Caller) -> pb.Job:
        request = check.train(request)
        job = pb.Job(kind=pb.TRAIN, device=request.device, queue=self._queue_for(request.device), train=request,
                     owner=caller.user)
        return self._enqueue(job, Idempotency.of("SubmitTraining", request.idempotency_key, request))

    def submit_evaluation(self, request: pb.EvaluationRequest, caller: Caller) -> pb.Job:
        request = check.evaluation(request)
        model = self._model(request.model_id, caller)
        request.model_id = model.id
        device = request.device or model.device
        job = pb.Job(kind=pb.EVALUATE, device=device, queue=self._queue_for(device), evaluation=request,
                     model_id=model.id, owner=caller.user)
        return self._enqueue(job, Idempotency.of("SubmitEvaluation", request.idempotency_key, request))

    def _enqueue(self, job: pb.Job, idempotency: Idempotency | None) -> pb.Job:
        job, created = self.store.jobs.create(job, idempotency)
        if created:
            self.tasks.send(contract.JOB_TASKS[job.kind], [job.id], job.queue)
            if job.queue not in self.store.workers.alive().values():
                self.store.jobs.emit(job.id, pb.JobEvent(
                    log=f"no {job.queue} worker is alive: the job waits on queue {job.queue} until one starts"))
        return job

    def _queue_for(self, device: int) -> str:
        """GPU → "gpu"; ANY → "gpu" while a GPU worker is alive, else "cpu"; CPU or unset → "cpu"."""
        if device == pb.GPU or device == pb.ANY and "gpu" in self.store.workers.alive().values():
            return "gpu"
        return "cpu"

    def get_job(self, request: pb.GetJobRequest, caller: Caller) -> pb.Job:
        return self.store.jobs.get(check.job_id(request.job_id))

    def list_jobs(self, request: pb.ListJobsRequest, caller: Caller) -> pb.ListJobsResponse:
        page_size, page_token = check.list_jobs(request)
        page = self.store.jobs.page(request.kind, request.state, None, page_size, page_token)
        return pb.ListJobsResponse(jobs=page.items, next_page_token=page.next_page_token)

    def cancel_job(self, request: pb.CancelJobRequest, caller: Caller) -> pb.Job:
        job = self.store.jobs.get(check.job_id(request.job_id))
        self._check_owner(caller, job.owner, f"job {job.id}")
        return self.store.jobs.request_cancel(job.id)

    @staticmethod
    def _check_owner(caller: Caller, owner: str, what: str) -> None:
        if not caller.may_change(owner):
            raise PermissionDenied(f"{what} belongs to {owner}, not {caller.user}")

    def watch_job(self, request: pb.WatchJobRequest, caller: Caller, active: Callable[[], bool]
                  ) -> Iterator[pb.JobEvent]:
        """Events after `after_event_id` until the event that ends the job (or the caller goes away). Once the job
        has ended, what is left is read without waiting."""
        request = check.watch(request)
        job_id, after = self.store.jobs.get(request.job_id).id, request.after_event_id
        while True:
            ended = self.store.jobs.get(job_id).state in FINAL_STATES
            if not ended and not active():
                return
            events = self.store.jobs.events(job_id, after, block_ms=None if ended else 1000)
            for event in events:
                yield event
                after = event.id
                if event.WhichOneof("kind") == "state" and event.state.state in FINAL_STATES:
                    return
            if ended and not events:
                return  # resumed after the final event

    def delete_job(self, request: pb.DeleteJobRequest, caller: Caller) -> pb.DeleteJobResponse:
        job = self.store.jobs.get(check.job_id(request.job_id))
        self._check_owner(caller, job.owner, f"job {job.id}")
        self.store.jobs.delete(job.id)
        return pb.DeleteJobResponse(job_id=job.id)

    def get_evaluation(self, request: pb.GetEvaluationRequest, caller: Caller) -> pb.Evaluation:
        return self.store.jobs.evaluation(self.store.jobs.get(check.job_id(request.job_id)))

    # -- synchronous work on a worker ----------------------------------------------------------------
    def predict(self, request: pb.PredictRequest, caller: Caller) -> pb.PredictResponse:
        """The worker's probabilities, with a warning for each image that does not look like an MNIST digit."""
        request, images = check.predict(request)
        model = self._model(request.model_id, caller)
        request.model_id = model.id
        response = pb.PredictResponse.FromString(self._ask_worker("predict", request, model, PREDICT_TIMEOUT))
        response.warnings.extend(mnist.digit_warnings(images))
        return response

    def inspect(self, request: pb.InspectRequest, caller: Caller, active: Callable[[], bool]) -> Iterator[bytes]:
        """Serialized TensorChunks relayed from the worker as they come, never parsed or copied here; leaving
        early (the client cancelled, or an error) stops the worker, which then clears the stream."""
        request = check.inspect(request)
        model = self._model(request.model_id, caller)
        request.model_id = model.id
        queue = self._serving_queue(model)
        request_id = self.store.requests.open(request.SerializeToString(), window=INSPECT_WINDOW)
        self.tasks.send("inspect", [request_id], queue)
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

    def export_model(self, request: pb.ExportModelRequest, caller: Caller) -> pb.ExportModelResponse:
        """MXNet checkpoint files straight from the store; ONNX is converted by a worker, as it needs MXNet."""
        request = check.export(request)
        model = self._model(request.model_id, caller)
        request.model_id = model.id
        if request.format == pb.ONNX:
            return pb.ExportModelResponse.FromString(self._ask_worker("export", request, model, EXPORT_TIMEOUT))
        symbol, params = self.store.models.files(model.id)
        symbol_file, params_file = contract.checkpoint_files(contract.file_prefix(model.name))
        return pb.ExportModelResponse(files=[pb.ExportedFile(name=symbol_file, data=symbol.encode()),
                                             pb.ExportedFile(name=params_file, data=params)])

    def _serving_queue(self, model: pb.Model) -> str:
        """Where a synchronous request for `model` goes: the queue of the device it was trained on while a
        worker serves it, else any queue with a live worker (weights run on either device); UNAVAILABLE when
        no worker is alive, rather than waiting for one."""
        alive = set(self.store.workers.alive().values())
        preferred = "gpu" if model.device == pb.GPU else "cpu"
        for queue in (preferred, *sorted(alive)):
            if queue in alive:
                return queue
        raise Unavailable("no worker is alive to compute this; start one with `lenet worker`")

    def _ask_worker(self, task: str, request, model: pb.Model, timeout: float) -> bytes:
        """Send a request to a worker and wait for its reply payload, re-raising the error it reports."""
        queue = self._serving_queue(model)
        request_id = self.store.requests.open(request.SerializeToString())
        self.tasks.send(task, [request_id], queue)
        reply = self.store.requests.wait_reply(request_id, timeout)
        if reply.error_code:
            raise from_code(reply.error_code, reply.error_message)
        return reply.payload

    # -- models and data -----------------------------------------------------------------------------
    def _model(self, reference: str, caller: Caller) -> pb.Model:
        return self.store.models.resolve(reference, visible=lambda model: True, owner=None)

    def get_model(self, request: pb.GetModelRequest, caller: Caller) -> pb.Model:
        return self._model(check.model_ref(request.model_id), caller)

    def list_models(self, request: pb.ListModelsRequest, caller: Caller) -> pb.ListModelsResponse:
        page_size, page_token = check.page(request.page_size, request.page_token)
        page = self.store.models.page(None, page_size, page_token)
        return pb.ListModelsResponse(models=page.items, next_page_token=page.next_page_token)

    def delete_model(self, request: pb.DeleteModelRequest, caller: Caller) -> pb.DeleteModelResponse:
        model = self._model(check.model_ref(request.model_id), caller)
        self._check_owner(caller, model.owner, f"model {model.id}")
        self.store.models.delete(model)
        return pb.DeleteModelResponse(model_id=model.id)

    def get_graph(self, request: pb.GetGraphRequest, caller: Caller) -> pb.Graph:
        return self.store.models.graph(self._model(check.model_ref(request.model_id), caller).id)

    def get_samples(self, request: pb.GetSamplesRequest, caller: Caller) -> pb.Samples:
        request = check.samples(request)
        try:
            images, labels = mnist.load_split(request.split, self.data_dir)
        except mnist.DatasetError as error:
            raise FailedPrecondition(f"the gateway has no MNIST data: {error}") from None
        indices = np.asarray(request.indices, dtype=np.int64)
        return pb.Samples(images=to_tensor(images[indices], "images"), labels=labels[indices].tolist())
