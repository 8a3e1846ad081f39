"""Each job's event stream (a Redis Stream of JobEvent bytes): appended by the job's workers and by the state
changes of its record, read by watchers from any event id on.

A worker numbers what it writes (a writer name and a sequence number); the store appends a numbered event only
when its number is above the last one appended for that writer, in one script, so a write retried after a lost
reply is not told twice."""
from __future__ import annotations

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import InvalidArgument
from lenet_services.store import keys
from lenet_services.store.connection import guarded
from lenet_services.store.indexes import now

EVENTS_MAX = 100_000  # per job; training emits a few thousand
APPEND_ONCE = """
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= last then
  return false
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'pb', ARGV[3])
"""


@guarded
class Events:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._append_once = client.register_script(APPEND_ONCE)

    def append(self, job_id: str, event: pb.JobEvent, tx: redis.client.Pipeline | None = None,
               numbered: tuple[str, int] | None = None) -> str | None:
        """Add `event` to the job's stream, stamped with the job and the time (unless it has one); in `tx` when
        given (the transaction that changes the job), so a watcher sees the change and its event together.
        `numbered`: (writer, sequence number ≥ 1): appended only if that writer has appended nothing numbered as
        high. Returns the event id (None in a transaction, where it is known once the transaction runs, and for a
        numbered event appended before)."""
        event.job_id, event.time = job_id, event.time or now()
        client, data = tx or self.redis, event.SerializeToString()
        if numbered is None:
            entry = client.xadd(keys.job_events(job_id), {"pb": data}, maxlen=EVENTS_MAX, approximate=True)
        else:
            entry = self._append_once(keys=[keys.job_events(job_id), keys.job_writers(job_id)],
                                      args=[numbered[0], numbered[1], data, EVENTS_MAX], client=client)
        return None if tx is not None or entry is None else entry.decode()

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
