"""The whole service end to end: real redis-server, real Celery worker processes, real gRPC gateway."""
import os
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from lenet_clients.client import DigitWarning
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import Store


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_small_training_succeeds_with_model_in_store(client, trained_model):
    job = trained_model
    assert job.state == pb.SUCCEEDED, job.error
    assert job.queue == "cpu.train" and job.attempts == 1
    assert job.metrics.epoch == 1 and job.metrics.test_accuracy >= 0.85
    model = client.model(job.model_id)
    assert model.train_samples == 2000 and model.hyper_parameters.epochs == 1
    assert model.hyper_parameters.learning_rate == pytest.approx(0.05)   # seed defaults filled in
    assert model.metrics.test_accuracy == job.metrics.test_accuracy
    assert model.parameter_count == 431_080
    assert job.model_id in [m.id for m in client.models()]


def test_events_arrive_in_order_and_resume_from_the_middle(client, trained_model):
    events = list(client.watch(trained_model.id))
    kinds = [e.WhichOneof("kind") for e in events]
    states = [e.state.state for e in events if e.WhichOneof("kind") == "state"]
    assert states == [pb.QUEUED, pb.RUNNING, pb.SUCCEEDED]
    assert kinds[-1] == "state" and kinds.count("epoch") == 1
    batches = [e.batch.batch for e in events if e.WhichOneof("kind") == "batch"]
    assert batches == sorted(batches) and batches[-1] == 20          # 2,000 images / batch 100
    ids = [tuple(map(int, e.id.split("-"))) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    middle = len(events) // 2
    resumed = list(client.watch(trained_model.id, after_event_id=events[middle].id))
    assert [e.id for e in resumed] == [e.id for e in events[middle + 1:]]
    assert list(client.watch(trained_model.id, after_event_id=events[-1].id)) == []


def test_cancel_ends_a_running_job(client):
    job = client.train(epochs=3, limit=20000, eval_limit=500)
    for event in client.watch(job.id):
        if event.WhichOneof("kind") == "batch":
            break
    client.cancel(job.id)
    finished = client.wait(job.id)
    assert finished.state == pb.CANCELLED and finished.cancel_requested
    assert not finished.model_id
    error = rpc_error(lambda: client.cancel(job.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_cancel_ends_a_running_evaluation_before_its_end(client, trained_model):
    """60,000 images: many slices of 500, with a cancel check before each."""
    job = client.evaluate(trained_model.model_id, split="train")
    for event in client.watch(job.id):
        if event.WhichOneof("kind") == "state" and event.state.state == pb.RUNNING:
            break
    client.cancel(job.id)
    finished = client.wait(job.id)
    assert finished.state == pb.CANCELLED and finished.cancel_requested and not finished.accuracy
    error = rpc_error(lambda: client.evaluation(job.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_cancel_during_the_end_of_epoch_evaluation_ends_it_there(client):
    """Scored on all 60,000 training images, the evaluation is long; a cancel sent once it starts must stop it
    before the epoch finishes (a finished epoch would leave an epoch event and metrics)."""
    job = client.stub.SubmitTraining(pb.TrainRequest(
        hyper_parameters=pb.HyperParameters(epochs=2), train_data=pb.Dataset(split="train", limit=300),
        eval_data=pb.Dataset(split="train")), timeout=client.timeout)
    for event in client.watch(job.id):
        if event.WhichOneof("kind") == "evaluating":
            assert event.evaluating.epoch == 1 and event.evaluating.samples == 60_000
            break
    client.cancel(job.id)
    finished = client.wait(job.id)
    assert finished.state == pb.CANCELLED and finished.cancel_requested
    kinds = [event.WhichOneof("kind") for event in client.watch(job.id)]
    assert "evaluating" in kinds and "epoch" not in kinds
    assert not finished.metrics.epoch and not finished.model_id


def test_bad_field_is_invalid_argument_naming_it(client):
    error = rpc_error(lambda: client.train(epochs=-3))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "hyper_parameters.epochs" in error.details()
    error = rpc_error(lambda: client.train(learning_rate=-1))
    assert "hyper_parameters.learning_rate" in error.details()
    error = rpc_error(lambda: client.train(model_name="no spaces please"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "model_name" in error.details()
    error = rpc_error(lambda: client.stub.SubmitTraining(pb.TrainRequest(train_data=pb.Dataset(split="valid"))))
    assert "train_data.split" in error.details()


def test_unknown_ids_are_not_found(client):
    for call in (lambda: client.job("deadbeefdeadbeef"), lambda: client.model("feedfacefeedface"),
                 lambda: list(client.watch("deadbeefdeadbeef")), lambda: client.cancel("deadbeefdeadbeef")):
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "deadbeef" in error.details() or "feedface" in error.details()


def test_idempotent_submit_returns_the_same_job(client):
    first = client.train(epochs=1, limit=100, eval_limit=100, device="gpu", idempotency_key="once")
    again = client.train(epochs=1, limit=100, eval_limit=100, device="gpu", idempotency_key="once")
    assert again.id == first.id
    client.cancel(first.id)


def test_gpu_job_waits_queued_on_the_gpu_queue(stack, client):
    job = client.train(epochs=1, limit=100, device="gpu")
    time.sleep(3)
    waiting = client.job(job.id)
    assert waiting.state == pb.QUEUED and waiting.queue == "gpu.train"
    told = [event.log for event in Store(stack.redis_url).events.read(job.id) if event.WhichOneof("kind") == "log"]
    assert told == ["no gpu.train worker is alive: the job waits on queue gpu.train until one starts"]
    any_device = client.train(epochs=1, limit=100, eval_limit=100, device="any")
    assert any_device.queue == "cpu.train"          # no GPU worker alive: ANY goes to the CPU queue
    assert client.cancel(job.id).state == pb.CANCELLED
    assert client.wait(any_device.id).state == pb.SUCCEEDED


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_gateway_process_has_no_mxnet_but_workers_do(stack, trained_model):
    assert "libmxnet" not in loaded_libraries(stack.gateway.pid)
    workers = Store(stack.redis_url).workers.alive()
    assert sorted(worker.lane for worker in workers) == ["cpu.serve", "cpu.serve", "cpu.train", "cpu.train"]
    assert all("libmxnet" in loaded_libraries(worker.pid) for worker in workers)


def test_health_and_reflection(stack):
    with grpc.insecure_channel(stack.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="lenet.v1.Lenet"), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {service.name for reply in replies for service in reply.list_services_response.service}
        assert {"lenet.v1.Lenet", "inference.GRPCInferenceService", "grpc.health.v1.Health"} <= names
        v1 = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                   reflection_pb2.ServerReflectionRequest.SerializeToString,
                                   reflection_pb2.ServerReflectionResponse.FromString)
        for info in (reflection.ServerReflectionInfo, v1):   # what `grpcurl describe` asks, old and new
            for symbol, method in [("inference.GRPCInferenceService", b"ModelInfer"), ("lenet.v1.Lenet", b"Inspect")]:
                described = info(iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)]))
                files = [file for reply in described for file in reply.file_descriptor_response.file_descriptor_proto]
                assert any(method in file for file in files), symbol


def test_request_paths_never_scan_the_keyspace(stack, client, trained_model):
    """Cost independent of history: no SCAN or KEYS on any request path, however many keys Redis holds."""
    store = Store(stack.redis_url)
    store.redis.config_resetstat()
    job = client.train(epochs=1, limit=100, eval_limit=100, device="gpu")
    client.job(job.id)
    client.jobs(limit=5, kind=pb.TRAIN)
    client.models(limit=5)
    with pytest.warns(DigitWarning, match="image 1 is blank"):
        client.predict(trained_model.model_id, np.zeros((2, 28, 28), np.uint8))
    client.inspect(trained_model.model_id, [0], layers=["SoftM"])
    client.cancel(job.id)
    list(client.watch(job.id))
    client.stub.ListWorkers(pb.ListWorkersRequest(), timeout=30)
    time.sleep(2)                                     # a recovery round and heartbeats happen meanwhile
    called = store.redis.info("commandstats")
    assert "cmdstat_scan" not in called and "cmdstat_keys" not in called, sorted(called)
    store.close()


def test_list_workers_shows_each_lane_and_what_waits(stack, client):
    workers = client.stub.ListWorkers(pb.ListWorkersRequest(), timeout=30)
    assert sorted(w.lane for w in workers.workers) == ["cpu.serve", "cpu.serve", "cpu.train", "cpu.train"]
    assert all(w.pid > 0 and w.host and w.last_seen and w.device == pb.CPU for w in workers.workers)
    cores = len(os.sched_getaffinity(0))   # both processes of a node compute with a thread per core by default
    assert [w.threads for w in workers.workers] == [cores] * 4
    lanes = {lane.name: lane for lane in workers.lanes}
    assert set(lanes) == {"cpu.train", "cpu.serve", "gpu.train", "gpu.serve"}
    assert lanes["cpu.train"].workers == 2 and lanes["gpu.train"].workers == 0
    job = client.train(epochs=1, limit=100, device="gpu")
    lanes = {lane.name: lane for lane in client.stub.ListWorkers(pb.ListWorkersRequest(), timeout=30).lanes}
    assert lanes["gpu.train"].jobs_waiting >= 1
    client.cancel(job.id)
