"""Re-queue jobs whose worker died: a RUNNING job whose lease has expired (its worker's heartbeat renews it as
long as the process lives) is sent to its queue again, and the worker that takes it resumes from the last epoch
checkpoint. Right after Redis restarts, workers have not yet renewed anything, so nothing is taken over until the
store has run for a heartbeat period. The same loop takes ended jobs whose retention is over out of the listing
indexes, and moves on every active sweep (lenet_services.sweep_driver), so a sweep whose driver was lost between
two steps goes on within one interval.

A QUEUED job that no worker will get is sent again once it has waited a heartbeat period: one never sent (its
gateway died, or Redis failed, between the job's record and its task), and one sent a heartbeat period ago or more
while its lane has an idle worker and nothing waiting (its task was lost with a worker's connection to Redis: kombu
keeps such a message aside until the visibility timeout below). A task sent twice is harmless, as a worker runs a
job only under its lease and never once it has ended.

Celery's acks_late also redelivers such a job, but only after the broker's visibility timeout (hours, so that
long runs are not delivered twice); this brings it back within a heartbeat period.
"""
import logging
import threading
import time

from lenet_protos import tracing
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.task_queue import TaskSender, send_job
from lenet_services.store import Store
from lenet_services.sweep_driver import SweepDriver

log = logging.getLogger(__name__)


def requeue_orphans(store: Store, tasks: TaskSender) -> list[str]:
    """Re-queue RUNNING jobs whose lease has expired; returns their ids."""
    if store.primary_seconds() < store.heartbeat_seconds:
        return []
    requeued = []
    for job in store.jobs.running():
        if store.leases.holder(job.id) is None and store.jobs.claim_requeue(job):
            with tracing.span("takeover", tracing.context_of(job.trace_context), lost_worker=job.worker,
                              job_id=job.id):   # in the job's trace
                store.events.append(job.id, pb.JobEvent(log=f"worker {job.worker} was lost; job re-queued on "
                                                            f"{job.queue}"))
                send_job(tasks, job)
            requeued.append(job.id)
    return requeued


def send_stranded(store: Store, tasks: TaskSender) -> list[str]:
    """Send the task of every QUEUED job that no worker will get (above); returns their ids."""
    period, sent = store.heartbeat_seconds, []
    idle = {worker.lane for worker in store.workers.alive() if not worker.job_id}
    for job, sent_at in store.jobs.queued(period):
        if sent_at is None:
            why = "the gateway that accepted it did not"
        elif time.time() - sent_at > period and job.queue in idle and store.workers.waiting(job.queue)[0] == 0:
            why = f"no worker took it within {period:g} s while one was idle"
        else:
            continue
        if not send_job(tasks, job):
            continue   # the broker does not answer yet: next round
        store.jobs.mark_sent(job.id)
        store.events.append(job.id, pb.JobEvent(log=f"sent to {job.queue}: {why}"))
        sent.append(job.id)
    return sent


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
                send_stranded(store, tasks)
                store.jobs.sweep()
                advance_sweeps(driver)
            except Exception:  # the store may be briefly unreachable; try again next round
                log.exception("recovery round failed")

    threading.Thread(target=loop, name="recovery", daemon=True).start()
    return stop
