"""Re-queue jobs whose worker died: a RUNNING job whose lease has expired (its worker's heartbeat renews it as
long as the process lives) is sent to its queue again, and the worker that takes it resumes from the last epoch
checkpoint. Right after Redis restarts, workers have not yet renewed anything, so nothing is taken over until the
store has run for a heartbeat period. The same loop takes ended jobs whose retention is over out of the listing
indexes, and moves on every active sweep (lenet_services.sweep_driver), so a sweep whose driver was lost between
two steps goes on within one interval.

Celery's acks_late also redelivers such a job, but only after the broker's visibility timeout (hours, so that
long runs are not delivered twice); this brings it back within a heartbeat period.
"""
import logging
import threading

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.task_queue import TaskSender, send_job
from lenet_services.store import Store
from lenet_services.sweep_driver import SweepDriver

log = logging.getLogger(__name__)


def requeue_orphans(store: Store, tasks: TaskSender) -> list[str]:
    """Re-queue RUNNING jobs whose lease has expired; returns their ids."""
    if store.uptime_seconds() < store.heartbeat_seconds:
        return []
    requeued = []
    for job in store.jobs.running():
        if store.leases.holder(job.id) is None and store.jobs.claim_requeue(job):
            store.events.append(job.id, pb.JobEvent(log=f"worker {job.worker} was lost; job re-queued on {job.queue}"))
            send_job(tasks, job)
            requeued.append(job.id)
    return requeued


def advance_sweeps(driver: SweepDriver) -> None:
    """Move on each active sweep that no other process is moving on right now."""
    for sweep_id in driver.store.sweeps.active():
        driver.advance(sweep_id, wait_seconds=0)


def start(store: Store, tasks: TaskSender, interval_seconds: float) -> threading.Event:
    """Every `interval_seconds` in a daemon thread until the returned event is set: re-queue orphans, sweep."""
    stop, driver = threading.Event(), SweepDriver(store, tasks)

    def loop() -> None:
        while not stop.wait(interval_seconds):
            try:
                requeue_orphans(store, tasks)
                store.jobs.sweep()
                advance_sweeps(driver)
            except Exception:  # the store may be briefly unreachable; try again next round
                log.exception("recovery round failed")

    threading.Thread(target=loop, name="recovery", daemon=True).start()
    return stop
