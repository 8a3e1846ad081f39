"""A gateway started with $LENET_TOKENS: calls need a known bearer token; only a job's owner may cancel it."""
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.client import LenetClient
from protos.lenet.v1 import lenet_pb2 as pb
from services.stack import Stack


@pytest.fixture(scope="module")
def secured(settings, tmp_path_factory):
    env = {"LENET_TOKENS": "alice:alice-secret,bob:bob-secret"}
    with Stack(settings, workers=0, log_dir=str(tmp_path_factory.mktemp("auth-logs")), env=env) as stack:
        yield stack


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def test_calls_need_a_known_token(secured):
    with LenetClient(secured.address, timeout=30, token="") as anonymous, \
            LenetClient(secured.address, timeout=30, token="forged") as forger:
        assert code_of(lambda: anonymous.jobs()) == grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: forger.train(epochs=1, device="gpu")) == grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: list(forger.watch("x"))) == grpc.StatusCode.UNAUTHENTICATED
    with grpc.insecure_channel(secured.address) as channel:          # health stays open for probes
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_only_the_owner_cancels(secured):
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice, \
            LenetClient(secured.address, timeout=30, token="bob-secret") as bob:
        job = alice.train(epochs=1, limit=100, device="gpu")      # no GPU worker: it stays queued
        assert job.owner == "alice" and bob.job(job.id).owner == "alice"
        assert code_of(lambda: bob.cancel(job.id)) == grpc.StatusCode.PERMISSION_DENIED
        assert alice.job(job.id).state == pb.QUEUED
        assert alice.cancel(job.id).state == pb.CANCELLED


def test_idempotency_keys_are_per_owner(secured):
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice, \
            LenetClient(secured.address, timeout=30, token="bob-secret") as bob:
        first = alice.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly")
        assert alice.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly").id == first.id
        other = bob.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly")
        assert other.id != first.id and other.owner == "bob"
        alice.cancel(first.id)
        bob.cancel(other.id)
