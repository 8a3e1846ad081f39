"""Start a worker node: `python -m lenet_workers OPTIONS`, the options (lenet_protos.settings.WorkerOptions) as one JSON
document, as `lenet worker` and the embedded stack start it.

A worker process serves one lane of one device: "train" runs training jobs from the device's training queue
(Celery, one task at a time in a thread: no fork after MXNet starts its threads); "serve" answers Predict,
Inspect and export requests from the device's serve lane through a dynamic batcher, and runs evaluation jobs.
Role "both" (the default) starts one process of each and watches them: a node's users never wait behind its
training.
Each process keeps a heartbeat in the store, which also renews the lease of the job it runs.
A GPU worker refuses to start when MXNet sees no GPU.

Stopping is bounded: a worker process asked to stop (SIGTERM or SIGINT, or its supervisor's death) hands its
job back and exits; whatever still runs after settings.stop_grace_seconds (a store write waiting for an
unreachable Redis, Celery reconnecting to it) is given up and the process exits anyway: the job's lease expires
and another worker takes it over. A supervisor kills the processes still running after
contract.node_stop_seconds.
"""
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

from celery.signals import setup_logging, worker_ready, worker_shutting_down

from lenet_protos import tracing
from lenet_protos.contract import ROLES, lane, node_stop_seconds
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings, TracingSettings, WorkerOptions, load, options_argument
from lenet_services import exposure, logs, memory, stop_signal, task_queue
from lenet_services.store import Store, Unavailable
from lenet_services.task_queue import TaskQueue, celery_app

log = logging.getLogger("workers")
TRAINING_NICENESS = 10   # below the serving process, which answers callers who wait
CELERY_LOGLEVEL = "WARNING"   # Celery's own lines; ours are at INFO


def main(options: WorkerOptions) -> None:
    name = options.name or f"{options.device}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    try:
        settings = load(ServiceSettings)
    except ValueError as error:
        sys.exit(f"worker {name}: {error}")
    logs.configure(settings.log_format)
    if options.supervisor is not None:
        follow_supervisor(options.supervisor)
    elif settings.metrics_port is not None:
        try:
            exposure.check_metrics(f"worker {name}", settings.metrics_host, metrics_open=settings.metrics_open)
        except exposure.Refused as refusal:
            sys.exit(str(refusal))
    if options.role == "both":
        sys.exit(supervise(options.model_copy(update={"name": name}), settings))
    try:
        threads = share_cores(options.role, options.cores, options.cpus)
    except ValueError as error:
        sys.exit(f"worker {name}: {error}")
    run(options.device, options.role, f"{name}.{options.role}", settings, threads,
        serve_metrics=options.supervisor is None)


def supervise(options: WorkerOptions, settings: ServiceSettings) -> int:
    """Start one process per lane of the node and wait; when one ends or this process is asked to stop, stop
    the others, kill those still running after node_stop_seconds, and end with the code of the one that ended
    on its own (at least 1: a node without one of its processes has failed), else with the worst code. The node's
    metrics (both processes') are served here, on the metrics port."""
    shared = tempfile.TemporaryDirectory(prefix="lenet-metrics-")
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": shared.name}   # the children's metrics go there
    if settings.metrics_port is not None:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=shared.name)
        start_http_server(settings.metrics_port, settings.metrics_host, registry=registry)
    children = [subprocess.Popen([sys.executable, "-m", "lenet_workers", options.model_copy(
                                      update={"role": role, "supervisor": os.getpid()}).model_dump_json()],
                                 env=environment)
                for role in ROLES["both"]]
    ended, asked = threading.Event(), threading.Event()

    def forward(signum: int, _frame) -> None:   # once: Celery takes a second SIGINT for "stop now"
        if not asked.is_set():
            asked.set()
            for child in children:
                child.send_signal(signum)
        ended.set()
    stop_signal.on_stop(forward)
    for child in children:
        threading.Thread(target=lambda c=child: (c.wait(), ended.set()), daemon=True).start()
    stop_signal.wait(ended)
    first = None
    if not asked.is_set():   # a process ended on its own: stop the others, whose SIGTERM is not the node's code
        first = next(child for child in children if child.poll() is not None)
        for child in children:
            if child.poll() is None:
                child.terminate()
    deadline = time.monotonic() + node_stop_seconds(settings.stop_grace_seconds)
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker process %d did not stop within %.0f s: killed", child.pid,
                        node_stop_seconds(settings.stop_grace_seconds))
            child.kill()
            child.wait()
    shared.cleanup()
    return (abs(first.returncode) or 1) if first else max(abs(child.returncode) for child in children)


PARENT_WATCH_SECONDS = 1.0


def follow_supervisor(supervisor: int) -> None:
    """End (SIGTERM to this process: the usual stop) when the supervisor dies, however it dies: at once where
    Linux's PR_SET_PDEATHSIG is there, else within PARENT_WATCH_SECONDS, when this process's parent changes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass   # not Linux: the watch below

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(PARENT_WATCH_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
    if os.getppid() != supervisor:   # it died before prctl took effect
        sys.exit(f"worker: supervisor {supervisor} has ended")
    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def share_cores(role: str, cores: int | None, cpus: str | None) -> int:
    """Set this process's compute threads before MXNet starts them, and its CPU priority. Both processes of a
    node take `cores` threads (default: every core; `cpus`: pinned to those CPU ids); the training process runs at
    a lower priority, so a Predict is never queued behind an epoch's arithmetic. Measured on 2 cores (BENCHMARKS.md,
    `python -m bench threads` and `evaluate`): a serving process on both cores instead of one took an Evaluate of
    10,000 images from 3.7 to 2.2 s and Inspect from 252 to 309 MB/s, with Predict no slower, while a training
    process beside a busy serving process kept the same speed (0.62× against 0.64× of training alone). Returns
    the thread count.

    The serving process's OpenMP threads sleep between forward passes (OMP_WAIT_POLICY=PASSIVE unless set)
    instead of spinning, as libgomp does by default: measured with 64 one-image clients on 2 cores (issue 21), the
    spinning cost 2.7 ms of CPU per call, taken from the gateway and the clients, against 0.5 ms sleeping, and
    held the service to a third of the calls per second; a lone Predict was no slower."""
    from lenet_workers.engine.threads import use_cores

    allotted = use_cores([int(cpu) for cpu in cpus.split(",")] if cpus else cores)
    if role == "serve":
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if role == "train":
        os.nice(TRAINING_NICENESS)
    return int(allotted["OMP_NUM_THREADS"])


def run(device: str, role: str, name: str, settings: ServiceSettings, threads: int, serve_metrics: bool) -> None:
    if serve_metrics and settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, settings.metrics_host)
    from lenet_workers.engine.devices import context
    try:
        context(device, settings.gpu)
    except RuntimeError as error:
        sys.exit(f"worker {name} refused to start: {error}")
    from lenet_workers import model_cache, tasks
    from lenet_workers.context import WorkerContext

    try:
        if tracing.start(f"lenet-worker-{role}", load(TracingSettings)):
            task_queue.instrument()
    except ValueError as error:
        sys.exit(f"worker {name}: {error}")

    memory.reuse_freed_memory()  # Inspect writes chunks of MiBs
    try:
        store = Store.of(settings)
    except ValueError as error:
        sys.exit(f"worker {name}: {error}")
    worker = WorkerContext(name, device, lane(device, role), settings, store)
    record = pb.Worker(name=name, device=pb.Device.Value(device.upper()), lane=worker.lane,
                       host=socket.gethostname(), pid=os.getpid(), threads=threads,
                       started_at=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"))
    try:
        beat(worker, record)
    except (Unavailable, ValueError) as error:
        sys.exit(f"worker {name}: cannot reach the store at {store.where.describe()}: {error}")
    stop = threading.Event()
    threading.Thread(target=keep_beating, args=(worker, record, stop), name="heartbeat", daemon=True).start()
    app = celery_app(store.where)
    if role == "serve":
        from lenet_workers.batcher import Batcher
        from lenet_workers.serving import LaneServer

        batcher = Batcher(lambda model_id: model_cache.predictor(worker, model_id), settings.batch_max,
                          settings.batch_delay_ms / 1000)
        lane_server = LaneServer(worker, batcher).start()
        tasks.register_serving(app, worker, batcher, TaskQueue(settings.redis_url))
    else:
        tasks.register_training(app, worker, TaskQueue(store.where))
    worker_shutting_down.connect(lambda **_: stop_within(worker, settings.stop_grace_seconds), weak=False)
    setup_logging.connect(lambda **_: logs.configure(settings.log_format), weak=False)  # ours, not Celery's
    banner = f"worker {name} serving {worker.lane} (pid {os.getpid()}, {threads} compute thread(s))"
    worker_ready.connect(lambda **_: print(banner, flush=True), weak=False)   # Celery now takes SIGTERM too
    try:
        # One task at a time, in a thread of this process (MXNet is never forked): the main thread stays free for
        # Celery's own work, so `celery inspect ping` and Flower's heartbeats are answered while a job runs.
        app.worker_main(["worker", "--queues", worker.lane, "--pool", "threads", "--concurrency", "1",
                         "--hostname", name, "--loglevel", CELERY_LOGLEVEL, "--without-gossip", "--without-mingle"])
    finally:
        stop.set()
        if role == "serve":
            lane_server.stop()
        try:
            store.workers.leave(name)
        except Unavailable:
            pass   # the record expires on its own


def stop_within(worker, grace: float) -> None:
    """Asked to stop: the running job is handed back at its next batch (lenet_workers.job_runner), and whatever still
    runs after `grace` seconds is given up: the process exits."""
    if worker.status.stopping:
        return
    worker.status.stopping = True

    def give_up() -> None:
        held = f"; job {worker.status.job_id} is taken over once its lease expires" if worker.status.job_id else ""
        log.warning("still stopping after %.0f s (LENET_STOP_GRACE_SECONDS): exiting now%s", grace, held)
        os._exit(1)
    timer = threading.Timer(grace, give_up)
    timer.daemon = True
    timer.start()


def beat(worker, record: pb.Worker) -> None:
    """One heartbeat: the worker's record, and the lease of the job it runs."""
    record.job_id, record.requests = worker.status.job_id, worker.status.requests
    worker.store.workers.heartbeat(record)
    if record.job_id:
        worker.store.leases.renew(record.job_id, worker.name, worker.store.heartbeat_seconds)


def keep_beating(worker, record: pb.Worker, stop: threading.Event) -> None:
    """Beat every third of the heartbeat period until stopped; a store outage is logged once and outlived, so
    the worker is seen again within one period of the store's return."""
    failing = False
    while not stop.wait(worker.store.heartbeat_seconds / 3):
        try:
            beat(worker, record)
            if failing:
                log.warning("heartbeat: store reachable again")
            failing = False
        except Exception as error:   # never let the heartbeat die: a silent worker is taken for lost
            if not failing:
                log.warning("heartbeat: store unreachable (%s); retrying", error)
            failing = True


if __name__ == "__main__":
    main(options_argument(WorkerOptions, sys.argv[1:]))
