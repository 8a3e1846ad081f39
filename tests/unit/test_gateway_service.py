"""LenetService, the gateway's rules, against a real redis-server with a task sender that records what it sends
(no worker processes): every RPC's validation, its list and ownership rules, and the status each error maps to."""
import time

import numpy as np
import pytest

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import to_tensor
from lenet_services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, \
    Unavailable
from lenet_services.gateway.service import Caller, LenetService

OPEN = Caller()
ALICE, BOB, ADMIN = Caller("alice", secured=True), Caller("bob", secured=True), Caller("ops", secured=True, admin=True)
UNKNOWN_ID = "0123456789abcdef"


class RecordingSender:
    def __init__(self):
        self.sent = []

    def send(self, task: str, args: list, queue: str, priority: int = 0) -> None:
        self.sent.append((task, args, queue))


@pytest.fixture
def sender():
    return RecordingSender()


@pytest.fixture
def service(store, sender, settings):
    return LenetService(store, sender, settings)


def fails(call, error_class, *words):
    with pytest.raises(error_class) as caught:
        call()
    for word in words:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"
    return caught.value


def saved_model(store, owner="", created_at="", model_id="", name="m") -> pb.Model:
    model = pb.Model(id=model_id, name=name, owner=owner, device=pb.CPU, created_at=created_at)
    return store.models.save(model, "{}", b"", pb.Graph(dot="digraph {}"))


# -- SubmitTraining --------------------------------------------------------------------------------------------

def test_absent_hyper_parameters_take_the_seeds_defaults(service, sender):
    job = service.submit_training(pb.TrainRequest(), OPEN)
    hp = job.train.hyper_parameters
    assert (hp.epochs, hp.batch_size, hp.learning_rate, hp.momentum, hp.weight_decay, hp.seed, hp.normalize,
            hp.init_scale) == (20, 100, 0.05, 0.9, 1e-5, 42, False, 0.01)
    assert job.train.train_data.split == "train" and job.train.train_data.size == 60_000
    assert job.train.eval_data.split == "test" and job.train.eval_data.size == 10_000
    assert job.train.model_name == "lenet" and job.queue == "cpu.train"
    assert sender.sent == [("train", [job.id], "cpu.train")]


def test_zero_is_sent_and_stored(service, store):
    request = pb.TrainRequest(hyper_parameters=pb.HyperParameters(momentum=0, weight_decay=0, seed=0))
    job = service.submit_training(request, OPEN)
    stored = store.jobs.get(job.id).train.hyper_parameters
    assert (stored.momentum, stored.weight_decay, stored.seed) == (0, 0, 0)
    assert stored.HasField("momentum") and stored.epochs == 20


@pytest.mark.parametrize("spec", [spec for spec in contract.HYPER_PARAMETERS if spec.low is not None],
                         ids=lambda spec: spec.name)
def test_each_hyper_parameter_out_of_bounds_names_its_field(service, sender, spec):
    value = spec.high + (1 if spec.type is int else 0.5)
    request = pb.TrainRequest(hyper_parameters=pb.HyperParameters(**{spec.name: spec.type(value)}))
    fails(lambda: service.submit_training(request, OPEN), InvalidArgument, f"hyper_parameters.{spec.name}",
          spec.bounds())
    assert sender.sent == []


@pytest.mark.parametrize("spec", [spec for spec in contract.HYPER_PARAMETERS if spec.type is float],
                         ids=lambda spec: spec.name)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinite_hyper_parameters_name_their_field(service, sender, spec, value):
    """Range checks are comparisons, and every comparison with NaN is false: NaN must be refused by name."""
    request = pb.TrainRequest(hyper_parameters=pb.HyperParameters(**{spec.name: value}))
    fails(lambda: service.submit_training(request, OPEN), InvalidArgument, f"hyper_parameters.{spec.name}",
          spec.bounds())
    assert sender.sent == []


@pytest.mark.parametrize("request_, error, field", [
    (pb.TrainRequest(model_name="no spaces"), InvalidArgument, "model_name"),
    (pb.TrainRequest(train_data=pb.Dataset(limit=70_000)), InvalidArgument, "train_data.limit"),
    (pb.TrainRequest(eval_data=pb.Dataset(limit=10_001)), InvalidArgument, "eval_data.limit"),
    (pb.TrainRequest(train_data=pb.Dataset(images=to_tensor(np.full((1, 28, 28), np.nan, np.float32)),
                                           labels=to_tensor(np.array([1])))), InvalidArgument, "train_data.images"),
    (pb.TrainRequest(device=7), InvalidArgument, "device"),
    (pb.TrainRequest(train_data=pb.Dataset(split="valid")), InvalidArgument, "train_data.split"),
    (pb.TrainRequest(train_data=pb.Dataset(split="x" * 10_000_000)), InvalidArgument, "train_data.split"),
    (pb.TrainRequest(eval_data=pb.Dataset(limit=-1)), InvalidArgument, "eval_data.limit"),
    (pb.TrainRequest(train_data=pb.Dataset(indices=[60_000])), InvalidArgument, "train_data.indices"),
    (pb.TrainRequest(train_data=pb.Dataset(indices=range(60_001))), ResourceExhausted, "train_data.indices"),
    (pb.TrainRequest(train_data=pb.Dataset(size=5)), InvalidArgument, "train_data.size"),
    (pb.TrainRequest(idempotency_key="k" * 129), InvalidArgument, "idempotency_key"),
    (pb.TrainRequest(train_data=pb.Dataset(images=to_tensor(np.zeros((2, 28, 28), np.uint8)))), InvalidArgument,
     "train_data.labels"),
    (pb.TrainRequest(train_data=pb.Dataset(images=to_tensor(np.zeros((2, 28, 28), np.uint8)),
                                           labels=to_tensor(np.array([1, 12])))), InvalidArgument,
     "train_data.labels"),
    (pb.TrainRequest(train_data=pb.Dataset(images=pb.Tensor(shape=[10_001, 28, 28], dtype=pb.UINT8))),
     ResourceExhausted, "train_data.images"),
])
def test_bad_train_requests_name_the_field(service, sender, request_, error, field):
    raised = fails(lambda: service.submit_training(request_, OPEN), error, field)
    assert len(str(raised)) < 300          # never an echo of a huge value
    assert sender.sent == []


def test_a_limit_beyond_the_split_names_the_splits_size(service):
    with pytest.raises(InvalidArgument) as caught:
        service.submit_training(pb.TrainRequest(train_data=pb.Dataset(limit=70_000)), OPEN)
    assert "60,000" in str(caught.value) and "70,000" in str(caught.value)
    assert service.submit_training(pb.TrainRequest(train_data=pb.Dataset(limit=60_000)), OPEN).train.train_data.size \
        == 60_000


def test_an_unknown_learning_rate_schedule_names_the_field_and_the_choices(service, sender):
    request = pb.TrainRequest(hyper_parameters=pb.HyperParameters(lr_schedule="linear"))
    fails(lambda: service.submit_training(request, OPEN), InvalidArgument, "hyper_parameters.lr_schedule",
          "constant, step, cosine", "'linear'")
    assert sender.sent == []


@pytest.mark.parametrize("name", list(contract.RECIPES))
def test_every_recipe_is_a_valid_request_stored_as_given(service, store, name):
    request = pb.TrainRequest(hyper_parameters=pb.HyperParameters(**contract.RECIPES[name]))
    stored = store.jobs.get(service.submit_training(request, OPEN).id).train.hyper_parameters
    assert contract.hyper_params(stored) == contract.HyperParams(**contract.RECIPES[name])


def test_validation_data_holds_the_validation_split_out_of_the_train_split(service, store):
    job = service.submit_training(pb.TrainRequest(validation_data=pb.Dataset()), OPEN)
    assert (job.train.validation_data.split, job.train.validation_data.size) == ("validation", 5_000)
    assert (job.train.train_data.split, job.train.train_data.size) == ("train", 55_000)
    assert not job.train.validation_only and job.train.eval_data.size == 10_000
    only = service.submit_training(pb.TrainRequest(validation_data=pb.Dataset(limit=200), validation_only=True,
                                                   train_data=pb.Dataset(limit=55_000)), OPEN)
    assert store.jobs.get(only.id).train.validation_only and only.train.validation_data.size == 200
    assert service.submit_training(pb.TrainRequest(), OPEN).train.train_data.size == 60_000   # the seed's


@pytest.mark.parametrize("request_, field, words", [
    (pb.TrainRequest(validation_data=pb.Dataset(), train_data=pb.Dataset(limit=55_001)), "train_data.limit",
     ("55,000 images outside the validation split",)),
    (pb.TrainRequest(validation_data=pb.Dataset(limit=10), train_data=pb.Dataset(indices=[3, 55_000])),
     "train_data.indices", ("[55000]", "0..54999")),
    (pb.TrainRequest(validation_data=pb.Dataset(limit=5_001)), "validation_data.limit", ("5,000",)),
    (pb.TrainRequest(validation_data=pb.Dataset(split="valid")), "validation_data.split", ("validation",)),
    (pb.TrainRequest(validation_only=True), "validation_only", ("needs validation_data",)),
])
def test_bad_validation_requests_name_the_field(service, sender, request_, field, words):
    fails(lambda: service.submit_training(request_, OPEN), InvalidArgument, field, *words)
    assert sender.sent == []


def test_index_lists_and_uploads_are_kept_out_of_the_record(service, store):
    request = pb.TrainRequest(train_data=pb.Dataset(indices=range(5000)))
    job = service.submit_training(request, OPEN)
    stored = store.jobs.get(job.id)
    assert list(stored.train.train_data.indices) == [] and stored.train.train_data.size == 5000
    assert list(store.jobs.dataset(stored, "train_data").indices) == list(range(5000))
    assert len(stored.SerializeToString()) < 300


def test_idempotency_is_per_owner_and_rpc_and_checks_the_request(service, sender, store):
    request = pb.TrainRequest(idempotency_key="nightly", hyper_parameters=pb.HyperParameters(epochs=1))
    first = service.submit_training(request, ALICE)
    assert service.submit_training(request, ALICE).id == first.id and len(sender.sent) == 1
    assert service.submit_training(request, BOB).id != first.id
    changed = pb.TrainRequest(idempotency_key="nightly", hyper_parameters=pb.HyperParameters(epochs=2))
    fails(lambda: service.submit_training(changed, ALICE), FailedPrecondition, "idempotency_key", "nightly")
    model = saved_model(store, owner="alice")
    evaluation = service.submit_evaluation(pb.EvaluationRequest(model_id=model.id, idempotency_key="nightly"), ALICE)
    assert evaluation.kind == pb.EVALUATE and evaluation.id != first.id


def test_deleting_a_job_frees_its_idempotency_key(service, sender, store):
    """Submit with key K, delete the job, submit again: a new job (not NOT_FOUND for the deleted one), for
    trainings and evaluations alike; the new job then answers K as the first did."""
    model = saved_model(store, owner="alice")
    for submit, request in [
            (service.submit_training, pb.TrainRequest(idempotency_key="K")),
            (service.submit_evaluation, pb.EvaluationRequest(model_id=model.id, idempotency_key="K"))]:
        first = submit(request, ALICE)
        service.cancel_job(pb.CancelJobRequest(job_id=first.id), ALICE)
        service.delete_job(pb.DeleteJobRequest(job_id=first.id), ALICE)
        again = submit(request, ALICE)
        assert again.id != first.id and again.state == pb.QUEUED
        assert sender.sent[-1][1] == [again.id]
        assert submit(request, ALICE).id == again.id


class RefusingBroker(RecordingSender):
    """As TaskQueue.send answers when Redis refuses the publish (tests/unit/test_task_queue.py)."""

    def send(self, task: str, args: list, queue: str, priority: int = 0) -> None:
        raise Unavailable("task queue unavailable: Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_job_whose_task_the_broker_refused_is_accepted_and_left_to_the_recovery_loop(store, settings):
    service = LenetService(store, RefusingBroker(), settings)
    job = service.submit_training(pb.TrainRequest(), OPEN)   # not INTERNAL, and not lost
    assert store.jobs.get(job.id).state == pb.QUEUED
    assert [(queued.id, sent_at) for queued, sent_at in store.jobs.queued(-1)] == [(job.id, None)]   # unsent


def test_a_queue_without_workers_says_so(service, store):
    job = service.submit_training(pb.TrainRequest(device=pb.GPU), OPEN)
    assert job.queue == "gpu.train"
    logs = [event.log for event in store.events.read(job.id) if event.WhichOneof("kind") == "log"]
    assert logs == ["no gpu.train worker is alive: the job waits on queue gpu.train until one starts"]
    assert service.submit_training(pb.TrainRequest(device=pb.ANY), OPEN).queue == "cpu.train"
    store.workers.heartbeat(pb.Worker(name="gpu-1.train", device=pb.GPU, lane="gpu.train"))
    time.sleep(1.1)                                   # the gateway looks at the live workers once a second
    assert service.submit_training(pb.TrainRequest(device=pb.ANY), OPEN).queue == "gpu.train"


# -- SubmitEvaluation and model references ---------------------------------------------------------------------

def test_evaluation_resolves_latest_and_prefixes(service, store, sender):
    older = saved_model(store, created_at="2026-01-01T00:00:00.000Z", model_id="aaaa000000000001")
    newer = saved_model(store, created_at="2026-01-02T00:00:00.000Z", model_id="aaab000000000002")
    assert service.submit_evaluation(pb.EvaluationRequest(model_id="latest"), OPEN).model_id == newer.id
    assert service.submit_evaluation(pb.EvaluationRequest(model_id="aaaa"), OPEN).evaluation.model_id == older.id
    fails(lambda: service.submit_evaluation(pb.EvaluationRequest(model_id="aaa0"), OPEN), NotFound, "aaa0")
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="aaa"), OPEN), InvalidArgument, "model_id")
    saved_model(store, model_id="aaaa000000000003")
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="aaaa"), OPEN), InvalidArgument, "2 model ids")
    assert [task for task, _, _ in sender.sent] == ["evaluate", "evaluate"]


@pytest.mark.parametrize("model_id, error", [("", InvalidArgument), (UNKNOWN_ID, NotFound),
                                             (UNKNOWN_ID + ":files", InvalidArgument), ("LATEST", NotFound),
                                             ("latest/1", InvalidArgument), ("abcd@production", InvalidArgument),
                                             ("m/0", InvalidArgument), ("m@", InvalidArgument),
                                             ("m/1000000000000000", InvalidArgument)])
def test_bad_model_ids(service, model_id, error):
    fails(lambda: service.submit_evaluation(pb.EvaluationRequest(model_id=model_id), OPEN), error)
    fails(lambda: service.get_graph(pb.GetGraphRequest(model_id=model_id), OPEN), error)


def test_latest_with_no_model_is_not_found(service):
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="latest"), OPEN), NotFound, "no model")


def test_evaluation_dataset_is_checked(service, store):
    model = saved_model(store)
    images = to_tensor(np.zeros((3, 28, 28), np.uint8))
    fails(lambda: service.submit_evaluation(pb.EvaluationRequest(model_id=model.id, dataset=pb.Dataset(
        images=images)), OPEN), InvalidArgument, "dataset.labels")
    job = service.submit_evaluation(pb.EvaluationRequest(model_id=model.id, dataset=pb.Dataset(limit=50)), OPEN)
    assert job.evaluation.dataset.split == "test" and job.evaluation.dataset.size == 50


# -- registered models: names, versions, aliases ------------------------------------------------------------------

def named(store, name, owner="") -> pb.Model:
    return saved_model(store, owner=owner, name=name)


def alias(service, name, alias_, version, caller=OPEN) -> pb.Model:
    return service.set_model_alias(pb.SetModelAliasRequest(name=name, alias=alias_, version=version), caller)


def resolved(service, reference, caller=OPEN, version="") -> tuple[str, int]:
    model = service.resolve_model(caller, reference, version)
    return model.name, model.version


def test_models_of_one_name_are_its_versions_and_an_unnamed_one_is_lenet(service, store):
    first, second = named(store, "digits"), named(store, "digits")
    assert (first.version, second.version) == (1, 2)
    assert store.models.save(pb.Model(), "{}", b"", pb.Graph()).name == contract.DEFAULT_MODEL_NAME
    assert resolved(service, contract.DEFAULT_MODEL_NAME) == ("lenet", 1)
    assert named(store, "other").version == 1
    listed = service.list_models(pb.ListModelsRequest(name="digits"), OPEN).models
    assert [(m.name, m.version) for m in listed] == [("digits", 2), ("digits", 1)]


def test_every_reference_form_resolves(service, store):
    one, two = named(store, "digits"), named(store, "digits")
    assert resolved(service, "digits") == ("digits", 2)                  # no production: the newest version
    alias(service, "digits", "production", 1)
    alias(service, "digits", "canary", 2)
    assert resolved(service, "digits") == ("digits", 1)                  # production
    assert resolved(service, "digits/2") == ("digits", 2)
    assert resolved(service, "digits@canary") == ("digits", 2)
    assert resolved(service, "digits@production") == ("digits", 1)
    assert resolved(service, one.id) == resolved(service, one.id[:6]) == ("digits", 1)
    assert resolved(service, "latest") == ("digits", 2)
    assert resolved(service, "digits", version="2") == ("digits", 2)     # the OIP's model_name + model_version
    assert resolved(service, two.id, version="2") == ("digits", 2)       # an id works as a name
    fails(lambda: service.resolve_model(OPEN, two.id, "1"), NotFound, two.id)
    fails(lambda: service.resolve_model(OPEN, "digits@canary", "1"), InvalidArgument, "model_version")
    fails(lambda: service.resolve_model(OPEN, "digits", "01"), InvalidArgument, "model_version")
    fails(lambda: service.resolve_model(OPEN, "no spaces", field="model_name"), InvalidArgument,
          "model_name")
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="digits/3"), OPEN), NotFound, "no version 3")
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="digits@beta"), OPEN), NotFound, "no alias 'beta'")
    fails(lambda: service.get_model(pb.GetModelRequest(model_id="nothing"), OPEN), NotFound, "'nothing'")
    job = service.submit_evaluation(pb.EvaluationRequest(model_id="digits@canary"), OPEN)
    assert job.model_id == two.id and job.evaluation.model_id == two.id   # the job records the id it resolved
    files = service.export_model(pb.ExportModelRequest(model_id="digits/1"), OPEN).files
    assert [f.name for f in files] == list(contract.checkpoint_files("digits"))
    assert service.get_graph(pb.GetGraphRequest(model_id="digits"), OPEN).dot == "digraph {}"


def test_moving_production_changes_what_the_name_names_at_once(service, store):
    named(store, "digits"), named(store, "digits")
    for version in (1, 2, 1, 2):
        moved = alias(service, "digits", "production", version)
        assert moved.version == version and list(moved.aliases) == ["production"]
        assert resolved(service, "digits") == ("digits", version)        # no restart, no cache in the way
    service.delete_model_alias(pb.DeleteModelAliasRequest(name="digits", alias="production"), OPEN)
    assert resolved(service, "digits") == ("digits", 2)


def test_aliases_are_shown_on_the_versions_they_point_at(service, store):
    one, two = named(store, "digits"), named(store, "digits")
    alias(service, "digits", "production", 1)
    alias(service, "digits", "best", 1)
    alias(service, "digits", "canary", 2)
    listed = {m.version: list(m.aliases) for m in service.list_models(pb.ListModelsRequest(), OPEN).models}
    assert listed == {1: ["best", "production"], 2: ["canary"]}
    assert list(service.get_model(pb.GetModelRequest(model_id=two.id), OPEN).aliases) == ["canary"]
    alias(service, "digits", "canary", 1)
    assert list(service.get_model(pb.GetModelRequest(model_id=two.id), OPEN).aliases) == []
    assert store.models.get(one.id).aliases == []                       # aliases are never written into the record


def test_deleting_an_aliased_version_is_refused_naming_the_alias(service, store):
    named(store, "digits")
    two = named(store, "digits")
    alias(service, "digits", "production", 2)
    raised = fails(lambda: service.delete_model(pb.DeleteModelRequest(model_id="digits/2"), OPEN), FailedPrecondition,
                   "'production'", "digits/2")
    assert "lenet alias rm digits production" in str(raised)
    assert resolved(service, two.id) == ("digits", 2)
    removed = service.delete_model_alias(pb.DeleteModelAliasRequest(name="digits", alias="production"), OPEN)
    assert (removed.name, removed.alias, removed.version) == ("digits", "production", 2)
    assert service.delete_model(pb.DeleteModelRequest(model_id="digits/2"), OPEN).model_id == two.id
    assert resolved(service, "digits") == ("digits", 1)
    fails(lambda: alias(service, "digits", "production", 2), NotFound, "no version 2")
    assert named(store, "digits").version == 3                          # a deleted version is never reused


def test_alias_requests_are_checked(service, store):
    named(store, "digits")
    for request, field in [(pb.SetModelAliasRequest(alias="production", version=1), "name"),
                           (pb.SetModelAliasRequest(name="dead", alias="production", version=1), "name"),
                           (pb.SetModelAliasRequest(name="digits", version=1), "alias"),
                           (pb.SetModelAliasRequest(name="digits", alias="no spaces", version=1), "alias"),
                           (pb.SetModelAliasRequest(name="digits", alias="x" * 65, version=1), "alias"),
                           (pb.SetModelAliasRequest(name="digits", alias="production"), "version"),
                           (pb.SetModelAliasRequest(name="digits", alias="production", version=-1), "version")]:
        raised = fails(lambda: service.set_model_alias(request, OPEN), InvalidArgument, field)
        assert str(raised).startswith(field + ":")
    fails(lambda: service.delete_model_alias(pb.DeleteModelAliasRequest(name="digits", alias="a/b"), OPEN),
          InvalidArgument, "alias")
    fails(lambda: service.delete_model_alias(pb.DeleteModelAliasRequest(name="digits", alias="gone"), OPEN),
          NotFound, "no alias 'gone'")
    fails(lambda: service.list_models(pb.ListModelsRequest(name="not a name"), OPEN), InvalidArgument, "name")
    for name in ("latest", "cafe", "0123456789abcdef"):
        fails(lambda: service.submit_training(pb.TrainRequest(model_name=name), OPEN), InvalidArgument, "model_name")
    assert store.redis.hlen("lenet:name:digits:aliases") == 0


def test_names_are_shared_but_each_version_keeps_its_owner(secured_service, store):
    """Alice's and Bob's models share the versions of a name; each sees, resolves and aliases only what they may
    read, and moves an alias only off a version they own."""
    service = secured_service
    mine = named(store, "digits", owner="alice")
    bobs = named(store, "digits", owner="bob")
    assert (mine.version, bobs.version) == (1, 2)
    assert resolved(service, "digits", ALICE) == ("digits", 1)
    assert resolved(service, "digits", BOB) == ("digits", 2)
    alias(service, "digits", "production", 1, ALICE)
    assert resolved(service, "digits", BOB) == ("digits", 2)             # a production he cannot read: his newest
    fails(lambda: service.resolve_model(BOB, "digits@production"), NotFound)
    fails(lambda: service.resolve_model(BOB, "digits/1"), NotFound)
    fails(lambda: alias(service, "digits", "production", 2, BOB), PermissionDenied, "'production'", "version 1")
    fails(lambda: alias(service, "digits", "mine", 1, BOB), NotFound)
    fails(lambda: service.delete_model_alias(pb.DeleteModelAliasRequest(name="digits", alias="production"), BOB),
          PermissionDenied, "only its owner")
    alias(service, "digits", "bobs", 2, BOB)
    assert [m.version for m in service.list_models(pb.ListModelsRequest(name="digits"), BOB).models] == [2]
    service.share_model(pb.ShareModelRequest(model_id="digits/1", add=["bob"]), ALICE)
    assert [m.version for m in service.list_models(pb.ListModelsRequest(name="digits"), BOB).models] == [2, 1]
    assert resolved(service, "digits", BOB) == ("digits", 1)             # now he reads production
    fails(lambda: alias(service, "digits", "bobs", 1, BOB), PermissionDenied, "read-only")
    fails(lambda: service.delete_model(pb.DeleteModelRequest(model_id="digits@production"), BOB), PermissionDenied)
    service.share_model(pb.ShareModelRequest(model_id="digits/1", remove=["bob"]), ALICE)
    assert [m.version for m in service.list_models(pb.ListModelsRequest(name="digits"), BOB).models] == [2]
    alias(service, "digits", "production", 2, ADMIN)                    # admins may move any alias
    assert resolved(service, "digits", ALICE) == ("digits", 1)           # hers again: production is Bob's now
    assert resolved(service, "digits", BOB) == ("digits", 2)
    assert [m.version for m in service.list_models(pb.ListModelsRequest(name="digits"), ADMIN).models] == [2, 1]


# -- GetJob, ListJobs, CancelJob, WatchJob, GetEvaluation ---------------------------------------------------------

@pytest.mark.parametrize("job_id, error", [("", InvalidArgument), (UNKNOWN_ID, NotFound),
                                           (UNKNOWN_ID + ":events", InvalidArgument),
                                           (UNKNOWN_ID + ":evaluation", InvalidArgument),
                                           ("x" * 1000, InvalidArgument)])
def test_job_ids_are_checked_before_any_key_is_built(service, job_id, error):
    for call in (lambda: service.get_job(pb.GetJobRequest(job_id=job_id), OPEN),
                 lambda: service.cancel_job(pb.CancelJobRequest(job_id=job_id), OPEN),
                 lambda: list(service.watch_job(pb.WatchJobRequest(job_id=job_id), OPEN)),
                 lambda: service.get_evaluation(pb.GetEvaluationRequest(job_id=job_id), OPEN)):
        raised = fails(call, error)
        assert len(str(raised)) < 200


def test_list_jobs_pages_newest_first_with_filters(service, store):
    jobs = [service.submit_training(pb.TrainRequest(device=pb.GPU), OPEN) for _ in range(7)]
    model = saved_model(store)
    evaluation = service.submit_evaluation(pb.EvaluationRequest(model_id=model.id, device=pb.GPU), OPEN)
    service.cancel_job(pb.CancelJobRequest(job_id=jobs[0].id), OPEN)
    seen, token = [], ""
    while True:
        page = service.list_jobs(pb.ListJobsRequest(page_size=3, page_token=token), OPEN)
        assert len(page.jobs) <= 3
        seen += [job.id for job in page.jobs]
        token = page.next_page_token
        if not token:
            break
    assert seen == [evaluation.id, *[job.id for job in reversed(jobs)]]
    trains = service.list_jobs(pb.ListJobsRequest(kind=pb.TRAIN), OPEN).jobs
    assert [job.id for job in trains] == [job.id for job in reversed(jobs)]
    cancelled = service.list_jobs(pb.ListJobsRequest(state=pb.CANCELLED), OPEN).jobs
    assert [job.id for job in cancelled] == [jobs[0].id]
    queued_evaluations = service.list_jobs(pb.ListJobsRequest(kind=pb.EVALUATE, state=pb.QUEUED), OPEN).jobs
    assert [job.id for job in queued_evaluations] == [evaluation.id]


@pytest.mark.parametrize("request_, error, field", [
    (pb.ListJobsRequest(page_size=-1), InvalidArgument, "page_size"),
    (pb.ListJobsRequest(page_size=1001), ResourceExhausted, "page_size"),
    (pb.ListJobsRequest(kind=99), InvalidArgument, "kind"),
    (pb.ListJobsRequest(state=99), InvalidArgument, "state"),
    (pb.ListJobsRequest(page_token="garbage"), InvalidArgument, "page_token"),
])
def test_list_jobs_checks_every_field(service, request_, error, field):
    fails(lambda: service.list_jobs(request_, OPEN), error, field)


def test_list_models_pages_and_checks(service, store):
    ids = [saved_model(store, created_at=f"2026-01-0{day}T00:00:00.000Z").id for day in range(1, 6)]
    first = service.list_models(pb.ListModelsRequest(page_size=2), OPEN)
    second = service.list_models(pb.ListModelsRequest(page_size=2, page_token=first.next_page_token), OPEN)
    third = service.list_models(pb.ListModelsRequest(page_size=2, page_token=second.next_page_token), OPEN)
    assert [m.id for m in [*first.models, *second.models, *third.models]] == ids[::-1]
    assert third.next_page_token == ""
    fails(lambda: service.list_models(pb.ListModelsRequest(page_size=-1), OPEN), InvalidArgument, "page_size")


def test_only_the_owner_cancels(service):
    job = service.submit_training(pb.TrainRequest(), ALICE)
    fails(lambda: service.cancel_job(pb.CancelJobRequest(job_id=job.id), BOB), NotFound, job.id)
    assert service.cancel_job(pb.CancelJobRequest(job_id=job.id), ALICE).state == pb.CANCELLED
    fails(lambda: service.cancel_job(pb.CancelJobRequest(job_id=job.id), ALICE), FailedPrecondition, "CANCELLED")


def test_watch_checks_the_event_id_and_ends_at_once_after_the_final_event(service):
    job = service.submit_training(pb.TrainRequest(), OPEN)
    fails(lambda: list(service.watch_job(pb.WatchJobRequest(job_id=job.id, after_event_id="garbage"), OPEN)),
          InvalidArgument, "after_event_id")
    service.cancel_job(pb.CancelJobRequest(job_id=job.id), OPEN)
    events = list(service.watch_job(pb.WatchJobRequest(job_id=job.id), OPEN))
    states = [e.state.state for e in events if e.WhichOneof("kind") == "state"]
    assert states == [pb.QUEUED, pb.CANCELLED] and all(e.job_id == job.id for e in events)
    def waits():
        raise AssertionError("an ended job's watch waited for events")

    for after in (events[-1].id, "99999999999999-0"):
        assert list(service.watch_job(pb.WatchJobRequest(job_id=job.id, after_event_id=after),
                                      Caller(active=waits))) == []


def test_evaluation_of_a_training_job_is_failed_precondition(service):
    job = service.submit_training(pb.TrainRequest(), OPEN)
    fails(lambda: service.get_evaluation(pb.GetEvaluationRequest(job_id=job.id), OPEN), FailedPrecondition, "TRAIN")


# -- Predict, Inspect, export, samples -------------------------------------------------------------------------

@pytest.mark.parametrize("images, error, field", [
    (None, InvalidArgument, "images"),
    (pb.Tensor(shape=[1, 28, 28], dtype=pb.FLOAT16, data=bytes(2 * 784)), InvalidArgument, "images"),
    (pb.Tensor(shape=[1, 28, 28], dtype=pb.DTYPE_UNSPECIFIED, data=bytes(784)), InvalidArgument, "images"),
    (pb.Tensor(shape=[2, 28, 28], dtype=pb.UINT8, data=bytes(784)), InvalidArgument, "images"),
    (pb.Tensor(shape=[10_001, 28, 28], dtype=pb.UINT8), ResourceExhausted, "images"),
])
def test_predict_checks_its_images(service, store, images, error, field):
    model = saved_model(store)
    request = pb.PredictRequest(model_id=model.id)
    if images is not None:
        request.images.CopyFrom(images)
    fails(lambda: service.predict(request, OPEN), error, field)


def test_synchronous_calls_without_a_live_worker_are_unavailable(service, store, sender):
    model = saved_model(store)
    images = to_tensor(np.zeros((1, 28, 28), np.uint8))
    fails(lambda: service.predict(pb.PredictRequest(model_id=model.id, images=images), OPEN), Unavailable)
    fails(lambda: service.export_model(pb.ExportModelRequest(model_id=model.id, format=pb.ONNX), OPEN), Unavailable)
    fails(lambda: list(service.inspect(pb.InspectRequest(model_id=model.id), OPEN)), Unavailable)
    assert sender.sent == []


def test_mxnet_export_is_served_from_the_store(service, store):
    model = saved_model(store)
    files = service.export_model(pb.ExportModelRequest(model_id=model.id[:6]), OPEN).files
    assert [f.name for f in files] == list(contract.checkpoint_files("m"))
    fails(lambda: service.export_model(pb.ExportModelRequest(model_id=model.id, format=9), OPEN), InvalidArgument,
          "format")


@pytest.mark.parametrize("request_, error, field", [
    (pb.InspectRequest(layers=["Conv1", "Bogus"]), InvalidArgument, "layers"),
    (pb.InspectRequest(layers=["SoftM", "SoftM"]), InvalidArgument, "SoftM"),
    (pb.InspectRequest(layers=["SoftM"] * 12), ResourceExhausted, "layers"),
    (pb.InspectRequest(dtype=pb.UINT8), InvalidArgument, "dtype"),
    (pb.InspectRequest(batch_size=2001), InvalidArgument, "batch_size"),
    (pb.InspectRequest(samples=pb.Dataset(split="train")), ResourceExhausted, "samples"),
    (pb.InspectRequest(samples=pb.Dataset(indices=[10_000])), InvalidArgument, "samples.indices"),
])
def test_inspect_checks_every_field(service, store, request_, error, field):
    request_.model_id = saved_model(store).id
    fails(lambda: list(service.inspect(request_, OPEN)), error, field)


def test_samples(service, data_dir):
    samples = service.get_samples(pb.GetSamplesRequest(split="train", indices=[0, 1, 2]), OPEN)
    assert list(samples.labels) == [5, 0, 4] and list(samples.images.shape) == [3, 28, 28]
    assert list(service.get_samples(pb.GetSamplesRequest(indices=[0]), OPEN).labels) == [7]   # default: test
    fails(lambda: service.get_samples(pb.GetSamplesRequest(), OPEN), InvalidArgument, "indices")
    fails(lambda: service.get_samples(pb.GetSamplesRequest(indices=[10_000]), OPEN), InvalidArgument, "indices")
    fails(lambda: service.get_samples(pb.GetSamplesRequest(indices=range(10_001)), OPEN), ResourceExhausted,
          "indices")
    fails(lambda: service.get_samples(pb.GetSamplesRequest(split="nope", indices=[0]), OPEN), InvalidArgument,
          "split")


def test_delete_job_and_model_only_by_their_owner_and_only_ended_jobs(service, store):
    job = service.submit_training(pb.TrainRequest(), ALICE)
    fails(lambda: service.delete_job(pb.DeleteJobRequest(job_id=job.id), ALICE), FailedPrecondition, "cancel it")
    service.cancel_job(pb.CancelJobRequest(job_id=job.id), ALICE)
    fails(lambda: service.delete_job(pb.DeleteJobRequest(job_id=job.id), BOB), NotFound)
    assert service.delete_job(pb.DeleteJobRequest(job_id=job.id), ALICE).job_id == job.id
    fails(lambda: service.get_job(pb.GetJobRequest(job_id=job.id), ALICE), NotFound)
    assert service.list_jobs(pb.ListJobsRequest(), ALICE).jobs == []
    assert not [key for key in store.redis.scan_iter(f"*{job.id}*")]
    model = saved_model(store, owner="alice")
    fails(lambda: service.delete_model(pb.DeleteModelRequest(model_id=model.id), BOB), NotFound)
    assert service.delete_model(pb.DeleteModelRequest(model_id="latest"), ALICE).model_id == model.id
    fails(lambda: service.get_model(pb.GetModelRequest(model_id=model.id), ALICE), NotFound)
    assert service.list_models(pb.ListModelsRequest(), ALICE).models == []


def test_another_owners_job_and_model_are_not_found_for_every_rpc(service, store):
    job = service.submit_training(pb.TrainRequest(device=pb.GPU), ALICE)
    model = saved_model(store, owner="alice")
    images = to_tensor(np.zeros((1, 28, 28), np.uint8))
    calls = [
        lambda: service.get_job(pb.GetJobRequest(job_id=job.id), BOB),
        lambda: service.cancel_job(pb.CancelJobRequest(job_id=job.id), BOB),
        lambda: service.delete_job(pb.DeleteJobRequest(job_id=job.id), BOB),
        lambda: list(service.watch_job(pb.WatchJobRequest(job_id=job.id), BOB)),
        lambda: service.get_evaluation(pb.GetEvaluationRequest(job_id=job.id), BOB),
        lambda: service.get_model(pb.GetModelRequest(model_id=model.id), BOB),
        lambda: service.get_model(pb.GetModelRequest(model_id=model.id[:6]), BOB),
        lambda: service.get_model(pb.GetModelRequest(model_id="latest"), BOB),
        lambda: service.get_graph(pb.GetGraphRequest(model_id=model.id), BOB),
        lambda: service.delete_model(pb.DeleteModelRequest(model_id=model.id), BOB),
        lambda: service.share_model(pb.ShareModelRequest(model_id=model.id, add=["bob"]), BOB),
        lambda: service.export_model(pb.ExportModelRequest(model_id=model.id), BOB),
        lambda: service.predict(pb.PredictRequest(model_id=model.id, images=images), BOB),
        lambda: list(service.inspect(pb.InspectRequest(model_id=model.id), BOB)),
        lambda: service.submit_evaluation(pb.EvaluationRequest(model_id=model.id), BOB),
    ]
    for call in calls:
        fails(call, NotFound)
    assert service.list_jobs(pb.ListJobsRequest(), BOB).jobs == []
    assert service.list_models(pb.ListModelsRequest(), BOB).models == []
    assert [j.id for j in service.list_jobs(pb.ListJobsRequest(), ALICE).jobs] == [job.id]
    assert [j.id for j in service.list_jobs(pb.ListJobsRequest(), ADMIN).jobs] == [job.id]
    assert service.get_model(pb.GetModelRequest(model_id=model.id), ADMIN).owner == "alice"


@pytest.fixture
def secured_service(store, sender, settings):
    """A gateway's service whose tokens name alice, bob, carol and ops."""
    tokens = "alice:a-secret,bob:b-secret,carol:c-secret,ops:o-secret"
    return LenetService(store, sender, settings.model_copy(update={"tokens": tokens}))


def test_sharing_is_refused_on_an_open_gateway_and_with_users_no_token_names(service, secured_service, store):
    model = saved_model(store)
    fails(lambda: service.share_model(pb.ShareModelRequest(model_id=model.id, add=["bob"]), OPEN),
          FailedPrecondition, "open gateway")
    owned = saved_model(store, owner="alice")
    fails(lambda: secured_service.share_model(pb.ShareModelRequest(model_id=owned.id, add=["bob", "mallory"]), ALICE),
          InvalidArgument, "add", "'mallory'", "no token")
    assert list(store.models.get(owned.id).shared_with) == []
    assert list(secured_service.share_model(pb.ShareModelRequest(model_id=owned.id, add=["bob"]), ALICE)
                .shared_with) == ["bob"]
    secured_service.share_model(pb.ShareModelRequest(model_id=owned.id, remove=["gone"]), ALICE)  # no longer known


def test_a_shared_model_is_read_only_for_those_it_is_shared_with(secured_service, store):
    service = secured_service
    model = saved_model(store, owner="alice")
    shared = service.share_model(pb.ShareModelRequest(model_id=model.id, add=["bob", "carol"]), ALICE)
    assert list(shared.shared_with) == ["bob", "carol"]
    assert service.get_model(pb.GetModelRequest(model_id="latest"), BOB).id == model.id
    assert [m.id for m in service.list_models(pb.ListModelsRequest(), BOB).models] == [model.id]
    job = service.submit_evaluation(pb.EvaluationRequest(model_id=model.id), BOB)
    assert job.owner == "bob"
    fails(lambda: service.get_job(pb.GetJobRequest(job_id=job.id), ALICE), NotFound)   # bob's job stays his
    fails(lambda: service.delete_model(pb.DeleteModelRequest(model_id=model.id), BOB), PermissionDenied, "read-only")
    fails(lambda: service.share_model(pb.ShareModelRequest(model_id=model.id, add=["x y"]), ALICE), InvalidArgument,
          "add")
    service.share_model(pb.ShareModelRequest(model_id=model.id, remove=["bob"]), ALICE)
    fails(lambda: service.get_model(pb.GetModelRequest(model_id=model.id), BOB), NotFound)
    assert service.list_models(pb.ListModelsRequest(), BOB).models == []
    service.delete_model(pb.DeleteModelRequest(model_id=model.id), ALICE)
    assert service.list_models(pb.ListModelsRequest(), Caller("carol", secured=True)).models == []


def test_records_of_an_open_gateway_are_admins_only_once_tokens_are_set(service, store):
    job = service.submit_training(pb.TrainRequest(), OPEN)
    assert not store.owned_records()
    fails(lambda: service.get_job(pb.GetJobRequest(job_id=job.id), ALICE), NotFound)
    assert service.get_job(pb.GetJobRequest(job_id=job.id), ADMIN).id == job.id
    service.submit_training(pb.TrainRequest(), ALICE)
    assert store.owned_records()


def test_a_call_without_a_deadline_has_none_and_one_with_a_deadline_keeps_it(service):
    """gRPC gives a call without a deadline about 9.2e18 s left: the servicer must read that as none."""
    from lenet_clients.client import LenetClient
    from lenet_services.gateway.auth import Auth
    from lenet_services.gateway.grpc_server import build

    seen = []
    service.get_job = lambda request, caller: seen.append(caller.deadline) or pb.Job()
    server, port = build(service, Auth(), 0)
    try:
        for timeout in (None, 30):
            with LenetClient(f"127.0.0.1:{port}", timeout=timeout) as client:
                client.job(UNKNOWN_ID)
    finally:
        server.stop(0)
    # gRPC sends a timeout rounded up to about 3 digits (30 s arrived as up to 30.1 s left): 1% over is the same 30 s
    assert seen[0] is None and 0 < seen[1] - time.monotonic() <= 30 * 1.01
