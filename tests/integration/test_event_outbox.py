"""Redis killed while a training job runs, across the end of an epoch, then started again: the worker keeps the
events it could not write and writes them, in order, when Redis is back, so WatchJob's replay has every epoch
once and every batch event once, in order, and the model's history matches."""
import re
from pathlib import Path

from lenet_cli import stream_order, until

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store
from lenet_services.store.redis_server import RedisServer

EPOCHS, LIMIT, BATCH = 4, 2000, 100


def epochs_logged(log_dir: Path) -> list[int]:
    """The epochs the training process logged as ended: its log is what can be read while Redis is away."""
    return [int(n) for n in re.findall(r"epoch (\d+): train accuracy", (log_dir / "worker-cpu0.log").read_text())]


def test_events_a_worker_could_not_write_are_written_in_order_once_redis_is_back(settings, tmp_path):
    with RedisServer(append_only=True) as redis_server, \
            Stack(settings, workers=1, redis_url=redis_server.url, log_dir=str(tmp_path)) as stack, \
            LenetClient(stack.address, timeout=30) as client:
        store = Store(redis_server.url)
        store.redis.config_set("appendfsync", "always")   # the kill loses nothing Redis acknowledged
        job = client.train(epochs=EPOCHS, limit=LIMIT, eval_limit=200, batch_size=BATCH)
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "batch" and event.batch.epoch == 2:
                break
        redis_server.kill()
        assert until(lambda: 2 in epochs_logged(tmp_path), 120), "epoch 2 did not end while Redis was away"
        redis_server.start()
        assert client.wait(job.id).state == pb.SUCCEEDED
        events = list(client.watch(job.id))                # the replay, from the first event
        epochs = [e.epoch.epoch for e in events if e.WhichOneof("kind") == "epoch"]
        assert epochs == list(range(1, EPOCHS + 1)), f"epoch events {epochs}"
        batches = [(e.batch.epoch, e.batch.batch) for e in events if e.WhichOneof("kind") == "batch"]
        per_epoch = LIMIT // BATCH
        assert batches == [(epoch, n) for epoch in range(1, EPOCHS + 1) for n in range(10, per_epoch + 1, 10)]
        assert [e.id for e in events] == sorted((e.id for e in events), key=stream_order)
        assert [e.state.state for e in events if e.WhichOneof("kind") == "state"] == \
            [pb.QUEUED, pb.RUNNING, pb.SUCCEEDED]
        model = client.model(client.job(job.id).model_id)
        assert [m.epoch for m in model.history] == epochs
        assert [m.test_accuracy for m in model.history] == \
            [e.epoch.test_accuracy for e in events if e.WhichOneof("kind") == "epoch"]
        log = (tmp_path / "worker-cpu0.log").read_text()
        assert "keeping the job's events until it answers" in log and "kept events are written" in log
        store.close()

