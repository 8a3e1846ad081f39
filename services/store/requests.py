"""Requests a caller waits on, carried by a serve lane: Predict and ONNX export (one reply) and Inspect (a stream
of chunks).

The gateway pushes a LaneRequest onto its lane's list; serving workers take whatever waits there at once (so
concurrent requests arrive together and can be batched), claim what they took, and answer. A claim names the
worker, so a caller whose worker died finds out within a heartbeat period instead of waiting out its deadline.

A chunk stream is flow-controlled by credits: the reader grants `window` credits up front and one more per
chunk it takes, the writer spends one per chunk and waits when it has none. So at most `window` chunks sit in
Redis whatever the reader's pace. A reader that goes away stops the writer (cancel flag); a reader that stops
reading, or whose gateway died, is given up by the writer after the idle bound.

Who clears a stream: the reader after reading its end; after a cancel, the writer when it stops, or the reader
at once if no writer holds it (the claim goes when the writer ends). Everything also expires after TTL_SECONDS.
"""
import time

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import keys
from lenet_services.store.connection import guarded

TTL_SECONDS = 600
BLOCK_SECONDS = 1.0        # the longest single blocking read: far below the client's socket timeout


class Cancelled(Exception):
    """The reader of a chunk stream cancelled it or stopped reading."""


@guarded
class Requests:
    def __init__(self, client: redis.Redis):
        self.redis = client

    # -- the lane: gateway side ----------------------------------------------------------------------
    def submit(self, lane: str, request: pb.LaneRequest, window: int = 0) -> None:
        """Queue a request on a serve lane; with window > 0 also open its chunk stream with that many credits."""
        with self.redis.pipeline() as tx:
            if window:
                tx.rpush(keys.request_credits(request.request_id), *[1] * window)
                tx.expire(keys.request_credits(request.request_id), TTL_SECONDS)
            tx.rpush(keys.lane_requests(lane), request.SerializeToString())
            tx.execute()

    def ask(self, lane: str, request: pb.LaneRequest) -> pb.WorkerReply | None:
        """Queue a one-reply request and wait up to BLOCK_SECONDS for its reply, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(keys.lane_requests(lane), request.SerializeToString())
            pipe.blpop([keys.request_reply(request.request_id)], timeout=BLOCK_SECONDS)
            _, got = pipe.execute()
        return pb.WorkerReply.FromString(got[1]) if got else None

    def reply_within(self, request_id: str, seconds: float) -> pb.WorkerReply | None:
        got = self.redis.blpop([keys.request_reply(request_id)], timeout=max(0.01, min(seconds, BLOCK_SECONDS)))
        return pb.WorkerReply.FromString(got[1]) if got else None

    def claimed_by(self, request_id: str) -> str | None:
        holder = self.redis.get(keys.request_claim(request_id))
        return holder.decode() if holder is not None else None

    def waiting(self, lane: str) -> int:
        return self.redis.llen(keys.lane_requests(lane))

    # -- the lane: worker side -----------------------------------------------------------------------
    def take(self, lane: str, most: int, worker: str) -> list[pb.LaneRequest]:
        """Up to `most` waiting requests, waiting up to BLOCK_SECONDS for the first; claimed for `worker`.
        Requests whose caller's deadline has passed are dropped."""
        first = self.first_waiting(lane)
        return self.claim_with_more(lane, first, most, worker) if first is not None else []

    def first_waiting(self, lane: str) -> pb.LaneRequest | None:
        """`take`'s wait: the oldest waiting request, not yet claimed (None when none came within BLOCK_SECONDS)."""
        got = self.redis.blpop([keys.lane_requests(lane)], timeout=BLOCK_SECONDS)
        return pb.LaneRequest.FromString(got[1]) if got else None

    def claim_with_more(self, lane: str, first: pb.LaneRequest, most: int, worker: str) -> list[pb.LaneRequest]:
        """`take`'s rest: `first` claimed for `worker` in the round trip that takes up to most − 1 more waiting
        requests, which a second one claims when there are any; so a lone request costs one round trip here."""
        now = time.time()
        with self.redis.pipeline(transaction=False) as pipe:
            taken = _claimed(pipe, [first], now, worker)
            if most > 1:
                pipe.lpop(keys.lane_requests(lane), most - 1)
            sent = pipe.execute()
        more = sent[-1] if most > 1 else None
        if more:
            with self.redis.pipeline(transaction=False) as pipe:
                taken += _claimed(pipe, map(pb.LaneRequest.FromString, more), now, worker)
                pipe.execute()
        return taken

    def reply(self, replies: list[tuple[str, pb.WorkerReply]]) -> None:
        """Send one reply per request, all in one round trip; the requests' claims end."""
        with self.redis.pipeline(transaction=False) as pipe:
            for request_id, reply in replies:
                pipe.rpush(keys.request_reply(request_id), reply.SerializeToString())
                pipe.expire(keys.request_reply(request_id), TTL_SECONDS)
                pipe.delete(keys.request_claim(request_id))
            pipe.execute()

    # -- chunk streams ----------------------------------------------------------------------------------
    def start_stream(self, request_id: str) -> None:
        """Before a worker writes a stream: Cancelled (and cleared) when its reader already left."""
        if self.cancelled(request_id):
            self.close(request_id)
            raise Cancelled(request_id)

    def push_chunk(self, request_id: str, chunk, idle_seconds: float) -> None:
        """Append one chunk (bytes-like; memoryviews are sent without a copy), first taking a credit.

        Raises Cancelled when the reader went away, or took nothing for `idle_seconds` (stalled or gone)."""
        credits = keys.request_credits(request_id)
        with self.redis.pipeline(transaction=False) as pipe:  # usually a credit waits: one round trip
            pipe.exists(keys.request_cancel(request_id))
            pipe.lpop(credits)
            cancelled, credit = pipe.execute()
        deadline = time.monotonic() + idle_seconds
        while credit is None and not cancelled:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Cancelled(request_id)
            credit = self.redis.blpop([credits], timeout=max(0.01, min(left, BLOCK_SECONDS)))
            cancelled = self.cancelled(request_id)
        if cancelled:
            raise Cancelled(request_id)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(keys.request_chunks(request_id), {"pb": chunk})
            pipe.expire(keys.request_chunks(request_id), TTL_SECONDS)
            pipe.execute()

    def end_chunks(self, request_id: str, error: pb.WorkerReply | None = None) -> None:
        """Mark the stream complete, or failed with `error` (a WorkerReply carrying the code). The writer is
        done from here on: its claim goes, which tells a reader that cancels later to clear the stream itself."""
        fields = {"error": error.SerializeToString()} if error else {"end": b"1"}
        with self.redis.pipeline() as tx:
            tx.xadd(keys.request_chunks(request_id), fields)
            tx.expire(keys.request_chunks(request_id), TTL_SECONDS)
            tx.delete(keys.request_claim(request_id))
            tx.exists(keys.request_cancel(request_id))
            *_, cancelled = tx.execute()
        if cancelled:  # the reader left while we finished: nobody will read or delete it
            self.close(request_id)

    def take_chunks(self, request_id: str, after: str, block_ms: int) -> list[tuple[str, str, bytes]]:
        """Entries after `after` as (id, kind, bytes) with kind "pb", "end" or "error"; each taken entry is
        deleted from Redis and repaid with a credit."""
        block_ms = min(block_ms, int(BLOCK_SECONDS * 1000)) or None   # 0: no wait (XREAD's BLOCK 0 is forever)
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
        holds the stream clears it when it stops; else the reader clears it here (a request still waiting on
        the lane is cleared by the worker that takes it, which finds the cancel flag)."""
        with self.redis.pipeline() as tx:
            tx.set(keys.request_cancel(request_id), 1, ex=TTL_SECONDS)
            tx.rpush(keys.request_credits(request_id), 1)
            tx.expire(keys.request_credits(request_id), TTL_SECONDS)
            tx.exists(keys.request_claim(request_id))
            *_, writer_running = tx.execute()
        if not writer_running:
            self.close(request_id)

    def cancelled(self, request_id: str) -> bool:
        return bool(self.redis.exists(keys.request_cancel(request_id)))

    def close(self, request_id: str) -> None:
        """Drop everything the request left in Redis except the cancel flag (it expires on its own)."""
        self.redis.delete(keys.request_claim(request_id), keys.request_reply(request_id),
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
        return self.redis.exists(keys.request_claim(request_id), keys.request_reply(request_id),
                                 keys.request_chunks(request_id), keys.request_credits(request_id))


def _claimed(pipe, requests, now: float, worker: str) -> list[pb.LaneRequest]:
    """Those of `requests` whose caller still waits, claimed for `worker` on `pipe`; the others are dropped."""
    live = [request for request in requests if not request.deadline or request.deadline > now]
    for request in live:
        pipe.set(keys.request_claim(request.request_id), worker, ex=TTL_SECONDS)
    return live
