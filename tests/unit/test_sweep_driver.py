"""The sweep driver's translation of a request into Optuna's terms, the gateway's checks of a sweep request, and the
store's Optuna journal, on a real redis-server (no workers: a recording task sender stands for the queue)."""
import json

import pytest
from optuna.trial import TrialState

from lenet_clients.client import dimension
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import InvalidArgument, ResourceExhausted
from lenet_services.gateway import validation as check
from lenet_services.store import keys
from lenet_services.sweep_driver import SweepDriver, distributions, grid, trial_request


class RecordingSender:
    def __init__(self):
        self.sent = []

    def send(self, task: str, args: list, queue: str, priority: int = 0) -> None:
        self.sent.append((task, args, queue, priority))


def request(*space, **fields) -> pb.SweepRequest:
    dimensions = [text if isinstance(text, pb.Dimension) else dimension(text) for text in space]
    return check.sweep(pb.SweepRequest(space=dimensions, **fields), "unit-sweep")


def test_a_grid_lists_choices_int_steps_and_float_steps():
    checked = request("batch_size=50:150:50", "learning_rate=0.1:0.3:0.1", "momentum=0.5,0.9", "seed=7",
                      sampler=pb.GRID)
    points = grid(checked.space)
    assert points["batch_size"] == [50, 100, 150] and points["momentum"] == [0.5, 0.9]
    assert points["learning_rate"] == pytest.approx([0.1, 0.2, 0.3]) and "seed" not in points
    assert checked.budget.trials == 18 and checked.budget.parallelism == 1 and checked.sampler == pb.GRID


def test_names_are_choices_of_a_hyper_parameter_that_takes_names():
    checked = request("lr_schedule=cosine,step", "momentum=0.5,0.9", sampler=pb.GRID)
    assert grid(checked.space)["lr_schedule"] == ["cosine", "step"] and checked.budget.trials == 4
    assert trial_request(checked, pb.HyperParameters(lr_schedule="step")).hyper_parameters.lr_schedule == "step"
    fixed = request("lr_schedule=cosine", "momentum=0.5,0.9")
    assert trial_request(fixed, pb.HyperParameters(momentum=0.5)).hyper_parameters.lr_schedule == "cosine"


def test_defaults_and_a_trials_request_with_fixed_values_and_choices():
    checked = request("learning_rate=0.01:0.1:log", "normalize=true", train=pb.TrainRequest(
        hyper_parameters=pb.HyperParameters(epochs=2)))
    assert checked.sampler == pb.TPE and checked.budget.trials == 10 and checked.pruner.kind == pb.NO_PRUNER
    assert checked.train.model_name == "unit-sweep" and checked.objective.metric == "validation_accuracy"
    assert checked.train.validation_data.split == "validation"        # chosen on validation unless told
    assert distributions(checked.space)["learning_rate"].log
    train = trial_request(checked, pb.HyperParameters(learning_rate=0.02))
    hp = train.hyper_parameters
    assert (hp.learning_rate, hp.normalize, hp.epochs, hp.momentum) == (0.02, True, 2, 0.9)   # the rest: the seed's


@pytest.mark.parametrize("space, fields, field", [
    (["momentum=1.5"], {}, "space[0].fixed"),
    (["epochs=1.5"], {}, "space[0].fixed"),
    (["learning_rate=0.1:0.01"], {}, "space[0].float_range.high"),
    (["learning_rate=0:0.1:log"], {}, "space[0].float_range.low"),
    (["momentum=0.5,0.9", "momentum=0.1,0.2"], {}, "space[1].name"),
    (["momentum=0.1:0.9"], {"sampler": pb.GRID}, "space[0].float_range.step"),
    (["momentum=0.5,0.9"], {"sampler": pb.GRID, "budget": pb.Budget(trials=3)}, "budget.trials"),
    (["momentum=0.5,0.9"], {"pruner": pb.Pruner(kind=pb.SUCCESSIVE_HALVING, reduction_factor=1)},
     "pruner.reduction_factor"),
    (["momentum=0.5,0.9"], {"objective": pb.Objective(metric="elapsed_seconds")}, "objective.metric"),
    (["momentum=0.5,0.9"], {"objective": pb.Objective(metric="test_accuracy"),
                            "train": pb.TrainRequest(validation_only=True, validation_data=pb.Dataset())},
     "train.validation_only"),
    (["lr_schedule=cosine,linear"], {}, "space[0].choices.names[1]"),
    ([pb.Dimension(name="lr_schedule", fixed=1)], {}, "space[0].fixed"),
    (["momentum=0.5,0.9"], {"alias": "no spaces"}, "alias"),
    (["momentum=0.5,0.9"], {"train": pb.TrainRequest(idempotency_key="k")}, "train.idempotency_key"),
    ([], {}, "space"),
])
def test_bad_requests_name_their_field(space, fields, field):
    with pytest.raises(InvalidArgument) as refused:
        request(*space, **fields)
    assert refused.value.field == field


def test_limits_are_resource_exhausted():
    with pytest.raises(ResourceExhausted, match="^budget.parallelism"):
        request("momentum=0.5,0.9", budget=pb.Budget(parallelism=65))


def test_the_journal_is_json_lines_under_the_sweeps_keys_and_trials_are_asked_once(store):
    sender = RecordingSender()
    driver = SweepDriver(store, sender)
    sweep, _ = store.sweeps.create(pb.Sweep(request=request("momentum=0.5,0.9", sampler=pb.GRID,
                                                            budget=pb.Budget(parallelism=2))))
    started = driver.start(sweep)
    assert [trial.number for trial in started.trials] == [0, 1] and len(sender.sent) == 2
    assert {priority for *_, priority in sender.sent} == {9}       # trials wait behind other jobs
    assert driver.advance(sweep.id).trials == started.trials and len(sender.sent) == 2   # nothing asked again
    assert [trial.state for trial in store.studies.trials(sweep.id)] == [TrialState.RUNNING] * 2
    prefix = keys.sweep_study(sweep.id)
    journal = sorted(key.decode() for key in store.redis.keys(f"{prefix}:*"))
    assert journal == sorted([f"{prefix}:log_number", *(f"{prefix}:log:{n}" for n in range(len(journal) - 1))])
    for key in journal[:-1]:
        json.loads(store.redis.get(key))                         # JSON, never a pickled snapshot
    store.sweeps.update(sweep.id, lambda stored: setattr(stored, "cancel_requested", True))
    cancelled = driver.advance(sweep.id)               # queued trials end at once, and so does the sweep
    assert [store.jobs.get(trial.job_id).state for trial in cancelled.trials] == [pb.CANCELLED] * 2
    assert cancelled.state == pb.SWEEP_CANCELLED and store.sweeps.active() == []
    store.sweeps.delete(sweep.id, store.studies.keys(sweep.id))
    assert store.redis.keys(f"lenet:sweep:{sweep.id}*") == []


def test_owners_apply_as_for_jobs(store, settings):
    from lenet_services.errors import NotFound
    from lenet_services.gateway.service import Caller
    from lenet_services.gateway.sweep_service import SweepService

    alice, bob, admin = Caller("alice", secured=True), Caller("bob", secured=True), Caller("ops", True, True)
    sweeps = SweepService(store, RecordingSender())
    sweep = sweeps.submit(pb.SweepRequest(space=[dimension("momentum=0.5,0.9")]), alice)
    assert sweep.owner == "alice" and {store.jobs.get(t.job_id).owner for t in sweep.trials} == {"alice"}
    for call, message in ((sweeps.get, pb.GetSweepRequest), (sweeps.cancel, pb.CancelSweepRequest),
                          (sweeps.delete, pb.DeleteSweepRequest)):
        with pytest.raises(NotFound):
            call(message(sweep_id=sweep.id), bob)
    assert sweeps.list(pb.ListSweepsRequest(), bob).sweeps == []
    assert [s.id for s in sweeps.list(pb.ListSweepsRequest(), admin).sweeps] == [sweep.id]
    assert sweeps.cancel(pb.CancelSweepRequest(sweep_id=sweep.id), alice).state == pb.SWEEP_CANCELLED
