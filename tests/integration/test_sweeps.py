"""Sweeps on the session's real stack: two worker nodes (each a training and a serving process), Redis and the
gateway. Trials are tiny (a few hundred images, 1–4 epochs). A sweep that loses a trial's worker and the gateway is
in test_recovery.py, on its stack with a short heartbeat."""
import pytest
from lenet_cli import run, strict_json, succeeded
from sweep_checks import jobs_of, most_at_once, params, ran_together_on_both_nodes, running, stamp

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
    assert {job.worker.rsplit("-", 1)[0] for job in jobs} == {"cpu0", "cpu1"}   # both nodes' train lanes …
    assert ran_together_on_both_nodes(jobs)                                      # … busy at the same time
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


def test_successive_halving_prunes_a_trial_behind_its_rung(lenet):
    # seed 1 orders the grid 0.1, 5: the bad rate reaches the first rung (epoch 1) second, where halving by 3
    # keeps only the best trial so far
    sweep = lenet.sweep(["learning_rate=0.1,5"], sampler="grid", sampler_seed=1, pruner="halving", epochs=2, **TINY)
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED, done.error
    halving = done.request.pruner
    assert (halving.kind, halving.min_epochs, halving.reduction_factor) == (pb.SUCCESSIVE_HALVING, 1, 3)
    good, bad = done.trials
    assert good.hyper_parameters.learning_rate == 0.1 and good.state == pb.SUCCEEDED and len(good.curve) == 2
    assert bad.hyper_parameters.learning_rate == 5 and bad.state == pb.PRUNED and bad.epoch == 1
    assert lenet.job(bad.job_id).state == pb.PRUNED and done.trials_pruned == 1 and done.winner.trial == good.number


def test_no_trial_starts_after_the_budgets_wall_time(lenet):
    # 60 trials take far longer than 2 s on two lanes, however fast this machine
    sweep = lenet.sweep(["learning_rate=0.03:0.1"], sampler="random", trials=60, parallelism=2, max_seconds=2,
                        epochs=1, **TINY)
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED, done.error
    assert 2 <= len(done.trials) < 60 and done.trials_finished == len(done.trials)   # the running ones finish
    deadline = stamp(done.created_at) + 2
    # a trial is asked for before the wall time and its job created moments later (the ask reads the study)
    assert all(stamp(job.created_at) < deadline + 1 for job in jobs_of(lenet, done))


def test_cancel_stops_every_trial(lenet):
    sweep = lenet.sweep(["learning_rate=0.03:0.1"], sampler="random", trials=6, parallelism=2, epochs=4,
                        limit=2000, validation_limit=200)
    running(lenet, sweep, lambda trial: True, 2)
    lenet.cancel_sweep(sweep.id)
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_CANCELLED and len(done.trials) == 2
    assert [job.state for job in jobs_of(lenet, done)] == [pb.CANCELLED, pb.CANCELLED]
    assert not done.HasField("winner") or not done.winner.evaluation_job_id


def test_a_lone_job_starts_within_one_epoch_of_a_sweep_of_8_parallel_trials(lenet):
    rates = ",".join(f"{0.03 + 0.01 * k:.2f}" for k in range(8))
    sweep = lenet.sweep([f"learning_rate={rates}"], sampler="grid", parallelism=8, epochs=2, limit=600,
                        validation_limit=200, init_scale=0.07)
    assert sweep.trials_in_flight == 8          # two running (one per node's train lane), six queued behind
    running(lenet, sweep, lambda trial: True, 2)
    lone = lenet.train(epochs=1, limit=300, eval_limit=200)
    started = lenet.wait(lone.id)
    assert started.state == pb.SUCCEEDED
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED and done.trials_finished == 8
    # While the lone job waited, no trial ended more than one epoch (a running trial gave its lane up at its
    # epoch's end) and none of the six queued trials went ahead of it.
    waited = (stamp(lone.created_at), stamp(started.started_at))
    for trial in done.trials:
        events = list(lenet.watch(trial.job_id))
        epochs = [event for event in events if event.WhichOneof("kind") == "epoch"
                  and waited[0] < stamp(event.time) < waited[1]]
        assert len(epochs) <= 1
        first_start = next(event for event in events if event.WhichOneof("kind") == "state"
                           and event.state.state == pb.RUNNING)
        assert not waited[0] < stamp(first_start.time) < waited[1], f"trial {trial.number} started first"
    logs = [event.log for trial in done.trials for event in lenet.watch(trial.job_id)
            if event.WhichOneof("kind") == "log"]
    assert any("trial yields cpu.train to a job waiting there" in line for line in logs)
    assert [m.epoch for m in lenet.model(done.winner.model_id).history] == [1, 2]


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
    assert "SUCCEEDED" in output and "SWEEP_" not in output   # states read as jobs' do
    assert "learning_rate=0.05" in output and "learning_rate=0.1" in output
    sweep_id = output.split("sweep ", 1)[1].split()[0]
    listed = succeeded(run("sweeps", gateway=stack.address))
    assert any(line.split()[:2] == [sweep_id, "SUCCEEDED"] for line in listed.splitlines()), listed
    shown = strict_json(succeeded(run("sweep", "show", sweep_id, "--json", gateway=stack.address)))
    assert shown["id"] == sweep_id and len(shown["trials"]) == 2 and shown["winner"]["alias"] == "cli-best"
    refused = run("sweep", "cancel", sweep_id, gateway=stack.address)
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr


def test_a_sweep_keeps_its_trials_and_winner_when_their_jobs_are_deleted_or_expire(lenet, stack):
    from lenet_services.store import Store, keys

    sweep = lenet.sweep(["learning_rate=0.05,0.1,0.2"], sampler="grid", epochs=1, alias="kept",
                        model_name="kept-sweep", **{**TINY, "limit": 1000})
    first, = sweep.trials                                          # one trial at a time
    assert lenet.wait(first.job_id).state == pb.SUCCEEDED
    lenet.delete_job(first.job_id)                                 # most likely while the next trial runs
    done = lenet.wait_sweep(sweep.id)
    assert done.state == pb.SWEEP_SUCCEEDED and len(done.trials) == 3, done.error
    assert [trial.state for trial in done.trials] == [pb.SUCCEEDED] * 3 and done.trials_finished == 3
    gone = run("job", first.job_id, gateway=stack.address)           # not run again under its id
    assert gone.returncode == 1 and f"NOT_FOUND: job '{first.job_id}' not found" in gone.stderr, gone.stderr
    assert [job.sweep_id for job in lenet.jobs(kind=pb.TRAIN)].count(sweep.id) == 2
    expired, deleted = done.trials[1:]
    store = Store(stack.redis_url)
    for key in keys.job_keys(expired.job_id):                        # as its retention ends
        store.redis.delete(key)
    store.close()
    for job_id in (deleted.job_id, done.winner.evaluation_job_id):
        succeeded(run("rm", job_id, gateway=stack.address))
    kept = lenet.get_sweep(sweep.id)
    assert kept.trials == done.trials and kept.winner == done.winner and kept.trials_in_flight == 0
    assert all(trial.epoch == 1 and trial.HasField("value") and trial.worker and trial.model_id and
               len(trial.curve) == 1 for trial in kept.trials)
    assert list(lenet.watch_sweep(sweep.id))[-1].trials == done.trials
    listed = next(item for item in lenet.sweeps() if item.id == sweep.id)
    assert listed.trials_finished == 3 and listed.trials_in_flight == 0 and listed.winner == done.winner
    shown = succeeded(run("sweep", "show", sweep.id, gateway=stack.address))
    assert shown.count("SUCCEEDED") == 4 and "@kept" in shown.splitlines()[-1], shown


def test_the_better_preset_takes_overrides_as_make_sweep_passes_them(stack):
    done = run("sweep", "--preset", "better", "--wait", "--trials", "2", "--parallel", "2", "--epochs", "1",
               "--limit", "300", "--validation-limit", "200", "--test-limit", "300", gateway=stack.address)
    output = succeeded(done)
    rows = [line.split() for line in output.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert [(row[-4], row[-2]) for row in rows] == [("1/1", "SUCCEEDED")] * 2, output
    assert all(len([word for word in row if "=" in word]) == 6 for row in rows)   # the preset's six dimensions
    winner = output.strip().splitlines()[-1]
    assert winner.startswith("winner: trial ") and " = better/" in winner and "(@best)" in winner, output
