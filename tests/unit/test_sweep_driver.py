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


def end_job(store, job_id: str, state: int, **fields) -> pb.Job:
    """What a worker does to a job (here by hand, without the sweep's advance that follows it)."""
    store.jobs.transition(job_id, pb.RUNNING)

    def finish(job: pb.Job) -> None:
        job.worker = "cpu0-1.train"
        for name, value in fields.items():
            if name == "validation_accuracy":
                job.metrics.epoch, job.metrics.validation_accuracy = 1, value
            else:
                setattr(job, name, value)
    return store.jobs.transition(job_id, state, change=finish)


def test_a_sweep_keeps_its_trials_and_winner_once_their_jobs_are_deleted_or_expired(store):
    from lenet_services.gateway.service import Caller
    from lenet_services.gateway.sweep_service import SweepService

    sender, caller = RecordingSender(), Caller()
    sweeps = SweepService(store, sender)
    sweep = sweeps.submit(pb.SweepRequest(space=[dimension("momentum=0.5,0.9")], sampler=pb.GRID,
                                          budget=pb.Budget(parallelism=2)), caller)
    first, second = sweep.trials
    model = store.models.save(pb.Model(name="unit-sweep"), "{}", b"", pb.Graph())
    end_job(store, first.job_id, pb.SUCCEEDED, validation_accuracy=0.9, model_id=model.id)
    sweeps.before_deleting(store.jobs.get(first.job_id))   # as DeleteJob does: the sweep writes the end down
    store.jobs.delete(first.job_id)
    shown = sweeps.driver.advance(sweep.id)
    assert len(sender.sent) == 2 and shown.trials[0].state == pb.SUCCEEDED   # not taken for never created
    end_job(store, second.job_id, pb.FAILED, error="lost", validation_accuracy=0.5)
    scoring = sweeps.driver.advance(sweep.id)
    assert scoring.state == pb.SWEEP_SCORING and scoring.winner.model_id == model.id and len(sender.sent) == 3
    end_job(store, scoring.winner.evaluation_job_id, pb.SUCCEEDED, accuracy=0.97)
    sweeps.before_deleting(store.jobs.get(scoring.winner.evaluation_job_id))
    store.jobs.delete(scoring.winner.evaluation_job_id)
    for key in keys.job_keys(second.job_id):     # the second trial's retention ends
        store.redis.delete(key)
    done = sweeps.get(pb.GetSweepRequest(sweep_id=sweep.id), caller)
    assert done.state == pb.SWEEP_SUCCEEDED and len(sender.sent) == 3     # scored once, nothing run again
    assert [(t.state, t.epoch, t.value, t.worker, t.model_id) for t in done.trials] == [
        (pb.SUCCEEDED, 1, 0.9, "cpu0-1.train", model.id), (pb.FAILED, 1, 0.5, "cpu0-1.train", "")]
    assert done.trials_finished == 1 and done.trials_in_flight == 0 and done.winner.test_accuracy == 0.97
    listed, = sweeps.list(pb.ListSweepsRequest(), caller).sweeps
    assert listed.trials_finished == 1 and listed.trials_in_flight == 0 and listed.winner == done.winner
    assert list(sweeps.watch(pb.WatchSweepRequest(sweep_id=sweep.id), caller)) == [
        sweeps.driver.view(store.sweeps.get(sweep.id))]


def test_a_winner_whose_model_was_deleted_fails_the_sweep_with_the_reason(store):
    sender = RecordingSender()
    driver = SweepDriver(store, sender)
    sweep, _ = store.sweeps.create(pb.Sweep(request=request("momentum=0.5", sampler=pb.GRID)))
    trial, = driver.start(sweep).trials
    end_job(store, trial.job_id, pb.SUCCEEDED, validation_accuracy=0.9, model_id="0123456789abcdef")
    done = driver.advance(sweep.id)
    assert done.state == pb.SWEEP_FAILED and len(sender.sent) == 1
    assert done.error == "the winner, trial 0, lost its model 0123456789abcdef: it was deleted before the sweep ended"

