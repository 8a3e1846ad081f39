"""A gateway with no live worker answers synchronous requests at once with UNAVAILABLE; jobs still queue."""
import grpc
import numpy as np
import pytest

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store


@pytest.fixture(scope="module")
def idle_stack(settings, tmp_path_factory):
    with Stack(settings, workers=0, log_dir=str(tmp_path_factory.mktemp("idle-logs"))) as stack:
        yield stack


def test_predict_without_workers_is_unavailable_and_jobs_wait(idle_stack):
    store = Store(idle_stack.redis_url)
    model = store.models.save(pb.Model(name="orphan", device=pb.CPU), "{}", b"", pb.Graph())
    with LenetClient(idle_stack.address, timeout=30) as client:
        with pytest.raises(grpc.RpcError) as caught:
            client.predict(model.id, np.zeros((1, 28, 28), np.uint8))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE and "lenet worker" in caught.value.details()
        job = client.evaluate(model.id, limit=10)
        assert client.job(job.id).state == pb.QUEUED and job.queue == "cpu.serve"
