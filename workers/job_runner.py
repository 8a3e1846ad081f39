"""Run training and evaluation jobs: read the job from the store, call the engine, write events and results.

This is the only place that translates between the store's protobuf records and the engine's numpy world.
"""
import numpy as np

from protos import contract
from protos.contract import FINAL_STATES
from protos.lenet.v1 import lenet_pb2 as pb
from services.store import Store
from workers import model_cache
from workers.context import WorkerContext
from workers.datasets import resolve
from workers.engine import stats
from workers.engine.training import train

BATCH_EVENT_EVERY = 10


def start(store: Store, job_id: str, worker: str) -> pb.Job | None:
    """Mark the job RUNNING on this worker; None when it already ended (cancelled while queued, or done) or
    another live worker is running it (a duplicate delivery)."""
    job = store.jobs.get(job_id)
    if job.state in FINAL_STATES:
        return None
    if job.state == pb.RUNNING and job.worker != worker and job.worker in store.workers.alive():
        return None
    return store.jobs.transition(job_id, pb.RUNNING, f"running on {worker}",
                                 change=lambda job: setattr(job, "worker", worker))


def stop_reason(store: Store, job_id: str, worker: str) -> str | None:
    """Why a running job should stop now: "cancelled", "taken over" by another worker, or None to go on."""
    job = store.jobs.get(job_id)
    return "cancelled" if job.cancel_requested else "taken over" if job.worker != worker else None


def fail(store: Store, job_id: str, error: Exception) -> None:
    """End the job as FAILED, recording why (the task itself succeeds: the job is where the outcome lives)."""
    reason = str(error)
    store.jobs.transition(job_id, pb.FAILED, reason, change=lambda job: setattr(job, "error", reason))


def run_training(worker: WorkerContext, job_id: str) -> None:
    job = start(worker.store, job_id, worker.name)
    if job is None:
        return
    try:
        _train(worker, job)
    except Exception as error:
        fail(worker.store, job_id, error)


def _train(worker: WorkerContext, job: pb.Job) -> None:
    store, request = worker.store, job.train
    train_set = resolve(store.jobs.dataset(job, "train_data"), worker.data_dir, "train_data")
    eval_set = resolve(store.jobs.dataset(job, "eval_data"), worker.data_dir, "eval_data")
    resumed = store.jobs.checkpoint(job.id)
    history = list(resumed[0].history) if resumed else []
    if resumed:
        store.jobs.emit(job.id, pb.JobEvent(log=f"resuming after epoch {resumed[0].epoch}"))

    def on_batch(progress) -> None:
        store.jobs.emit(job.id, pb.JobEvent(batch=pb.BatchProgress(
            epoch=progress.epoch, batch=progress.batch, batches_per_epoch=progress.batches_per_epoch,
            train_accuracy=progress.train_accuracy, samples_per_second=progress.samples_per_second)))

    def on_epoch(result) -> None:
        metrics = pb.TrainMetrics(epoch=result.epoch, train_accuracy=result.train_accuracy,
                                  test_accuracy=result.test_accuracy, elapsed_seconds=result.elapsed_seconds)
        history.append(metrics)
        store.jobs.save_checkpoint(job.id, pb.TrainingCheckpoint(epoch=result.epoch, history=history),
                                   result.params)
        store.jobs.update(job.id, lambda j: j.metrics.CopyFrom(metrics), pb.JobEvent(epoch=metrics))

    def on_evaluating(epoch: int) -> None:
        store.jobs.emit(job.id, pb.JobEvent(evaluating=pb.Evaluating(epoch=epoch, samples=len(eval_set.images))))

    result = train(contract.hyper_params(request.hyper_parameters), train_set.images, train_set.labels,
                   eval_set.images, eval_set.labels, ctx=model_cache.context(worker.device, worker.gpu),
                   on_batch=on_batch, on_epoch=on_epoch, on_evaluating=on_evaluating,
                   should_stop=lambda: stop_reason(store, job.id, worker.name) is not None,
                   start_epoch=resumed[0].epoch if resumed else 0, initial_params=resumed[1] if resumed else None,
                   batch_event_every=BATCH_EVENT_EVERY)
    if result.stopped:
        if stop_reason(store, job.id, worker.name) == "cancelled":
            store.jobs.transition(job.id, pb.CANCELLED, "cancelled while training")
        return  # else another worker took the job over (this one was taken for lost) and finishes it
    model = pb.Model(name=request.model_name, job_id=job.id, created_at=job.created_at,
                     hyper_parameters=request.hyper_parameters, train_data=request.train_data,
                     train_samples=len(train_set.images), metrics=history[-1] if history else None,
                     device=pb.Device.Value(worker.device.upper()), owner=job.owner, history=history)
    graph = model_cache.graph(result.symbol_json)
    model.parameter_count = graph.parameter_count
    model = store.models.save(model, result.symbol_json, result.params, graph)
    store.jobs.transition(job.id, pb.SUCCEEDED, f"model {model.id} saved",
                          change=lambda j: setattr(j, "model_id", model.id))
    store.jobs.drop_checkpoint(job.id)


def run_evaluation(worker: WorkerContext, job_id: str) -> None:
    store = worker.store
    job = start(store, job_id, worker.name)
    if job is None:
        return
    try:
        evaluation = evaluate(worker, job)
    except Exception as error:
        fail(store, job_id, error)
        return
    store.jobs.save_evaluation(job_id, evaluation)
    store.jobs.transition(job_id, pb.SUCCEEDED, f"accuracy {evaluation.overall.accuracy:.4f}",
                          change=lambda j: setattr(j, "accuracy", evaluation.overall.accuracy))


def evaluate(worker: WorkerContext, job: pb.Job) -> pb.Evaluation:
    request = job.evaluation
    selection = resolve(worker.store.jobs.dataset(job, "dataset"), worker.data_dir)
    if selection.labels is None:
        raise ValueError("dataset.labels: uploaded images need labels to be evaluated")
    probabilities = model_cache.predictor(worker, request.model_id).predict(selection.images)
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

