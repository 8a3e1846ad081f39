"""The client library's watch() against a real gRPC server on loopback that answers UNAVAILABLE (as a gateway
does while its store is away): it retries with growing pauses, not hundreds of times a second, and resumes
after the last event once the server answers again."""
import threading
import time
from concurrent import futures

import grpc

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc


class FlakyGateway(pb_grpc.LenetServicer):
    """UNAVAILABLE for the first `outage` seconds, then the job's events after the one asked for."""

    def __init__(self, outage: float):
        self.until, self.calls, self.resumed_after = time.monotonic() + outage, 0, []

    def WatchJob(self, request, context):
        self.calls += 1
        if time.monotonic() < self.until:
            context.abort(grpc.StatusCode.UNAVAILABLE, "store unavailable")
        self.resumed_after.append(request.after_event_id)
        yield pb.JobEvent(id="2-0", job_id=request.job_id, state=pb.StateChange(state=pb.SUCCEEDED))


def test_watch_backs_off_while_unavailable_and_resumes():
    gateway = FlakyGateway(outage=3.0)
    server = grpc.server(futures.ThreadPoolExecutor(4))
    pb_grpc.add_LenetServicer_to_server(gateway, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with LenetClient(f"127.0.0.1:{port}") as client:
            done = []
            thread = threading.Thread(target=lambda: done.extend(client.watch("0123456789abcdef", "1-0")))
            thread.start()
            thread.join(30)
        assert [event.id for event in done] == ["2-0"] and gateway.resumed_after == ["1-0"]
        assert gateway.calls <= 8, f"{gateway.calls} attempts in a 3 s outage: no backoff"
    finally:
        server.stop(0)
