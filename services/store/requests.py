"""Requests a worker answers while the caller waits: Predict (one reply) and Inspect (a stream of chunks).

A chunk stream is flow-controlled by credits: the reader grants `window` credits up front and one more per
chunk it takes, the writer spends one per chunk and waits when it has none. So at most `window` chunks sit in
Redis whatever the reader's pace, and a reader that goes away stops the writer (cancel flag).

Who clears a stream: the reader after reading its end; after a cancel, the writer when it stops, or the reader
at once if the writer had already ended (its input is deleted when it ends). Everything also expires after
TTL_SECONDS, and a writer that gets no credit for that long gives up, should the reader die without cancelling.
"""
import time
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
    def start_stream(self, request_id: str) -> bytes:
        """The request a worker is about to answer with chunks; Cancelled (and cleared) when its reader left."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.request_cancel(request_id))
            pipe.get(keys.request_input(request_id))
            cancelled, data = pipe.execute()
        if cancelled:
            self.close(request_id)
            raise Cancelled(request_id)
        if data is None:
            raise NotFound(f"request {request_id} expired or unknown")
        return data

    def push_chunk(self, request_id: str, chunk, timeout: float = TTL_SECONDS) -> None:
        """Append one chunk (bytes-like; memoryviews are sent without a copy), first taking a credit.

        Raises Cancelled when the reader went away, or gave no credit for `timeout` seconds (it died)."""
        credits = keys.request_credits(request_id)
        with self.redis.pipeline(transaction=False) as pipe:  # usually a credit waits: one round trip
            pipe.exists(keys.request_cancel(request_id))
            pipe.lpop(credits)
            cancelled, credit = pipe.execute()
        deadline = time.monotonic() + timeout
        while credit is None and not cancelled:
            if time.monotonic() > deadline:
                raise Cancelled(request_id)
            credit = self.redis.blpop([credits], timeout=1)
            cancelled = self.cancelled(request_id)
        if cancelled:
            raise Cancelled(request_id)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(keys.request_chunks(request_id), {"pb": chunk})
            pipe.expire(keys.request_chunks(request_id), TTL_SECONDS)
            pipe.execute()

    def end_chunks(self, request_id: str, error: pb.WorkerReply | None = None) -> None:
        """Mark the stream complete, or failed with `error` (a WorkerReply carrying the code). The writer is
        done from here on: its input goes, which tells a reader that cancels later to clear the stream itself."""
        fields = {"error": error.SerializeToString()} if error else {"end": b"1"}
        with self.redis.pipeline() as tx:
            tx.xadd(keys.request_chunks(request_id), fields)
            tx.expire(keys.request_chunks(request_id), TTL_SECONDS)
            tx.delete(keys.request_input(request_id))
            tx.exists(keys.request_cancel(request_id))
            *_, cancelled = tx.execute()
        if cancelled:  # the reader left while we finished: nobody will read or delete it
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

    def pending_chunks(self, request_id: str) -> int:
        """Chunks written and not yet taken: never more than the window."""
        return self.redis.xlen(keys.request_chunks(request_id))

    def cancel(self, request_id: str) -> None:
        """The reader leaves early: tell the writer to stop and wake it if it waits for a credit. A writer that
        is still running (its input is there) clears the stream when it stops; else the reader clears it here."""
        with self.redis.pipeline() as tx:
            tx.set(keys.request_cancel(request_id), 1, ex=TTL_SECONDS)
            tx.rpush(keys.request_credits(request_id), 1)
            tx.expire(keys.request_credits(request_id), TTL_SECONDS)
            tx.exists(keys.request_input(request_id))
            *_, writer_running = tx.execute()
        if not writer_running:
            self.close(request_id)

    def writer_running(self, request_id: str) -> bool:
        """Whether the stream's writer has yet to end it (its input is deleted when it ends or gives up)."""
        return bool(self.redis.exists(keys.request_input(request_id)))

    def cancelled(self, request_id: str) -> bool:
        return bool(self.redis.exists(keys.request_cancel(request_id)))

    def close(self, request_id: str) -> None:
        """Drop everything the request left in Redis except the cancel flag (it expires on its own)."""
        self.redis.delete(keys.request_input(request_id), keys.request_reply(request_id),
                          keys.request_chunks(request_id), keys.request_credits(request_id))

    def open_requests(self) -> set[str]:
        """Ids of the requests that still have something in Redis (cancel flags aside): for tests and checks."""
        found = set()
        for key in self.redis.scan_iter(match=keys.REQUEST_PATTERN, count=1000):
            request_id, part = keys.request_of(key.decode())
            if part != "cancel":
                found.add(request_id)
        return found

    def leftovers(self, request_id: str) -> int:
        """How many of the request's keys still exist (the cancel flag aside): for tests and checks."""
        return self.redis.exists(keys.request_input(request_id), keys.request_reply(request_id),
                                 keys.request_chunks(request_id), keys.request_credits(request_id))
