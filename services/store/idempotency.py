"""Idempotency keys as Stripe scopes them: per owner and per RPC, remembered with a hash of the request, so a
retried submission answers with the job the first one created.

A key names its job only while the job exists: once the job is deleted, the key is free again, and the same
submission creates a new job (instead of naming one that is gone).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import redis

from lenet_services.errors import FailedPrecondition
from lenet_services.store import keys


@dataclass(frozen=True)
class Idempotency:
    rpc: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, rpc: str, key: str, request) -> Idempotency | None:
        """None for an empty key. The hash covers the request as validated, the key itself left out."""
        if not key:
            return None
        copy = type(request)()
        copy.CopyFrom(request)
        copy.ClearField("idempotency_key")
        return cls(rpc, key, hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest())

    def record(self, owner: str) -> str:
        """The key's record for `owner`: watch it in the transaction that creates the job."""
        return keys.idempotency(owner, self.rpc, self.key)

    def first_job(self, tx: redis.client.Pipeline, owner: str, record_key=keys.job) -> bytes | None:
        """In the creating transaction, before MULTI: the stored job (or the record `record_key` names: a sweep)
        this key created, or None when the key is new or its record is gone. FailedPrecondition when the key was
        used for a different request."""
        job_id, request_hash = tx.hmget(self.record(owner), ["job", "request"])
        if job_id is None:
            return None
        tx.watch(record_key(job_id.decode()))   # a delete meanwhile makes the transaction run again
        data = tx.get(record_key(job_id.decode()))
        if data is not None and request_hash.decode() != self.request_hash:
            raise FailedPrecondition(f"idempotency_key {self.key[:40]!r} was used for a different {self.rpc} request")
        return data

    def remember(self, tx: redis.client.Pipeline, owner: str, job_id: str, retention_ms: int) -> None:
        """In the creating transaction, after MULTI: the key names `job_id` for the retention."""
        tx.hset(self.record(owner), mapping={"job": job_id, "request": self.request_hash})
        tx.pexpire(self.record(owner), retention_ms)


def create_once(client: redis.Redis, idempotency: Idempotency | None, owner: str, record_id: str,
                write: Callable[[redis.client.Pipeline], None], retention_ms: int,
                record_key: Callable[[str], str] = keys.job) -> bytes | None:
    """Create a record once per idempotency key, in one transaction: `write(tx)` (after MULTI) stores record
    `record_id`, and the key, if any, names it for the retention. Returns None when it was written, else the
    stored record (under `record_key`) that the key's first request created, writing nothing."""
    first = []

    def transaction(tx: redis.client.Pipeline) -> None:
        first.clear()
        if idempotency and (data := idempotency.first_job(tx, owner, record_key)) is not None:
            first.append(data)
            return
        tx.multi()
        if idempotency:
            idempotency.remember(tx, owner, record_id, retention_ms)
        write(tx)

    client.transaction(transaction, *([idempotency.record(owner)] if idempotency else []))
    return first[0] if first else None
