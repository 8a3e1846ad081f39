"""The Celery application: broker, serialization and queue settings shared by the gateway and the workers.

Importing this module is light (no MXNet): the gateway uses it to send tasks by name. Tasks carry ids only;
data travels through the store. JSON is the only accepted content type: no Python objects on the wire.
"""
from celery import Celery

from services.store import redis_url

QUEUES = ("cpu", "gpu")
TASKS = {"train": "lenet.train", "evaluate": "lenet.evaluate", "predict": "lenet.predict",
         "inspect": "lenet.inspect", "export": "lenet.export"}

app = Celery("lenet", broker=redis_url())
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    event_serializer="json",
    task_ignore_result=True,               # results live in the store
    task_acks_late=True,                   # a task is acknowledged when done, so a lost worker's job runs again
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,          # a busy worker does not hold queued jobs back from idle ones
    task_default_queue="cpu",
    task_create_missing_queues=True,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 6 * 3600},  # longer than a full training run
    worker_hijack_root_logger=False,
)


def send(task: str, args: list, queue: str) -> None:
    """Queue task `task` (a TASKS key) on `queue` ("cpu" or "gpu")."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    app.send_task(TASKS[task], args=args, queue=queue)
