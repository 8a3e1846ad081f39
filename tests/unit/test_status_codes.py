"""The gateway's one translation of errors to gRPC statuses (status_codes.translated), through a real gRPC server
on loopback: a store that does not answer is UNAVAILABLE "store unavailable: …", a ServiceError keeps its code,
and anything else is a bug: INTERNAL, logged with its traceback, for unary and streaming methods alike."""
import logging
from concurrent import futures

import grpc
import pytest

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_services.errors import NotFound
from lenet_services.gateway.gateway_metrics import GatewayMetrics
from lenet_services.gateway.status_codes import translated
from lenet_services.store import Store
from lenet_services.store.redis_server import free_port


class Gateway(pb_grpc.LenetServicer):
    """GetJob and WatchJob read the job from `store`, or fail with the error their job id names."""

    def __init__(self, store: Store):
        self.store = store

    def GetJob(self, request, context):
        return self.store.jobs.get(request.job_id) if request.job_id == "stored" else fail(request.job_id)

    def WatchJob(self, request, context):
        yield pb.JobEvent(id="1-0")
        yield from self.store.events.read(request.job_id) if request.job_id == "stored" else fail(request.job_id)


def fail(name: str):
    raise {"missing": NotFound("job 'missing' not found"), "bug": KeyError("lane")}[name]


@pytest.fixture(scope="module")
def stub():
    store = Store(f"redis://127.0.0.1:{free_port()}/0")   # nothing listens there: every call is refused
    gateway, metrics = Gateway(store), GatewayMetrics(store)
    gateway.GetJob = translated(gateway.GetJob, False, metrics)
    gateway.WatchJob = translated(gateway.WatchJob, True, metrics)
    server = grpc.server(futures.ThreadPoolExecutor(2))
    pb_grpc.add_LenetServicer_to_server(gateway, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.LenetStub(channel)
    server.stop(0)
    store.close()


@pytest.mark.parametrize("job_id, code, message", [
    ("stored", grpc.StatusCode.UNAVAILABLE, "store unavailable: "),
    ("missing", grpc.StatusCode.NOT_FOUND, "job 'missing' not found"),
    ("bug", grpc.StatusCode.INTERNAL, "internal error: KeyError: 'lane'"),
])
def test_errors_become_statuses_in_unary_and_streaming_calls(stub, caplog, job_id, code, message):
    for call in (lambda: stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=30),
                 lambda: list(stub.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=30))):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gateway"), pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == code and caught.value.details().startswith(message)
        tracebacks = [record for record in caplog.records if record.exc_info]
        assert len(tracebacks) == (1 if code == grpc.StatusCode.INTERNAL else 0)
        if tracebacks:
            assert tracebacks[0].exc_info[0] is KeyError
