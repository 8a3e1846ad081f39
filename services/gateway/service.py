"""What the gateway does for each RPC, in store and queue terms, and every rule about who may do what.

The servicer only translates gRPC to these calls (as KServe's servicer calls its data plane): each method takes
the request message and the Caller, validates every field, and returns the response message (or an iterator of
them for streams). Work that needs MXNet goes to a worker: jobs by id on Celery queues, synchronous requests
(Predict, Inspect, ONNX export) on a device's serve lane, whose workers never train.

Every wait is bounded by the caller's deadline (else the request timeout setting), in slices of at most a
second, between which the gateway checks that the worker holding the request is still alive.
"""
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
import numpy as np

from lenet_protos import contract, mnist, tracing
from lenet_protos.contract import FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings
from lenet_protos.tensors import from_tensor, to_tensor
from lenet_services.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, \
    ServiceError, Unavailable, from_code
from lenet_services.gateway import auth, validation as check
from lenet_services.gateway.coalescer import Coalescer
from lenet_services.gateway.relay import Expected, Relay
from lenet_services.mailbox import Ended
from lenet_services.gateway.sweep_service import SweepService
from lenet_services.store import Store
from lenet_services.store.idempotency import Idempotency
from lenet_services.task_queue import TaskSender, send_job

INSPECT_WINDOW = 8          # chunks (≤ 4 MiB each) that may wait in Redis for a slow client
RELAY_WAIT_SECONDS = 0.25   # how often an Inspect checks the store while its worker has not come to the Relay
LIVE_WORKERS_SECONDS = 1.0  # how long the gateway trusts its last look at the live workers
MODEL_CACHE_SECONDS = 2.0   # how long it trusts a model record it has read


@dataclass(frozen=True)
class Caller:
    """Who calls, and for how long: the token's user ("" on an open gateway, where `secured` is False), whether
    they are an admin, the call's deadline (time.monotonic(); None: none given) and whether they are still there.

    On a secured gateway a user sees and changes only what they own, and reads models shared with them; what
    they may not see is NOT_FOUND, as if absent. Admins, and everyone on an open gateway, see everything."""
    user: str = ""
    secured: bool = False
    admin: bool = False
    deadline: float | None = None
    active: Callable[[], bool] = field(default=lambda: True, compare=False)

    @property
    def scope(self) -> str | None:
        """The owner whose records the caller lists (None: everyone's)."""
        return None if not self.secured or self.admin else self.user

    def owns(self, owner: str) -> bool:
        return self.scope is None or owner == self.user

    def reads(self, model: pb.Model) -> bool:
        return self.owns(model.owner) or self.user in model.shared_with


class LenetService:
    def __init__(self, store: Store, tasks: TaskSender, settings: ServiceSettings, relay: Relay | None = None):
        self.store, self.tasks, self.settings = store, tasks, settings
        self.relay = relay   # where workers stream answers to this process (None: through the store)
        self.users = frozenset(auth.parse(settings.tokens).values()) if settings.tokens else frozenset()
        self._lanes: tuple[float, dict[str, int]] = (0.0, {})
        self._models: dict[str, tuple[float, pb.Model]] = {}
        self.coalescer = Coalescer(self._predict_on, settings.batch_max)
        self.sweeps = SweepService(store, tasks)

    # -- jobs ----------------------------------------------------------------------------------------
    def submit_training(self, request: pb.TrainRequest, caller: Caller) -> pb.Job:
        request = check.train(request)
        job = pb.Job(kind=pb.TRAIN, device=request.device, queue=self._job_lane(request.device, "train"),
                     train=request, owner=caller.user)
        return self._enqueue(job, Idempotency.of("SubmitTraining", request.idempotency_key, request))

    def submit_evaluation(self, request: pb.EvaluationRequest, caller: Caller) -> pb.Job:
        request = check.evaluation(request)
        model = self.resolve_model(caller, request.model_id)
        request.model_id = model.id
        device = request.device or model.device
        job = pb.Job(kind=pb.EVALUATE, device=device, queue=self._job_lane(device, "serve"), evaluation=request,
                     model_id=model.id, owner=caller.user)
        return self._enqueue(job, Idempotency.of("SubmitEvaluation", request.idempotency_key, request))

    def _enqueue(self, job: pb.Job, idempotency: Idempotency | None) -> pb.Job:
        job.trace_context.update(tracing.carrier())
        job, created = self.store.jobs.create(job, idempotency)
        if created:
            if send_job(self.tasks, job):
                self.store.jobs.mark_sent(job.id)   # unmarked, the recovery loop sends it (recovery.send_stranded)
            if job.queue not in self._live_lanes():
                self.store.events.append(job.id, pb.JobEvent(
                    log=f"no {job.queue} worker is alive: the job waits on queue {job.queue} until one starts"))
        self.store.confirm(f"job {job.id}")
        return job   # the record and its task message (the broker is the store's Redis) are on a replica

    def _live_lanes(self) -> dict[str, int]:
        """Lane → live workers, as seen at most LIVE_WORKERS_SECONDS ago (one read per second, not per call)."""
        seen, lanes = self._lanes
        if time.monotonic() - seen > LIVE_WORKERS_SECONDS:
            lanes = self.store.workers.lanes()
            self._lanes = (time.monotonic(), lanes)
        return lanes

    def _job_lane(self, device: int, lane: str) -> str:
        return contract.job_lane(device, lane, self._live_lanes())

    def _job(self, job_id: str, caller: Caller) -> pb.Job:
        job = self.store.jobs.get(check.job_id(job_id))
        if not caller.owns(job.owner):
            raise NotFound(f"job {job_id!r} not found")
        return job

    def get_job(self, request: pb.GetJobRequest, caller: Caller) -> pb.Job:
        return self._job(request.job_id, caller)

    def list_jobs(self, request: pb.ListJobsRequest, caller: Caller) -> pb.ListJobsResponse:
        page_size, page_token = check.list_jobs(request)
        page = self.store.jobs.page(request.kind, request.state, caller.scope, page_size, page_token)
        return pb.ListJobsResponse(jobs=page.items, next_page_token=page.next_page_token)

    def cancel_job(self, request: pb.CancelJobRequest, caller: Caller) -> pb.Job:
        job = self.store.jobs.request_cancel(self._job(request.job_id, caller).id)
        self.store.confirm(f"the cancellation of job {job.id}")
        return job

    def watch_job(self, request: pb.WatchJobRequest, caller: Caller) -> Iterator[pb.JobEvent]:
        """Events after `after_event_id` until the event that ends the job (or the caller goes away). Once the job
        has ended, what is left is read without waiting."""
        request = check.watch(request)
        job_id, after = self._job(request.job_id, caller).id, request.after_event_id
        while True:
            ended = self.store.jobs.get(job_id).state in FINAL_STATES
            if not ended and not caller.active():
                return
            events = self.store.events.read(job_id, after, block_ms=None if ended else 1000)
            for event in events:
                yield event
                after = event.id
                if event.WhichOneof("kind") == "state" and event.state.state in FINAL_STATES:
                    return
            if ended and not events:
                return  # resumed after the final event

    def delete_job(self, request: pb.DeleteJobRequest, caller: Caller) -> pb.DeleteJobResponse:
        job = self._job(request.job_id, caller)
        self.sweeps.before_deleting(job)
        self.store.jobs.delete(job.id)
        return pb.DeleteJobResponse(job_id=job.id)

    def get_evaluation(self, request: pb.GetEvaluationRequest, caller: Caller) -> pb.Evaluation:
        return self.store.evaluations.get(self._job(request.job_id, caller))

    # -- synchronous work on a serving worker -------------------------------------------------------------
    def predict(self, request: pb.PredictRequest, caller: Caller) -> pb.PredictResponse:
        """The worker's probabilities, with a warning for each image that does not look like an MNIST digit.
        Concurrent calls for the same model travel to the worker together (coalescer.py)."""
        with tracing.span("validate"):
            request, images = check.predict(request)
            model = self.resolve_model(caller, request.model_id)
        lane = self._serve_lane(model)
        with tracing.span("serve lane", lane=lane, images=len(images)):
            probabilities = self.coalescer.predict(lane, model.id, images, self._deadline(caller))
        return pb.PredictResponse(probabilities=to_tensor(probabilities, "probabilities"),
                                  labels=probabilities.argmax(axis=1).tolist(), warnings=mnist.digit_warnings(images),
                                  model_id=model.id, model_name=model.name, model_version=model.version)

    def _predict_on(self, lane: str, model_id: str, images: np.ndarray, deadline: float) -> np.ndarray:
        request = pb.PredictRequest(model_id=model_id, images=to_tensor(images, "images"))
        reply = self._ask(pb.LaneRequest(predict=request), lane, deadline)
        with tracing.span("reply read", bytes=len(reply)):
            return from_tensor(pb.PredictResponse.FromString(reply).probabilities)

    def export_model(self, request: pb.ExportModelRequest, caller: Caller) -> pb.ExportModelResponse:
        """MXNet checkpoint files straight from the store; ONNX is converted by a worker, as it needs MXNet."""
        with tracing.span("validate"):
            request = check.export(request)
            model = self.resolve_model(caller, request.model_id)
        request.model_id = model.id
        if request.format == pb.ONNX:
            lane = self._serve_lane(model)
            with tracing.span("serve lane", lane=lane):
                reply = self._ask(pb.LaneRequest(export=request), lane, self._deadline(caller))
            with tracing.span("reply read", bytes=len(reply)):
                return pb.ExportModelResponse.FromString(reply)
        symbol, params = self.store.models.files(model.id)
        symbol_file, params_file = contract.checkpoint_files(contract.file_prefix(model.name))
        return pb.ExportModelResponse(files=[pb.ExportedFile(name=symbol_file, data=symbol.encode()),
                                             pb.ExportedFile(name=params_file, data=params)])

    def inspect(self, request: pb.InspectRequest, caller: Caller) -> Iterator[bytes]:
        """Serialized TensorChunks relayed from the worker as they come, never parsed or copied here: straight from
        the worker over this gateway's Relay when it has one workers can reach, else (or when the worker cannot
        reach it) through the store's chunk stream. Leaving early (the client cancelled, its deadline passed, or
        an error) stops the worker, which then clears the stream."""
        with tracing.span("validate"):
            request = check.inspect(request)
            model = self.resolve_model(caller, request.model_id)
        request.model_id = model.id
        lane, deadline = self._serve_lane(model), self._deadline(caller)
        lane_request = pb.LaneRequest(request_id=uuid.uuid4().hex, inspect=request, deadline=_unix(deadline),
                                      trace_context=tracing.carrier(), sent_at=time.time())
        requests, request_id = self.store.requests, lane_request.request_id
        relayed = self.relay is not None and self.relay.address
        finished, started = False, time.time_ns()
        with self.relay.expect(lane_request) if relayed else nullcontext() as expected:
            requests.submit(lane, lane_request, window=INSPECT_WINDOW)
            try:
                error = yield from self._relayed(expected, lane, request_id, deadline, caller) if relayed else \
                    self._stored(lane, request_id, deadline, caller)
                finished = error is not None or caller.active()
                if error is not None:
                    raise error
            finally:
                tracing.record("reply read", started, time.time_ns())
                if finished:
                    requests.close(request_id)
                else:
                    requests.cancel(request_id)

    def _relayed(self, expected: Expected, lane: str, request_id: str, deadline: float, caller: Caller
                 ) -> Generator[bytes, None, ServiceError | None]:
        """The chunks the worker sends to the Relay; returns the error the stream ended with, if any. Until the
        worker has come, every RELAY_WAIT_SECONDS: whether it answers through the store instead (it could not
        reach this gateway)."""
        while caller.active():
            try:
                frame = expected.mailbox.get(1.0 if expected.connected else RELAY_WAIT_SECONDS)
            except Ended as ended:
                return None if ended.reason == "complete" else self._broken(lane, request_id)
            if frame is not None:
                yield frame
                continue
            if not expected.connected and self.store.requests.pending_chunks(request_id):
                return (yield from self._stored(lane, request_id, deadline, caller))
            self._check_progress(lane, request_id, deadline)
        return None

    def _broken(self, lane: str, request_id: str) -> ServiceError:
        """Why a relay stream stopped before its end: the error its worker stored first, else the worker is lost."""
        for _entry_id, kind, data in self.store.requests.take_chunks(request_id, "0-0", block_ms=0):
            if kind == "error":
                return _stored_error(data)
        holder = self.store.requests.claimed_by(request_id) or "on " + lane
        return Unavailable(f"request {request_id}: worker {holder} was lost while answering; try again")

    def _stored(self, lane: str, request_id: str, deadline: float, caller: Caller
                ) -> Generator[bytes, None, ServiceError | None]:
        """The chunks the worker writes to the store's chunk stream, repaying a credit for each; returns the error
        the stream ended with, if any."""
        after, requests = "0-0", self.store.requests
        while caller.active():
            entries = requests.take_chunks(request_id, after, block_ms=1000)
            for entry_id, kind, data in entries:
                after = entry_id
                if kind == "end":
                    return None
                if kind == "error":
                    return _stored_error(data)
                yield data
            if not entries:
                self._check_progress(lane, request_id, deadline)
        return None

    def _ask(self, lane_request: pb.LaneRequest, lane: str, deadline: float) -> bytes:
        """Queue a one-reply request on a serve lane and wait for the reply payload until `deadline`
        (time.monotonic()), re-raising the error the worker reports."""
        lane_request.request_id, lane_request.deadline = uuid.uuid4().hex, _unix(deadline)
        lane_request.trace_context.update(tracing.carrier())
        lane_request.sent_at = time.time()
        requests = self.store.requests
        reply = requests.ask(lane, lane_request)
        while reply is None:
            self._check_progress(lane, lane_request.request_id, deadline)
            reply = requests.reply_within(lane_request.request_id, deadline - time.monotonic())
        if reply.error_code:
            raise from_code(reply.error_code, reply.error_message)
        return reply.payload

    def _deadline(self, caller: Caller) -> float:
        return caller.deadline if caller.deadline is not None else \
            time.monotonic() + self.settings.request_timeout_seconds

    def _check_progress(self, lane: str, request_id: str, deadline: float) -> None:
        """Between waits: DEADLINE_EXCEEDED once the deadline has passed; UNAVAILABLE when the worker that took
        the request has died, or nobody took it and no worker serves the lane any more."""
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"request {request_id}: no answer before the deadline")
        holder = self.store.requests.claimed_by(request_id)
        if holder is not None and not self.store.workers.is_alive(holder):
            raise Unavailable(f"request {request_id}: worker {holder} was lost while answering; try again")
        if holder is None and lane not in self.store.workers.lanes():
            raise Unavailable(f"request {request_id}: no worker serves {lane} any more")

    def _serve_lane(self, model: pb.Model) -> str:
        """Where a synchronous request for `model` goes: the serve lane of the device it was trained on while a
        worker serves it, else any live serve lane (weights run on either device); UNAVAILABLE when none is
        alive, rather than waiting for one."""
        live = self._live_lanes()
        preferred = contract.lane("gpu" if model.device == pb.GPU else "cpu", "serve")
        for lane in (preferred, *(contract.lane(device, "serve") for device in contract.DEVICES)):
            if lane in live:
                return lane
        raise Unavailable("no serving worker is alive to compute this; start one with `lenet worker`")

    def serving(self) -> bool:
        """Whether a serving worker is alive (the store answering, as asking it needs): OIP's ServerReady."""
        lanes = self.store.workers.lanes()
        return any(contract.lane(device, "serve") in lanes for device in contract.DEVICES)

    def list_workers(self, request: pb.ListWorkersRequest, caller: Caller) -> pb.ListWorkersResponse:
        workers = self.store.workers.alive()
        lanes = []
        for device in contract.DEVICES:
            for lane_name in contract.LANES:
                lane = contract.lane(device, lane_name)
                jobs, requests = self.store.workers.waiting(lane)
                lanes.append(pb.Lane(name=lane, jobs_waiting=jobs, requests_waiting=requests,
                                     workers=sum(worker.lane == lane for worker in workers)))
        return pb.ListWorkersResponse(workers=workers, lanes=lanes)

    # -- models and data -----------------------------------------------------------------------------
    def resolve_model(self, caller: Caller, reference: str, version: str = "", field: str = "model_id") -> pb.Model:
        """The model `reference` names for `caller`: an id, a unique prefix of one, "latest", NAME (its production
        alias while set and readable, else its highest readable version), NAME/VERSION or NAME@ALIAS. The one
        place references are resolved, for every RPC that names a model; `version` (a decimal string, the OIP's
        model_version) picks a version of a plain NAME, or must be an id's own. Errors name `field` (and
        "model_version"); what the caller may not read is NOT_FOUND, as if absent.

        Names and aliases are read afresh on every call, so an alias move serves the new version at once; the
        record an id names is trusted for MODEL_CACHE_SECONDS (a deletion reaches this gateway that late)."""
        wanted = check.model_ref(reference, field)
        if version:
            wanted = check.model_version(wanted, version)
        model = self._resolve(wanted, caller, field)
        if model is None or not caller.reads(model):
            raise NotFound(f"model {reference + ('/' + version if version else '')!r} not found")
        if wanted.version and model.version != wanted.version:
            raise NotFound(f"{'model_version: ' if version else ''}model {reference!r} has no version "
                           f"{wanted.version}")
        return model

    def _resolve(self, wanted: check.ModelReference, caller: Caller, field: str) -> pb.Model | None:
        models = self.store.models
        if wanted.latest:
            newest = models.page(caller.scope, page_size=1).items
            if not newest:
                raise NotFound("no model yet: train one first")
            return newest[0]
        if wanted.id:
            return self._by_id(wanted.id)
        if wanted.prefix:
            found = [model for model in models.with_prefix(wanted.prefix) if caller.reads(model)]
            if not found:
                raise NotFound(f"no model id starts with {wanted.prefix!r}")
            if len(found) > 1:
                raise InvalidArgument(field, f"{wanted.prefix!r} starts {len(found)} model ids "
                                             f"({', '.join(m.id for m in found[:3])}…): give more digits")
            return found[0]
        name = wanted.name
        if wanted.version:
            model_id = models.version_id(name, wanted.version)
            if model_id is None:
                raise NotFound(f"model {name!r} has no version {wanted.version}")
            return self._by_id(model_id)
        if wanted.alias:
            target = models.alias_target(name, wanted.alias)
            if target is None:
                raise NotFound(f"model {name!r} has no alias {wanted.alias!r}")
            return self._by_id(target[1])
        production, newest = models.named(name, caller.scope)
        if production is not None:
            model = self._by_id(production[1])
            if model is not None and caller.reads(model):
                return model
        if newest is None:
            raise NotFound(f"no model is named {name!r}")
        return self._by_id(newest)

    def _by_id(self, model_id: str) -> pb.Model | None:
        """The model record, trusted for MODEL_CACHE_SECONDS once read (Predict by id costs no lookup); None when
        there is none."""
        seen, model = self._models.get(model_id, (0.0, None))
        if model is None or time.monotonic() - seen > MODEL_CACHE_SECONDS:
            model = self.store.models.find(model_id)
            if model is None:
                return None
            if len(self._models) > 1000:
                self._models.clear()
            self._models[model_id] = (time.monotonic(), model)
        return model

    def _owned_model(self, reference: str, caller: Caller) -> pb.Model:
        """A model the caller may change: their own (an admin: any); one shared with them is PERMISSION_DENIED."""
        model = self.resolve_model(caller, reference)
        if not caller.owns(model.owner):
            raise PermissionDenied(f"model {model.id} is shared with {caller.user} read-only")
        return model

    def get_model(self, request: pb.GetModelRequest, caller: Caller) -> pb.Model:
        return self.store.models.with_aliases([self.resolve_model(caller, request.model_id)])[0]

    def list_models(self, request: pb.ListModelsRequest, caller: Caller) -> pb.ListModelsResponse:
        page_size, page_token = check.list_models(request)
        page = self.store.models.page(caller.scope, page_size, page_token, name=request.name)
        return pb.ListModelsResponse(models=self.store.models.with_aliases(page.items),
                                     next_page_token=page.next_page_token)

    def delete_model(self, request: pb.DeleteModelRequest, caller: Caller) -> pb.DeleteModelResponse:
        model = self._owned_model(request.model_id, caller)
        self.store.models.delete(model)
        self._models.pop(model.id, None)
        return pb.DeleteModelResponse(model_id=model.id)

    def share_model(self, request: pb.ShareModelRequest, caller: Caller) -> pb.Model:
        """Only on a secured gateway (on an open one every caller reads every model), and only with its users;
        `remove` may name users the gateway no longer knows."""
        if not caller.secured:
            raise FailedPrecondition("sharing means nothing on an open gateway: every caller reads every model "
                                     "(start the gateway with LENET_TOKENS to give models owners)")
        model = self._owned_model(request.model_id, caller)
        check.users(request.add, "add")
        check.users(request.remove, "remove")
        strangers = sorted(set(request.add) - self.users)
        if strangers:
            raise InvalidArgument("add", f"{', '.join(map(repr, strangers[:3]))}: no token of this gateway names "
                                         f"{'them' if len(strangers) > 1 else 'this user'}")
        shared = self.store.models.share(model, request.add, request.remove)
        self._models.pop(model.id, None)
        return shared

    def set_model_alias(self, request: pb.SetModelAliasRequest, caller: Caller) -> pb.Model:
        """Point the alias at a version the caller owns, moving it from one they own (when it points elsewhere)."""
        request = check.set_alias(request)
        model = self.resolve_model(caller, f"{request.name}/{request.version}", field="version")
        if not caller.owns(model.owner):
            raise PermissionDenied(f"model {model.name}/{model.version} is shared with {caller.user} read-only: "
                                   f"only its owner may point an alias at it")
        current = self.store.models.alias_target(request.name, request.alias)
        if current is not None and current[1] != model.id:
            self._may_change_alias(request.name, request.alias, current, caller)
        self.store.models.set_alias(model, request.alias, current)
        self.store.confirm(f"alias {request.alias!r} of {model.name!r}")
        return self.store.models.with_aliases([model])[0]

    def delete_model_alias(self, request: pb.DeleteModelAliasRequest,
                           caller: Caller) -> pb.DeleteModelAliasResponse:
        request = check.delete_alias(request)
        current = self.store.models.alias_target(request.name, request.alias)
        if current is None:
            raise NotFound(f"model {request.name!r} has no alias {request.alias!r}")
        self._may_change_alias(request.name, request.alias, current, caller)
        self.store.models.delete_alias(request.name, request.alias, current)
        self.store.confirm(f"the removal of alias {request.alias!r} of {request.name!r}")
        return pb.DeleteModelAliasResponse(name=request.name, alias=request.alias, version=current[0])

    def _may_change_alias(self, name: str, alias: str, target: tuple[int, str], caller: Caller) -> None:
        """An alias is moved or removed only by the owner of the version it points at (an admin: any)."""
        holder = self._by_id(target[1])
        if holder is not None and not caller.owns(holder.owner):
            raise PermissionDenied(f"alias {alias!r} of {name!r} points at version {target[0]}, which is not "
                                   f"{caller.user}'s: only its owner may move or remove the alias")

    def get_graph(self, request: pb.GetGraphRequest, caller: Caller) -> pb.Graph:
        return self.store.models.graph(self.resolve_model(caller, request.model_id).id)

    def get_samples(self, request: pb.GetSamplesRequest, caller: Caller) -> pb.Samples:
        request = check.samples(request)
        try:
            images, labels = mnist.load_split(request.split, self.settings.data_dir)
        except mnist.DatasetError as error:
            raise FailedPrecondition(f"the gateway has no MNIST data: {error}") from None
        indices = np.asarray(request.indices, dtype=np.int64)
        return pb.Samples(images=to_tensor(images[indices], "images"), labels=labels[indices].tolist())


def _stored_error(data: bytes) -> ServiceError:
    """The error a worker ended a chunk stream with (a serialized WorkerReply)."""
    reply = pb.WorkerReply.FromString(data)
    return from_code(reply.error_code, reply.error_message)


def _unix(deadline: float) -> float:
    """A time.monotonic() deadline as Unix time, for the worker (another process, maybe another host)."""
    return time.time() + (deadline - time.monotonic())
