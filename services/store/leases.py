"""Which worker runs a job: a lease, a key holding the worker's name with a TTL that the worker's heartbeat renews.
Another worker takes a job over only once its lease has expired; the worker it was taken from finds out before
its next batch (stop_reason), as it finds out that the job was cancelled."""
from __future__ import annotations

import enum

import redis

from lenet_services.store import keys
from lenet_services.store.connection import guarded

RENEW_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class StopReason(enum.Enum):
    """Why a worker stops a job before its end."""
    CANCELLED = "cancelled"       # a caller cancelled it
    TAKEN_OVER = "taken over"     # its lease is another worker's (this one was taken for lost)
    STOPPING = "stopping"         # the worker itself is shutting down (the worker knows this, not the store)
    PRUNED = "pruned"             # a sweep's pruner stopped the trial after an epoch (the worker was told)
    YIELDING = "yielding"         # a sweep's trial gives its lane to a job waiting there, after an epoch


@guarded
class Leases:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._renew = client.register_script(RENEW_LEASE)

    def take(self, job_id: str, worker: str, ttl_seconds: float) -> bool:
        """Hold the job for `worker` unless another live holder has it; True when `worker` holds it now."""
        key = keys.job_lease(job_id)
        if self.redis.set(key, worker, nx=True, px=int(ttl_seconds * 1000)):
            return True
        return self.holder(job_id) == worker

    def renew(self, job_id: str, worker: str, ttl_seconds: float) -> bool:
        """Keep holding the job (taking it again if the lease is gone, e.g. after a Redis restart without
        persistence), unless another worker took it over; called from the worker's heartbeat, so the lease lives
        as long as the process. True while `worker` holds it."""
        return bool(self._renew(keys=[keys.job_lease(job_id)], args=[worker, int(ttl_seconds * 1000)]))

    def release(self, job_id: str) -> None:
        self.redis.delete(keys.job_lease(job_id))

    def holder(self, job_id: str) -> str | None:
        holder = self.redis.get(keys.job_lease(job_id))
        return holder.decode() if holder is not None else None

    def stop_reason(self, job_id: str, worker: str) -> StopReason | None:
        """Why the worker running a job should stop before its next batch (CANCELLED, TAKEN_OVER), or None.
        One round trip, so it can be asked every batch."""
        cancel, holder = self.redis.mget([keys.job_cancel(job_id), keys.job_lease(job_id)])
        if cancel is not None:
            return StopReason.CANCELLED
        return StopReason.TAKEN_OVER if holder is not None and holder.decode() != worker else None
