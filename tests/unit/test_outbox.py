"""A worker's outbox against a real redis-server killed and started again: what it could not write is written
after the restart, in order and once, its batch events thinned beyond the bound, its epochs all kept."""
import pytest
from lenet_cli import stream_order

from lenet_protos.contract import BATCH_EVENTS_KEPT
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import Store, Unavailable
from lenet_services.store.redis_server import RedisServer
from lenet_workers.outbox import Outbox

BATCHES = 150   # per epoch


def batch(epoch: int, number: int) -> pb.JobEvent:
    return pb.JobEvent(batch=pb.BatchProgress(epoch=epoch, batch=number, batches_per_epoch=BATCHES))


def epoch_end(epoch: int) -> tuple[pb.JobEvent, tuple]:
    figures = pb.TrainMetrics(epoch=epoch)
    return pb.JobEvent(epoch=figures), (pb.TrainingCheckpoint(epoch=epoch, history=[figures]), b"p%d" % epoch)


def test_an_outage_keeps_every_epoch_in_order_and_thins_only_batches():
    with RedisServer(append_only=True) as server:
        store = Store(server.url)
        job = store.jobs.create(pb.Job(kind=pb.TRAIN, queue="cpu.train"))[0]
        store.jobs.transition(job.id, pb.RUNNING)
        store.leases.take(job.id, "w1", 600)
        store.redis.config_set("appendfsync", "always")        # nothing acknowledged is lost with the kill
        outbox = Outbox(store, job.id, "w1")
        outbox.tell(batch(1, 1))
        server.kill()
        for epoch in (1, 2, 3):
            for number in range(2 if epoch == 1 else 1, BATCHES + 1):
                outbox.tell(batch(epoch, number))
            outbox.tell(*epoch_end(epoch))
        with pytest.raises(Unavailable):
            outbox.flush()
        server.start()
        outbox.flush()
        outbox.flush()                                          # nothing left: nothing told twice
        assert not outbox.pending
        events = store.events.read(job.id, count=10_000)
        told = [(e.batch.epoch, e.batch.batch) if e.WhichOneof("kind") == "batch" else ("epoch", e.epoch.epoch)
                for e in events if e.WhichOneof("kind") in ("batch", "epoch")]
        epochs = [item[1] for item in told if item[0] == "epoch"]
        assert epochs == [1, 2, 3]
        batches = [item for item in told if item[0] != "epoch"]
        assert batches == sorted(set(batches)), "batch events out of order or told twice"
        assert len(batches) <= BATCH_EVENTS_KEPT + 1 < 3 * BATCHES
        assert all((epoch, BATCHES) in batches for epoch in (1, 2, 3)), "an epoch's last batch was thinned out"
        assert told.index(("epoch", 1)) < told.index((2, BATCHES)) < told.index(("epoch", 2))
        assert store.jobs.get(job.id).metrics.epoch == 3
        assert store.checkpoints.get(job.id)[1] == b"p3"
        assert [e.id for e in events] == sorted((e.id for e in events), key=stream_order)
        store.close()
