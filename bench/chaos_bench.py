"""The chaos soak (issue 19): `python -m bench chaos --minutes M`.

An embedded stack (two worker nodes, the gateway, a Redis of its own) that starts again a gateway or node that
ends (Stack(restart_lost=True), as compose's restart policy) runs a mixed load the whole time: a stream of tiny
training jobs (some cancelled), evaluations, concurrent Predict clients, an Inspect stream and a WatchJob follower
per job. A fault injector meanwhile SIGKILLs, in a shuffled order and each kind `--faults` times: a training
process, a serving process, a whole worker node (its process group), the gateway, and Redis (started again after
REDIS_OUTAGE_SECONDS on its append-only file, fsynced on every write, so what it acknowledged survives). After each
fault it measures the time to full service again: the gateway SERVING, a Predict answered, and every worker
process alive and registered under its own pid.

At the end it accounts for everything: every acknowledged job is in the store and ended (succeeded, cancelled, or
failed with a reason), no job or model is there twice, every job's epoch events are its epochs once and in order,
every model of a succeeded job is readable, exports the checkpoint the store holds and carries the history its
job's events told, and every failed call had a retryable status.
"""
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import harness
from bench.table import RESULTS, Section
from lenet_clients.client import LenetClient
from lenet_protos.contract import FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings, load
from lenet_services.stack import Stack
from lenet_services.store import Store, Unavailable
from lenet_services.store.redis_server import RedisServer

FAULTS = ["training process", "serving process", "worker node", "gateway", "redis"]
REDIS_KINDS = {False: " (one Redis, restarted)", True: " (Redis Sentinel failover)"}   # in the sections' names
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED}
HEARTBEAT_SECONDS = 4         # a lost worker's job is taken over within about this long
REDIS_OUTAGE_SECONDS = 5
# With --ha: the sentinels promote the replica this long after the primary is lost: `lenet up --ha`'s. Sentinel
# only promotes a replica whose link has been down less than 10 × this (beyond the primary's time down), and a
# sentinel the loaded machine starves for 2 s stops acting for 30 s (TILT): at 2 s no replica was good any more.
DOWN_AFTER_MS = 5000
TRAINING = dict(epochs=2, limit=200, eval_limit=100, batch_size=50, init_scale=0.07)
IN_FLIGHT = 3                 # training jobs queued or running at once
CANCEL_SHARE = 0.15           # of training jobs, cancelled a moment after they are accepted
EVALUATE_EVERY_SECONDS = 6
RECOVERY_LIMIT_SECONDS = 180  # a fault not recovered from by then is reported as such
DRAIN_SECONDS = 300           # for the jobs still running when the load stops
GOALS = ["jobs lost", "duplicated or misordered epoch events", "succeeded jobs missing an epoch event",
         "jobs with more than one model", "jobs in the store not acknowledged", "jobs failed without a reason",
         "jobs without exactly one final event", "models of succeeded jobs not readable or not equal",
         "events a follower saw twice", "calls failed, other status"]   # each must be 0
ACK_RETRY_SECONDS = 120       # how long a submission is retried (with its idempotency key) before it is given up
LOGS = RESULTS / "chaos-logs"  # the stack's logs of the last soak (git-ignored)


@dataclass
class Calls:
    """Every call the load made: answered, failed with a retryable status, or failed otherwise (kept in full)."""
    answered: Counter = field(default_factory=Counter)
    retryable: dict = field(default_factory=lambda: defaultdict(Counter))
    other: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, rpc: str, function, expected: tuple = ()):
        """function()'s answer, or None when it failed (recorded); a status in `expected` is an answer."""
        try:
            answer = function()
        except grpc.RpcError as error:
            with self.lock:
                if error.code() in expected:
                    self.answered[rpc] += 1
                elif error.code() in RETRYABLE:
                    self.retryable[rpc][error.code().name] += 1
                else:
                    self.other.append((rpc, error.code().name, error.details()))
            return None
        except Exception as error:   # the client library itself gave up (e.g. watch's GatewayLost)
            with self.lock:
                self.other.append((rpc, type(error).__name__, str(error)))
            return None
        with self.lock:
            self.answered[rpc] += 1
        return answer


@dataclass
class Fault:
    kind: str
    at: float                     # time.monotonic() of the kill
    recovered: float | None = None
    detail: str = ""


class Soak:
    def __init__(self, stack: Stack, redis_server: RedisServer | None, seconds: float, per_kind: int, seed: int):
        """`redis_server`: the one Redis the stack uses, restarted by the Redis fault; None: the stack's own
        replicated Redis, whose primary the Redis fault kills."""
        self.stack, self.redis_server, self.seconds = stack, redis_server, seconds
        self.random = random.Random(seed)
        self.schedule = [kind for kind in FAULTS for _ in range(per_kind)]
        self.random.shuffle(self.schedule)
        self.client = LenetClient(stack.address, timeout=30)
        self.calls, self.faults = Calls(), []
        self.jobs: dict[str, pb.Job] = {}          # acknowledged jobs by id, as first acknowledged
        self.live: dict[str, list[str]] = {}       # event ids each follower saw, by job
        self.open_jobs: set[str] = set()
        self.lock = threading.Lock()
        self.stop_load, self.stop_faults = threading.Event(), threading.Event()
        self.images = None
        self.model_id, self.base_job = "", ""
        self.elapsed = 0.0
        self.loads: list[float] = []               # the machine's load average at each fault

    # -- setup ---------------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        job = self.client.wait(self.client.train(epochs=1, limit=500, eval_limit=100, init_scale=0.07,
                                                 model_name="chaos-base").id)
        if job.state != pb.SUCCEEDED:
            raise RuntimeError(f"the soak's model did not train: {job.error}")
        self.model_id, self.base_job = job.model_id, job.id
        self.images, _ = self.client.samples(range(8))

    # -- load ----------------------------------------------------------------------------------------------------
    def _accepted(self, rpc: str, submit) -> pb.Job | None:
        """Submit until acknowledged (the same idempotency key every time), at most ACK_RETRY_SECONDS."""
        deadline = time.monotonic() + ACK_RETRY_SECONDS
        while time.monotonic() < deadline:
            job = self.calls.call(rpc, submit)
            if job is not None:
                with self.lock:
                    if job.id in self.jobs:   # a new key must never return an earlier job
                        self.calls.other.append((rpc, "DUPLICATE", f"job {job.id} acknowledged twice"))
                    self.jobs[job.id] = job
                    self.open_jobs.add(job.id)
                threading.Thread(target=self._follow, args=(job.id,), daemon=True).start()
                return job
            time.sleep(0.5)
        return None

    def _follow(self, job_id: str) -> None:
        seen = self.live.setdefault(job_id, [])

        def follow() -> bool:
            for event in self.client.watch(job_id, after_event_id=seen[-1] if seen else ""):
                seen.append(event.id)
            return True
        while not self.stop_faults.is_set() and not self.calls.call("WatchJob", follow):
            time.sleep(1.0)   # watch gives up only after the client's reconnect_seconds: follow again
        with self.lock:
            self.open_jobs.discard(job_id)

    def trainer(self) -> None:
        number = 0
        while not self.stop_load.is_set():
            with self.lock:
                busy = sum(self.jobs[j].kind == pb.TRAIN for j in self.open_jobs)
            if busy >= IN_FLIGHT:
                time.sleep(0.3)
                continue
            number += 1
            key = f"chaos-train-{os.getpid()}-{number}"
            job = self._accepted("SubmitTraining", lambda: self.client.train(
                **TRAINING, model_name="chaos", idempotency_key=key))
            if job is not None and self.random.random() < CANCEL_SHARE:
                threading.Timer(self.random.uniform(0.5, 4), self._cancel, args=(job.id,)).start()

    def _cancel(self, job_id: str) -> None:
        """(FAILED_PRECONDITION: the job ended first, which is an answer.)"""
        self.calls.call("CancelJob", lambda: self.client.cancel(job_id), (grpc.StatusCode.FAILED_PRECONDITION,))

    def evaluator(self) -> None:
        number = 0
        while not self.stop_load.wait(EVALUATE_EVERY_SECONDS):
            number += 1
            key = f"chaos-evaluate-{os.getpid()}-{number}"
            self._accepted("SubmitEvaluation", lambda: self.client.evaluate(self.model_id, limit=200,
                                                                            idempotency_key=key))

    def predictor(self) -> None:
        while not self.stop_load.wait(0.05):
            self.calls.call("Predict", lambda: self.client.predict(self.model_id, self.images))

    def inspector(self) -> None:
        while not self.stop_load.wait(0.5):
            self.calls.call("Inspect", lambda: self.client.inspect(self.model_id, [self.random.randrange(100)],
                                                                   layers=["Conv1", "SoftM"]))

    # -- faults --------------------------------------------------------------------------------------------------
    def injector(self) -> None:
        gap = self.seconds / (len(self.schedule) + 1)
        for kind in self.schedule:
            if self.stop_faults.wait(self.random.uniform(0.5, 1.5) * gap):
                return
            fault = Fault(kind, time.monotonic())
            self.loads.append(os.getloadavg()[0])
            try:
                fault.detail = self.inject(kind)
            except RuntimeError as error:   # e.g. no replica promoted: the run cannot go on
                fault.detail = str(error)
                self.faults.append(fault)
                print(f"chaos: {fault.kind}: {error}: NOT RECOVERED, ending the run", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGINT)
                return
            self.faults.append(fault)
            deadline = fault.at + RECOVERY_LIMIT_SECONDS
            while not self.full_service() and time.monotonic() < deadline:
                time.sleep(0.25)
            if time.monotonic() < deadline:
                fault.recovered = time.monotonic()
            after = f"full service after {fault.recovered - fault.at:.1f} s" if fault.recovered else "NOT RECOVERED"
            print(f"chaos: {time.strftime('%H:%M:%S', time.localtime(time.time() - time.monotonic() + fault.at))} "
                  f"{fault.kind} ({fault.detail}): {after}", file=sys.stderr, flush=True)

    def inject(self, kind: str) -> str:
        node = self.random.randrange(len(self.stack.workers))
        supervisor = self.stack.workers[node]
        if kind in ("training process", "serving process"):
            role = kind.split()[0].replace("training", "train").replace("serving", "serve")
            pid = harness.node_processes(supervisor.pid).get(role)
            if pid is None:
                return f"node {node} had no {role} process"
            os.kill(pid, signal.SIGKILL)
            return f"node {node}, pid {pid}"
        if kind == "worker node":
            os.killpg(supervisor.pid, signal.SIGKILL)
            return f"node {node}"
        if kind == "gateway":
            os.killpg(self.stack.gateway.pid, signal.SIGKILL)
            return f"pid {self.stack.gateway.pid}"
        if self.redis_server is None:
            return self.fail_over()
        self.redis_server.kill()
        time.sleep(REDIS_OUTAGE_SECONDS)   # an operator brings it back on its volume
        start_redis(self.redis_server)
        return f"down {REDIS_OUTAGE_SECONDS} s"

    def fail_over(self) -> str:
        """SIGKILL the primary; once the sentinels have promoted the replica, the old primary comes back as its
        replica (as a container's restart policy would bring it)."""
        redis, killed = self.stack.redis, time.monotonic()
        primary = redis.current_primary()
        primary.kill()
        promoted = redis.wait_failover(primary, timeout=RECOVERY_LIMIT_SECONDS)
        failover = time.monotonic() - killed
        redis.rejoin(primary, timeout=RECOVERY_LIMIT_SECONDS)
        return f"port {primary.port} killed, {promoted.port} promoted after {failover:.1f} s, {primary.port} back " \
               f"as its replica after {time.monotonic() - killed:.1f} s"

    def full_service(self) -> bool:
        """The gateway SERVING, a Predict answered, and every worker process alive and registered."""
        try:
            with grpc.insecure_channel(self.stack.address) as channel:
                health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            if health.status != health_pb2.HealthCheckResponse.SERVING:
                return False
            self.client.predict(self.model_id, self.images[:1])
            store = Store(self.stack.where(), HEARTBEAT_SECONDS)
            try:
                registered = {worker.pid for worker in store.workers.alive()}
            finally:
                store.close()
        except (grpc.RpcError, Unavailable):
            return False
        expected = [pid for node in self.stack.workers for pid in harness.node_processes(node.pid).values()]
        return len(expected) == 2 * len(self.stack.workers) and set(expected) <= registered

    # -- the run -------------------------------------------------------------------------------------------------
    def run(self) -> None:
        threads = [threading.Thread(target=target, daemon=True) for target in
                   [self.trainer, self.evaluator, self.predictor, self.predictor, self.inspector]]
        injector = threading.Thread(target=self.injector, daemon=True)
        for thread in [*threads, injector]:
            thread.start()
        injector.join(self.seconds + len(self.schedule) * RECOVERY_LIMIT_SECONDS)
        self.stop_load.set()
        for thread in threads:
            thread.join(60)
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with self.lock:
                if not self.open_jobs:
                    break
            time.sleep(0.5)
        self.stop_faults.set()

    # -- accounting ----------------------------------------------------------------------------------------------
    def account(self) -> dict:
        store = Store(self.stack.where(), HEARTBEAT_SECONDS)
        figures = Counter({goal: 0 for goal in GOALS})
        problems: list[str] = []
        models_by_job = defaultdict(list)
        for model in _all(lambda token: store.models.page(None, 1000, token)):
            models_by_job[model.job_id].append(model.id)
        stored_jobs = {job.id for job in _all(lambda token: store.jobs.page(page_size=1000, page_token=token))}
        for job_id, acknowledged in self.jobs.items():
            kind = "training" if acknowledged.kind == pb.TRAIN else "evaluation"
            figures[f"{kind} jobs acknowledged"] += 1
            try:
                job = store.jobs.get(job_id)
            except Exception:
                problems.append(f"job {job_id} acknowledged, not in the store")
                figures["jobs lost"] += 1
                continue
            if job.state not in FINAL_STATES:
                problems.append(f"job {job_id} still {pb.JobState.Name(job.state)}")
                figures["jobs lost"] += 1
                continue
            state = pb.JobState.Name(job.state).lower()
            figures[f"{kind} jobs {state}"] += 1
            if job.state == pb.FAILED and not job.error:
                problems.append(f"job {job_id} failed without a reason")
            figures["jobs failed without a reason"] += job.state == pb.FAILED and not job.error
            figures["takeovers (attempts beyond the first)"] += max(0, job.attempts - 1)
            events = store.events.read(job_id, count=100_000)
            epochs = [e.epoch.epoch for e in events if e.WhichOneof("kind") == "epoch"]
            finals = [e for e in events if e.WhichOneof("kind") == "state" and e.state.state in FINAL_STATES]
            duplicated = len(epochs) - len(set(epochs)) + (epochs != sorted(epochs))
            figures["duplicated or misordered epoch events"] += duplicated
            if len(finals) != 1:
                problems.append(f"job {job_id}: {len(finals)} final state events")
            figures["jobs without exactly one final event"] += len(finals) != 1
            live = self.live.get(job_id, [])
            figures["events a follower saw twice"] += len(live) - len(set(live))
            models = models_by_job.get(job_id, [])
            if acknowledged.kind != pb.TRAIN:
                continue
            expected = list(range(1, TRAINING["epochs"] + 1))
            if job.state == pb.SUCCEEDED:
                if epochs != expected:
                    problems.append(f"job {job_id}: epoch events {epochs}")
                    figures["succeeded jobs missing an epoch event"] += 1
                figures["models of succeeded jobs not readable or not equal"] += not self._model_checks(
                    store, job, events, problems)
            figures["jobs with more than one model"] += len(models) > 1
            if len(models) > 1:
                problems.append(f"job {job_id}: models {models}")
        figures["jobs in the store not acknowledged"] = len(stored_jobs - set(self.jobs) - {self.base_job})
        with self.calls.lock:
            calls = {"answered": Counter(self.calls.answered), "other": list(self.calls.other),
                     "retryable": {rpc: Counter(codes) for rpc, codes in self.calls.retryable.items()}}
        figures["calls answered"] = sum(calls["answered"].values())
        figures["calls failed, retryable status"] = sum(sum(c.values()) for c in calls["retryable"].values())
        figures["calls failed, other status"] = len(calls["other"])
        problems += [f"{rpc}: {code}: {details}" for rpc, code, details in calls["other"]]
        store.close()
        return {"figures": dict(figures), "problems": problems, "calls": calls}

    def _model_checks(self, store: Store, job: pb.Job, events: list[pb.JobEvent], problems: list[str]) -> bool:
        """The model is readable, its export is the checkpoint the store holds, its history is what the job's
        epoch events told, and it predicts."""
        try:
            model = self.client.model(job.model_id)
            exported = self.client.stub.ExportModel(pb.ExportModelRequest(model_id=job.model_id), timeout=30)
            probabilities, _ = self.client.predict(job.model_id, self.images[:2])
        except grpc.RpcError as error:
            problems.append(f"model {job.model_id} of job {job.id}: {error.code().name}: {error.details()}")
            return False
        symbol, params = store.models.files(job.model_id)
        told = [e.epoch for e in events if e.WhichOneof("kind") == "epoch"]
        checks = {"its export is the stored checkpoint": {f.data for f in exported.files} == {symbol.encode(), params},
                  "its history is what the events told": list(model.history) == told,
                  "it is its job's": model.job_id == job.id,
                  "it predicts": probabilities.shape == (2, 10) and np.allclose(probabilities.sum(axis=1), 1, 1e-3)}
        failed = [name for name, passed in checks.items() if not passed]
        if failed:
            problems.append(f"model {job.model_id} of job {job.id}: not {', '.join(failed)}")
        return not failed


def _all(page) -> list:
    items, token = [], ""
    while True:
        answer = page(token)
        items += list(answer.items)
        token = answer.next_page_token
        if not token:
            return items


def start_redis(server: RedisServer) -> None:
    """Start it (again), writing its append-only file to disk before it acknowledges anything."""
    server.start()
    store = Store(server.url)
    store.redis.config_set("appendfsync", "always")
    store.close()


def soak(minutes: float, per_kind: int, seed: int, nodes: int, ha: bool) -> tuple[Soak, dict]:
    """Run the soak on a stack of its own, its logs in LOGS; (the soak, its accounting). `ha`: on Redis
    Sentinel, else on one Redis of its own."""
    shutil.rmtree(LOGS, ignore_errors=True)
    settings = load(ServiceSettings).model_copy(update={"heartbeat_seconds": HEARTBEAT_SECONDS,
                                                        "recovery_seconds": 1})
    redis_server = None if ha else RedisServer(append_only=True)
    redis = {"ha": True, "down_after_ms": DOWN_AFTER_MS} if ha else {"redis_url": redis_server.url}
    try:
        if redis_server is not None:
            start_redis(redis_server)
        with Stack(settings, workers=nodes, log_dir=str(LOGS), restart_lost=True, **redis) as stack:
            run = Soak(stack, redis_server, minutes * 60, per_kind, seed)
            run.prepare()
            started = time.monotonic()
            run.run()
            run.elapsed = time.monotonic() - started
            accounting = run.account()
            run.client.close()
            accounting["restarts"] = [part for _when, part in stack.restarts]
    finally:
        if redis_server is not None:
            redis_server.stop()
    return run, accounting


def run(args, _service) -> list[Section]:
    per_kind = args.faults or max(1, round(args.minutes / 5))
    run_, accounting = soak(args.minutes, per_kind, args.seed, args.nodes, args.ha)
    figures = accounting["figures"]
    rows = [[name, f"{figures[name]:,}"] for name in GOALS] + \
        [[name, f"{value:,}"] for name, value in sorted(figures.items()) if name not in GOALS]
    by_kind = defaultdict(list)
    for fault in run_.faults:
        by_kind[fault.kind].append(fault)
    fault_rows = []
    for kind in FAULTS:
        faults = by_kind.get(kind, [])
        times = [f.recovered - f.at for f in faults if f.recovered is not None]
        fault_rows.append([kind, len(faults), ", ".join(f"{t:.1f}" for t in times) or "—",
                           f"{max(times):.1f}" if times else "—", len(faults) - len(times)])
    calls = accounting["calls"]
    call_rows = [[rpc, f"{calls['answered'][rpc]:,}",
                  ", ".join(f"{code} {n}" for code, n in sorted(calls["retryable"].get(rpc, {}).items())) or "—",
                  sum(1 for other in calls["other"] if other[0] == rpc)]
                 for rpc in sorted(set(calls["answered"]) | set(calls["retryable"]))]
    note = (f"{run_.elapsed / 60:.1f} minutes of mixed load on {args.nodes} worker node(s), faults in a shuffled order "
            f"(seed {args.seed}), one at a time; the stack starts again a part that ends. Heartbeat "
            f"{HEARTBEAT_SECONDS} s. " + (
                f"Redis Sentinel: a primary, a replica and three sentinels promoting the replica "
                f"{DOWN_AFTER_MS / 1000:g} s after the primary is lost; the Redis fault SIGKILLs the primary, which "
                "comes back as the new primary's replica; acknowledged writes wait for a replica (WAIT). "
                if args.ha else
                f"Redis is one server on an append-only file fsynced on every write, killed and started again after "
                f"{REDIS_OUTAGE_SECONDS} s (no replica: Sentinel failover is not part of this run). ") +
            f"Load average {min(run_.loads, default=0):.0f}–{max(run_.loads, default=0):.0f} at the faults.")
    problems = accounting["problems"]
    if problems:
        print("problems found:\n  " + "\n  ".join(problems[:50]))
    title = f"Chaos soak{REDIS_KINDS[args.ha]}"
    return [Section(f"{title}: what was lost", ["figure", "count"], rows, note, f"python -m bench chaos "
                    f"--minutes {args.minutes:g}", {"figures": figures, "problems": problems}),
            Section(f"{title}: time from each fault to full service again",
                    ["fault", "injected", "seconds to full service, each", "worst (s)", "not recovered"], fault_rows,
                    "Full service: the gateway answers SERVING, a Predict is answered, and every worker process is "
                    "alive and registered. The times include the stack's restart of what was killed (Redis: the "
                    f"{REDIS_OUTAGE_SECONDS} s it stays down; with Sentinel: until the old primary is back as a "
                    "replica).",
                    f"python -m bench chaos --minutes {args.minutes:g}",
                    {"faults": [vars(f) for f in run_.faults]}),
            Section(f"{title}: calls", ["RPC", "answered", "failed with a retryable status", "failed otherwise"],
                    call_rows, "", f"python -m bench chaos --minutes {args.minutes:g}")]
