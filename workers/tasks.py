"""Celery tasks: thin wrappers that hand an id to workers.jobs / workers.requests.

Celery imports this module only in worker processes (`python -m workers`), which run the solo pool, so
MXNet is loaded in the process that uses it and never in one that forks afterwards.
"""
import os
import socket

from services.store import Store
from workers import jobs, requests
from workers.celery_app import app

store = Store()
DEVICE = os.environ.get("LENET_WORKER_DEVICE", "cpu")
WORKER = os.environ.get("LENET_WORKER_NAME", f"{DEVICE}@{socket.gethostname()}")


@app.task(name="lenet.train")
def train(job_id: str) -> None:
    jobs.run_training(store, job_id, WORKER, DEVICE)


@app.task(name="lenet.evaluate")
def evaluate(job_id: str) -> None:
    jobs.run_evaluation(store, job_id, WORKER, DEVICE)


@app.task(name="lenet.predict")
def predict(request_id: str) -> None:
    requests.answer_predict(store, request_id, DEVICE)


@app.task(name="lenet.inspect")
def inspect(request_id: str) -> None:
    requests.stream_inspect(store, request_id, DEVICE)


@app.task(name="lenet.export")
def export(request_id: str) -> None:
    requests.answer_export(store, request_id)
