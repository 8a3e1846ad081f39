"""Each job's event stream (a Redis Stream of JobEvent bytes): appended by the job's workers and by the state
changes of its record, read by watchers from any event id on."""
from __future__ import annotations

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import InvalidArgument
from lenet_services.store import keys
from lenet_services.store.connection import guarded
from lenet_services.store.indexes import now

EVENTS_MAX = 100_000  # per job; training emits a few thousand


@guarded
class Events:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def append(self, job_id: str, event: pb.JobEvent, tx: redis.client.Pipeline | None = None) -> str | None:
        """Add `event` to the job's stream, stamped with the job and the time; in `tx` when given (the transaction
        that changes the job), so a watcher sees the change and its event together. Returns the event id (None
        in a transaction: it is known once the transaction runs)."""
        event.job_id, event.time = job_id, event.time or now()
        entry = (tx or self.redis).xadd(keys.job_events(job_id), {"pb": event.SerializeToString()},
                                        maxlen=EVENTS_MAX, approximate=True)
        return None if tx is not None else entry.decode()

    def read(self, job_id: str, after: str = "", block_ms: int | None = None, count: int = 500) -> list[pb.JobEvent]:
        """Events after event id `after` ("" = from the start), waiting up to block_ms for new ones."""
        try:
            reply = self.redis.xread({keys.job_events(job_id): after or "0-0"}, count=count, block=block_ms)
        except redis.ResponseError:
            raise InvalidArgument("after_event_id", f"{after[:40]!r} is not an event id of this job") from None
        events = []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                event = pb.JobEvent.FromString(fields[b"pb"])
                event.id = entry_id.decode()
                events.append(event)
        return events
