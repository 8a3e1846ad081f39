"""Sweeps driven by whoever notices a change: Optuna's ask-and-tell over ordinary training jobs.

No process owns a sweep. `advance` runs when a trial's job ends (in the worker that ran it), when the winner's
evaluation ends, on SubmitSweep and CancelSweep, and in every gateway's recovery loop, so a sweep whose driver
died moves on within a recovery interval. Under the sweep's lock (one process at a time) it tells Optuna what
ended, asks for trials until `parallelism` are in flight or the budget is spent, and once every trial has ended
names the winner and scores it on test once. Each step is recorded before it is acted on and acting again is
harmless (a trial's job id is written down before its job is created, and a job that exists is not created
again; a trial Optuna gave out but the record missed is adopted), so a process lost between two steps loses
nothing: the next advance finishes the step.

After every epoch of a trial, its worker calls `report`: the objective goes to Optuna, whose pruner says whether
the trial stops there.

A trial's end (state, epochs, objective, worker, model) is written into the sweep's record before Optuna is told,
so a sweep keeps its trials and winner after their jobs expire or are deleted; only trials in flight are read
from their jobs.
"""
import logging
import time
import uuid
from datetime import datetime

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from lenet_protos import contract
from lenet_protos.contract import FINAL_STATES, HYPER_PARAMETER, SWEEP_FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import NotFound
from lenet_services.store import Store
from lenet_services.store.indexes import now
from lenet_services.task_queue import TaskSender, send_job

log = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 5.0     # how long a process that saw a change waits for another one advancing the sweep
FINISHED = (pb.SUCCEEDED, pb.PRUNED)   # what the budget counts as a finished trial
TOLD = {pb.SUCCEEDED: TrialState.COMPLETE, pb.PRUNED: TrialState.PRUNED,
        pb.FAILED: TrialState.FAIL, pb.CANCELLED: TrialState.FAIL}


# -- the request in Optuna's terms ---------------------------------------------------------------------------
def grid(space) -> dict[str, list]:
    """Every value each searched hyper-parameter takes on a grid (choices; ranges with a step)."""
    points = {}
    for dimension in searched(space):
        kind, spec = dimension.WhichOneof("values"), HYPER_PARAMETER[dimension.name]
        if kind == "choices":
            points[dimension.name] = choices(spec, dimension.choices)
        elif kind == "int_range":
            span = dimension.int_range
            points[dimension.name] = list(range(span.low, span.high + 1, max(span.step, 1)))
        else:
            span = dimension.float_range
            count = int(round((span.high - span.low) / span.step)) + 1
            points[dimension.name] = [span.low + k * span.step for k in range(count)
                                      if span.low + k * span.step <= span.high * (1 + 1e-12)]
    return points


def grid_size(space) -> int:
    size = 1
    for values in grid(space).values():
        size *= len(values)
    return size


FIXED = ("fixed", "fixed_name")


def searched(space) -> list[pb.Dimension]:
    """The dimensions the sampler chooses (fixed values are not searched)."""
    return [dimension for dimension in space if dimension.WhichOneof("values") not in FIXED]


def choices(spec: contract.HyperParameter, given: pb.Choices) -> list:
    """The values of a Choices, typed as the hyper-parameter takes them (names for one that takes names)."""
    return list(given.names) if spec.type is str else [typed(spec, value) for value in given.values]


def distributions(space) -> dict:
    """Optuna's distribution of each searched hyper-parameter."""
    found = {}
    for dimension in searched(space):
        kind, spec = dimension.WhichOneof("values"), HYPER_PARAMETER[dimension.name]
        if kind == "choices":
            found[dimension.name] = CategoricalDistribution(choices(spec, dimension.choices))
        elif kind == "int_range":
            span = dimension.int_range
            found[dimension.name] = IntDistribution(span.low, span.high, log=span.log, step=max(span.step, 1))
        else:
            span = dimension.float_range
            found[dimension.name] = FloatDistribution(span.low, span.high, log=span.log, step=span.step or None)
    return found


def typed(spec: contract.HyperParameter, value):
    return bool(round(value)) if spec.type is bool else spec.type(value)


def sampler(request: pb.SweepRequest, asked: int) -> optuna.samplers.BaseSampler:
    """The request's sampler, built for each ask in whichever process asks. A grid is shuffled by the sweep's
    seed alone (trial k takes the k-th point of that order); the others are seeded afresh for each ask, so trial k
    draws the same values whoever asks for it, and not the values trial 0 drew."""
    if request.sampler == pb.GRID:
        return optuna.samplers.GridSampler(grid(request.space), seed=request.seed)
    seed = (request.seed * 1_000_003 + asked) % 2**32
    if request.sampler == pb.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def pruner(settings: pb.Pruner) -> optuna.pruners.BasePruner:
    if settings.kind == pb.MEDIAN:
        return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials,
                                           n_warmup_steps=settings.warmup_epochs)
    if settings.kind == pb.SUCCESSIVE_HALVING:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=settings.min_epochs,
                                                      reduction_factor=settings.reduction_factor)
    return optuna.pruners.NopPruner()


def trial_request(request: pb.SweepRequest, chosen: pb.HyperParameters) -> pb.TrainRequest:
    """A trial's training request: the sweep's, with its fixed values and the sampler's choice."""
    train = pb.TrainRequest()
    train.CopyFrom(request.train)
    given = pb.HyperParameters()
    given.CopyFrom(request.train.hyper_parameters)
    for dimension in request.space:
        kind = dimension.WhichOneof("values")
        if kind in FIXED:
            setattr(given, dimension.name, typed(HYPER_PARAMETER[dimension.name], getattr(dimension, kind)))
    given.MergeFrom(chosen)
    train.hyper_parameters.CopyFrom(contract.hyper_parameters_message(contract.hyper_params(given)))
    return train


def chosen(params: dict) -> pb.HyperParameters:
    return pb.HyperParameters(**{name: typed(HYPER_PARAMETER[name], value) for name, value in params.items()})


def objective(request: pb.SweepRequest, figures: pb.TrainMetrics) -> float:
    return float(getattr(figures, request.objective.metric))


# -- driving ---------------------------------------------------------------------------------------------------
class SweepDriver:
    def __init__(self, store: Store, tasks: TaskSender):
        self.store, self.tasks = store, tasks

    def start(self, sweep: pb.Sweep) -> pb.Sweep:
        """A new sweep's study, then its first trials."""
        self.store.studies.create(sweep.id, sweep.request.objective.minimize)
        return self.advance(sweep.id) or sweep

    def advance(self, sweep_id: str, wait_seconds: float = LOCK_WAIT_SECONDS) -> pb.Sweep | None:
        """Move the sweep on as far as it goes now; None when another process holds it beyond `wait_seconds` (it
        moves it on instead)."""
        with self.store.sweeps.lock(sweep_id, wait_seconds) as held:
            return self._advance(sweep_id) if held else None

    def report(self, job: pb.Job, figures: pb.TrainMetrics) -> bool:
        """A trial's epoch ended: tell Optuna its objective; whether the pruner stops the trial there."""
        request = self.store.sweeps.get(job.sweep_id).request
        return self.store.studies.report(job.sweep_id, job.trial, figures.epoch, objective(request, figures),
                                         pruner(request.pruner))

    def _advance(self, sweep_id: str) -> pb.Sweep:
        sweep = self.store.sweeps.get(sweep_id)
        if sweep.state in SWEEP_FINAL_STATES:
            return sweep
        sweep = self._record_ends(self._adopt(sweep))
        self._tell(sweep)
        in_flight = [trial for trial in sweep.trials if trial.state not in FINAL_STATES]
        if sweep.state == pb.SWEEP_RUNNING and sweep.cancel_requested:
            for trial in in_flight:
                self._cancel(trial.job_id)   # a queued one ends at once, a running one within a batch
            sweep = self._record_ends(sweep)
            self._tell(sweep)
            if all(trial.state in FINAL_STATES for trial in sweep.trials):
                sweep = self._end(sweep, pb.SWEEP_CANCELLED)
            return sweep
        if sweep.state == pb.SWEEP_RUNNING:
            while len(in_flight) < sweep.request.budget.parallelism and self._may_ask(sweep):
                sweep, trial = self._ask(sweep)
                self._create_trial_job(sweep, trial)
                in_flight.append(trial)
            if not in_flight:
                sweep = self._choose_winner(sweep)
        if sweep.state == pb.SWEEP_SCORING:
            sweep = self._score(sweep)
        return sweep

    def _adopt(self, sweep: pb.Sweep) -> pb.Sweep:
        """Trials Optuna gave out that the record misses (the asker was lost in between) join the record."""
        known = {trial.number for trial in sweep.trials}
        lost = [trial for trial in self.store.studies.trials(sweep.id)
                if trial.state == TrialState.RUNNING and trial.number not in known]
        for trial in lost:
            log.info("sweep %s: adopting trial %d, asked for by a process that was lost", sweep.id, trial.number)
            sweep = self._record(sweep, pb.Trial(number=trial.number, job_id=_new_id(),
                                                 hyper_parameters=chosen(trial.params)))
        return sweep

    def _jobs_in_flight(self, sweep: pb.Sweep) -> dict[str, pb.Job]:
        """The job of each trial the record has not seen end; one recorded but never created (its creator was
        lost) is created now, or, once the sweep is cancelled, counted as cancelled."""
        trials = [trial for trial in sweep.trials if trial.state not in FINAL_STATES]
        jobs = {}
        for trial, job in zip(trials, self.store.jobs.find_many([trial.job_id for trial in trials])):
            if job is None:
                job = pb.Job(id=trial.job_id, state=pb.CANCELLED) if sweep.cancel_requested \
                    else self._create_trial_job(sweep, trial)
            jobs[trial.job_id] = job
        return jobs

    def _record_ends(self, sweep: pb.Sweep) -> pb.Sweep:
        """Copy how each trial in flight ended from its job, once that job has ended, into the sweep's record: the
        sweep needs the job no longer."""
        ended = {job_id: job for job_id, job in self._jobs_in_flight(sweep).items() if job.state in FINAL_STATES}
        if not ended:
            return sweep

        def record(stored: pb.Sweep) -> None:
            for trial in stored.trials:
                if trial.job_id in ended:
                    fill_from_job(trial, ended[trial.job_id], stored.request)
        return self.store.sweeps.update(sweep.id, record)

    def _tell(self, sweep: pb.Sweep) -> None:
        """Tell Optuna about every trial the record has seen end since Optuna was last told."""
        running = {trial.number for trial in self.store.studies.trials(sweep.id) if trial.state == TrialState.RUNNING}
        for trial in sweep.trials:
            if trial.number in running and trial.state in FINAL_STATES:
                value = trial.value if trial.state == pb.SUCCEEDED else None
                self.store.studies.tell(sweep.id, trial.number, TOLD[trial.state], value)

    def _may_ask(self, sweep: pb.Sweep) -> bool:
        budget = sweep.request.budget
        if len(sweep.trials) >= budget.trials:
            return False
        return not budget.max_seconds or time.time() - _seconds(sweep.created_at) < budget.max_seconds

    def _ask(self, sweep: pb.Sweep) -> tuple[pb.Sweep, pb.Trial]:
        request = sweep.request
        number, params = self.store.studies.ask(sweep.id, sampler(request, len(sweep.trials)),
                                                distributions(request.space))
        trial = pb.Trial(number=number, job_id=_new_id(), hyper_parameters=chosen(params))
        return self._record(sweep, trial), trial

    def _record(self, sweep: pb.Sweep, trial: pb.Trial) -> pb.Sweep:
        return self.store.sweeps.update(sweep.id, lambda stored: stored.trials.append(trial))

    def _create_trial_job(self, sweep: pb.Sweep, trial: pb.Trial) -> pb.Job:
        train = trial_request(sweep.request, trial.hyper_parameters)
        job = pb.Job(id=trial.job_id, kind=pb.TRAIN, device=train.device, train=train, owner=sweep.owner,
                     queue=contract.job_lane(train.device, "train", self.store.workers.lanes()),
                     sweep_id=sweep.id, trial=trial.number)
        return self._enqueue(job, f"trial {trial.number} of sweep {sweep.id}")

    def _enqueue(self, job: pb.Job, what: str) -> pb.Job:
        job, _ = self.store.jobs.create(job)
        if send_job(self.tasks, job):
            self.store.jobs.mark_sent(job.id)   # unmarked, the recovery loop sends it (recovery.send_stranded)
        log.info("%s: job %s queued on %s", what, job.id, job.queue)
        return job

    def _cancel(self, job_id: str) -> None:
        try:
            self.store.jobs.request_cancel(job_id)
        except Exception as error:   # ended meanwhile: nothing to cancel
            log.info("job %s not cancelled: %s", job_id, error)

    def _choose_winner(self, sweep: pb.Sweep) -> pb.Sweep:
        """Every trial has ended: the best one that completed is the winner; its model gets the sweep's alias and
        an evaluation on test_data (whose job id is written down first). No completed trial: FAILED."""
        best = best_trial(sweep)
        if best is None:
            return self._end(sweep, pb.SWEEP_FAILED, "no trial completed: every one failed, was pruned or cancelled")
        model = self.store.models.find(best.model_id)
        if model is None:
            return self._end(sweep, pb.SWEEP_FAILED, _model_gone(best.number, best.model_id))
        winner = pb.Winner(trial=best.number, value=best.value, model_id=model.id, model_name=model.name,
                           model_version=model.version, evaluation_job_id=_new_id())
        note = self._point_alias(sweep, model) if sweep.request.alias else ""
        winner.alias = "" if note else sweep.request.alias

        def scoring(stored: pb.Sweep) -> None:
            stored.state = pb.SWEEP_SCORING
            stored.winner.CopyFrom(winner)
            stored.error = note
        return self.store.sweeps.update(sweep.id, scoring)

    def _point_alias(self, sweep: pb.Sweep, model: pb.Model) -> str:
        """Point the sweep's alias at the winner unless it points at a version of another owner; why not, or ""."""
        alias = sweep.request.alias
        current = self.store.models.alias_target(model.name, alias)
        if current is not None and current[1] != model.id:
            holder = self.store.models.find(current[1])
            if holder is not None and holder.owner != sweep.owner:
                return f"alias {alias!r} of {model.name!r} points at another user's version {current[0]}: left there"
        if current is None or current[1] != model.id:
            self.store.models.set_alias(model, alias, current)
        return ""

    def _score(self, sweep: pb.Sweep) -> pb.Sweep:
        """The winner's one evaluation on test_data: created when missing, read when ended."""
        winner = sweep.winner
        try:
            job = self.store.jobs.get(winner.evaluation_job_id)
        except NotFound:
            model = self.store.models.find(winner.model_id)
            if model is None:
                return self._end(sweep, pb.SWEEP_FAILED, _model_gone(winner.trial, winner.model_id))
            request = pb.EvaluationRequest(model_id=model.id, dataset=sweep.request.test_data, device=model.device)
            job = self._enqueue(pb.Job(id=winner.evaluation_job_id, kind=pb.EVALUATE, device=model.device,
                                       queue=contract.job_lane(model.device, "serve", self.store.workers.lanes()),
                                       evaluation=request, model_id=model.id, owner=sweep.owner,
                                       sweep_id=sweep.id), f"winner of sweep {sweep.id}")
        if sweep.cancel_requested and job.state not in FINAL_STATES:
            self._cancel(job.id)
            return sweep
        if job.state == pb.SUCCEEDED:
            return self._end(sweep, pb.SWEEP_SUCCEEDED, sweep.error,
                             lambda stored: setattr(stored.winner, "test_accuracy", job.accuracy))
        if job.state in FINAL_STATES:
            state = pb.SWEEP_CANCELLED if job.state == pb.CANCELLED else pb.SWEEP_FAILED
            return self._end(sweep, state, f"the winner's evaluation {job.id} ended {pb.JobState.Name(job.state)}: "
                                           f"{job.error}")
        return sweep

    def _end(self, sweep: pb.Sweep, state: int, error: str = "", change=None) -> pb.Sweep:
        def ending(stored: pb.Sweep) -> None:
            stored.state, stored.finished_at, stored.error = state, now(), error
            if change:
                change(stored)
        log.info("sweep %s %s", sweep.id, pb.SweepState.Name(state))
        return self.store.sweeps.update(sweep.id, ending)

    # -- what a sweep looks like now ------------------------------------------------------------------------
    def view(self, sweep: pb.Sweep, importances: bool = False) -> pb.Sweep:
        """The sweep with its trials' states, epochs, objectives and curves, its counts, its best trial so far
        and (on request: a fit of a few forests) Optuna's parameter importances."""
        shown = pb.Sweep()
        shown.CopyFrom(sweep)
        curves = {trial.number: trial.intermediate_values for trial in self.store.studies.trials(sweep.id)}
        in_flight = [trial for trial in shown.trials if trial.state not in FINAL_STATES]
        for trial, job in zip(in_flight, self.store.jobs.find_many([trial.job_id for trial in in_flight])):
            fill_from_job(trial, job or pb.Job(state=pb.QUEUED), sweep.request)   # none yet: its creator is on it
        for trial in shown.trials:
            curve = curves.get(trial.number, {})
            trial.curve[:] = [curve[epoch] for epoch in sorted(curve)]
        states = [trial.state for trial in shown.trials]
        shown.trials_finished = sum(state in FINISHED for state in states)
        shown.trials_pruned = states.count(pb.PRUNED)
        shown.trials_in_flight = sum(state not in FINAL_STATES for state in states)
        if not shown.HasField("winner"):
            best = best_trial(shown)
            if best is not None:
                shown.winner.CopyFrom(pb.Winner(trial=best.number, value=best.value, model_id=best.model_id))
        if importances:
            ranked = self.store.studies.importances(sweep.id)
            shown.importances.extend(pb.ParameterImportance(name=name, importance=value)
                                     for name, value in ranked.items())
        return shown


def fill_from_job(trial: pb.Trial, job: pb.Job, request: pb.SweepRequest) -> None:
    """What a trial's job did, onto the trial: its state, epochs, objective, worker and model."""
    trial.state, trial.epoch, trial.worker, trial.model_id = job.state, job.metrics.epoch, job.worker, job.model_id
    if job.metrics.epoch:
        trial.value = objective(request, job.metrics)


def best_trial(sweep: pb.Sweep) -> pb.Trial | None:
    """The completed trial with the best final objective (the lowest number among equals), or None."""
    done = [trial for trial in sweep.trials if trial.state == pb.SUCCEEDED]
    if not done:
        return None
    sign = 1 if sweep.request.objective.minimize else -1
    return min(done, key=lambda trial: (sign * trial.value, trial.number))


def _model_gone(trial: int, model_id: str) -> str:
    return f"the winner, trial {trial}, lost its model {model_id}: it was deleted before the sweep ended"


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
