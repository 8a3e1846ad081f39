"""Re-queue jobs whose worker died: a RUNNING job whose worker's heartbeat is gone is sent to its queue again,
and the worker that takes it resumes from the last epoch checkpoint.

Celery's acks_late also redelivers such a job, but only after the broker's visibility timeout (hours, so that
long runs are not delivered twice); this brings it back within a heartbeat period.
"""
import logging
import os
import threading

from protos.lenet.v1 import lenet_pb2 as pb
from services.store import Store
from workers.celery_app import send

INTERVAL_SECONDS = float(os.environ.get("LENET_RECOVERY_SECONDS", "10"))
TASK_OF = {pb.TRAIN: "train", pb.EVALUATE: "evaluate"}
log = logging.getLogger(__name__)


def requeue_orphans(store: Store) -> list[str]:
    """Re-queue RUNNING jobs whose worker is no longer alive; returns their ids."""
    alive = store.workers.alive()
    requeued = []
    for job in store.jobs.list(state=pb.RUNNING, limit=10_000):
        if job.worker and job.worker not in alive and store.jobs.claim_requeue(job):
            store.jobs.emit(job.id, pb.JobEvent(log=f"worker {job.worker} was lost; job re-queued on {job.queue}"))
            send(TASK_OF[job.kind], [job.id], job.queue)
            requeued.append(job.id)
    return requeued


def start(store: Store) -> threading.Event:
    """Run requeue_orphans every INTERVAL_SECONDS in a daemon thread until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(INTERVAL_SECONDS):
            try:
                requeue_orphans(store)
            except Exception:  # the store may be briefly unreachable; try again next round
                log.exception("recovery round failed")

    threading.Thread(target=loop, name="recovery", daemon=True).start()
    return stop
