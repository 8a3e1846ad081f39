"""Run training and evaluation jobs: read the job from the store, call the engine, write events and results.

This is the only place that translates between the store's protobuf records and the engine's numpy world.
"""
import numpy as np

from protos.lenet.v1 import lenet_pb2 as pb
from services.store import Store
from services.store.jobs import FINAL
from workers import models
from workers.datasets import resolve
from workers.engine import stats
from workers.engine.training import HyperParams, train

BATCH_EVENT_EVERY = 10


def hyper_params(message: pb.HyperParameters) -> HyperParams:
    return HyperParams(epochs=message.epochs, batch_size=message.batch_size, learning_rate=message.learning_rate,
                       momentum=message.momentum, weight_decay=message.weight_decay, seed=message.seed,
                       normalize=message.normalize, init_scale=message.init_scale)


def start(store: Store, job_id: str, worker: str) -> pb.Job | None:
    """Mark the job RUNNING on this worker; None when it already ended (cancelled while queued, or done) or
    another live worker is running it (a duplicate delivery)."""
    job = store.jobs.get(job_id)
    if job.state in FINAL or job.state == pb.RUNNING and job.worker != worker and job.worker in store.workers.alive():
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


def run_training(store: Store, job_id: str, worker: str, device: str) -> None:
    job = start(store, job_id, worker)
    if job is None:
        return
    try:
        _train(store, job, device, worker)
    except Exception as error:
        fail(store, job_id, error)


def _train(store: Store, job: pb.Job, device: str, worker: str) -> None:
    request = job.train
    train_set = resolve(store.jobs.dataset(job, "train_data"), "train", "train_data")
    eval_set = resolve(store.jobs.dataset(job, "eval_data"), "test", "eval_data")
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

    result = train(hyper_params(request.hyper_parameters), train_set.images, train_set.labels,
                   eval_set.images, eval_set.labels, ctx=models.context(device), on_batch=on_batch,
                   on_epoch=on_epoch, should_stop=lambda: stop_reason(store, job.id, worker) is not None,
                   start_epoch=resumed[0].epoch if resumed else 0, initial_params=resumed[1] if resumed else None,
                   batch_event_every=BATCH_EVENT_EVERY)
    if result.stopped:
        if stop_reason(store, job.id, worker) == "cancelled":
            store.jobs.transition(job.id, pb.CANCELLED, "cancelled while training")
        return  # else another worker took the job over (this one was taken for lost) and finishes it
    model = pb.Model(name=request.model_name, job_id=job.id, created_at=job.created_at,
                     hyper_parameters=request.hyper_parameters, train_data=request.train_data,
                     train_samples=len(train_set.images), metrics=history[-1] if history else None,
                     device=pb.Device.Value(device.upper()), owner=job.owner, history=history)
    graph = models.graph(result.symbol_json)
    model.parameter_count = graph.parameter_count
    model = store.models.save(model, result.symbol_json, result.params, graph)
    store.jobs.transition(job.id, pb.SUCCEEDED, f"model {model.id} saved",
                          change=lambda j: setattr(j, "model_id", model.id))
    store.jobs.drop_checkpoint(job.id)


def run_evaluation(store: Store, job_id: str, worker: str, device: str) -> None:
    job = start(store, job_id, worker)
    if job is None:
        return
    try:
        evaluation = evaluate(store, job, device)
    except Exception as error:
        fail(store, job_id, error)
        return
    store.jobs.save_evaluation(job_id, evaluation)
    store.jobs.transition(job_id, pb.SUCCEEDED, f"accuracy {evaluation.overall.accuracy:.4f}",
                          change=lambda j: setattr(j, "accuracy", evaluation.overall.accuracy))


def evaluate(store: Store, job: pb.Job, device: str) -> pb.Evaluation:
    request = job.evaluation
    selection = resolve(store.jobs.dataset(job, "dataset"), "test")
    if selection.labels is None:
        raise ValueError("dataset.labels: uploaded images need labels to be evaluated")
    probabilities = models.predictor(store, request.model_id, device).predict(selection.images)
    predicted = probabilities.argmax(axis=1)
    table = stats.confusion_table(predicted, selection.labels)
    overall = stats.overall(table)
    labels = [str(k) for k in range(len(table))]

    def cell(prediction: int, reference: int, positions: np.ndarray) -> pb.Cell:
        return pb.Cell(prediction=prediction, reference=reference, count=len(positions),
                       indices=selection.indices[positions].tolist())

    cells = stats.cell_indices(predicted, selection.labels)
    wrong = np.flatnonzero(predicted != selection.labels)
    return pb.Evaluation(
        job_id=job.id, model_id=request.model_id, dataset=echo(request.dataset), samples=len(predicted),
        labels=labels, confusion_matrix=table.reshape(-1).tolist(),
        overall=pb.OverallStatistics(
            accuracy=overall["Accuracy"], kappa=overall["Kappa"], accuracy_lower=overall["AccuracyLower"],
            accuracy_upper=overall["AccuracyUpper"], accuracy_null=overall["AccuracyNull"],
            accuracy_p_value=overall["AccuracyPValue"], mcnemar_p_value=overall["McnemarPValue"]),
        by_class=[pb.ClassStatistics(
            label=row["Class"], sensitivity=row["Sensitivity"], specificity=row["Specificity"],
            pos_pred_value=row["Pos Pred Value"], neg_pred_value=row["Neg Pred Value"],
            precision=row["Precision"], recall=row["Recall"], f1=row["F1"], prevalence=row["Prevalence"],
            detection_rate=row["Detection Rate"], detection_prevalence=row["Detection Prevalence"],
            balanced_accuracy=row["Balanced Accuracy"]) for row in stats.by_class(table, labels)],
        worst=[cell(p, r, cells[(p, r)]) for p, r, _count in stats.worst_cells(table)],
        errors=[cell(p, r, positions) for (p, r), positions in sorted(cells.items())],
        misclassified=[pb.Misclassified(index=int(selection.indices[i]), prediction=int(predicted[i]),
                                        reference=int(selection.labels[i]),
                                        probabilities=probabilities[i].tolist()) for i in wrong])


def echo(dataset: pb.Dataset) -> pb.Dataset:
    """The dataset as the result describes it: the default split filled in (the job record keeps uploads
    without their pixels, see services/store/jobs.py)."""
    described = pb.Dataset()
    described.CopyFrom(dataset)
    if not dataset.HasField("images"):
        described.split = dataset.split or "test"
    return described
