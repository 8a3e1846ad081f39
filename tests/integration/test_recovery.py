"""A worker killed mid-training: its job is re-queued, picked up by another worker, and resumes from the last
epoch checkpoint. Its own stack, with a short heartbeat so the loss is noticed within seconds."""
import os
import signal

import pytest
from sweep_checks import jobs_of, most_at_once, running

from lenet_clients.client import LenetClient
from lenet_protos.contract import FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.gateway import validation as check
from lenet_services.stack import Stack
from lenet_services.store import Store


@pytest.fixture(scope="module")
def fast_recovery_stack(settings, tmp_path_factory):
    env = {"LENET_HEARTBEAT_SECONDS": "3", "LENET_RECOVERY_SECONDS": "1"}
    with Stack(settings, workers=2, log_dir=str(tmp_path_factory.mktemp("recovery-logs")), env=env) as stack:
        yield stack


def test_killed_worker_job_resumes_from_checkpoint(fast_recovery_stack):
    stack = fast_recovery_stack
    with LenetClient(stack.address, timeout=60) as client:
        job = client.train(epochs=3, limit=3000, eval_limit=500, init_scale=0.07)
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "epoch":
                break
        running = client.job(job.id)
        assert running.state == pb.RUNNING and running.metrics.epoch == 1
        victim = next(w for w in Store(stack.redis_url).workers.alive() if w.name == running.worker)
        os.kill(victim.pid, signal.SIGKILL)             # the training process itself; its node then stops

        finished = client.wait(job.id)
        assert finished.state == pb.SUCCEEDED, finished.error
        assert finished.attempts == 2 and finished.worker != running.worker
        logs = [e.log for e in client.watch(job.id) if e.WhichOneof("kind") == "log"]
        assert any("was lost" in line for line in logs) and "resuming after epoch 1" in logs
        epochs = [e.epoch.epoch for e in client.watch(job.id) if e.WhichOneof("kind") == "epoch"]
        assert epochs == [1, 2, 3]                      # epoch 1 was not trained again
        history = client.model(finished.model_id).history
        assert [m.epoch for m in history] == [1, 2, 3] and history[-1].test_accuracy > 0.8


def test_a_sweep_survives_losing_a_trials_worker_and_the_gateway(fast_recovery_stack):
    """Exactly the budgeted trials finish, the lost one taken over (not asked for again), the winner scored once."""
    stack = fast_recovery_stack
    stack.add_node()                                    # two nodes again: the test above lost one
    with LenetClient(stack.address, timeout=60) as lenet:
        sweep = lenet.sweep(["learning_rate=0.04:0.08"], sampler="random", trials=3, parallelism=2, epochs=4,
                            limit=600, validation_limit=200, test_limit=300, init_scale=0.07)
        trial = running(lenet, sweep, lambda trial: trial.epoch >= 1)[0]
        victim = next(w for w in Store(stack.redis_url).workers.alive() if w.name == trial.worker)
        os.kill(victim.pid, signal.SIGKILL)             # the training process of a trial; its node then stops
        stack.restart_gateway()
        done = lenet.wait_sweep(sweep.id)
        assert done.state == pb.SWEEP_SUCCEEDED, done.error
        assert len(done.trials) == 3 and done.trials_finished == 3
        jobs = jobs_of(lenet, done)
        assert all(job.state == pb.SUCCEEDED for job in jobs)
        assert lenet.job(trial.job_id).attempts == 2   # taken over, not started afresh as another trial
        assert most_at_once(jobs) == 2
        scored = [job for job in lenet.jobs(kind=pb.EVALUATE) if job.sweep_id == sweep.id]
        assert [job.id for job in scored] == [done.winner.evaluation_job_id] and scored[0].state in FINAL_STATES
        assert done.winner.test_accuracy == scored[0].accuracy


def test_watch_resumes_across_a_gateway_restart(fast_recovery_stack):
    stack = fast_recovery_stack
    with LenetClient(stack.address, timeout=60) as client:
        job = client.train(epochs=2, limit=3000, eval_limit=500)
        seen = []
        for event in client.watch(job.id):
            seen.append(event)
            if len(seen) == 4:                    # mid-training: restart the gateway under the open stream
                stack.restart_gateway()
        assert seen[-1].state.state == pb.SUCCEEDED
        ids = [event.id for event in seen]
        assert len(ids) == len(set(ids)) and ids == [event.id for event in client.watch(job.id)]


def test_a_queued_job_no_worker_will_get_is_sent_again(fast_recovery_stack):
    """One as a gateway killed (or a Redis failing) between a job's record and its task leaves it; one whose task
    was lost after it was sent (as kombu keeps a message aside when a worker's connection to Redis breaks)."""
    stack = fast_recovery_stack
    store = Store(stack.redis_url)
    request = check.train(pb.TrainRequest(hyper_parameters=pb.HyperParameters(epochs=1),
                                          train_data=pb.Dataset(split="train", limit=200),
                                          eval_data=pb.Dataset(split="test", limit=100)))
    never_sent, lost = (store.jobs.create(pb.Job(kind=pb.TRAIN, queue="cpu.train", train=request))[0]
                        for _ in range(2))
    store.jobs.mark_sent(lost.id)
    with LenetClient(stack.address, timeout=60) as client:
        for job, why in [(never_sent, "the gateway that accepted it did not"),
                         (lost, "no worker took it within 3 s while one was idle")]:
            finished = client.wait(job.id)
            assert finished.state == pb.SUCCEEDED, finished.error
            logs = [e.log for e in client.watch(job.id) if e.WhichOneof("kind") == "log"]
            assert f"sent to cpu.train: {why}" in logs
            assert [e.epoch.epoch for e in client.watch(job.id) if e.WhichOneof("kind") == "epoch"] == [1]
    store.close()
