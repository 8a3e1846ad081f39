"""Inspect's direct answer path on the shared stack (issue 21): chunks relayed worker → gateway over gRPC never
pass through Redis, the gateway's Relay refuses a stream without its request's secret, and a worker that cannot
reach the gateway named in the request answers through Redis instead."""
import grpc
import numpy as np
import pytest

from lenet_clients.client import LenetClient
from lenet_protos.lenet.internal.v1 import relay_pb2
from lenet_services.gateway.relay import REQUEST_ID, SECRET, SERVICE
from lenet_services.store import Store

SEND_CHUNKS = f"/{SERVICE.full_name}/SendChunks"
LIMIT = 300   # all layers of 300 images: about 42 MB of tensor data


@pytest.fixture(scope="module")
def model_id(trained_model) -> str:
    return trained_model.model_id


@pytest.fixture(scope="module")
def store(stack):
    store = Store(stack.redis_url)
    yield store
    store.close()


def redis_input_bytes(store: Store) -> int:
    return store.redis.info("stats")["total_net_input_bytes"]


def send_chunks(address: str, metadata: list[tuple[str, str]]) -> grpc.RpcError:
    """A SendChunks call carrying one chunk and the end, as a worker sends them; returns how it was refused."""
    with grpc.insecure_channel(address) as channel:
        call = channel.stream_unary(SEND_CHUNKS, response_deserializer=relay_pb2.Relayed.FromString)
        with pytest.raises(grpc.RpcError) as refused:
            call(iter([b"\n\x05Conv1", b""]), metadata=metadata, timeout=30)
    return refused.value


def test_relayed_chunks_never_pass_through_redis(client, store, model_id):
    before = redis_input_bytes(store)
    layers = client.inspect(model_id, limit=LIMIT)
    sent = sum(array.nbytes for array in layers.values())
    assert layers["Conv1"].shape == (LIMIT, 20, 24, 24) and sent > 40e6
    assert redis_input_bytes(store) - before < sent / 20   # requests, claims and heartbeats only


def test_the_relay_refuses_a_stream_without_its_requests_secret(stack, client, store, model_id):
    refused = send_chunks(stack.address, [])
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    before = store.requests.open_requests()
    chunks = client.inspect_chunks(model_id, limit=2000)   # a request the gateway expects a relay stream for
    first, _ = next(chunks)
    (request_id,) = store.requests.open_requests() - before
    refused = send_chunks(stack.address, [(REQUEST_ID, request_id), (SECRET, "0" * 32)])   # not its secret
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    rest = list(chunks)                                     # the real stream goes on unharmed
    assert first.layer == "Conv1" and sum(c.sample_count for c, _ in rest if c.layer == "SoftM") == 2000


def test_a_worker_that_cannot_reach_the_gateway_answers_through_redis(stack, client, store, model_id):
    expected = client.inspect(model_id, limit=LIMIT, layers=["Pool2", "SoftM"])
    with stack.another_gateway({"LENET_RELAY_ADDRESS": "127.0.0.1:1"}, insecure_dev=True) as address, \
            LenetClient(address, timeout=120) as unreachable:     # names a port nobody listens on
        before = redis_input_bytes(store)
        layers = unreachable.inspect(model_id, limit=LIMIT, layers=["Pool2", "SoftM"])
        assert redis_input_bytes(store) - before > layers["Pool2"].nbytes   # the chunks went through Redis
    for name in ("Pool2", "SoftM"):
        np.testing.assert_array_equal(layers[name], expected[name])
