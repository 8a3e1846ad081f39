"""Redis Sentinel failover under load, on one stack with a replicated Redis (a primary, a replica, three sentinels
that promote the replica 1 s after the primary stops answering) and a 3 s heartbeat, so a worker wrongly taken for
lost would be taken over within seconds.

The replica killed: reads, Predict and running jobs go on; a write the caller must be told succeeded fails within
the durability timeout with UNAVAILABLE naming the replica wait, and works again once the replica is back. The
primary SIGKILLed during a training job, under Predict load and with an Inspect stream open: the sentinels promote
the replica, every process finds it, the job completes with each epoch once and is never taken over, Predict
fails only inside the failover window (printed) and only with UNAVAILABLE, the open stream ends with UNAVAILABLE or
completes, nothing acknowledged is missing afterwards and the workers stay visible."""
import threading
import time

import grpc
import numpy as np
import pytest
from lenet_cli import until

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store

HEARTBEAT = 3
DOWN_AFTER_MS = 1000
DURABLE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def ha(settings, tmp_path_factory):
    fast = settings.model_copy(update={"heartbeat_seconds": HEARTBEAT, "recovery_seconds": 1,
                                       "durable_timeout_seconds": DURABLE_TIMEOUT})
    with Stack(fast, workers=1, ha=True, down_after_ms=DOWN_AFTER_MS,
               log_dir=str(tmp_path_factory.mktemp("failover-logs"))) as stack, \
            LenetClient(stack.address, timeout=30) as client:
        small = client.wait(client.train(epochs=1, limit=500, eval_limit=100, init_scale=0.07).id)
        assert small.state == pb.SUCCEEDED, small.error
        store = Store(stack.where(), heartbeat_seconds=HEARTBEAT)
        yield stack, client, small.model_id, store
        store.close()


def a_one() -> np.ndarray:
    digits = np.zeros((1, 28, 28), np.uint8)
    digits[0, 8:20, 13:15] = 255
    return digits


def test_without_its_replica_the_service_goes_on_and_acknowledged_writes_say_why_they_fail(ha):
    stack, client, model_id, store = ha
    replica = next(server for server in stack.redis.servers if server is not stack.redis.current_primary())
    replica.kill()
    assert client.predict(model_id, a_one())[0].shape == (1, 10)
    assert client.model(model_id).id == model_id
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        client.train(epochs=1, limit=200, eval_limit=100, idempotency_key="without-replica")
    took = time.monotonic() - started
    print(f"\nno replica: SubmitTraining refused after {took:.2f} s (LENET_DURABLE_TIMEOUT_SECONDS "
          f"{DURABLE_TIMEOUT:g})")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "replica" in refused.value.details() and "WAIT" in refused.value.details(), refused.value.details()
    queued = client.jobs(limit=1)[0]                         # on the primary all the same: it runs
    assert client.wait(queued.id).state == pb.SUCCEEDED
    stack.redis.rejoin(replica)
    again = client.train(epochs=1, limit=200, eval_limit=100, idempotency_key="without-replica")
    assert again.id == queued.id                           # the same key confirms the same job


class PredictLoad:
    """Predict calls one after another in a thread: when each failed, and with which code."""

    def __init__(self, client: LenetClient, model_id: str):
        self.client, self.model_id = client, model_id
        self.ok, self.failures, self.answered = 0, [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.predict(self.model_id, a_one())
                self.ok += 1
                self.answered.append(time.monotonic())
            except grpc.RpcError as error:
                self.failures.append((time.monotonic(), error.code()))
                time.sleep(0.05)

    def end(self) -> None:
        self.stop.set()
        self.thread.join(60)


def test_the_primary_killed_under_training_predict_and_inspect(ha):
    stack, client, model_id, store = ha
    with LenetClient(stack.address, timeout=10) as caller:   # Predict: a bounded wait per call
        acknowledged = [client.train(epochs=1, limit=200, eval_limit=100).id,
                        client.evaluate(model_id, limit=500).id]
        job = client.train(epochs=3, limit=2000, eval_limit=200)
        acknowledged.append(job.id)
        until(lambda: client.job(job.id).state == pb.RUNNING, 60)
        running = client.job(job.id)
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "batch":
                break
        load = PredictLoad(caller, model_id)
        stream_end = []

        def read_slowly() -> None:
            try:
                for _ in caller.inspect_chunks(model_id, range(2000), layers=["Conv1"], batch_size=50):
                    time.sleep(0.05)
                stream_end.append("completed")
            except grpc.RpcError as error:
                stream_end.append(error.code())
        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        until(lambda: load.ok > 5, 30)

        old = stack.redis.current_primary()
        store.primary_seconds()                             # the store has seen this primary
        old.kill()
        killed = time.monotonic()
        new = stack.redis.wait_failover(old)
        promoted = time.monotonic() - killed
        with new.client() as server:                        # only just primary, however long up: no takeover yet
            seen = store.primary_seconds()
            assert seen < HEARTBEAT and seen < server.info("server")["uptime_in_seconds"]
        stack.redis.rejoin(old)                             # as a restarted container comes back: as a replica
        served = until(lambda: load.ok > 0 and load.failures and load.failures[-1][0] < time.monotonic() - 3, 60)
        load.end()
        reader.join(120)

        last = load.failures[-1][0] if load.failures else killed
        window = min(t for t in load.answered if t > last) - killed
        print(f"\nfailover: sentinels promoted the replica {promoted:.2f} s after the kill; Predict failed "
              f"{len(load.failures)} time(s) and answered again {window:.2f} s after the kill (down-after "
              f"{DOWN_AFTER_MS / 1000:g} s; goal ≤ {DOWN_AFTER_MS / 1000 + 2:g} s); {load.ok} answered; "
              f"the open Inspect stream: {stream_end}")
        assert served, "Predict did not answer again after the failover"
        assert {code for _, code in load.failures} <= {grpc.StatusCode.UNAVAILABLE}
        assert stream_end and stream_end[0] in ("completed", grpc.StatusCode.UNAVAILABLE)
        assert caller.inspect(model_id, [0], layers=["Conv1"])["Conv1"].shape == (1, 20, 24, 24)

        done = client.wait(job.id)
        assert done.state == pb.SUCCEEDED, done.error
        assert done.attempts == running.attempts == 1 and done.worker == running.worker   # never taken over
        history = [metrics.epoch for metrics in client.model(done.model_id).history]
        assert history == [1, 2, 3]
        epochs = [e.epoch.epoch for e in store.events.read(job.id, count=100_000) if e.WhichOneof("kind") == "epoch"]
        assert len(epochs) == len(set(epochs)), epochs       # none twice (one written in the outage may be missing)
        for job_id in acknowledged:                         # nothing acknowledged before the kill is missing
            assert client.wait(job_id).state == pb.SUCCEEDED
        assert client.model(model_id).id == model_id
        assert sorted(w.lane for w in store.workers.alive()) == ["cpu.serve", "cpu.train"]
        after = client.train(epochs=1, limit=200, eval_limit=100)
        assert client.wait(after.id).state == pb.SUCCEEDED   # and the new replica confirms new writes
