"""The job state machine: QUEUED → RUNNING → SUCCEEDED, FAILED, CANCELLED or PRUNED (a sweep's trial) (RUNNING again
when a worker picks up a job whose worker was lost; QUEUED → CANCELLED or FAILED before any worker started it)."""
from lenet_protos.contract import FINAL_STATES as FINAL
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition
from lenet_services.store.indexes import now

ALLOWED = {
    pb.QUEUED: {pb.RUNNING, pb.CANCELLED, pb.FAILED},
    pb.RUNNING: {pb.RUNNING, pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.PRUNED},
}


def state_name(state: int) -> str:
    return pb.JobState.Name(state)


def enter(job: pb.Job, state: int) -> None:
    """Move `job` to `state`, stamping when it started or ended; FailedPrecondition for a move the machine forbids."""
    if state not in ALLOWED.get(job.state, ()):
        raise FailedPrecondition(f"job {job.id} is {state_name(job.state)}; it cannot become {state_name(state)}")
    job.state = state
    if state == pb.RUNNING:
        job.started_at, job.attempts = now(), job.attempts + 1
    if state in FINAL:
        job.finished_at = now()
