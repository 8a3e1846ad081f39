"""Redis killed for 10 s under a running 60,000-image training job, then started again, in memory and with an
append-only file: while training, Predict and Inspect answer; while Redis is away, calls fail with UNAVAILABLE
(never UNKNOWN); once it is back, every worker's heartbeat returns within a period, the job is not taken over
while its worker lives, and Predict works again. Each on its own stack with a 3 s heartbeat, so a worker taken
for lost would be taken over within seconds."""
import time

import grpc
import numpy as np
import pytest
from lenet_cli import until

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store
from lenet_services.store.redis_server import RedisServer

HEARTBEAT = 3
OUTAGE = 10


@pytest.fixture(params=[False, True], ids=["in-memory", "append-only"])
def blip(request, settings, tmp_path):
    env = {"LENET_HEARTBEAT_SECONDS": str(HEARTBEAT), "LENET_RECOVERY_SECONDS": "1"}
    with RedisServer(append_only=request.param) as redis_server, \
            Stack(settings, workers=1, redis_url=redis_server.url, log_dir=str(tmp_path), env=env) as stack:
        yield redis_server, stack, request.param


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def test_a_redis_restart_under_a_long_training_job(blip):
    redis_server, stack, persistent = blip
    store = Store(redis_server.url, heartbeat_seconds=HEARTBEAT)
    digits = np.zeros((1, 28, 28), np.uint8)
    digits[0, 8:20, 13:15] = 255                                # a "1"
    with LenetClient(stack.address, timeout=30) as client:
        small = client.wait(client.train(epochs=1, limit=500, eval_limit=100).id)
        assert small.state == pb.SUCCEEDED, small.error
        symbol, params = store.models.files(small.model_id)
        job = client.train(epochs=3, eval_limit=1000)           # all 60,000 training images per epoch
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "batch":
                break
        # The training lane is busy; the serve lane answers.
        for _ in range(20):
            probabilities, _ = client.predict(small.model_id, digits)
            assert probabilities.shape == (1, 10)
        assert client.inspect(small.model_id, [0])["Conv1"].shape == (1, 20, 24, 24)
        running = client.job(job.id)
        assert running.state == pb.RUNNING and running.attempts == 1

        redis_server.kill()
        assert code_of(lambda: client.job(job.id)) == grpc.StatusCode.UNAVAILABLE
        assert code_of(lambda: client.predict(small.model_id, digits)) == grpc.StatusCode.UNAVAILABLE
        time.sleep(OUTAGE)
        redis_server.start()

        lanes = until(lambda: sorted(w.lane for w in store.workers.alive()) == ["cpu.serve", "cpu.train"],
                      HEARTBEAT + 5)
        assert lanes, "the workers' heartbeats did not come back"
        if persistent:
            time.sleep(2 * HEARTBEAT)                           # time enough for a wrong takeover
            after = client.job(job.id)
            assert after.state == pb.RUNNING and after.attempts == 1 and after.worker == running.worker
            events = store.events.read(job.id, count=100_000)
            assert not any("lost" in e.log for e in events if e.WhichOneof("kind") == "log")
            newer = until(lambda: [e for e in store.events.read(job.id, after=events[-1].id)
                                   if e.WhichOneof("kind") == "batch"], 60)
            assert newer, "training made no progress after the restart"
            client.cancel(job.id)
            assert client.wait(job.id).state == pb.CANCELLED
            model_id = small.model_id
        else:                                                   # the records are gone; the worker went on
            assert code_of(lambda: client.job(job.id)) == grpc.StatusCode.NOT_FOUND
            assert all(process.poll() is None for process in stack.workers)
            model_id = store.models.save(pb.Model(name="again", device=pb.CPU), symbol, params, pb.Graph()).id
        probabilities, labels = until(lambda: _predicted(client, model_id, digits), 10)
        assert probabilities.shape == (1, 10)
    store.close()


def _predicted(client, model_id, digits):
    try:
        return client.predict(model_id, digits)
    except grpc.RpcError:
        return None

