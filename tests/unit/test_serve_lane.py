"""A serve lane in a real redis-server: what the gateway queues, what workers take and claim, replies, and the
credit-controlled chunk streams of Inspect with who clears them after a cancel."""
import threading
import time
import uuid

import pytest

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store.requests import Cancelled

LANE = "cpu.serve"


def queued(store, window=0, deadline=0.0, kind="inspect") -> str:
    request = pb.LaneRequest(request_id=uuid.uuid4().hex, deadline=deadline,
                             **{kind: pb.InspectRequest() if kind == "inspect" else pb.PredictRequest()})
    store.requests.submit(LANE, request, window=window)
    return request.request_id


def stream(store, window: int) -> str:
    """A chunk stream as a worker holds it: queued by the gateway, then taken (and claimed) by worker w1."""
    request_id = queued(store, window)
    assert [r.request_id for r in store.requests.take(LANE, 10, "w1")] == [request_id]
    return request_id


def test_workers_take_everything_waiting_at_once_and_claim_it(store):
    ids = [queued(store, kind="predict") for _ in range(5)]
    assert store.requests.waiting(LANE) == 5
    taken = store.requests.take(LANE, 3, "w1")
    assert [r.request_id for r in taken] == ids[:3] and all(r.HasField("predict") for r in taken)
    assert [store.requests.claimed_by(i) for i in ids] == ["w1"] * 3 + [None] * 2
    assert [r.request_id for r in store.requests.take(LANE, 10, "w2")] == ids[3:]
    assert store.requests.take(LANE, 10, "w2") == []     # nothing waits: back after a short block


def test_a_worker_taking_one_at_a_time_claims_each(store):
    stale, first, second = (queued(store, deadline=time.time() - 1, kind="predict"), queued(store, kind="predict"),
                            queued(store, kind="predict"))
    assert store.requests.take(LANE, 1, "w1") == []      # the stale one, dropped unclaimed
    assert [r.request_id for r in store.requests.take(LANE, 1, "w1")] == [first]
    assert [store.requests.claimed_by(i) for i in (stale, first, second)] == [None, "w1", None]


def test_requests_whose_caller_gave_up_are_dropped(store):
    stale, fresh = queued(store, deadline=time.time() - 1), queued(store, deadline=time.time() + 60)
    assert [r.request_id for r in store.requests.take(LANE, 10, "w1")] == [fresh]
    assert store.requests.claimed_by(stale) is None


def test_one_reply_per_request_in_one_round_trip_ends_the_claims(store):
    first, second = queued(store, kind="predict"), queued(store, kind="predict")
    store.requests.take(LANE, 10, "w1")
    store.requests.reply([(first, pb.WorkerReply(payload=b"1")), (second, pb.WorkerReply(error_code="NOT_FOUND"))])
    assert store.requests.reply_within(first, 1).payload == b"1"
    assert store.requests.reply_within(second, 1).error_code == "NOT_FOUND"
    assert store.requests.claimed_by(first) is None and store.requests.leftovers(first) == 0


def test_ask_queues_and_waits_in_one_round_trip(store):
    request = pb.LaneRequest(request_id=uuid.uuid4().hex, predict=pb.PredictRequest(model_id="m"))

    def worker():
        taken = store.requests.take(LANE, 10, "w1")
        store.requests.reply([(taken[0].request_id, pb.WorkerReply(payload=b"ok"))])

    thread = threading.Thread(target=worker)
    thread.start()
    reply = store.requests.ask(LANE, request) or store.requests.reply_within(request.request_id, 1)
    thread.join()
    assert reply.payload == b"ok"


def test_open_requests_and_pending_chunks(store):
    first, second = stream(store, window=4), queued(store, window=2)
    assert store.requests.open_requests() == {first, second}
    store.requests.push_chunk(first, b"a", idle_seconds=5)
    store.requests.push_chunk(first, memoryview(b"--b--")[2:3], idle_seconds=5)
    assert store.requests.pending_chunks(first) == 2
    entries = store.requests.take_chunks(first, "0-0", block_ms=100)
    assert [data for _, _, data in entries] == [b"a", b"b"] and store.requests.pending_chunks(first) == 0
    store.requests.close(first)
    store.requests.close(second)
    assert store.requests.open_requests() == set()


def test_chunk_stream_holds_at_most_window_chunks(store):
    request_id = stream(store, window=3)
    pushed = []

    def writer():
        for i in range(10):
            store.requests.push_chunk(request_id, b"x%d" % i, idle_seconds=30)
            pushed.append(i)
        store.requests.end_chunks(request_id)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=1.5)
    assert pushed == [0, 1, 2] and store.requests.pending_chunks(request_id) == 3
    received, after = [], "0-0"
    while not received or received[-1][1] != "end":
        entries = store.requests.take_chunks(request_id, after, block_ms=1000)
        received += entries
        after = entries[-1][0] if entries else after
    thread.join()
    assert [data for _, kind, data in received if kind == "pb"] == [b"x%d" % i for i in range(10)]
    store.requests.close(request_id)
    assert store.requests.leftovers(request_id) == 0


def test_cancel_while_the_writer_runs_leaves_clearing_to_the_writer(store):
    request_id = stream(store, window=1)
    store.requests.start_stream(request_id)
    store.requests.push_chunk(request_id, b"first", idle_seconds=30)
    stopped = threading.Event()

    def writer():
        try:
            store.requests.push_chunk(request_id, b"second", idle_seconds=30)  # no credit left: waits
        except Cancelled:
            stopped.set()
            store.requests.close(request_id)  # what lenet_workers.serving does

    thread = threading.Thread(target=writer)
    thread.start()
    store.requests.cancel(request_id)
    thread.join(5)
    assert stopped.is_set() and store.requests.leftovers(request_id) == 0
    assert request_id not in store.requests.open_requests()


def test_cancel_after_the_writer_ended_clears_at_once(store):
    request_id = stream(store, window=2)
    store.requests.push_chunk(request_id, b"only", idle_seconds=30)
    store.requests.end_chunks(request_id)
    assert store.requests.claimed_by(request_id) is None and store.requests.leftovers(request_id) == 2
    store.requests.cancel(request_id)
    assert store.requests.leftovers(request_id) == 0


def test_a_cancelled_request_never_starts_and_a_stalled_reader_is_given_up(store):
    request_id = queued(store, window=1)
    store.requests.cancel(request_id)                 # the caller left while it waited on the lane
    store.requests.take(LANE, 10, "w1")
    with pytest.raises(Cancelled):
        store.requests.start_stream(request_id)
    assert store.requests.leftovers(request_id) == 0

    stalled = stream(store, window=1)
    store.requests.push_chunk(stalled, b"first", idle_seconds=30)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        store.requests.push_chunk(stalled, b"second", idle_seconds=1.5)
    assert time.monotonic() - started >= 1.4          # it waited for the idle bound, no less
