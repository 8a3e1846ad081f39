"""Sweeps on the session's real stack: two worker nodes (each a training and a serving process), Redis and the
gateway. Trials are tiny (a few hundred images, 1–4 epochs). A sweep that loses a trial's worker and the gateway is
in test_recovery.py, on its stack with a short heartbeat."""
import pytest
from lenet_cli import run, strict_json, succeeded
from sweep_checks import jobs_of, most_at_once, params, running, stamp

from lenet_clients.client import dimension
from lenet_protos.lenet.v1 import lenet_pb2 as pb

TINY = {"limit": 300, "validation_limit": 200, "test_limit": 300, "init_scale": 0.07}


@pytest.fixture(scope="module")
def lenet(client):
    return client


def test_grid_runs_each_point_once_on_both_nodes_and_scores_the_winner_once(lenet):
    sweep = lenet.sweep(["learning_rate=0.05,0.1", "momentum=0.8,0.9"], sampler="grid", parallelism=2, epochs=1,
                        alias="best", model_name="grid-sweep", **TINY)
    assert sweep.request.budget.trials == 4 and sweep.trials_in_flight == 2
    seen = [snapshot.trials_in_flight for snapshot in lenet.watch_sweep(sweep.id)]
    done = lenet.get_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED, done.error
    assert max(seen) == 2 and done.trials_finished == 4 and len(done.trials) == 4
    assert sorted(params(trial) for trial in done.trials) == sorted(
        (("learning_rate", lr), ("momentum", m)) for lr in (0.05, 0.1) for m in (0.8, 0.9))
    jobs = jobs_of(lenet, done)
    assert all(job.state == pb.SUCCEEDED and job.sweep_id == sweep.id for job in jobs)
    assert most_at_once(jobs) == 2                      # never more than parallelism queued or running
    assert {job.worker.rsplit("-", 1)[0] for job in jobs} == {"cpu0", "cpu1"}   # both nodes' train lanes
    best = max(done.trials, key=lambda trial: (trial.value, -trial.number))
    winner = done.winner
    assert winner.trial == best.number and winner.model_id == best.model_id and winner.value == best.value
    assert lenet.model("grid-sweep@best").id == winner.model_id and winner.alias == "best"
    evaluations = [job for job in lenet.jobs(kind=pb.EVALUATE) if job.sweep_id == sweep.id]
    assert [job.id for job in evaluations] == [winner.evaluation_job_id]     # scored on test once
    assert evaluations[0].evaluation.dataset.split == "test" and winner.test_accuracy == evaluations[0].accuracy
    assert {item.name for item in done.importances} == {"learning_rate", "momentum"}
    assert sum(item.importance for item in done.importances) == pytest.approx(1.0)
    assert sweep.id in [listed.id for listed in lenet.sweeps()]


def test_random_and_tpe_sweeps_side_by_side_keep_their_budgets_and_parallelism(lenet):
    space = ["learning_rate=0.01:0.2:log", "momentum=0:0.95", "batch_size=50:150:50"]
    random = lenet.sweep(space, sampler="random", trials=3, parallelism=2, sampler_seed=1, epochs=1, **TINY)
    tpe = lenet.sweep(space, sampler="tpe", trials=3, parallelism=1, sampler_seed=2, epochs=1, **TINY)
    for sweep, parallelism in ((random, 2), (tpe, 1)):
        done = lenet.wait_sweep(sweep.id)
        assert done.state == pb.SWEEP_SUCCEEDED, done.error
        assert len(done.trials) == 3 and done.trials_finished == 3
        assert most_at_once(jobs_of(lenet, done)) == parallelism
        for trial in done.trials:
            chosen = trial.hyper_parameters
            assert 0.01 <= chosen.learning_rate <= 0.2 and 0 <= chosen.momentum <= 0.95
            assert chosen.batch_size in (50, 100, 150)
        assert len({params(trial) for trial in done.trials}) == 3


def test_a_median_pruner_stops_a_bad_trial_after_its_first_epoch(lenet):
    # seed 3 orders the grid 0.1, 0.05, 5: the bad rate comes after the median has a trial to compare with
    sweep = lenet.sweep(["learning_rate=0.05,0.1,5"], sampler="grid", sampler_seed=3, pruner="median", epochs=3, **TINY)
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED, done.error
    bad = next(trial for trial in done.trials if trial.hyper_parameters.learning_rate == 5)
    assert bad.number == 2 and bad.state == pb.PRUNED and bad.epoch == 1 and len(bad.curve) == 1
    job = lenet.job(bad.job_id)
    assert job.state == pb.PRUNED and not job.model_id and not job.error
    assert done.trials_pruned == 1 and done.trials_finished == 3 and done.winner.trial != bad.number


def test_cancel_stops_every_trial(lenet):
    sweep = lenet.sweep(["learning_rate=0.03:0.1"], sampler="random", trials=6, parallelism=2, epochs=4,
                        limit=2000, validation_limit=200)
    running(lenet, sweep, lambda trial: True, 2)
    lenet.cancel_sweep(sweep.id)
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_CANCELLED and len(done.trials) == 2
    assert [job.state for job in jobs_of(lenet, done)] == [pb.CANCELLED, pb.CANCELLED]
    assert not done.HasField("winner") or not done.winner.evaluation_job_id


def test_a_lone_job_starts_within_one_epoch_of_a_sweep_that_fills_every_lane(lenet):
    sweep = lenet.sweep(["learning_rate=0.04,0.06"], sampler="grid", parallelism=2, epochs=3, limit=1000,
                        validation_limit=200, init_scale=0.07)
    running(lenet, sweep, lambda trial: True, 2)
    lone = lenet.train(epochs=1, limit=300, eval_limit=200)
    started = lenet.wait(lone.id)
    assert started.state == pb.SUCCEEDED
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED and done.trials_finished == 2
    # While the lone job waited, no trial ended more than one epoch: a trial gave its lane up at its epoch's end.
    waited = (stamp(lone.created_at), stamp(started.started_at))
    for trial in done.trials:
        epochs = [event for event in lenet.watch(trial.job_id) if event.WhichOneof("kind") == "epoch"
                  and waited[0] < stamp(event.time) < waited[1]]
        assert len(epochs) <= 1
    logs = [event.log for trial in done.trials for event in lenet.watch(trial.job_id)
            if event.WhichOneof("kind") == "log"]
    assert any("trial yields cpu.train to a job waiting there" in line for line in logs)
    assert [m.epoch for m in lenet.model(done.winner.model_id).history] == [1, 2, 3]


def test_bad_sweep_requests_name_the_field(lenet):
    import grpc

    cases = {
        "space[0].name": dict(space=[pb.Dimension(name="colour", fixed=1)]),
        "space[0].float_range.high": dict(space=["learning_rate=0.1:0.01"]),
        "space[0].float_range": dict(space=[pb.Dimension(name="epochs", float_range=pb.FloatRange(low=1, high=2))]),
        "space[0].choices.values[1]": dict(space=["momentum=0.5,1.5"]),
        "space[0].float_range.step": dict(space=["learning_rate=0.01:0.1"], sampler="grid"),
        "budget.trials": dict(space=["momentum=0.5,0.9"], sampler="grid", trials=3),
        "objective.metric": dict(space=["momentum=0.5,0.9"], objective="train_loss"),
    }
    for field, arguments in cases.items():
        with pytest.raises(grpc.RpcError) as refused:
            lenet.sweep(arguments.pop("space"), **arguments)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details().startswith(field + ":"), refused.value.details()
    assert dimension("batch_size=50:150:50").int_range == pb.IntRange(low=50, high=150, step=50)


def test_the_cli_follows_a_sweep_lists_it_and_shows_it_as_json(stack):
    done = run("sweep", "--space", "learning_rate=0.05,0.1", "--sampler", "grid", "--parallel", "2", "--epochs",
               "1", "--limit", "300", "--validation-limit", "200", "--test-limit", "300", "--init-scale", "0.07",
               "--alias", "cli-best", "--wait", gateway=stack.address)
    output = succeeded(done)
    last = output.strip().splitlines()[-1]
    assert last.startswith("winner: trial ") and "@cli-best" in last and "test accuracy 0." in last, output
    assert "SWEEP_SUCCEEDED" in output and "learning_rate=0.05" in output and "learning_rate=0.1" in output
    sweep_id = output.split("sweep ", 1)[1].split()[0]
    listed = succeeded(run("sweeps", gateway=stack.address))
    assert any(line.split()[:2] == [sweep_id, "SUCCEEDED"] for line in listed.splitlines()), listed
    shown = strict_json(succeeded(run("sweep", "show", sweep_id, "--json", gateway=stack.address)))
    assert shown["id"] == sweep_id and len(shown["trials"]) == 2 and shown["winner"]["alias"] == "cli-best"
    refused = run("sweep", "cancel", sweep_id, gateway=stack.address)
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr
