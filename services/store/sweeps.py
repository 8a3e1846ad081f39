"""Sweep records, their listing indexes, the set of sweeps still active, and the lock that lets one process at a
time advance a sweep.

A sweep record keeps what a sweep decided (its request, its trials' numbers, jobs and values, its winner); what
its trials' jobs did is read from the jobs themselves, so the record changes only when the sweep moves on.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from lenet_protos.contract import SWEEP_FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition, NotFound
from lenet_services.store import indexes, keys
from lenet_services.store.connection import guarded
from lenet_services.store.idempotency import Idempotency, create_once
from lenet_services.store.indexes import now

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
LOCK_SECONDS = 30.0        # a lock whose holder died frees itself this late; advancing takes milliseconds
LOCK_POLL_SECONDS = 0.02


@guarded
class Sweeps:
    def __init__(self, client: redis.Redis, retention_seconds: float):
        self.redis = client
        self.retention_ms = int(retention_seconds * 1000)
        self._release = client.register_script(RELEASE_LOCK)

    def create(self, sweep: pb.Sweep, idempotency: Idempotency | None = None) -> tuple[pb.Sweep, bool]:
        """Store a new RUNNING sweep; returns (sweep, created): with a key its owner used before for the same
        request, the first sweep while it exists (FailedPrecondition for a different request)."""
        sweep.id = sweep.id or uuid.uuid4().hex[:16]
        sweep.state, sweep.created_at = pb.SWEEP_RUNNING, now()

        def write(tx: redis.client.Pipeline) -> None:
            tx.set(keys.sweep(sweep.id), sweep.SerializeToString())
            if sweep.owner:
                tx.set(keys.OWNED, 1)
            for index in _indexes(sweep):
                tx.zadd(index, {_member(sweep): 0})
            tx.sadd(keys.SWEEPS_ACTIVE, sweep.id)

        first = create_once(self.redis, idempotency, sweep.owner, sweep.id, write, self.retention_ms, keys.sweep)
        return (sweep, True) if first is None else (pb.Sweep.FromString(first), False)

    def get(self, sweep_id: str) -> pb.Sweep:
        data = self.redis.get(keys.sweep(sweep_id))
        if data is None:
            raise NotFound(f"sweep {sweep_id!r} not found")
        return pb.Sweep.FromString(data)

    def update(self, sweep_id: str, change: Callable[[pb.Sweep], None]) -> pb.Sweep:
        """Apply `change` to the stored sweep atomically; one that ends leaves the active set."""
        key = keys.sweep(sweep_id)
        result = []

        def transaction(tx: redis.client.Pipeline) -> None:
            data = tx.get(key)
            if data is None:
                raise NotFound(f"sweep {sweep_id!r} not found")
            sweep = pb.Sweep.FromString(data)
            change(sweep)
            tx.multi()
            tx.set(key, sweep.SerializeToString())
            if sweep.state in SWEEP_FINAL_STATES:
                tx.srem(keys.SWEEPS_ACTIVE, sweep_id)
            result.append(sweep)

        self.redis.transaction(transaction, key)
        return result[-1]

    def page(self, owner: str | None = None, page_size: int = 100, page_token: str = "") -> indexes.Page:
        """Sweeps newest first, of `owner` (None: everyone's)."""
        return indexes.page(self.redis, keys.sweeps_index(owner), keys.sweep, pb.Sweep.FromString, page_size,
                            page_token)

    def active(self) -> list[str]:
        """Ids of the sweeps not yet in a final state: what recovery looks after (their number, not the history)."""
        return sorted(member.decode() for member in self.redis.smembers(keys.SWEEPS_ACTIVE))

    def delete(self, sweep_id: str, study_keys: list[str]) -> None:
        """Remove an ended sweep, its index entries and `study_keys` (its Optuna journal); FailedPrecondition while
        it runs."""
        sweep = self.get(sweep_id)
        if sweep.state not in SWEEP_FINAL_STATES:
            raise FailedPrecondition(f"sweep {sweep_id} is {pb.SweepState.Name(sweep.state)}: cancel it first")
        with self.redis.pipeline() as tx:
            tx.delete(keys.sweep(sweep_id), keys.sweep_lock(sweep_id), *study_keys)
            for index in _indexes(sweep):
                tx.zrem(index, _member(sweep))
            tx.srem(keys.SWEEPS_ACTIVE, sweep_id)
            tx.execute()

    @contextmanager
    def lock(self, sweep_id: str, wait_seconds: float) -> Iterator[bool]:
        """Hold the sweep's lock for the block, waiting up to `wait_seconds` for it; yields whether it is held.
        A holder that dies frees it after LOCK_SECONDS."""
        token, key = uuid.uuid4().hex, keys.sweep_lock(sweep_id)
        deadline = time.monotonic() + wait_seconds
        held = bool(self.redis.set(key, token, nx=True, px=int(LOCK_SECONDS * 1000)))
        while not held and time.monotonic() < deadline:
            time.sleep(LOCK_POLL_SECONDS)
            held = bool(self.redis.set(key, token, nx=True, px=int(LOCK_SECONDS * 1000)))
        try:
            yield held
        finally:
            if held:
                self._release(keys=[key], args=[token])


def _indexes(sweep: pb.Sweep) -> list[str]:
    return [keys.sweeps_index(None), *([keys.sweeps_index(sweep.owner)] if sweep.owner else [])]


def _member(sweep: pb.Sweep) -> str:
    return indexes.member(sweep.created_at, sweep.id)
