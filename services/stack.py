"""The embedded stack: redis-server, Celery worker processes, the gateway and (when given a port) the dashboard as
child processes.

`lenet up`, `lenet demo` and the integration tests all start the same real parts this way. Redis is the one
`redis_url` names when given, else a private redis-server (services/store/redis_server.py), or with `ha` a private
primary, replica and three sentinels, which the children find through the sentinels. The children read the same
settings from their environment: the caller's, with the stack's Redis and any `env` given.

Each child leads a process group of its own (a worker node's training and serving processes are in its
supervisor's), so a stop can tell, and kill, everything that a part started. With `restart_lost`, a gateway,
dashboard or worker node that ends without being asked is started again (as compose's `restart: unless-stopped`
does), within RESTART_CHECK_SECONDS, and at most once every RESTART_PAUSE_SECONDS (a part that cannot run is
not started over and over).
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kombu.utils.url import maybe_sanitize_url

from lenet_protos.contract import REDIS_STOP_SECONDS, SERVER_STOP_SECONDS, STOP_MARGIN_SECONDS, node_stop_seconds, \
    stack_stop_seconds
from lenet_protos.settings import ServerOptions, ServiceSettings, WorkerOptions, env_names
from lenet_services.store import Location, Store
from lenet_services.store.redis_server import RedisServer, ReplicatedRedis, free_port

HA_DOWN_AFTER_MS = 5000   # `lenet up --ha`: the sentinels promote the replica this long after the primary is lost
REDIS_PARTS = ["redis-server", "redis-replica", "redis-sentinel1", "redis-sentinel2", "redis-sentinel3"]

RESTART_CHECK_SECONDS = 0.5
RESTART_PAUSE_SECONDS = 10.0


class Stack:
    def __init__(self, settings: ServiceSettings, port: int = 0, workers: int = 1, gpu_workers: int = 0,
                 redis_url: str | None = None, log_dir: str | None = None, env: dict | None = None,
                 role: str = "both", metrics_port: int | None = None, dashboard_port: int | None = None,
                 http_port: int | None = None, ha: bool = False, down_after_ms: int = HA_DOWN_AFTER_MS,
                 restart_lost: bool = False):
        """`workers`: worker nodes (`python -m lenet_workers`, role `role`; "both": a training and a serving process
        each); `redis_url`: use this Redis rather than start one; `log_dir`: keep the children's logs there
        (else in a temporary folder, removed at stop unless the start failed); `env`: extra environment for the
        children; `metrics_port`: the gateway serves metrics there and each worker node on the next port after
        it that nothing holds (metrics_ports() says which);
        `dashboard_port`: also run the dashboard (`python -m lenet_services.dashboard`) on 127.0.0.1 at this port (0: a
        free one); `http_port`: where the gateway serves the Open Inference Protocol's REST side (None: a free
        port); `ha`: start a replicated Redis (a primary, a replica, three sentinels that promote the replica
        `down_after_ms` after the primary stops answering) rather than one redis-server; `restart_lost`: start
        again a part that ends without being asked (`restarts` lists them)."""
        self.role, self.metrics_port = role, metrics_port
        self.settings = settings
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.worker_count, self.gpu_worker_count = workers, gpu_workers
        self.redis_url = redis_url
        self.redis: RedisServer | None = None
        self.redis_env_file: Path | None = None   # REDIS_URL=… of the stack's own Redis, for other terminals
        self.redis: RedisServer | ReplicatedRedis | None = None
        self.ha, self.down_after_ms = ha, down_after_ms
        self.sentinels = settings.redis_sentinels   # "HOST:PORT,…" when Redis is found through sentinels
        self.temporary_logs = log_dir is None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="lenet-stack-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.gateway: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.dashboard: subprocess.Popen | None = None
        self.dashboard_port = None if dashboard_port is None else dashboard_port or free_port()
        self.dashboard_url = None if dashboard_port is None else f"http://127.0.0.1:{self.dashboard_port}/"
        self.extra_env = env or {}
        self.http_port = http_port or free_port()
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self._metrics_ports = self.choose_metrics_ports()
        self.restart_lost = restart_lost
        self.restarts: list[tuple[float, str]] = []   # (time.time(), part) of each part started again
        self.stopping = threading.Event()
        self.watcher: threading.Thread | None = None

    def env(self) -> dict:
        """The children's environment: the stack's settings, its Redis, and the extra variables given."""
        names = {field: name for name, field in env_names(ServiceSettings).items()}
        # The REST port is each gateway's own (spawn_gateway gives the stack's): another gateway started with this
        # environment takes a free one, not the default that another stack may hold.
        settings = {names[field]: str(value) for field, value in self.settings.model_dump(exclude={"http_port"}).items()
                    if value is not None}
        redis = {"REDIS_URL": self.redis_url, "REDIS_SENTINELS": self.sentinels,
                 "REDIS_SENTINEL_MASTER": self.settings.redis_sentinel_master}
        return {**os.environ, **settings, **self.extra_env, **redis, "PYTHONUNBUFFERED": "1"}

    def where(self) -> Location:
        """Where the children find Redis."""
        return Location.of(self.settings.model_copy(update={"redis_url": self.redis_url,
                                                            "redis_sentinels": self.sentinels}))

    def spawn(self, name: str, *args: str, metrics_port: int | None = None, env: dict | None = None
              ) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        env = {**self.env(), **(env or {})}
        if metrics_port is not None:
            env["LENET_METRICS_PORT"] = str(metrics_port)
        return subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # Ctrl-C reaches us only; we stop the children in order

    def node_names(self) -> list[str]:
        """The worker nodes' names, in the order of self.workers: "worker-cpu0", …, "worker-gpu0", …"""
        return [f"worker-cpu{i}" for i in range(self.worker_count)] + \
            [f"worker-gpu{i}" for i in range(self.gpu_worker_count)]

    def shown_redis_url(self) -> str:
        """The Redis URL with its password masked ("redis://:***@host:port/db"), for what a terminal shows."""
        return maybe_sanitize_url(self.redis_url, mask="***")

    def metrics_ports(self) -> dict[str, int]:
        """Where each part serves its metrics: "gateway", "worker-cpu0", …"""
        return dict(self._metrics_ports)

    def choose_metrics_ports(self) -> dict[str, int]:
        """The gateway on metrics_port, each worker node on the next port after the one before that nothing
        holds (another stack, another test run): metrics_port + 1, + 2 … when they are free."""
        if self.metrics_port is None:
            return {}
        ports, port = {"gateway": self.metrics_port}, self.metrics_port
        for node in self.node_names():
            port = next(p for p in range(port + 1, 65536) if port_free(self.settings.metrics_host, p))
            ports[node] = port
        return ports

    def processes(self) -> dict[str, list[int]]:
        """The live processes of each part that was started, by pid: "redis-server", "worker-cpu0" (its
        supervisor and the processes it started), "gateway", "dashboard"."""
        parts = {"dashboard": self.dashboard, "gateway": self.gateway, **dict(zip(self.node_names(), self.workers))}
        found = {name: group_members(process.pid) for name, process in parts.items() if process is not None}
        servers = self.redis.processes() if isinstance(self.redis, ReplicatedRedis) else [self.redis] if self.redis \
            else []
        for name, server in zip(REDIS_PARTS, servers):
            if server.process and server.process.poll() is None:
                found[name] = [server.process.pid]
        return found

    def start(self, timeout: float = 120) -> "Stack":
        try:
            if not self.redis_url and self.ha:
                self.redis = ReplicatedRedis(secrets.token_hex(16), self.down_after_ms).start()
                self.redis_url, self.sentinels = self.redis.url, self.redis.sentinels
                self.settings = self.settings.model_copy(update={"redis_sentinel_master": self.redis.master})
            elif not self.redis_url:
                self.redis = RedisServer(password=secrets.token_urlsafe(16)).start()  # its own, for this stack
                self.redis_url = self.redis.url
            if self.redis:
                self.redis_env_file = self.log_dir / "redis.env"
                descriptor = os.open(self.redis_env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with open(descriptor, "w") as file:   # only its owner reads the password
                    file.write(f"REDIS_URL={self.redis_url}\n")
                    if self.sentinels:
                        file.write(f"REDIS_SENTINELS={self.sentinels}\n"
                                   f"REDIS_SENTINEL_MASTER={self.settings.redis_sentinel_master}\n")
            self.workers = [self.spawn_node(index) for index in range(len(self.node_names()))]
            self.gateway = self.spawn_gateway()
            if self.dashboard_port is not None:
                self.dashboard = self.spawn_dashboard()
            self.wait_ready(timeout)
            if self.restart_lost:
                self.watcher = threading.Thread(target=self.keep_running, name="stack-restarts", daemon=True)
                self.watcher.start()
        except BaseException:
            self.temporary_logs = False   # keep the logs that say why
            self.stop()
            raise
        return self

    def spawn_gateway(self) -> subprocess.Popen:
        return self.spawn("gateway", "-m", "lenet_services.gateway", ServerOptions(port=self.port).model_dump_json(),
                          metrics_port=self.metrics_ports().get("gateway"),
                          env={"LENET_HTTP_PORT": str(self.http_port)})

    def spawn_dashboard(self) -> subprocess.Popen:
        return self.spawn("dashboard", "-m", "lenet_services.dashboard",
                          ServerOptions(port=self.dashboard_port).model_dump_json())

    def spawn_node(self, index: int) -> subprocess.Popen:
        """Worker node `index` of node_names(): "cpu0", …, then "gpu0", …"""
        name = self.node_names()[index].removeprefix("worker-")
        return self.add_worker(name[:3], name)

    def keep_running(self) -> None:
        """Until stop(): start again each part that ended (their logs say why; `restarts` records when)."""
        last: dict[str, float] = {}
        while not self.stopping.wait(RESTART_CHECK_SECONDS):
            for part, process in [("gateway", self.gateway), ("dashboard", self.dashboard),
                                  *zip(self.node_names(), self.workers)]:
                if process is None or process.poll() is None or self.stopping.is_set() or \
                        time.monotonic() - last.get(part, -RESTART_PAUSE_SECONDS) < RESTART_PAUSE_SECONDS:
                    continue
                last[part] = time.monotonic()
                if part == "gateway":
                    self.gateway = self.spawn_gateway()
                elif part == "dashboard":
                    self.dashboard = self.spawn_dashboard()
                else:
                    index = self.node_names().index(part)
                    self.workers[index] = self.spawn_node(index)
                self.restarts.append((time.time(), part))

    def add_worker(self, device: str, name: str) -> subprocess.Popen:
        options = WorkerOptions(device=device, role=self.role, name=f"{name}-{os.getpid()}")
        return self.spawn(f"worker-{name}", "-m", "lenet_workers", options.model_dump_json(),
                          metrics_port=self.metrics_ports().get(f"worker-{name}"))

    def add_node(self, timeout: float = 120) -> str:
        """Start one more CPU worker node (as a replacement for a lost one) and wait until its processes have
        registered; returns its name, e.g. "worker-cpu2"."""
        name = f"cpu{self.worker_count}"
        self.workers.insert(self.worker_count, self.add_worker("cpu", name))   # node_names() keeps their order
        self.worker_count += 1
        store, deadline = Store(self.redis_url, self.settings.heartbeat_seconds), time.monotonic() + timeout
        try:
            while sum(worker.name.startswith(f"{name}-") for worker in store.workers.alive()) < \
                    (2 if self.role == "both" else 1):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker node {name} not ready after {timeout:.0f} s; see {self.log_dir}")
                time.sleep(0.2)
        finally:
            store.close()
        return f"worker-{name}"

    def worker_processes(self) -> int:
        """Worker processes the started nodes run: two per node for role "both"."""
        return (self.worker_count + self.gpu_worker_count) * (2 if self.role == "both" else 1)

    def restart_gateway(self, timeout: float = 60) -> None:
        """Stop the gateway and start a new one on the same port (workers and Redis keep running)."""
        self.gateway.terminate()
        self.gateway.wait(15)
        self.gateway = self.spawn_gateway()
        self.wait_ready(timeout, workers=0)

    def wait_ready(self, timeout: float, workers: int | None = None) -> None:
        """Until the gateway answers its health check, the dashboard (when started) its /healthz page, and
        `workers` (default: all started) have registered."""
        workers = self.worker_processes() if workers is None else workers
        deadline = time.monotonic() + timeout
        store = Store(self.where(), self.settings.heartbeat_seconds)
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                for process in filter(None, [self.gateway, self.dashboard, *(self.workers if workers else [])]):
                    if process.poll() is not None:
                        raise RuntimeError(f"{' '.join(process.args[1:])} exited with {process.returncode}; "
                                           f"see the logs in {self.log_dir}")
                try:
                    serving = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                        health_pb2.HealthCheckResponse.SERVING
                except grpc.RpcError:
                    serving = False
                if serving and self.answers(f"{self.http_url}/v2/health/live") and self.dashboard_answers() \
                        and len(store.workers.alive()) >= workers:
                    store.close()
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stack not ready after {timeout:.0f} s; see the logs in {self.log_dir}")
                time.sleep(0.2)

    @contextmanager
    def another_gateway(self, env: dict[str, str], timeout: float = 60, insecure_dev: bool = False) -> Iterator[str]:
        """A second gateway on this stack's Redis and workers, started with `env` (a setting changed, to compare
        two gateways side by side), until the block ends; yields its address once it answers. `insecure_dev`: open
        without tokens even when other tests have left token users' records in the store, as the first gateway is."""
        port = free_port()
        options = ServerOptions(port=port, insecure_dev=insecure_dev)
        process = self.spawn(f"gateway-{port}", "-m", "lenet_services.gateway", options.model_dump_json(),
                             env={**env, "LENET_HTTP_PORT": "0"})
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                health, deadline = health_pb2_grpc.HealthStub(channel), time.monotonic() + timeout
                while True:
                    try:
                        health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        break
                    except grpc.RpcError:
                        if process.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"the second gateway did not start; see the logs in {self.log_dir}")
                        time.sleep(0.2)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(SERVER_STOP_SECONDS)

    def dashboard_answers(self) -> bool:
        return self.dashboard is None or self.answers(f"{self.dashboard_url}healthz")

    @staticmethod
    def answers(url: str) -> bool:
        """Whether a GET of `url` answers 200."""
        try:
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback: never a proxy
            with direct.open(url, timeout=1) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop_seconds(self) -> float:
        """The most stop() takes."""
        return stack_stop_seconds(self.settings.stop_grace_seconds)

    def stop(self) -> list[str]:
        """Stop in dependency order: the dashboard and the gateway (no new work), then the worker nodes (which
        hand their jobs back to Redis), then Redis; each is killed when it has not ended within its bound
        (lenet_protos.contract). Returns once none of the stack's processes is left: the parts that had to be killed,
        whose logs are then kept."""
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.join()
        killed = end({"dashboard": self.dashboard, "gateway": self.gateway}, SERVER_STOP_SECONDS)
        killed += end(dict(zip(self.node_names(), self.workers)),
                      node_stop_seconds(self.settings.stop_grace_seconds) + STOP_MARGIN_SECONDS)
        if self.redis and self.redis.stop(REDIS_STOP_SECONDS):
            killed.append("redis-server" if isinstance(self.redis, RedisServer) else "redis-servers")
        if killed:
            self.temporary_logs = False
        if self.temporary_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        return killed

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def end(parts: dict[str, subprocess.Popen | None], seconds: float) -> list[str]:
    """SIGTERM each part (the leader of its process group), give them `seconds` together, then SIGKILL the
    process group of each part that has anything left; returns once nothing of them is left: the names of the
    parts that had to be killed."""
    parts = {name: process for name, process in parts.items() if process is not None}
    for process in parts.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + seconds
    killed = []
    for name, process in parts.items():
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        while group_members(process.pid) and time.monotonic() < deadline:   # what it started ends after it
            time.sleep(0.05)
        if group_members(process.pid):
            killed.append(name)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            while group_members(process.pid):
                time.sleep(0.05)
    return killed


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind `port` on `host` now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group (Linux: /proc; elsewhere [group] while any is)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
            return [group]
        except ProcessLookupError:
            return []
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _parent, process_group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError, IndexError):
            continue   # ended while we looked
        if int(process_group) == group and state != "Z":
            members.append(int(stat.parent.name))
    return sorted(members)
