"""Run training and evaluation jobs: read the job from the store, call the engine, write events and results.

This is the only place that translates between the store's protobuf records and the engine's numpy world.

A worker holds a job by its lease, which the process's heartbeat renews; another worker takes a job over only
once the lease has expired. Before every batch the worker asks, in one round trip, whether the job was cancelled
or taken over. A store outage does not stop a running job: progress events are dropped meanwhile, and the
results wait for the store to come back.
"""
import logging
import time
from collections.abc import Callable

import numpy as np
import redis

from protos import contract
from protos.contract import FINAL_STATES
from protos.lenet.v1 import lenet_pb2 as pb
from services import logs
from services.task_queue import TaskSender
from workers import model_cache, worker_metrics as metrics
from workers.batcher import Batcher
from workers.context import WorkerContext
from workers.datasets import resolve
from workers.engine import stats
from workers.engine.training import train

log = logging.getLogger(__name__)
BATCH_EVENT_EVERY = 10
EVALUATION_SLICE = 500      # images per forward pass of an evaluation: a Predict waits at most this long
RESULT_RETRY_SECONDS = 600  # how long finished work waits for an unreachable store before it is given up


def start(worker: WorkerContext, job_id: str) -> pb.Job | None:
    """Take the job's lease and mark it RUNNING on this worker; None when it already ended (cancelled while
    queued, or done) or another live worker holds it (a duplicate delivery)."""
    store = worker.store
    job = store.jobs.get(job_id)
    if job.state in FINAL_STATES or not store.jobs.take_lease(job_id, worker.name, store.heartbeat_seconds):
        return None
    worker.status.job_id = job_id
    return store.jobs.transition(job_id, pb.RUNNING, f"running on {worker.name}",
                                 change=lambda job: setattr(job, "worker", worker.name))


def finish(worker: WorkerContext, job_id: str) -> None:
    worker.status.job_id = ""
    _patiently(lambda: worker.store.jobs.release_lease(job_id))


def stop_reason(worker: WorkerContext, job_id: str) -> str | None:
    """"stopping" (this worker is shutting down), "cancelled", "taken over", or None to go on (also while the
    store is unreachable)."""
    if worker.status.stopping:
        return "stopping"
    try:
        return worker.store.jobs.stop_reason(job_id, worker.name)
    except redis.RedisError:
        return None


def hand_back(worker: WorkerContext, job: pb.Job, tasks: TaskSender) -> None:
    """A worker asked to stop gives its running job back: the lease goes and the job is queued again, so the
    next worker resumes it from its last epoch checkpoint."""
    store = worker.store
    _patiently(lambda: store.jobs.emit(job.id, pb.JobEvent(
        log=f"worker {worker.name} is stopping: job handed back to {job.queue}, to resume from its last epoch")))
    _patiently(lambda: store.jobs.release_lease(job.id))
    tasks.send(contract.JOB_TASKS[job.kind], [job.id], job.queue)


def fail(worker: WorkerContext, job_id: str, error: Exception) -> None:
    """End the job as FAILED, recording why (the task itself succeeds: the job is where the outcome lives)."""
    reason = str(error)
    _patiently(lambda: worker.store.jobs.transition(job_id, pb.FAILED, reason,
                                                    change=lambda job: setattr(job, "error", reason)))


def run(worker: WorkerContext, job_id: str, task: str, work: Callable[[pb.Job], str]) -> None:
    """Run a job from its start to its end: the lease, the outcome `work` returns (or FAILED with its error),
    the task counter and the log lines, which all name the job."""
    noun = {"train": "training", "evaluate": "evaluation"}[task]
    with logs.about(job_id=job_id):
        job = start(worker, job_id)
        if job is None:
            log.info("not started: the job has ended or another live worker holds it")
            return
        log.info("%s started (attempt %d)", noun, job.attempts)
        outcome = "failed"
        try:
            outcome = work(job)
        except Exception as error:
            log.exception("%s failed", noun)
            fail(worker, job_id, error)
        finally:
            finish(worker, job_id)
            metrics.TASKS.labels(task, outcome).inc()
            log.info("%s %s", noun, outcome)


def run_training(worker: WorkerContext, tasks: TaskSender, job_id: str) -> None:
    run(worker, job_id, "train", lambda job: _train(worker, job, tasks))


def _train(worker: WorkerContext, job: pb.Job, tasks: TaskSender) -> str:
    """Train the job's model; returns how it ended: "succeeded", "cancelled", "handed back" or "taken over"."""
    store, request = worker.store, job.train
    train_set = resolve(store.jobs.dataset(job, "train_data"), worker.settings.data_dir, "train_data")
    eval_set = resolve(store.jobs.dataset(job, "eval_data"), worker.settings.data_dir, "eval_data")
    resumed = store.jobs.checkpoint(job.id)
    history = list(resumed[0].history) if resumed else []
    if resumed:
        store.jobs.emit(job.id, pb.JobEvent(log=f"resuming after epoch {resumed[0].epoch}"))

    def emit(event: pb.JobEvent) -> None:
        _quietly(lambda: store.jobs.emit(job.id, event))

    def on_batch(progress) -> None:
        metrics.TRAINING_SPEED.set(progress.samples_per_second)
        emit(pb.JobEvent(batch=pb.BatchProgress(
            epoch=progress.epoch, batch=progress.batch, batches_per_epoch=progress.batches_per_epoch,
            train_accuracy=progress.train_accuracy, samples_per_second=progress.samples_per_second)))

    def on_evaluating(epoch: int) -> None:
        emit(pb.JobEvent(evaluating=pb.Evaluating(epoch=epoch, samples=len(eval_set.images))))

    def on_epoch(result) -> None:
        figures = pb.TrainMetrics(epoch=result.epoch, train_accuracy=result.train_accuracy,
                                  test_accuracy=result.test_accuracy, elapsed_seconds=result.elapsed_seconds)
        history.append(figures)
        metrics.EPOCH_SECONDS.observe(result.elapsed_seconds)
        log.info("epoch %d: train accuracy %.4f, test accuracy %.4f, %.1f s", result.epoch, result.train_accuracy,
                 result.test_accuracy, result.elapsed_seconds)

        def record() -> None:
            store.jobs.save_checkpoint(job.id, pb.TrainingCheckpoint(epoch=result.epoch, history=history),
                                       result.params)
            store.jobs.update(job.id, lambda j: j.metrics.CopyFrom(figures), pb.JobEvent(epoch=figures))
        _quietly(record)   # missed while the store is away: the next epoch's checkpoint covers it

    result = train(contract.hyper_params(request.hyper_parameters), train_set.images, train_set.labels,
                   eval_set.images, eval_set.labels, ctx=model_cache.context(worker.device, worker.settings.gpu),
                   on_batch=on_batch, on_epoch=on_epoch, on_evaluating=on_evaluating,
                   should_stop=lambda: stop_reason(worker, job.id) is not None,
                   start_epoch=resumed[0].epoch if resumed else 0, initial_params=resumed[1] if resumed else None,
                   batch_event_every=BATCH_EVENT_EVERY)
    if result.stopped:
        reason = stop_reason(worker, job.id)
        if reason == "cancelled":
            _patiently(lambda: store.jobs.transition(job.id, pb.CANCELLED, "cancelled while training"))
            return "cancelled"
        if reason == "stopping":
            hand_back(worker, job, tasks)
            return "handed back"
        return "taken over"  # another worker took the job over (this one was taken for lost) and finishes it
    model = pb.Model(name=request.model_name, job_id=job.id, created_at=job.created_at,
                     hyper_parameters=request.hyper_parameters, train_data=request.train_data,
                     train_samples=len(train_set.images), metrics=history[-1] if history else None,
                     device=pb.Device.Value(worker.device.upper()), owner=job.owner, history=history)
    graph = model_cache.graph(result.symbol_json)
    model.parameter_count = graph.parameter_count
    model = _patiently(lambda: store.models.save(model, result.symbol_json, result.params, graph))
    saved = f"model {model.id} saved as {model.name}/{model.version}"
    _patiently(lambda: store.jobs.transition(job.id, pb.SUCCEEDED, saved,
                                             change=lambda j: setattr(j, "model_id", model.id)))
    _quietly(lambda: store.jobs.drop_checkpoint(job.id))
    return "succeeded"


def run_evaluation(worker: WorkerContext, batcher: Batcher, job_id: str) -> None:
    run(worker, job_id, "evaluate", lambda job: _evaluate(worker, batcher, job))


def _evaluate(worker: WorkerContext, batcher: Batcher, job: pb.Job) -> str:
    store = worker.store
    evaluation = evaluate(worker, batcher, job)
    if isinstance(evaluation, str):      # stopped; a worker shutting down finishes its evaluation first
        if evaluation == "cancelled":
            _patiently(lambda: store.jobs.transition(job.id, pb.CANCELLED, "cancelled while evaluating"))
        return evaluation
    _patiently(lambda: store.jobs.save_evaluation(job.id, evaluation))
    _patiently(lambda: store.jobs.transition(job.id, pb.SUCCEEDED, f"accuracy {evaluation.overall.accuracy:.4f}",
                                             change=lambda j: setattr(j, "accuracy", evaluation.overall.accuracy)))
    return "succeeded"


def evaluate(worker: WorkerContext, batcher: Batcher, job: pb.Job) -> pb.Evaluation | str:
    """The evaluation of the job's dataset, or why it stopped ("cancelled" or "taken over", checked before every
    slice)."""
    request = job.evaluation
    selection = resolve(worker.store.jobs.dataset(job, "dataset"), worker.settings.data_dir)
    if selection.labels is None:
        raise ValueError("dataset.labels: uploaded images need labels to be evaluated")
    predictor = batcher.run(lambda: model_cache.predictor(worker, request.model_id))
    pieces = []
    for start in range(0, len(selection.images), EVALUATION_SLICE):
        if (reason := stop_reason(worker, job.id)) in ("cancelled", "taken over"):
            return reason
        images = selection.images[start:start + EVALUATION_SLICE]
        pieces.append(batcher.run(lambda: predictor.predict(images, batch_size=EVALUATION_SLICE)))
    probabilities = np.concatenate(pieces)
    predicted = probabilities.argmax(axis=1)
    table = stats.confusion_table(predicted, selection.labels)
    overall = stats.overall(table)
    labels = list(contract.CLASS_LABELS)

    def cell(prediction: int, reference: int, positions: np.ndarray) -> pb.Cell:
        return pb.Cell(prediction=prediction, reference=reference, count=len(positions),
                       indices=selection.indices[positions].tolist())

    cells = stats.cell_indices(predicted, selection.labels)
    wrong = np.flatnonzero(predicted != selection.labels)
    return pb.Evaluation(
        job_id=job.id, model_id=request.model_id, dataset=request.dataset, samples=len(predicted),
        labels=labels, confusion_matrix=table.reshape(-1).tolist(),
        overall=pb.OverallStatistics(**{field: overall[name] for name, field in contract.OVERALL_STATISTICS.items()}),
        by_class=[pb.ClassStatistics(label=row["Class"], **{field: row[name] for name, field
                                                              in contract.CLASS_STATISTICS.items()})
                  for row in stats.by_class(table, labels)],
        worst=[cell(p, r, cells[(p, r)]) for p, r, _count in stats.worst_cells(table)],
        errors=[cell(p, r, positions) for (p, r), positions in sorted(cells.items())],
        misclassified=[pb.Misclassified(index=int(selection.indices[i]), prediction=int(predicted[i]),
                                        reference=int(selection.labels[i]),
                                        probabilities=probabilities[i].tolist()) for i in wrong])


def _quietly(write: Callable) -> None:
    """A store write that may be skipped while the store is unreachable."""
    try:
        write()
    except redis.RedisError as error:
        log.warning("store unreachable, skipped a progress write: %s", error)


def _patiently(write: Callable):
    """A store write the job's outcome depends on: retried until the store answers (up to RESULT_RETRY_SECONDS)."""
    deadline = time.monotonic() + RESULT_RETRY_SECONDS
    while True:
        try:
            return write()
        except redis.RedisError as error:
            if time.monotonic() > deadline:
                raise
            log.warning("store unreachable, retrying: %s", error)
            time.sleep(1.0)
