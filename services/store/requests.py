"""Requests a worker answers while the caller waits: Predict (one reply) and Inspect (a stream of chunks).

A chunk stream is flow-controlled by credits: the reader grants `window` credits up front and one more per
chunk it takes, the writer spends one per chunk and waits when it has none. So at most `window` chunks sit in
Redis whatever the reader's pace, and a reader that goes away stops the writer (cancel flag).
"""
import uuid

import redis

from protos.lenet.v1 import lenet_pb2 as pb
from services.errors import DeadlineExceeded, NotFound
from services.store import keys

TTL_SECONDS = 600


class Cancelled(Exception):
    """The reader of a chunk stream cancelled it."""


class Requests:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def open(self, message: bytes, window: int = 0) -> str:
        """Store a request for a worker; with window > 0 also open its chunk stream. Returns the request id."""
        request_id = uuid.uuid4().hex
        with self.redis.pipeline() as tx:
            tx.set(keys.request_input(request_id), message, ex=TTL_SECONDS)
            if window:
                tx.rpush(keys.request_credits(request_id), *[1] * window)
                tx.expire(keys.request_credits(request_id), TTL_SECONDS)
            tx.execute()
        return request_id

    def input(self, request_id: str) -> bytes:
        data = self.redis.get(keys.request_input(request_id))
        if data is None:
            raise NotFound(f"request {request_id} expired or unknown")
        return data

    # -- one reply -------------------------------------------------------------------------------------
    def reply(self, request_id: str, reply: pb.WorkerReply) -> None:
        with self.redis.pipeline() as tx:
            tx.rpush(keys.request_reply(request_id), reply.SerializeToString())
            tx.expire(keys.request_reply(request_id), TTL_SECONDS)
            tx.execute()

    def wait_reply(self, request_id: str, timeout: float) -> pb.WorkerReply:
        try:
            got = self.redis.blpop([keys.request_reply(request_id)], timeout=max(timeout, 0.01))
            if got is None:
                raise DeadlineExceeded(f"no worker answered within {timeout:.0f} s")
            return pb.WorkerReply.FromString(got[1])
        finally:
            self.close(request_id)

    # -- chunk streams ----------------------------------------------------------------------------------
    def push_chunk(self, request_id: str, chunk: bytes) -> None:
        """Append one chunk, first waiting for a credit; raises Cancelled when the reader went away."""
        while True:
            if self.cancelled(request_id):
                raise Cancelled(request_id)
            if self.redis.blpop([keys.request_credits(request_id)], timeout=1) is not None:
                break
        with self.redis.pipeline() as tx:
            tx.xadd(keys.request_chunks(request_id), {"pb": chunk})
            tx.expire(keys.request_chunks(request_id), TTL_SECONDS)
            tx.execute()

    def end_chunks(self, request_id: str, error: pb.WorkerReply | None = None) -> None:
        """Mark the stream complete, or failed with `error` (a WorkerReply carrying the code)."""
        fields = {"error": error.SerializeToString()} if error else {"end": b"1"}
        with self.redis.pipeline() as tx:
            tx.xadd(keys.request_chunks(request_id), fields)
            tx.expire(keys.request_chunks(request_id), TTL_SECONDS)
            tx.execute()
        if self.cancelled(request_id):  # the reader left while we finished: nobody will read or delete it
            self.close(request_id)

    def take_chunks(self, request_id: str, after: str, block_ms: int) -> list[tuple[str, str, bytes]]:
        """Entries after `after` as (id, kind, bytes) with kind "pb", "end" or "error"; each taken entry is
        deleted from Redis and repaid with a credit."""
        reply = self.redis.xread({keys.request_chunks(request_id): after}, count=16, block=block_ms)
        entries = [(entry_id.decode(), *next(iter(fields.items())))
                   for _stream, items in reply or () for entry_id, fields in items]
        if entries:
            with self.redis.pipeline() as tx:
                tx.xdel(keys.request_chunks(request_id), *[entry_id for entry_id, _, _ in entries])
                tx.rpush(keys.request_credits(request_id), *[1] * len(entries))
                tx.execute()
        return [(entry_id, kind.decode(), data) for entry_id, kind, data in entries]

    def cancel(self, request_id: str) -> None:
        """Tell the writer to stop, and wake it if it waits for a credit."""
        with self.redis.pipeline() as tx:
            tx.set(keys.request_cancel(request_id), 1, ex=TTL_SECONDS)
            tx.rpush(keys.request_credits(request_id), 1)
            tx.expire(keys.request_credits(request_id), TTL_SECONDS)
            tx.execute()

    def cancelled(self, request_id: str) -> bool:
        return bool(self.redis.exists(keys.request_cancel(request_id)))

    def close(self, request_id: str) -> None:
        """Drop everything the request left in Redis except the cancel flag (it expires on its own)."""
        self.redis.delete(keys.request_input(request_id), keys.request_reply(request_id),
                          keys.request_chunks(request_id), keys.request_credits(request_id))

    def leftovers(self, request_id: str) -> int:
        """How many of the request's keys still exist (the cancel flag aside): for tests and checks."""
        return self.redis.exists(keys.request_input(request_id), keys.request_reply(request_id),
                                 keys.request_chunks(request_id), keys.request_credits(request_id))
