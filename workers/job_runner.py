"""Run training and evaluation jobs: read the job from the store, call the engine, write events and results.

This is the only place that translates between the store's protobuf records and the engine's numpy world.

A worker holds a job by its lease, which the process's heartbeat renews; another worker takes a job over only
once the lease has expired. Before every batch the worker asks, in one round trip, whether the job was cancelled
or taken over (StopReason); a job that stops raises Stopped, and `run` settles what it leaves. A store outage
does not stop a running job: its events wait in its outbox (lenet_workers.outbox), and the results for the store to
come back.
"""
import logging
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np

from lenet_protos import contract, tracing
from lenet_protos.contract import FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services import logs
from lenet_services.store import StopReason, Unavailable
from lenet_services.store.models import job_model_id
from lenet_services.sweep_driver import SweepDriver
from lenet_services.task_queue import TaskSender, send_job
from lenet_workers import model_cache, worker_metrics as metrics
from lenet_workers.batcher import Batcher
from lenet_workers.context import WorkerContext
from lenet_workers.datasets import resolve
from lenet_workers.outbox import Outbox
from lenet_workers.engine import stats
from lenet_workers.engine.training import BatchProgress, EpochResult, TrainResult, train

log = logging.getLogger(__name__)
BATCH_EVENT_EVERY = 10
EVALUATION_SLICE = 500      # images per forward pass of an evaluation: a Predict waits at most this long
RESULT_RETRY_SECONDS = 600  # how long finished work waits for an unreachable store before it is given up
NOUNS = {"train": "training", "evaluate": "evaluation"}
ENDED = {"succeeded", "failed", "cancelled", "pruned"}   # outcomes that put the job in a final state
OUTCOMES = {StopReason.CANCELLED: "cancelled", StopReason.STOPPING: "handed back", StopReason.TAKEN_OVER: "taken over",
            StopReason.PRUNED: "pruned", StopReason.YIELDING: "yielded"}


class Stopped(Exception):
    """The job stopped before its end (checked before every batch or slice), for `reason`."""

    def __init__(self, reason: StopReason):
        super().__init__(reason.value)
        self.reason = reason


def start(worker: WorkerContext, job_id: str) -> pb.Job | None:
    """Take the job's lease and mark it RUNNING on this worker; None when it already ended (cancelled while
    queued, or done) or another live worker holds it (a duplicate delivery)."""
    store = worker.store
    job = store.jobs.get(job_id)
    if job.state in FINAL_STATES or not store.leases.take(job_id, worker.name, store.heartbeat_seconds):
        return None
    worker.status.job_id = job_id
    return store.jobs.transition(job_id, pb.RUNNING, f"running on {worker.name}",
                                 change=lambda job: setattr(job, "worker", worker.name))


def finish(worker: WorkerContext, job_id: str) -> None:
    """Release the lease, and wait once for the replicas to hold what the job left (its model, its final state):
    should they not confirm, the job is not run again for it (it is on the primary); a warning says so."""
    worker.status.job_id = ""
    _patiently(lambda: worker.store.leases.release(job_id))
    try:
        worker.store.confirm(f"the outcome of job {job_id}")
    except Unavailable as error:
        log.warning("%s", error)


def stop_reason(worker: WorkerContext, job_id: str) -> StopReason | None:
    """STOPPING (this worker is shutting down), CANCELLED, TAKEN_OVER, or None to go on (also while the store is
    unreachable)."""
    if worker.status.stopping:
        return StopReason.STOPPING
    try:
        return worker.store.leases.stop_reason(job_id, worker.name)
    except Unavailable:
        return None


class StopCheck:
    """The engine's should_stop: asked before every batch, it remembers why the job stopped. `after_epoch`
    (a sweep's trial: pruned, or yielding its lane) stops it before the next batch."""

    def __init__(self, worker: WorkerContext, job_id: str):
        self.worker, self.job_id = worker, job_id
        self.reason: StopReason | None = None
        self.after_epoch: StopReason | None = None

    def __call__(self) -> bool:
        self.reason = self.after_epoch or stop_reason(self.worker, self.job_id)
        return self.reason is not None


def hand_back(worker: WorkerContext, job: pb.Job, tasks: TaskSender, outbox: Outbox, why: str = "") -> None:
    """A worker gives its running job back (it is stopping, or a trial yields its lane): the lease goes and the
    job is queued again, so the next worker resumes it from its last epoch checkpoint."""
    why = why or f"worker {worker.name} is stopping"
    outbox.tell(pb.JobEvent(log=f"{why}: job handed back to {job.queue}, to resume from its last epoch"))
    _patiently(outbox.flush)
    _patiently(lambda: worker.store.leases.release(job.id))
    send_job(tasks, job)


def fail(worker: WorkerContext, job_id: str, error: Exception) -> None:
    """End the job as FAILED, recording why (the task itself succeeds: the job is where the outcome lives)."""
    reason = str(error)
    _patiently(lambda: worker.store.jobs.transition(job_id, pb.FAILED, reason,
                                                    change=lambda job: setattr(job, "error", reason)))


def run(worker: WorkerContext, job_id: str, task: str, work: Callable[[pb.Job, Outbox], None],
        tasks: TaskSender | None = None) -> None:
    """Run a job from its start to its end: the lease; the outcome (`work` records SUCCEEDED; a Stopped job is
    cancelled, handed back through `tasks`, or left to the worker that took it over; any error ends it FAILED),
    told after every event the job's outbox still holds; the task counter and the log lines, which all name the
    job."""
    noun = NOUNS[task]
    with logs.about(job_id=job_id):
        job = start(worker, job_id)
        if job is None:
            log.info("not started: the job has ended or another live worker holds it")
            return
        log.info("%s started (attempt %d)", noun, job.attempts)
        outcome, outbox = "failed", Outbox(worker.store, job_id, worker.name)
        context = tracing.context_of(job.trace_context)   # the trace of the call that submitted it
        if job.attempts == 1:
            tracing.record("queued", _ns(job.created_at), _ns(job.started_at), context, queue=job.queue)
        try:
            with tracing.span(noun, context, job_id=job_id, attempt=job.attempts, worker=worker.name):
                work(job, outbox)
            outcome = "succeeded"
        except Stopped as stopped:   # TAKEN_OVER: the worker that holds the job now tells the rest
            outcome = OUTCOMES[stopped.reason]
            if stopped.reason is StopReason.CANCELLED:
                _patiently(outbox.flush)
                _patiently(lambda: worker.store.jobs.transition(job_id, pb.CANCELLED, f"cancelled during {noun}"))
            elif stopped.reason is StopReason.PRUNED:
                _patiently(lambda: worker.store.jobs.transition(job_id, pb.PRUNED, "pruned by its sweep's pruner"))
            elif stopped.reason is StopReason.STOPPING:
                hand_back(worker, job, tasks, outbox)
            elif stopped.reason is StopReason.YIELDING:
                hand_back(worker, job, tasks, outbox, f"trial yields {job.queue} to a job waiting there")
        except Exception as error:
            log.exception("%s failed", noun)
            _quietly(outbox.flush)
            fail(worker, job_id, error)
        finally:
            finish(worker, job_id)
            metrics.TASKS.labels(task, outcome).inc()
            log.info("%s %s", noun, outcome)
        if job.sweep_id and outcome in ENDED:
            _quietly(lambda: SweepDriver(worker.store, tasks).advance(job.sweep_id))   # else recovery moves it on


def run_training(worker: WorkerContext, tasks: TaskSender, job_id: str) -> None:
    run(worker, job_id, "train", lambda job, outbox: _train(worker, tasks, job, outbox), tasks)


def _trial_epoch(worker: WorkerContext, tasks: TaskSender, job: pb.Job, figures: pb.TrainMetrics,
                 stop: StopCheck) -> None:
    """After an epoch of a sweep's trial that has more to go: its objective goes to the sweep's study, whose pruner
    may stop it here (PRUNED); else, when a job that is not a trial waits on this lane, the trial gives the lane
    up (it resumes from this epoch behind that job), so no sweep holds a user back longer than an epoch."""
    if figures.epoch >= job.train.hyper_parameters.epochs:
        _quietly(lambda: SweepDriver(worker.store, tasks).report(job, figures))
        return
    try:
        if SweepDriver(worker.store, tasks).report(job, figures):
            stop.after_epoch = StopReason.PRUNED
        elif worker.store.workers.jobs_first_in_line(job.queue):
            stop.after_epoch = StopReason.YIELDING
    except Unavailable as error:
        log.warning("store unreachable, the trial goes on: %s", error)


def _train(worker: WorkerContext, tasks: TaskSender, job: pb.Job, outbox: Outbox) -> None:
    """Train the job's model (from its last checkpoint, if any) and save it once all its events are written;
    Stopped when it stops first, or was taken over meanwhile."""
    store, request, data_dir = worker.store, job.train, worker.settings.data_dir
    train_set = resolve(store.jobs.dataset(job, "train_data"), data_dir, "train_data",
                        contract.train_split_size(request))
    eval_set = None if request.validation_only else resolve(store.jobs.dataset(job, "eval_data"), data_dir,
                                                            "eval_data")
    validation = resolve(store.jobs.dataset(job, "validation_data"), data_dir, "validation_data") \
        if request.HasField("validation_data") else None
    resumed = store.checkpoints.get(job.id)
    if resumed:
        outbox.tell(pb.JobEvent(log=f"resuming after epoch {resumed[0].epoch}"))
    scored = sum(len(chosen.images) for chosen in (eval_set, validation) if chosen)
    stop = StopCheck(worker, job.id)
    progress = Progress(outbox, list(resumed[0].history) if resumed else [], scored,
                        after_epoch=(lambda figures: _trial_epoch(worker, tasks, job, figures, stop)) if job.sweep_id
                        else None)
    result = train(contract.hyper_params(request.hyper_parameters), train_set.images, train_set.labels,
                   eval_set and eval_set.images, eval_set and eval_set.labels,
                   validation_x=validation and validation.images, validation_y=validation and validation.labels,
                   ctx=model_cache.context(worker.device, worker.settings.gpu),
                   on_batch=progress.batch, on_evaluating=progress.evaluating, on_epoch=progress.epoch,
                   should_stop=stop, start_epoch=resumed[0].epoch if resumed else 0,
                   initial_params=resumed[1] if resumed else None, batch_event_every=BATCH_EVENT_EVERY)
    if result.stopped:
        raise Stopped(stop.reason)
    _patiently(outbox.flush)
    if stop_reason(worker, job.id) is StopReason.TAKEN_OVER:   # while the store was away: the other worker saves
        raise Stopped(StopReason.TAKEN_OVER)
    with tracing.span("model save"):
        model = _save_model(worker, job, len(train_set.images), progress.history, result)
    saved = f"model {model.id} saved as {model.name}/{model.version}"
    _patiently(lambda: store.jobs.transition(job.id, pb.SUCCEEDED, saved,
                                             change=lambda j: setattr(j, "model_id", model.id)))
    _quietly(lambda: store.checkpoints.drop(job.id))


class Progress:
    """What a training job tells as it goes, through its outbox: batch and evaluation events, and each epoch's
    figures with the checkpoint the next worker would resume from."""

    def __init__(self, outbox: Outbox, history: list[pb.TrainMetrics], eval_samples: int,
                 after_epoch: Callable[[pb.TrainMetrics], None] | None = None):
        self.outbox, self.history, self.eval_samples = outbox, history, eval_samples
        self.after_epoch = after_epoch
        self.evaluating_since = 0   # time.time_ns() when this epoch's evaluation began, for its span

    def batch(self, progress: BatchProgress) -> None:
        metrics.TRAINING_SPEED.set(progress.samples_per_second)
        self.outbox.tell(pb.JobEvent(batch=pb.BatchProgress(
            epoch=progress.epoch, batch=progress.batch, batches_per_epoch=progress.batches_per_epoch,
            train_accuracy=progress.train_accuracy, samples_per_second=progress.samples_per_second)))

    def evaluating(self, epoch: int) -> None:
        self.evaluating_since = time.time_ns()
        self.outbox.tell(pb.JobEvent(evaluating=pb.Evaluating(epoch=epoch, samples=self.eval_samples)))

    def epoch(self, result: EpochResult) -> None:
        figures = pb.TrainMetrics(epoch=result.epoch, train_accuracy=result.train_accuracy,
                                  test_accuracy=result.test_accuracy or 0.0, elapsed_seconds=result.elapsed_seconds,
                                  validation_accuracy=result.validation_accuracy)
        self.history.append(figures)
        metrics.EPOCH_SECONDS.observe(result.elapsed_seconds)
        log.info("epoch %d: train accuracy %.4f, test accuracy %.4f, validation accuracy %s, %.1f s", result.epoch,
                 result.train_accuracy, figures.test_accuracy, result.validation_accuracy, result.elapsed_seconds)
        ended = time.time_ns()   # the epoch's span, with its evaluation inside and its checkpoint after it
        accuracies = {name: value for name, value in (("train_accuracy", result.train_accuracy),
                      ("test_accuracy", result.test_accuracy), ("validation_accuracy", result.validation_accuracy))
                      if value is not None}
        epoch_context = tracing.record(f"epoch {result.epoch}", ended - int(result.elapsed_seconds * 1e9), ended,
                                       epoch=result.epoch, **accuracies)
        if self.evaluating_since:
            tracing.record("epoch evaluation", self.evaluating_since, ended, epoch_context, images=self.eval_samples)
        with tracing.span("checkpoint write", epoch=result.epoch):
            self.outbox.tell(pb.JobEvent(epoch=figures),
                             (pb.TrainingCheckpoint(epoch=result.epoch, history=self.history), result.params))
        if self.after_epoch:
            self.after_epoch(figures)


def _save_model(worker: WorkerContext, job: pb.Job, train_samples: int, history: list[pb.TrainMetrics],
                result: TrainResult) -> pb.Model:
    request = job.train
    model = pb.Model(id=job_model_id(job.id), name=request.model_name, job_id=job.id, created_at=job.created_at,
                     hyper_parameters=request.hyper_parameters, train_data=request.train_data,
                     train_samples=train_samples, metrics=history[-1] if history else None,
                     device=pb.Device.Value(worker.device.upper()), owner=job.owner, history=history)
    graph = model_cache.graph(result.symbol_json)
    model.parameter_count = graph.parameter_count
    return _patiently(lambda: worker.store.models.save(model, result.symbol_json, result.params, graph))


def run_evaluation(worker: WorkerContext, batcher: Batcher, tasks: TaskSender, job_id: str) -> None:
    run(worker, job_id, "evaluate", lambda job, _outbox: _evaluate(worker, batcher, job), tasks)


def _evaluate(worker: WorkerContext, batcher: Batcher, job: pb.Job) -> None:
    evaluation = evaluate(worker, batcher, job)
    _patiently(lambda: worker.store.evaluations.save(job.id, evaluation))
    _patiently(lambda: worker.store.jobs.transition(
        job.id, pb.SUCCEEDED, f"accuracy {evaluation.overall.accuracy:.4f}",
        change=lambda j: setattr(j, "accuracy", evaluation.overall.accuracy)))


def evaluate(worker: WorkerContext, batcher: Batcher, job: pb.Job) -> pb.Evaluation:
    """The evaluation of the job's dataset; Stopped when it was cancelled or taken over (checked before every
    slice; a worker shutting down finishes its evaluation first)."""
    request = job.evaluation
    selection = resolve(worker.store.jobs.dataset(job, "dataset"), worker.settings.data_dir)
    if selection.labels is None:
        raise ValueError("dataset.labels: uploaded images need labels to be evaluated")
    predictor = batcher.run(lambda: model_cache.predictor(worker, request.model_id))
    pieces = []
    for start in range(0, len(selection.images), EVALUATION_SLICE):
        if (reason := stop_reason(worker, job.id)) in (StopReason.CANCELLED, StopReason.TAKEN_OVER):
            raise Stopped(reason)
        images = selection.images[start:start + EVALUATION_SLICE]
        with tracing.span("evaluation slice", start=start, images=len(images)):
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


def _ns(rfc3339: str) -> int:
    """A record's time stamp (RFC 3339, UTC) as time.time_ns()."""
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1e9)


def _quietly(write: Callable) -> None:
    """A store write that may be skipped while the store is unreachable (an outbox's flush keeps what it has)."""
    try:
        write()
    except Unavailable as error:
        log.warning("store unreachable, skipped a progress write: %s", error)


def _patiently(write: Callable):
    """A store write the job's outcome depends on: retried until the store answers (up to RESULT_RETRY_SECONDS)."""
    deadline = time.monotonic() + RESULT_RETRY_SECONDS
    while True:
        try:
            return write()
        except Unavailable as error:
            if time.monotonic() > deadline:
                raise
            log.warning("store unreachable, retrying: %s", error)
            time.sleep(1.0)
