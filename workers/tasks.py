"""Celery tasks: thin wrappers that hand a job id to lenet_workers.job_runner.

`register` defines the task of one lane on an application, bound to the worker process's context; only worker
processes (`python -m lenet_workers`, one task at a time in a thread) call it, so MXNet is loaded in the process that
uses it and never in one that forks afterwards.
"""
from celery import Celery

from lenet_protos.contract import TASKS
from lenet_services.task_queue import TaskSender
from lenet_workers import job_runner
from lenet_workers.batcher import Batcher
from lenet_workers.context import WorkerContext


def register_training(app: Celery, worker: WorkerContext, tasks: TaskSender) -> None:
    """The training task; `tasks` queues a job again when this worker hands it back on shutdown."""
    @app.task(name=TASKS["train"])
    def train(job_id: str) -> None:
        job_runner.run_training(worker, tasks, job_id)


def register_serving(app: Celery, worker: WorkerContext, batcher: Batcher, tasks: TaskSender) -> None:
    """The evaluation task; `tasks` queues what a sweep does next when its winner's evaluation ends."""
    @app.task(name=TASKS["evaluate"])
    def evaluate(job_id: str) -> None:
        job_runner.run_evaluation(worker, batcher, tasks, job_id)
