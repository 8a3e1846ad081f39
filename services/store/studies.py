"""The sweeps' Optuna studies: one study per sweep, kept in Redis as Optuna's journal (JSON log lines, replayed by
optuna's JournalStorage) under the store's keys, on the store's connection.

Not optuna's JournalRedisBackend: it also saves a pickled snapshot of the study (PREFIX:snapshot, written as soon
as the study is created, and again every 100 trials), and no pickle enters this Redis; it also opens a connection
of its own, past the store's timeouts, retries and error translation. This backend appends each log line with the
same atomic INCR-and-SET script on the store's connection, and reads them back in one MGET.
"""
from __future__ import annotations

import json

import optuna
import redis
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import FrozenTrial, TrialState

from lenet_services.store import keys
from lenet_services.store.connection import guarded

optuna.logging.set_verbosity(optuna.logging.WARNING)   # its lines per trial would drown the services' own

APPEND = """
local number = redis.call('INCR', KEYS[1])
redis.call('SET', ARGV[1] .. ':log:' .. number, ARGV[2])
return number
"""


class RedisJournal(BaseJournalBackend):
    """One sweep's journal: PREFIX:log_number (the last line's number, -1 before any) and PREFIX:log:N."""

    def __init__(self, client: redis.Redis, sweep_id: str):
        self.redis, self.prefix = client, keys.sweep_study(sweep_id)
        self._append = client.register_script(APPEND)

    def read_logs(self, log_number_from: int):
        last = self.redis.get(f"{self.prefix}:log_number")
        if last is None or int(last) < log_number_from:
            return []
        lines = self.redis.mget([f"{self.prefix}:log:{n}" for n in range(log_number_from, int(last) + 1)])
        return [json.loads(line) for line in lines]

    def append_logs(self, logs: list[dict]) -> None:
        self.redis.setnx(f"{self.prefix}:log_number", -1)
        for line in logs:
            self._append(keys=[f"{self.prefix}:log_number"], args=[self.prefix, json.dumps(line)])


@guarded
class Studies:
    """Ask-and-tell on a sweep's study, every call replaying its journal afresh (another process may have
    written since): a few hundred lines at most, read in one round trip."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def _study(self, sweep_id: str, sampler=None, pruner=None) -> optuna.Study:
        return optuna.load_study(study_name=sweep_id, storage=self._storage(sweep_id), sampler=sampler,
                                 pruner=pruner)

    def _storage(self, sweep_id: str) -> JournalStorage:
        return JournalStorage(RedisJournal(self.redis, sweep_id))

    def create(self, sweep_id: str, minimize: bool) -> None:
        optuna.create_study(study_name=sweep_id, storage=self._storage(sweep_id), load_if_exists=True,
                            direction="minimize" if minimize else "maximize")

    def ask(self, sweep_id: str, sampler: optuna.samplers.BaseSampler, distributions: dict) -> tuple[int, dict]:
        """A new trial's (number, params), drawn by `sampler` from `distributions`."""
        trial = self._study(sweep_id, sampler=sampler).ask(distributions)
        return trial.number, dict(trial.params)

    def tell(self, sweep_id: str, number: int, state: TrialState, value: float | None = None) -> None:
        """End trial `number` (a trial already ended is left as it is)."""
        study = self._study(sweep_id)
        study.tell(number, value if state == TrialState.COMPLETE else None, state=state, skip_if_finished=True)

    def report(self, sweep_id: str, number: int, epoch: int, value: float, pruner: optuna.pruners.BasePruner) -> bool:
        """Report the objective after `epoch` of trial `number`; whether `pruner` stops the trial now. Reporting an
        epoch again (a trial resumed after a lost worker) keeps the first value."""
        study = self._study(sweep_id, pruner=pruner)
        storage = study._storage
        trial = optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
        if storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
            return False
        trial.report(value, epoch)
        return trial.should_prune()

    def trials(self, sweep_id: str) -> list[FrozenTrial]:
        return self._study(sweep_id).get_trials(deepcopy=False)

    def importances(self, sweep_id: str) -> dict[str, float]:
        """Optuna's parameter importances (fANOVA), most important first; {} while they cannot be told (fewer
        than two finished trials, or every finished trial alike)."""
        study = self._study(sweep_id)
        try:
            return dict(optuna.importance.get_param_importances(study))
        except (RuntimeError, ValueError, ZeroDivisionError):
            return {}

    def keys(self, sweep_id: str) -> list[str]:
        """Every key of the sweep's journal, to delete it."""
        last = self.redis.get(f"{keys.sweep_study(sweep_id)}:log_number")
        return keys.sweep_study_keys(sweep_id, -1 if last is None else int(last))
