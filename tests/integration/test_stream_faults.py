"""Long streams under faults, on a stack of its own (one worker node, a 3 s idle bound and heartbeat): readers
that stall, a gateway that dies under open streams, a serving worker that dies mid-stream, and one client that
opens more streams than it may, while others' calls keep answering."""
import os
import signal
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store

IDLE = 3


@pytest.fixture(scope="module")
def faulty(settings, tmp_path_factory):
    env = {"LENET_STREAM_IDLE_SECONDS": str(IDLE), "LENET_HEARTBEAT_SECONDS": "3", "LENET_RECOVERY_SECONDS": "1",
           "LENET_MAX_STREAMS_PER_CLIENT": "8"}
    with Stack(settings, workers=1, log_dir=str(tmp_path_factory.mktemp("stream-faults")), env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def model_id(faulty):
    with LenetClient(faulty.address, timeout=120) as client:
        job = client.wait(client.train(epochs=1, limit=500, eval_limit=100).id)
    assert job.state == pb.SUCCEEDED, job.error
    return job.model_id


def stalled_stream(address: str, model_id: str, shared_memory: bool = False):
    """An Inspect stream of many samples whose reader takes one chunk and then nothing (it keeps the client);
    with `shared_memory`, the worker then waits for the ring's slots, not for gRPC's flow control."""
    client = LenetClient(address)
    chunks = client.inspect_chunks(model_id, limit=2000, shared_memory=shared_memory)
    next(chunks)
    return client, chunks


def inspect_one(address: str, model_id: str) -> dict:
    with LenetClient(address, timeout=IDLE + 60) as client:
        return client.inspect(model_id, [0], layers=["SoftM"])


@pytest.mark.parametrize("shared_memory", [False, True], ids=["rows in the chunks", "rows in shared memory"])
def test_stalled_readers_free_the_worker_after_the_idle_bound(faulty, model_id, shared_memory):
    store = Store(faulty.redis_url)
    before = store.requests.open_requests()
    stalled = [stalled_stream(faulty.address, model_id, shared_memory) for _ in range(2)]  # the worker's 2 slots
    open_ids = store.requests.open_requests() - before
    assert len(open_ids) == 2
    with LenetClient(faulty.address, timeout=30) as client:                 # Predict is not held up meanwhile
        digits, _ = client.samples([0, 1])
        assert client.predict(model_id, digits)[0].shape == (2, 10)
    started = time.monotonic()
    assert inspect_one(faulty.address, model_id)["SoftM"].shape == (1, 10)  # waits for a slot to free up
    print(f"a third stream was served {time.monotonic() - started:.1f} s after two readers stalled "
          f"(idle bound {IDLE} s)")
    for request_id in open_ids:                                             # the worker cleared what it gave up
        assert _eventually(lambda r=request_id: store.requests.leftovers(r) <= 1, IDLE + 10)
    for client, chunks in stalled:
        chunks.close()
        client.close()


@pytest.mark.parametrize("shared_memory", [False, True], ids=["rows in the chunks", "rows in shared memory"])
def test_a_dead_gateway_under_open_streams_frees_the_worker(faulty, model_id, shared_memory):
    stalled = [stalled_stream(faulty.address, model_id, shared_memory) for _ in range(2)]
    faulty.gateway.send_signal(signal.SIGKILL)
    faulty.gateway.wait()
    faulty.restart_gateway()
    for client, chunks in stalled:
        with pytest.raises(grpc.RpcError) as caught:
            list(chunks)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        client.close()
    assert inspect_one(faulty.address, model_id)["SoftM"].shape == (1, 10)


def test_one_client_cannot_hold_every_stream_and_others_still_answer(faulty):
    with LenetClient(faulty.address, timeout=30) as busy, LenetClient(faulty.address, timeout=30) as other:
        job = busy.train(epochs=1, limit=100, device="gpu")       # no GPU worker: queued, so its watch stays open
        calls = [busy.stub.WatchJob(pb.WatchJobRequest(job_id=job.id)) for _ in range(64)]
        codes = []

        def first_event(call):
            try:
                next(call)
                codes.append("open")
            except grpc.RpcError as error:
                codes.append(error.code())

        threads = [threading.Thread(target=first_event, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert codes.count("open") == 8 and codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 56
        assert other.job(job.id).state == pb.QUEUED
        with grpc.insecure_channel(faulty.address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        for call in calls:
            call.cancel()
        busy.cancel(job.id)


def test_a_worker_dying_mid_stream_ends_the_stream_with_unavailable(faulty, model_id):
    """Last in this module: the node goes down with its serving process."""
    store = Store(faulty.redis_url)
    before = store.requests.open_requests()
    client, chunks = stalled_stream(faulty.address, model_id)
    (request_id,) = store.requests.open_requests() - before
    holder = store.requests.claimed_by(request_id)
    serving = next(worker for worker in store.workers.alive() if worker.name == holder)
    os.kill(serving.pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        list(chunks)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE and "was lost" in caught.value.details()
    print(f"the stream ended {time.monotonic() - started:.1f} s after its worker died (heartbeat 3 s)")
    client.close()


def _eventually(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
