"""What the sweep tests check about a sweep's trials: their jobs, how many were in flight at once, their values."""
import itertools
from datetime import datetime

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb


def jobs_of(lenet: LenetClient, sweep: pb.Sweep) -> list[pb.Job]:
    return [lenet.job(trial.job_id) for trial in sweep.trials]


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def most_at_once(jobs: list[pb.Job]) -> int:
    """The most jobs that were queued or running at the same moment (from their created_at to finished_at)."""
    edges = sorted([(stamp(job.created_at), 1) for job in jobs] + [(stamp(job.finished_at), -1) for job in jobs])
    return max(itertools.accumulate(step for _, step in edges))


def ran_together_on_both_nodes(jobs: list[pb.Job]) -> bool:
    """Whether two of the jobs ran at the same moment (from started_at to finished_at) on different nodes."""
    spans = [(stamp(job.started_at), stamp(job.finished_at), job.worker.rsplit("-", 1)[0]) for job in jobs]
    return any(a[2] != b[2] and a[0] < b[1] and b[0] < a[1] for a, b in itertools.combinations(spans, 2))


def params(trial: pb.Trial) -> tuple:
    return tuple((field.name, value) for field, value in trial.hyper_parameters.ListFields())


def running(lenet: LenetClient, sweep: pb.Sweep, which, count: int = 1) -> list[pb.Trial]:
    """Follow the sweep until `count` of its trials run and pass `which` (a test on pb.Trial); those trials."""
    for snapshot in lenet.watch_sweep(sweep.id):
        found = [trial for trial in snapshot.trials if trial.state == pb.RUNNING and which(trial)]
        if len(found) >= count:
            return found
    raise AssertionError(f"sweep {sweep.id} ended before {count} of its trials ran")
