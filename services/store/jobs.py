"""Job records with their state machine, and each job's event stream (Redis Streams).

A state change and the event announcing it are written in one transaction, so a watcher that sees a job
in a final state always finds the final event in its stream.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import redis

from protos.lenet.v1 import lenet_pb2 as pb
from services.errors import FailedPrecondition, InvalidArgument, NotFound
from services.store import keys

FINAL = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED})
ALLOWED = {
    pb.QUEUED: {pb.RUNNING, pb.CANCELLED, pb.FAILED},
    pb.RUNNING: {pb.RUNNING, pb.SUCCEEDED, pb.FAILED, pb.CANCELLED},  # RUNNING again: picked up after a lost worker
}
EVENTS_MAX = 100_000  # per job; training emits a few thousand


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_name(state: int) -> str:
    return pb.JobState.Name(state)


class Jobs:
    def __init__(self, client: redis.Redis):
        self.redis = client

    # -- records -------------------------------------------------------------------------------------
    def create(self, job: pb.Job, idempotency_key: str = "") -> tuple[pb.Job, bool]:
        """Store a new QUEUED job; returns (job, created). An idempotency key the same owner used before returns
        the first job."""
        job.id = job.id or uuid.uuid4().hex[:16]
        if idempotency_key:
            key = keys.idempotency(f"{job.owner}/{idempotency_key}")
            if not self.redis.set(key, job.id, nx=True):
                return self.get(self.redis.get(key).decode()), False
        job.state, job.created_at = pb.QUEUED, now()
        uploads = _detach_uploads(job)
        with self.redis.pipeline() as tx:
            tx.set(keys.job(job.id), job.SerializeToString())
            if uploads:
                tx.hset(keys.job_uploads(job.id), mapping=uploads)
            tx.zadd(keys.JOBS_BY_TIME, {job.id: time.time()})
            tx.xadd(keys.job_events(job.id), {"pb": _state_event(job.id, pb.QUEUED, f"queued on {job.queue}")},
                    maxlen=EVENTS_MAX, approximate=True)
            tx.execute()
        return job, True

    def dataset(self, job: pb.Job, name: str) -> pb.Dataset:
        """The job's dataset `name` ("train_data", "eval_data" or "dataset") with any uploaded pixels put back."""
        described = _datasets(job)[name]
        if not described.HasField("images"):
            return described
        stored = pb.Dataset.FromString(self.redis.hget(keys.job_uploads(job.id), name) or b"")
        full = pb.Dataset()
        full.CopyFrom(described)
        full.images.CopyFrom(stored.images)
        if stored.HasField("labels"):
            full.labels.CopyFrom(stored.labels)
        return full

    def get(self, job_id: str) -> pb.Job:
        data = self.redis.get(keys.job(job_id))
        if data is None:
            raise NotFound(f"job {job_id!r} not found")
        return pb.Job.FromString(data)

    def list(self, kind: int = 0, state: int = 0, limit: int = 100) -> list[pb.Job]:
        ids = self.redis.zrevrange(keys.JOBS_BY_TIME, 0, -1)
        jobs = []
        for start in range(0, len(ids), 500):
            batch = self.redis.mget([keys.job(i.decode()) for i in ids[start:start + 500]])
            for data in filter(None, batch):
                job = pb.Job.FromString(data)
                if (not kind or job.kind == kind) and (not state or job.state == state):
                    jobs.append(job)
                    if len(jobs) == limit:
                        return jobs
        return jobs

    def update(self, job_id: str, change: Callable[[pb.Job], None], event: pb.JobEvent | None = None) -> pb.Job:
        """Apply `change` to the stored job atomically (optimistic WATCH/MULTI), optionally with an event."""
        key = keys.job(job_id)
        result = []

        def transaction(tx: redis.client.Pipeline):
            data = tx.get(key)
            if data is None:
                raise NotFound(f"job {job_id!r} not found")
            job = pb.Job.FromString(data)
            change(job)
            tx.multi()
            tx.set(key, job.SerializeToString())
            if event is not None:
                event.time = event.time or now()
                tx.xadd(keys.job_events(job_id), {"pb": event.SerializeToString()},
                        maxlen=EVENTS_MAX, approximate=True)
            result.append(job)

        self.redis.transaction(transaction, key)
        return result[-1]

    def transition(self, job_id: str, state: int, message: str = "",
                   change: Callable[[pb.Job], None] | None = None) -> pb.Job:
        """Move a job to `state`, refusing moves the state machine forbids (FailedPrecondition)."""

        def apply(job: pb.Job) -> None:
            if state not in ALLOWED.get(job.state, ()):
                raise FailedPrecondition(
                    f"job {job_id} is {state_name(job.state)}; it cannot become {state_name(state)}")
            job.state = state
            if state == pb.RUNNING:
                job.started_at, job.attempts = now(), job.attempts + 1
            if state in FINAL:
                job.finished_at = now()
            if change:
                change(job)

        event = pb.JobEvent(job_id=job_id, state=pb.StateChange(state=state, message=message))
        return self.update(job_id, apply, event)

    def request_cancel(self, job_id: str) -> pb.Job:
        """A queued job is cancelled at once; a running one is flagged and its worker stops within a batch."""
        job = self.get(job_id)
        if job.state in FINAL:
            raise FailedPrecondition(f"job {job_id} already ended as {state_name(job.state)}")
        if job.state == pb.QUEUED:
            try:
                return self.transition(job_id, pb.CANCELLED, "cancelled before it started")
            except FailedPrecondition:
                pass  # a worker started it meanwhile: flag it instead
        return self.update(job_id, _flag_cancel)

    def claim_requeue(self, job: pb.Job) -> bool:
        """True for exactly one caller per lost attempt of `job`, so only one gateway re-queues it."""
        return bool(self.redis.set(keys.job_requeue(job.id, job.attempts), 1, nx=True, ex=24 * 3600))

    # -- events --------------------------------------------------------------------------------------
    def emit(self, job_id: str, event: pb.JobEvent) -> str:
        event.job_id, event.time = job_id, event.time or now()
        return self.redis.xadd(keys.job_events(job_id), {"pb": event.SerializeToString()},
                               maxlen=EVENTS_MAX, approximate=True).decode()

    def events(self, job_id: str, after: str = "", block_ms: int | None = None, count: int = 500) -> list[pb.JobEvent]:
        """Events after event id `after` ("" = from the start), waiting up to block_ms for new ones."""
        try:
            reply = self.redis.xread({keys.job_events(job_id): after or "0-0"}, count=count, block=block_ms)
        except redis.ResponseError as error:
            raise InvalidArgument("after_event_id", f"{after!r} is not an event id ({error})") from None
        events = []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                event = pb.JobEvent.FromString(fields[b"pb"])
                event.id = entry_id.decode()
                events.append(event)
        return events

    # -- checkpoints and results ---------------------------------------------------------------------
    def save_checkpoint(self, job_id: str, checkpoint: pb.TrainingCheckpoint, params: bytes) -> None:
        self.redis.hset(keys.job_checkpoint(job_id),
                        mapping={"meta": checkpoint.SerializeToString(), "params": params})

    def checkpoint(self, job_id: str) -> tuple[pb.TrainingCheckpoint, bytes] | None:
        meta, params = self.redis.hmget(keys.job_checkpoint(job_id), ["meta", "params"])
        if meta is None:
            return None
        return pb.TrainingCheckpoint.FromString(meta), params

    def drop_checkpoint(self, job_id: str) -> None:
        self.redis.delete(keys.job_checkpoint(job_id))

    def save_evaluation(self, job_id: str, evaluation: pb.Evaluation) -> None:
        self.redis.set(keys.job_evaluation(job_id), evaluation.SerializeToString())

    def evaluation(self, job_id: str) -> pb.Evaluation:
        job = self.get(job_id)
        if job.kind != pb.EVALUATE:
            raise FailedPrecondition(f"job {job_id} is a {pb.JobKind.Name(job.kind)} job, not an evaluation")
        data = self.redis.get(keys.job_evaluation(job_id))
        if job.state != pb.SUCCEEDED or data is None:
            why = f": {job.error}" if job.error else ""
            raise FailedPrecondition(f"evaluation job {job_id} is {state_name(job.state)}, not SUCCEEDED{why}")
        return pb.Evaluation.FromString(data)


def _datasets(job: pb.Job) -> dict[str, pb.Dataset]:
    if job.kind == pb.TRAIN:
        return {"train_data": job.train.train_data, "eval_data": job.train.eval_data}
    return {"dataset": job.evaluation.dataset} if job.kind == pb.EVALUATE else {}


def _detach_uploads(job: pb.Job) -> dict[str, bytes]:
    """Move uploaded pixels out of the job record (which is read on every batch and listed with the others),
    leaving their shape and dtype as a description."""
    uploads = {}
    for name, dataset in _datasets(job).items():
        if dataset.HasField("images"):
            uploads[name] = pb.Dataset(images=dataset.images, labels=dataset.labels).SerializeToString()
            dataset.images.ClearField("data")
            dataset.labels.ClearField("data")
    return uploads


def _flag_cancel(job: pb.Job) -> None:
    job.cancel_requested = True


def _state_event(job_id: str, state: int, message: str) -> bytes:
    return pb.JobEvent(job_id=job_id, time=now(),
                       state=pb.StateChange(state=state, message=message)).SerializeToString()
