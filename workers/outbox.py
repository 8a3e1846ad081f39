"""What a running job tells the store, written in order, and kept while the store is unreachable.

Every event waits behind those told before it: while the store answers it is written at once; while it does not,
the outbox keeps it and writes everything, oldest first, as soon as a write succeeds again (tried at most every
RETRY_SECONDS, so a long outage does not slow training). It keeps every epoch, evaluating, log and state event;
of batch events it keeps at most BATCH_EVENTS_KEPT, and beyond that drops every other one (the last batch of each
epoch is always kept). Nothing is told twice: each event carries this writer's sequence number, which the store
checks in its append, and an epoch's end (with its checkpoint) is recorded only if the job has no epoch as late
(Jobs.record_epoch). A worker that dies loses what its outbox held; the next worker resumes from the last epoch
recorded and tells the rest again.
"""
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

from lenet_protos.contract import BATCH_EVENTS_KEPT
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import NotFound
from lenet_services.store import Store, Unavailable
from lenet_services.store.indexes import now

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


@dataclass
class Pending:
    event: pb.JobEvent
    number: int                                                        # this writer's sequence number
    checkpoint: tuple[pb.TrainingCheckpoint, bytes] | None = None      # an epoch's: what to resume from

    def thinnable(self) -> bool:
        """A batch event that is not its epoch's last."""
        batch = self.event.batch
        return self.event.WhichOneof("kind") == "batch" and batch.batch < batch.batches_per_epoch


class Outbox:
    def __init__(self, store: Store, job_id: str, worker: str):
        self.store, self.job_id, self.worker = store, job_id, worker
        self.writer = f"{worker}/{uuid.uuid4().hex[:8]}"   # a new sequence for every run of the job
        self.pending: deque[Pending] = deque()
        self.told = 0
        self.failed_at: float | None = None   # when the last write failed (monotonic), while any is pending
        self.thinned = 0

    def tell(self, event: pb.JobEvent, checkpoint: tuple[pb.TrainingCheckpoint, bytes] | None = None) -> None:
        """Write `event` after everything told before it, or keep it until the store answers. `checkpoint`: an
        epoch event's, written with it (each pending epoch keeps its own: the figures a job resumes from must be
        those its events told)."""
        event.time = event.time or now()
        self.told += 1
        self.pending.append(Pending(event, self.told, checkpoint))
        self._thin()
        if self.failed_at is None or time.monotonic() - self.failed_at >= RETRY_SECONDS:
            try:
                self.flush()
            except Unavailable:
                pass   # kept; flush logged it

    def flush(self) -> None:
        """Write what is pending, oldest first; Unavailable (the rest kept) when the store does not answer."""
        while self.pending:
            try:
                self._write(self.pending[0])
            except Unavailable as error:
                if self.failed_at is None:
                    log.warning("store unreachable: keeping the job's events until it answers (%s)", error)
                self.failed_at = time.monotonic()
                raise
            except NotFound:
                log.warning("the job is gone from the store: its epoch %d is not recorded",
                            self.pending[0].event.epoch.epoch)
            self.pending.popleft()
        if self.failed_at is not None:
            log.warning("store reachable again: the job's kept events are written (%d batch events thinned out)",
                        self.thinned)
            self.failed_at, self.thinned = None, 0

    def _write(self, pending: Pending) -> None:
        if pending.event.WhichOneof("kind") == "epoch":
            self.store.jobs.record_epoch(self.job_id, self.worker, pending.event, pending.checkpoint)
        else:
            self.store.events.append(self.job_id, pending.event, numbered=(self.writer, pending.number))

    def _thin(self) -> None:
        """Beyond BATCH_EVENTS_KEPT batch events, drop every other thinnable one."""
        if sum(p.event.WhichOneof("kind") == "batch" for p in self.pending) <= BATCH_EVENTS_KEPT:
            return
        thinnable = [id(p) for p in self.pending if p.thinnable()]
        dropped = set(thinnable[::2])
        self.pending = deque(p for p in self.pending if id(p) not in dropped)
        self.thinned += len(dropped)
