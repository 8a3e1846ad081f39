"""The pieces of the direct answer path within one process: the Mailbox both ends hand chunks over with, the
Relay on a real gRPC server on loopback admitting one stream per request by its secret, and where a gateway tells
workers to reach its Relay."""
import threading
from concurrent import futures

import grpc
import pytest

from lenet_protos.lenet.internal.v1 import relay_pb2
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.gateway.relay import REQUEST_ID, SECRET, SERVICE, Relay, advertised, handler
from lenet_services.mailbox import Ended, Mailbox


def test_a_full_mailbox_makes_the_writer_wait_until_the_reader_takes():
    box = Mailbox(2)
    assert box.put(b"a", 0) and box.put(b"b", 0)
    assert not box.put(b"c", 0.05)                 # full: the writer waits, then gives up at its timeout
    taker = threading.Timer(0.05, box.get, args=(1,))
    taker.start()
    assert box.put(b"c", 5)                        # room once the reader took one
    taker.join()
    assert [box.get(0), box.get(0)] == [b"b", b"c"] and box.get(0.01) is None


def test_an_ended_mailbox_refuses_the_writer_and_drains_for_the_reader():
    box = Mailbox(4)
    box.put(b"a", 0)
    box.end("complete")
    box.end("left")                                # the first reason stays
    with pytest.raises(Ended, match="complete"):
        box.put(b"b", 0)
    assert box.get(0) == b"a"
    with pytest.raises(Ended, match="complete"):
        box.get(None)                              # no wait once ended and empty


def test_a_reader_leaving_wakes_a_waiting_writer_at_once():
    box, raised = Mailbox(1), []
    box.put(b"a", 0)

    def write():
        try:
            box.put(b"b", 30)
        except Ended as ended:
            raised.append(ended.reason)
    writer = threading.Thread(target=write)
    writer.start()
    box.end("left")
    writer.join(5)
    assert raised == ["left"]


@pytest.mark.parametrize("host, route, expected", [
    ("0.0.0.0", ("10.0.0.3", "10.0.0.2"), "10.0.0.3:50051"),      # any interface: the one towards the store
    ("::", ("fd00::3", "fd00::2"), "[fd00::3]:50051"),
    ("0.0.0.0", None, "127.0.0.1:50051"),                         # the store over a Unix socket: this host
    ("127.0.0.1", ("127.0.0.1", "127.0.0.1"), "127.0.0.1:50051"),  # all on one host
    ("127.0.0.1", ("10.0.0.3", "10.0.0.2"), ""),                  # workers elsewhere cannot reach loopback
    ("10.0.0.3", ("10.0.0.3", "10.0.0.2"), "10.0.0.3:50051"),
])
def test_a_gateway_names_the_address_its_workers_reach(host, route, expected):
    assert advertised(host, 50051, route) == expected


@pytest.fixture
def relay():
    relay = Relay()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([handler(relay)])
    relay.address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    yield relay
    server.stop(0)


def send(relay: Relay, request_id: str, secret: str, frames: list[bytes]) -> grpc.StatusCode:
    with grpc.insecure_channel(relay.address) as channel:
        call = channel.stream_unary(f"/{SERVICE.full_name}/SendChunks",
                                    response_deserializer=relay_pb2.Relayed.FromString)
        try:
            call(iter(frames), metadata=[(REQUEST_ID, request_id), (SECRET, secret)], timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()


def test_the_relay_admits_one_stream_per_request_and_only_with_its_secret(relay):
    request = pb.LaneRequest(request_id="r1")
    with relay.expect(request) as expected:
        assert request.relay_address == relay.address and len(request.relay_secret) == 32
        assert send(relay, "r1", "0" * 32, [b"x", b""]) == grpc.StatusCode.PERMISSION_DENIED
        assert send(relay, "r2", request.relay_secret, [b"x", b""]) == grpc.StatusCode.PERMISSION_DENIED
        assert not expected.connected and expected.mailbox.get(0) is None   # nothing was taken from them
        assert send(relay, "r1", request.relay_secret, [b"x", b"y", b""]) == grpc.StatusCode.OK
        assert send(relay, "r1", request.relay_secret, [b"z", b""]) == grpc.StatusCode.PERMISSION_DENIED  # once
        assert [expected.mailbox.get(0), expected.mailbox.get(0)] == [b"x", b"y"]
        with pytest.raises(Ended, match="complete"):
            expected.mailbox.get(0)


def test_a_stream_without_its_empty_end_chunk_is_broken(relay):
    request = pb.LaneRequest(request_id="r3")
    with relay.expect(request) as expected:
        assert send(relay, "r3", request.relay_secret, [b"x"]) == grpc.StatusCode.OK
        assert expected.mailbox.get(0) == b"x"
        with pytest.raises(Ended, match="broken"):
            expected.mailbox.get(0)
    assert send(relay, "r3", request.relay_secret, [b""]) == grpc.StatusCode.PERMISSION_DENIED   # not expected
