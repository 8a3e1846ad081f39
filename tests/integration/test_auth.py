"""A gateway started with LENET_TOKENS: calls need a known bearer token; each user sees and touches only their
own jobs and models (others' are NOT_FOUND, as if absent), admins see all, and models can be shared read-only.
A gateway without tokens refuses to open such a store unless told --insecure-dev."""
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lenet_cli import LENET, gateway, run, stopped, strict_json, succeeded

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store
from lenet_services.store.redis_server import free_port


@pytest.fixture(scope="module")
def secured(settings, tmp_path_factory):
    env = {"LENET_TOKENS": "alice:alice-secret,bob:bob-secret,ops:ops-secret", "LENET_ADMINS": "ops"}
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


def test_another_owners_jobs_and_models_are_not_found(secured):
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice, \
            LenetClient(secured.address, timeout=30, token="bob-secret") as bob, \
            LenetClient(secured.address, timeout=30, token="ops-secret") as ops:
        job = alice.train(epochs=1, limit=100, device="gpu")      # no GPU worker: it stays queued
        model = Store(secured.redis_url).models.save(pb.Model(name="alices", owner="alice", device=pb.CPU), "{}",
                                                     b"", pb.Graph())
        for call in (lambda: bob.job(job.id), lambda: bob.cancel(job.id), lambda: list(bob.watch(job.id)),
                     lambda: bob.delete_job(job.id), lambda: bob.evaluation(job.id), lambda: bob.model(model.id),
                     lambda: bob.graph(model.id), lambda: bob.evaluate(model.id), lambda: bob.delete_model(model.id),
                     lambda: bob.export(model.id, "/nonexistent"),
                     lambda: bob.predict(model.id, np.zeros((1, 28, 28), np.uint8)),
                     lambda: bob.inspect(model.id, [0])):
            assert code_of(call) == grpc.StatusCode.NOT_FOUND
        assert bob.jobs() == [] and bob.models() == []
        assert [j.id for j in ops.jobs()] == [job.id] and ops.job(job.id).owner == "alice"
        assert alice.job(job.id).state == pb.QUEUED
        assert alice.cancel(job.id).state == pb.CANCELLED
        shared = alice.stub.ShareModel(pb.ShareModelRequest(model_id=model.id, add=["bob"]), timeout=30)
        assert list(shared.shared_with) == ["bob"] and bob.model(model.id).owner == "alice"
        assert code_of(lambda: bob.delete_model(model.id)) == grpc.StatusCode.PERMISSION_DENIED


def test_idempotency_keys_are_per_owner(secured):
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice, \
            LenetClient(secured.address, timeout=30, token="bob-secret") as bob:
        first = alice.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly")
        assert alice.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly").id == first.id
        other = bob.train(epochs=1, limit=100, device="gpu", idempotency_key="nightly")
        assert other.id != first.id and other.owner == "bob"
        alice.cancel(first.id)
        bob.cancel(other.id)


def test_a_gateway_without_tokens_will_not_open_a_store_of_token_users(secured):
    """The secured stack's store holds owned records: an open gateway on it refuses, unless --insecure-dev."""
    import subprocess

    Store(secured.redis_url).models.save(pb.Model(name="owned", owner="alice", device=pb.CPU), "{}", b"", pb.Graph())
    env = {**secured.env(), "LENET_TOKENS": "", "LENET_HTTP_PORT": str(free_port())}   # not 8000: it may be taken
    refused = subprocess.run([LENET, "gateway", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "LENET_TOKENS" in refused.stderr and "--insecure-dev" in refused.stderr
    assert "Traceback" not in refused.stderr
    stopped(gateway(env, 0, "--insecure-dev"))      # it says it listens


def test_lenet_share_with_a_token(secured):
    model = Store(secured.redis_url).models.save(pb.Model(name="carols", owner="alice", device=pb.CPU), "{}", b"",
                                                 pb.Graph())
    shared = run("share", model.id, "--with", "bob", "--token", "alice-secret", "--json", gateway=secured.address)
    assert strict_json(succeeded(shared))["shared_with"] == ["bob"]
    refused = run("share", model.id, "--with", "carol", "--token", "bob-secret", gateway=secured.address)
    assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr and "read-only" in refused.stderr
    stranger = run("share", model.id, "--with", "mallory", "--token", "alice-secret", gateway=secured.address)
    assert stranger.returncode == 1 and stranger.stderr.startswith("lenet: INVALID_ARGUMENT: add: 'mallory'") and \
        "no token" in stranger.stderr


def test_lenet_without_a_token_says_how_to_give_one(secured):
    for done in (run("jobs", gateway=secured.address), run("jobs", "--token", "forged", gateway=secured.address)):
        assert done.returncode == 1 and done.stderr.startswith("lenet: UNAUTHENTICATED: ")
        assert "--token TOKEN or LENET_TOKEN" in done.stderr and done.stderr.count("\n") == 1


def test_names_and_aliases_keep_each_versions_owner(secured):
    """Over gRPC with tokens: a name's versions belong to whoever trained each, NAME resolves among the versions
    the caller may read, and only the owner of the version an alias points at moves it (lenet alias, too)."""
    store = Store(secured.redis_url)
    hers = store.models.save(pb.Model(name="ledger", owner="alice", device=pb.CPU), "{}", b"", pb.Graph())
    his = store.models.save(pb.Model(name="ledger", owner="bob", device=pb.CPU), "{}", b"", pb.Graph())
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice, \
            LenetClient(secured.address, timeout=30, token="bob-secret") as bob:
        assert (hers.version, his.version) == (1, 2)
        assert alice.model("ledger").id == hers.id and bob.model("ledger").id == his.id
        assert alice.set_alias("ledger", "production", 1).aliases == ["production"]
        assert bob.model("ledger").id == his.id                  # he cannot read production: his newest
        assert code_of(lambda: bob.model("ledger@production")) == grpc.StatusCode.NOT_FOUND
        assert code_of(lambda: bob.set_alias("ledger", "production", 2)) == grpc.StatusCode.PERMISSION_DENIED
        assert [m.version for m in bob.models(name="ledger")] == [2]
        moved = run("alias", "set", "ledger", "production", "2", "--token", "bob-secret", gateway=secured.address)
        assert moved.returncode == 1 and "PERMISSION_DENIED" in moved.stderr
        assert code_of(lambda: alice.delete_model("ledger@production")) == grpc.StatusCode.FAILED_PRECONDITION
        assert alice.delete_alias("ledger", "production") == 1
        assert alice.delete_model("ledger/1") == hers.id
