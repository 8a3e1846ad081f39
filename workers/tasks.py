"""Celery tasks: thin wrappers that hand an id to workers.job_runner / workers.serving.

`register` defines them on an application for one worker process, bound to its context; only worker processes
(`python -m workers`, solo pool) call it, so MXNet is loaded in the process that uses it and never in one that
forks afterwards.
"""
from celery import Celery

from protos.contract import TASKS
from workers import job_runner, serving
from workers.context import WorkerContext


def register(app: Celery, worker: WorkerContext) -> None:
    @app.task(name=TASKS["train"])
    def train(job_id: str) -> None:
        job_runner.run_training(worker, job_id)

    @app.task(name=TASKS["evaluate"])
    def evaluate(job_id: str) -> None:
        job_runner.run_evaluation(worker, job_id)

    @app.task(name=TASKS["predict"])
    def predict(request_id: str) -> None:
        serving.answer_predict(worker, request_id)

    @app.task(name=TASKS["inspect"])
    def inspect(request_id: str) -> None:
        serving.stream_inspect(worker, request_id)

    @app.task(name=TASKS["export"])
    def export(request_id: str) -> None:
        serving.answer_export(worker, request_id)
