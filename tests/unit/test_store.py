"""The store against a real redis-server: job state machine, idempotency, events, request streams."""
import threading
import time

import pytest

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services import errors
from lenet_services.errors import FailedPrecondition, InvalidArgument, NotFound
from lenet_services.store import StopReason, Store, Unavailable
from lenet_services.store.idempotency import Idempotency
from lenet_services.store.models import job_model_id
from lenet_services.store.redis_server import RedisServer


def new_job(store, key="", request=None):
    request = request or pb.TrainRequest()
    return store.jobs.create(pb.Job(kind=pb.TRAIN, queue="cpu", train=request),
                             Idempotency.of("SubmitTraining", key, request))[0]


def test_job_lifecycle_and_illegal_transitions(store):
    job = new_job(store)
    assert job.state == pb.QUEUED and job.created_at
    running = store.jobs.transition(job.id, pb.RUNNING, "go")
    assert running.attempts == 1 and running.started_at
    done = store.jobs.transition(job.id, pb.SUCCEEDED)
    assert done.finished_at
    for state in (pb.QUEUED, pb.RUNNING, pb.FAILED, pb.CANCELLED):
        with pytest.raises(FailedPrecondition, match="SUCCEEDED"):
            store.jobs.transition(job.id, state)
    assert store.jobs.get(job.id).state == pb.SUCCEEDED


def test_queued_job_cannot_jump_to_succeeded(store):
    job = new_job(store)
    with pytest.raises(FailedPrecondition):
        store.jobs.transition(job.id, pb.SUCCEEDED)


def test_unknown_job_is_not_found(store):
    with pytest.raises(NotFound, match="nope"):
        store.jobs.get("nope")


def test_idempotency_key_returns_the_first_job(store):
    first = new_job(store, "retry-me")
    again, created = store.jobs.create(pb.Job(kind=pb.TRAIN), Idempotency.of("SubmitTraining", "retry-me",
                                                                             pb.TrainRequest()))
    assert not created and again.id == first.id
    assert len(store.jobs.page().items) == 1


def test_a_deleted_jobs_idempotency_key_is_free_for_any_request(store):
    first = new_job(store, "retry-me")
    store.jobs.transition(first.id, pb.CANCELLED)
    store.jobs.delete(first.id)
    other = new_job(store, "retry-me", pb.TrainRequest(model_name="another"))
    assert other.id != first.id and store.jobs.get(other.id).train.model_name == "another"


def test_a_sweeps_idempotency_key_returns_the_first_sweep_until_it_is_deleted(store):
    def submit(seed: int) -> tuple[pb.Sweep, bool]:
        request = pb.SweepRequest(seed=seed, idempotency_key="retry-me")
        return store.sweeps.create(pb.Sweep(request=request), Idempotency.of("SubmitSweep", "retry-me", request))

    (first, created), (again, created_again) = submit(1), submit(1)
    assert created and not created_again and again.id == first.id and len(store.sweeps.page().items) == 1
    with pytest.raises(FailedPrecondition, match="different SubmitSweep request"):
        submit(2)
    new_job(store, "retry-me")                    # keys are per RPC: a training job's does not collide
    store.sweeps.update(first.id, lambda sweep: setattr(sweep, "state", pb.SWEEP_CANCELLED))
    store.sweeps.delete(first.id, [])
    other, created = submit(2)
    assert created and other.id != first.id and store.sweeps.get(other.id).request.seed == 2


def test_redis_failures_leave_the_store_as_unavailable():
    """A server that went away: every noun answers with the store's own Unavailable (a ServiceError the gateway
    maps to UNAVAILABLE), never with a Redis exception."""
    with RedisServer() as server:
        store = Store(server.url)
        job = new_job(store)
        server.kill()
        for call in (lambda: store.jobs.get(job.id), lambda: store.events.read(job.id), store.ping,
                     lambda: store.leases.stop_reason(job.id, "w1"), store.workers.alive,
                     lambda: store.checkpoints.get(job.id), lambda: store.models.get("m"),
                     lambda: store.requests.waiting("cpu.serve")):
            with pytest.raises(Unavailable, match="^store unavailable: .*refused") as caught:
                call()
            assert caught.value.code == "UNAVAILABLE" and isinstance(caught.value, errors.ServiceError)
        store.close()


def test_cancel_queued_at_once_running_by_flag(store):
    queued = new_job(store)
    assert store.jobs.request_cancel(queued.id).state == pb.CANCELLED
    running = new_job(store)
    store.jobs.transition(running.id, pb.RUNNING)
    flagged = store.jobs.request_cancel(running.id)
    assert flagged.state == pb.RUNNING and flagged.cancel_requested
    store.jobs.transition(running.id, pb.CANCELLED)
    with pytest.raises(FailedPrecondition, match="already ended"):
        store.jobs.request_cancel(running.id)


def test_events_in_order_and_resumable(store):
    job = new_job(store)
    store.jobs.transition(job.id, pb.RUNNING)
    for batch in range(1, 6):
        store.events.append(job.id, pb.JobEvent(batch=pb.BatchProgress(epoch=1, batch=batch)))
    store.jobs.transition(job.id, pb.SUCCEEDED)
    events = store.events.read(job.id)
    assert [e.WhichOneof("kind") for e in events] == ["state", "state"] + ["batch"] * 5 + ["state"]
    assert [e.batch.batch for e in events[2:7]] == [1, 2, 3, 4, 5]
    assert store.events.read(job.id, after=events[3].id) == events[4:]
    with pytest.raises(InvalidArgument, match="after_event_id"):
        store.events.read(job.id, after="not-an-id")


def test_concurrent_updates_are_not_lost(store):
    job = new_job(store)

    def bump():
        for _ in range(50):
            store.jobs.update(job.id, lambda j: setattr(j, "attempts", j.attempts + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.jobs.get(job.id).attempts == 200


def test_models_registry(store):
    model = store.models.save(pb.Model(name="m"), '{"nodes": []}', b"\x00params", pb.Graph(dot="digraph {}"))
    assert store.models.get(model.id).name == "m"
    assert store.models.files(model.id) == ('{"nodes": []}', b"\x00params")
    assert store.models.graph(model.id).dot == "digraph {}"
    assert [m.id for m in store.models.page().items] == [model.id]
    with pytest.raises(NotFound):
        store.models.files("missing")


def test_concurrent_saves_under_one_name_never_share_a_version(redis_server, store):
    """20 threads, each with its own connection pool as separate workers have, save a model under one name at
    once: versions 1..20, each once, and the name's counter at 20."""
    from lenet_services.store import Store

    start, versions, failures = threading.Barrier(20), [], []

    def register() -> None:
        own = Store(redis_server.url)
        try:
            start.wait()
            versions.append(own.models.save(pb.Model(name="digits"), "{}", b"", pb.Graph()).version)
        except Exception as error:          # a failure in a thread must fail the test, not vanish
            failures.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=register) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(versions) == list(range(1, 21))
    listed = store.models.page(name="digits", page_size=100).items
    assert [m.version for m in listed] == list(range(20, 0, -1))
    assert [store.models.version_id("digits", m.version) for m in listed] == [m.id for m in listed]


def test_saving_a_model_again_keeps_its_version(store):
    """The worker retries a save whose reply was lost: the same id must not become a second version."""
    model = store.models.save(pb.Model(name="digits"), "{}", b"", pb.Graph())
    again = pb.Model(id=model.id, name="digits", created_at=model.created_at)
    assert store.models.save(again, "{}", b"", pb.Graph()).version == 1
    assert [m.id for m in store.models.page(name="digits").items] == [model.id]
    assert store.models.save(pb.Model(name="digits"), "{}", b"", pb.Graph()).version == 2


def test_a_job_saves_one_model_whichever_worker_saves_it(store):
    """A worker takes the job over after the first saved its model, but before the job succeeded."""
    saved = [store.models.save(pb.Model(id=job_model_id("0123456789abcdef"), name="digits", job_id="0123456789abcdef"),
                               "{}", b"", pb.Graph()) for _worker in range(2)]
    assert saved[0].id == saved[1].id and contract.ID.fullmatch(saved[0].id) and saved[1].version == 1
    assert [m.id for m in store.models.page(name="digits").items] == [saved[0].id]
    assert job_model_id("0123456789abcdee") != saved[0].id


def test_uploaded_pixels_live_outside_the_job_record(store):
    pixels = pb.Tensor(shape=[3, 28, 28], dtype=pb.UINT8, data=bytes(3 * 784))
    labels = pb.Tensor(shape=[3], dtype=pb.INT64, data=bytes(24))
    request = pb.EvaluationRequest(model_id="m", dataset=pb.Dataset(images=pixels, labels=labels))
    job, _ = store.jobs.create(pb.Job(kind=pb.EVALUATE, evaluation=request))
    stored = store.jobs.get(job.id)
    assert stored.evaluation.dataset.images.data == b"" and list(stored.evaluation.dataset.images.shape) == [3, 28, 28]
    assert len(stored.SerializeToString()) < 200
    full = store.jobs.dataset(stored, "dataset")
    assert full.images == pixels and full.labels == labels


def test_index_lists_live_outside_the_record_and_come_back_alone(store):
    request = pb.EvaluationRequest(model_id="m", dataset=pb.Dataset(indices=[5, 3, 9], size=3))
    job, _ = store.jobs.create(pb.Job(kind=pb.EVALUATE, evaluation=request))
    stored = store.jobs.get(job.id)
    assert not stored.evaluation.dataset.indices and stored.evaluation.dataset.size == 3
    full = store.jobs.dataset(stored, "dataset")
    assert list(full.indices) == [5, 3, 9] and not full.HasField("images") and not full.HasField("labels")


def test_ended_jobs_expire_after_the_retention_and_leave_the_indexes(redis_server):
    from lenet_services.store import Store

    store = Store(redis_server.url, retention_seconds=1)
    store.redis.flushdb()
    ended, running = new_job(store), new_job(store)
    store.events.append(ended.id, pb.JobEvent(log="hello"))
    store.jobs.request_cancel(ended.id)
    store.jobs.transition(running.id, pb.RUNNING)
    assert 0 < store.redis.pttl(f"lenet:job:{ended.id}") <= 1000 and store.redis.pttl(f"lenet:job:{running.id}") == -1
    assert 0 < store.redis.pttl(f"lenet:job:{ended.id}:events") <= 1000
    time.sleep(1.2)
    assert store.jobs.sweep() == 1
    assert [job.id for job in store.jobs.page().items] == [running.id]
    assert store.jobs.page(state=pb.CANCELLED).items == []
    assert not [key for key in store.redis.scan_iter("*") if ended.id.encode() in key]
    store.close()


def test_every_event_carries_its_job_id(store):
    job = new_job(store)
    store.jobs.transition(job.id, pb.RUNNING, "go")
    store.jobs.update(job.id, lambda j: j.metrics.CopyFrom(pb.TrainMetrics(epoch=1)),
                      pb.JobEvent(epoch=pb.TrainMetrics(epoch=1)))
    store.events.append(job.id, pb.JobEvent(log="x"))
    assert [event.job_id for event in store.events.read(job.id)] == [job.id] * 4


def test_a_lease_is_held_renewed_and_taken_over_only_once_expired(store):
    job = new_job(store)
    assert store.leases.take(job.id, "w1", 0.3) and store.leases.take(job.id, "w1", 0.3)
    assert not store.leases.take(job.id, "w2", 0.3)
    assert store.leases.renew(job.id, "w1", 0.3) and store.leases.stop_reason(job.id, "w1") is None
    time.sleep(0.4)                                              # w1 fell silent: the lease expired
    assert store.leases.holder(job.id) is None and store.leases.take(job.id, "w2", 5)
    assert not store.leases.renew(job.id, "w1", 5)          # w1 wakes up: it must not take it back
    assert store.leases.stop_reason(job.id, "w1") == StopReason.TAKEN_OVER
    assert store.leases.stop_reason(job.id, "w2") is None
    store.jobs.transition(job.id, pb.RUNNING)
    store.jobs.request_cancel(job.id)
    assert store.leases.stop_reason(job.id, "w2") == StopReason.CANCELLED


def test_a_numbered_event_is_appended_once_per_writer_and_number(store):
    job = new_job(store)
    told = [store.events.append(job.id, pb.JobEvent(log=text), numbered=(writer, number))
            for writer, number, text in [("w/1", 1, "a"), ("w/1", 1, "a again"), ("w/1", 2, "b"), ("w/2", 1, "c"),
                                         ("w/1", 2, "b again"), ("w/1", 1, "a late")]]
    assert [entry is not None for entry in told] == [True, False, True, True, False, False]
    assert [e.log for e in store.events.read(job.id) if e.WhichOneof("kind") == "log"] == ["a", "b", "c"]


def test_an_epoch_is_recorded_once_and_only_while_no_other_worker_holds_the_job(store):
    job = new_job(store)
    store.jobs.transition(job.id, pb.RUNNING)
    store.leases.take(job.id, "w1", 30)

    def record(worker, epoch):
        figures = pb.TrainMetrics(epoch=epoch, test_accuracy=epoch / 10)
        return store.jobs.record_epoch(job.id, worker, pb.JobEvent(epoch=figures),
                                       (pb.TrainingCheckpoint(epoch=epoch, history=[figures]), b"params%d" % epoch))
    assert record("w1", 1) and not record("w1", 1)            # a retry after a lost reply
    assert not record("w2", 2)                                  # a worker that was taken over
    assert record("w1", 2) and not record("w1", 1)
    assert [e.epoch.epoch for e in store.events.read(job.id) if e.WhichOneof("kind") == "epoch"] == [1, 2]
    assert store.jobs.get(job.id).metrics.epoch == 2
    checkpoint, params = store.checkpoints.get(job.id)
    assert (checkpoint.epoch, params) == (2, b"params2")
    store.leases.release(job.id)                                # lost with a Redis restart: the holder renews it
    assert record("w1", 3)
    with pytest.raises(NotFound):
        store.jobs.record_epoch("0" * 16, "w1", pb.JobEvent(epoch=pb.TrainMetrics(epoch=1)), None)


def test_queued_jobs_once_old_enough_with_when_their_task_was_sent(store):
    sent, unsent = new_job(store), new_job(store)
    before = time.time()
    store.jobs.mark_sent(sent.id)
    assert store.jobs.queued(60) == []                          # both too young
    found = {job.id: at for job, at in store.jobs.queued(0)}
    assert found[unsent.id] is None and before <= found[sent.id] <= time.time()
    store.jobs.transition(unsent.id, pb.RUNNING)
    assert [job.id for job, _at in store.jobs.queued(0)] == [sent.id]
