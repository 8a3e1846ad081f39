"""The Celery side of the service: the application settings that senders (gateway) and workers share, and
sending a task by name.

Tasks carry one id each (a job or a request); data travels through the store. JSON is the only accepted
content type: no Python objects on the wire. Creating the application opens no connection.
"""
import logging
import ssl
from dataclasses import replace
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from celery import Celery
from kombu.exceptions import OperationalError

from lenet_protos import tracing
from lenet_protos.contract import DEVICES, JOB_PRIORITY, JOB_TASKS, LANES, TASKS, TRIAL_PRIORITY, lane
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import Unavailable
from lenet_services.store.connection import Location, broker

log = logging.getLogger(__name__)


def celery_app(where: Location | str) -> Celery:
    """A Celery application on the store's Redis (`where`: a URL, or a Location naming sentinels, from which kombu
    finds the primary after a failover) with the service's settings (no tasks registered). A rediss:// URL's
    TLS parameters (ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile), which redis-py reads from the URL,
    are handed to Celery as its broker_use_ssl."""
    where = Location(where) if isinstance(where, str) else where
    plain_url, tls = _tls_options(where.url)
    url, sentinel_options = broker(replace(where, url=plain_url))
    app = Celery("lenet", broker=url, set_as_current=False)
    if tls is not None:
        app.conf.broker_use_ssl = tls
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,               # results live in the store
        task_acks_late=True,                   # a task is acknowledged when done, so a lost worker's job runs again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,          # a busy worker does not hold queued jobs back from idle ones
        task_default_queue=lane(DEVICES[0], LANES[0]),
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 6 * 3600,   # longer than a full training run
                                  **sentinel_options},
        worker_hijack_root_logger=False,
        worker_send_task_events=True,          # Flower and `celery events` see tasks start and end
        task_send_sent_event=True,
    )
    return app


def instrument() -> None:
    """Celery's publish and run spans (the maintained instrumentation; `traceparent` in the task headers), in a
    process that traces."""
    if tracing.on():
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        CeleryInstrumentor().instrument()


QUEUES = {lane(device, name) for device in DEVICES for name in LANES}
CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def _tls_options(url: str) -> tuple[str, dict | None]:
    """(the URL without its query, TLS options) for rediss://; (url, None) otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return url, None
    query = dict(parse_qsl(parts.query))
    tls = {"ssl_cert_reqs": CERT_REQS[query.get("ssl_cert_reqs", "required").lower()]}
    tls.update({key: query[key] for key in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile") if key in query})
    return urlunsplit(parts._replace(query="")), tls


class TaskSender(Protocol):
    """What sends tasks: TaskQueue, or in tests anything that records what it is given."""
    def send(self, task: str, args: list, queue: str, priority: int = JOB_PRIORITY) -> None:
        """Raises lenet_services.errors.Unavailable when the broker does not take it."""


def send_job(tasks: TaskSender, job: pb.Job) -> bool:
    """Queue `job` on its lane: a sweep's training trial behind every other job there (TRIAL_PRIORITY). False when
    the broker did not take it: the stored job stays unmarked, and the recovery loop sends it once the broker
    answers (lenet_services.gateway.recovery.send_stranded)."""
    trial = job.kind == pb.TRAIN and bool(job.sweep_id)
    try:
        tasks.send(JOB_TASKS[job.kind], [job.id], job.queue, TRIAL_PRIORITY if trial else JOB_PRIORITY)
    except Unavailable as error:
        log.warning("job %s: its task was not sent (%s); the recovery loop will send it", job.id, error)
        return False
    return True


class TaskQueue:
    """Sends tasks by name (lenet_protos.contract.TASKS) to a lane's queue, e.g. "cpu.train"."""

    def __init__(self, where: Location | str):
        self.app = celery_app(where)

    def send(self, task: str, args: list, queue: str, priority: int = JOB_PRIORITY) -> None:
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        try:
            self.app.send_task(TASKS[task], args=args, queue=queue, priority=priority)
        except OperationalError as error:   # the broker (the store's Redis) refused, after Celery's own retries
            raise Unavailable(f"task queue unavailable: {error}") from None

    def close(self) -> None:
        self.app.close()
