"""Job records and the indexes that list them.

A state change, the event announcing it and the index entries that follow it are written in one transaction,
so a watcher that sees a job in a final state always finds the final event in its stream, and a listing by state
never shows a job twice. Listing reads one sorted set per (owner, kind, state) filter, so a page costs the same
whatever the history. A job that reaches a final state, with its events, datasets and results, expires after the
retention; `sweep` then takes it out of the indexes.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import redis

from lenet_protos.contract import FINAL_STATES as FINAL
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition, NotFound
from lenet_services.store import indexes, job_states, keys
from lenet_services.store.checkpoints import Checkpoints
from lenet_services.store.connection import guarded
from lenet_services.store.events import Events
from lenet_services.store.idempotency import Idempotency, create_once
from lenet_services.store.indexes import now
from lenet_services.store.job_states import state_name


@guarded
class Jobs:
    def __init__(self, client: redis.Redis, events: Events, checkpoints: Checkpoints, retention_seconds: float):
        self.redis, self.events, self.checkpoints = client, events, checkpoints
        self.retention_ms = int(retention_seconds * 1000)

    def create(self, job: pb.Job, idempotency: Idempotency | None = None) -> tuple[pb.Job, bool]:
        """Store a new QUEUED job; returns (job, created). A key the same owner used for the same RPC returns the
        first job while it exists; with a different request it is FailedPrecondition. Key and job are written in
        one transaction."""
        job.id = job.id or uuid.uuid4().hex[:16]
        job.state, job.created_at = pb.QUEUED, now()
        detached = _detach_datasets(job)

        def write(tx: redis.client.Pipeline) -> None:
            tx.set(keys.job(job.id), job.SerializeToString())
            if job.owner:
                tx.set(keys.OWNED, 1)
            if detached:
                tx.hset(keys.job_datasets(job.id), mapping=detached)
            for index in _indexes(job):
                tx.zadd(index, {_member(job): 0})
            self.events.append(job.id, _state_event(pb.QUEUED, f"queued on {job.queue}"), tx)

        first = create_once(self.redis, idempotency, job.owner, job.id, write, self.retention_ms)
        return (job, True) if first is None else (pb.Job.FromString(first), False)

    def dataset(self, job: pb.Job, name: str) -> pb.Dataset:
        """The job's dataset `name` ("train_data", "eval_data", "validation_data" or "dataset") with its index list
        and uploaded pixels put back."""
        full = pb.Dataset()
        full.CopyFrom(_datasets(job)[name])
        stored = self.redis.hget(keys.job_datasets(job.id), name)
        if stored is not None:
            full.MergeFromString(stored)
        return full

    def get(self, job_id: str) -> pb.Job:
        data = self.redis.get(keys.job(job_id))
        if data is None:
            raise NotFound(f"job {job_id!r} not found")
        return pb.Job.FromString(data)

    def find_many(self, job_ids: list[str]) -> list[pb.Job | None]:
        """The jobs of `job_ids` in one read, None for each that is gone."""
        records = self.redis.mget([keys.job(job_id) for job_id in job_ids]) if job_ids else []
        return [None if data is None else pb.Job.FromString(data) for data in records]

    def page(self, kind: int = 0, state: int = 0, owner: str | None = None, page_size: int = 100,
             page_token: str = "") -> indexes.Page:
        """Jobs newest first, filtered by kind, state and owner (None: every owner), `page_size` at a time."""
        return indexes.page(self.redis, keys.jobs_index(owner, kind, state), keys.job, pb.Job.FromString,
                            page_size, page_token)

    def count(self, kind: int = 0, state: int = 0, owner: str | None = None) -> int:
        return self.redis.zcard(keys.jobs_index(owner, kind, state))

    def running(self) -> list[pb.Job]:
        """Every RUNNING job, for recovery: the cost follows the jobs running, not the history."""
        ids = [indexes.member_id(member) for member in self.redis.zrange(keys.jobs_index(None, 0, pb.RUNNING), 0, -1)]
        return [pb.Job.FromString(data) for data in self.redis.mget([keys.job(i) for i in ids]) if data] if ids else []

    def mark_sent(self, job_id: str) -> None:
        """The job's task was put on its queue now."""
        self.redis.set(keys.job_sent(job_id), time.time(), px=self.retention_ms)

    def queued(self, older_than_seconds: float) -> list[tuple[pb.Job, float | None]]:
        """QUEUED jobs created more than `older_than_seconds` ago, each with when its task was last sent (None:
        never; the gateway that accepted it, or Redis, failed in between). The cost follows the jobs queued, not
        the history."""
        before = int((time.time() - older_than_seconds) * 1_000_000)
        ids = [indexes.member_id(entry) for entry in
               self.redis.zrangebylex(keys.jobs_index(None, 0, pb.QUEUED), "-", f"({before:016d}")]
        if not ids:
            return []
        records = self.redis.mget([keys.job(i) for i in ids])
        sent = self.redis.mget([keys.job_sent(i) for i in ids])
        return [(pb.Job.FromString(data), None if at is None else float(at))
                for data, at in zip(records, sent) if data is not None]

    def update(self, job_id: str, change: Callable[[pb.Job], None], event: pb.JobEvent | None = None) -> pb.Job:
        """Apply `change` to the stored job atomically (optimistic WATCH/MULTI), optionally with an event; the
        indexes follow a change of state, and a job that ends starts its retention."""
        key = keys.job(job_id)
        result = []

        def transaction(tx: redis.client.Pipeline):
            data = tx.get(key)
            if data is None:
                raise NotFound(f"job {job_id!r} not found")
            job = pb.Job.FromString(data)
            before = job.state
            change(job)
            tx.multi()
            tx.set(key, job.SerializeToString())
            if event is not None:
                self.events.append(job_id, event, tx)
            if job.state != before:
                _move_indexes(tx, job, before)
            if job.state in FINAL and before not in FINAL:
                self._expire(tx, job)
            result.append(job)

        self.redis.transaction(transaction, key)
        return result[-1]

    def record_epoch(self, job_id: str, worker: str, event: pb.JobEvent,
                     checkpoint: tuple[pb.TrainingCheckpoint, bytes] | None) -> bool:
        """An epoch's end in one transaction: the job's latest figures (event.epoch), their event and, when given,
        the checkpoint to resume from. Written only while no other worker holds the job's lease and the job has no
        epoch as late recorded, so a write retried after a lost reply, or sent by a worker that was taken over, is
        not told twice; returns whether it was written."""
        key, lease, figures = keys.job(job_id), keys.job_lease(job_id), event.epoch

        def transaction(tx: redis.client.Pipeline) -> bool:
            data, holder = tx.get(key), tx.get(lease)
            if data is None:
                raise NotFound(f"job {job_id!r} not found")
            job = pb.Job.FromString(data)
            if job.metrics.epoch >= figures.epoch or holder not in (None, worker.encode()):
                return False
            job.metrics.CopyFrom(figures)
            tx.multi()
            tx.set(key, job.SerializeToString())
            if checkpoint is not None:
                self.checkpoints.save(job_id, *checkpoint, tx=tx)
            self.events.append(job_id, event, tx)
            return True
        return self.redis.transaction(transaction, key, lease, value_from_callable=True)

    def _expire(self, tx: redis.client.Pipeline, job: pb.Job) -> None:
        """The ended job and all it left expire after the retention; sweep() clears its index entries then."""
        for key in keys.job_keys(job.id):
            tx.pexpire(key, self.retention_ms)
        tx.zadd(keys.JOBS_EXPIRING, {_index_entry(job): time.time() + self.retention_ms / 1000})

    def transition(self, job_id: str, state: int, message: str = "",
                   change: Callable[[pb.Job], None] | None = None) -> pb.Job:
        """Move a job to `state`, refusing moves the state machine forbids (FailedPrecondition)."""

        def apply(job: pb.Job) -> None:
            job_states.enter(job, state)
            if change:
                change(job)

        return self.update(job_id, apply, _state_event(state, message))

    def request_cancel(self, job_id: str) -> pb.Job:
        """A queued job is cancelled at once; a running one is flagged (in its record, and in a small key its
        worker reads before every batch) and its worker stops within a batch."""
        job = self.get(job_id)
        if job.state in FINAL:
            raise FailedPrecondition(f"job {job_id} already ended as {state_name(job.state)}")
        if job.state == pb.QUEUED:
            try:
                return self.transition(job_id, pb.CANCELLED, "cancelled before it started")
            except FailedPrecondition:
                pass  # a worker started it meanwhile: flag it instead
        self.redis.set(keys.job_cancel(job_id), 1, px=self.retention_ms)
        return self.update(job_id, _flag_cancel)

    def delete(self, job_id: str) -> None:
        """Remove an ended job and everything it left (its idempotency key, if any, is free again);
        FailedPrecondition while it is queued or running."""
        job = self.get(job_id)
        if job.state not in FINAL:
            raise FailedPrecondition(f"job {job_id} is {state_name(job.state)}: cancel it before deleting it")
        with self.redis.pipeline() as tx:
            tx.delete(*keys.job_keys(job_id))
            for index in _indexes(job):
                tx.zrem(index, _member(job))
            tx.zrem(keys.JOBS_EXPIRING, _index_entry(job))
            tx.execute()

    def sweep(self, limit: int = 1000) -> int:
        """Take jobs whose retention ended out of the indexes; returns how many."""
        entries = self.redis.zrangebyscore(keys.JOBS_EXPIRING, "-inf", time.time(), start=0, num=limit)
        with self.redis.pipeline() as tx:
            for entry in entries:
                member, owner, kind, state = entry.decode().split("|")
                for index in keys.jobs_indexes(owner, int(kind), int(state)):
                    tx.zrem(index, member)
                tx.zrem(keys.JOBS_EXPIRING, entry)
            tx.execute()
        return len(entries)

    def claim_requeue(self, job: pb.Job) -> bool:
        """True for exactly one caller per lost attempt of `job`, so only one gateway re-queues it."""
        return bool(self.redis.set(keys.job_requeue(job.id, job.attempts), 1, nx=True, ex=24 * 3600))


def _datasets(job: pb.Job) -> dict[str, pb.Dataset]:
    if job.kind == pb.TRAIN:
        return {"train_data": job.train.train_data, "eval_data": job.train.eval_data,
                "validation_data": job.train.validation_data}
    return {"dataset": job.evaluation.dataset} if job.kind == pb.EVALUATE else {}


def _detach_datasets(job: pb.Job) -> dict[str, bytes]:
    """Move index lists and uploaded pixels out of the job record (which is read on every batch and listed with
    the others), leaving the images' shape and dtype and the dataset's size as its description."""
    detached = {}
    for name, dataset in _datasets(job).items():
        if dataset.indices or dataset.HasField("images"):
            aside = pb.Dataset(indices=dataset.indices)
            del dataset.indices[:]
            for tensor in ("images", "labels"):   # (touching an absent one would make it present)
                if dataset.HasField(tensor):
                    getattr(aside, tensor).data = getattr(dataset, tensor).data
                    getattr(dataset, tensor).ClearField("data")
            detached[name] = aside.SerializeToString()
    return detached


def _indexes(job: pb.Job) -> list[str]:
    return keys.jobs_indexes(job.owner, job.kind, job.state)


def _move_indexes(tx: redis.client.Pipeline, job: pb.Job, before: int) -> None:
    old, new = set(keys.jobs_indexes(job.owner, job.kind, before)), set(_indexes(job))
    for index in old - new:
        tx.zrem(index, _member(job))
    for index in new - old:
        tx.zadd(index, {_member(job): 0})


def _member(job: pb.Job) -> str:
    return indexes.member(job.created_at, job.id)


def _index_entry(job: pb.Job) -> str:
    """What sweep() needs to find a job's index entries once its record is gone."""
    return f"{_member(job)}|{job.owner}|{job.kind}|{job.state}"


def _flag_cancel(job: pb.Job) -> None:
    job.cancel_requested = True


def _state_event(state: int, message: str) -> pb.JobEvent:
    return pb.JobEvent(state=pb.StateChange(state=state, message=message))
