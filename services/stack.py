"""The embedded stack: redis-server, Celery worker processes, the gateway and (when given a port) the dashboard as
child processes.

`lenet up`, `lenet demo` and the integration tests all start the same real parts this way. Redis is the one
`redis_url` names when given, else a private redis-server (services/store/redis_server.py). The children read
the same settings from their environment: the caller's, with the stack's Redis and any `env` given.
"""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.settings import ServiceSettings, env_names
from services.store import Store
from services.store.redis_server import RedisServer, free_port


class Stack:
    def __init__(self, settings: ServiceSettings, port: int = 0, workers: int = 1, gpu_workers: int = 0,
                 redis_url: str | None = None, log_dir: str | None = None, env: dict | None = None,
                 role: str = "both", metrics_port: int | None = None, dashboard_port: int | None = None,
                 http_port: int | None = None):
        """`workers`: worker nodes (`python -m workers --role ROLE`; "both": a training and a serving process
        each); `redis_url`: use this Redis rather than start one; `log_dir`: keep the children's logs there
        (else in a temporary folder, removed at stop unless the start failed); `env`: extra environment for the
        children; `metrics_port`: the gateway serves metrics there and worker node i on metrics_port + 1 + i;
        `dashboard_port`: also run the dashboard (`python -m services.dashboard`) on 127.0.0.1 at this port (0: a
        free one); `http_port`: where the gateway serves the Open Inference Protocol's REST side (None: a free
        port)."""
        self.role, self.metrics_port = role, metrics_port
        self.settings = settings
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.worker_count, self.gpu_worker_count = workers, gpu_workers
        self.redis_url = redis_url
        self.redis: RedisServer | None = None
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

    def env(self) -> dict:
        """The children's environment: the stack's settings, its Redis, and the extra variables given."""
        names = {field: name for name, field in env_names(ServiceSettings).items()}
        settings = {names[field]: str(value) for field, value in self.settings.model_dump().items()
                    if value is not None}
        return {**os.environ, **settings, **self.extra_env, "REDIS_URL": self.redis_url, "PYTHONUNBUFFERED": "1"}

    def spawn(self, name: str, *args: str, metrics_port: int | None = None, env: dict | None = None
              ) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        env = {**self.env(), **(env or {})}
        if metrics_port is not None:
            env["LENET_METRICS_PORT"] = str(metrics_port)
        return subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # Ctrl-C reaches us only; we stop the children in order

    def metrics_ports(self) -> dict[str, int]:
        """Where each part serves its metrics: "gateway", "worker-cpu0", …"""
        if self.metrics_port is None:
            return {}
        nodes = [f"worker-cpu{i}" for i in range(self.worker_count)] + \
            [f"worker-gpu{i}" for i in range(self.gpu_worker_count)]
        return {"gateway": self.metrics_port, **{node: self.metrics_port + 1 + i for i, node in enumerate(nodes)}}

    def start(self, timeout: float = 120) -> "Stack":
        try:
            if not self.redis_url:
                self.redis = RedisServer(password=secrets.token_urlsafe(16)).start()  # its own, for this stack
                self.redis_url = self.redis.url
            for i in range(self.worker_count):
                self.workers.append(self.add_worker("cpu", f"cpu{i}"))
            for i in range(self.gpu_worker_count):
                self.workers.append(self.add_worker("gpu", f"gpu{i}"))
            self.gateway = self.spawn_gateway()
            if self.dashboard_port is not None:
                self.dashboard = self.spawn("dashboard", "-m", "services.dashboard", "--port", str(self.dashboard_port))
            self.wait_ready(timeout)
        except BaseException:
            self.temporary_logs = False   # keep the logs that say why
            self.stop()
            raise
        return self

    def spawn_gateway(self) -> subprocess.Popen:
        return self.spawn("gateway", "-m", "services.gateway", "--port", str(self.port),
                          metrics_port=self.metrics_ports().get("gateway"),
                          env={"LENET_HTTP_PORT": str(self.http_port)})

    def add_worker(self, device: str, name: str) -> subprocess.Popen:
        return self.spawn(f"worker-{name}", "-m", "workers", "--device", device, "--role", self.role,
                          "--name", f"{name}-{os.getpid()}", metrics_port=self.metrics_ports().get(f"worker-{name}"))

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
        store = Store(self.redis_url, self.settings.heartbeat_seconds)
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

    def stop(self) -> None:
        """Dashboard and gateway first (no new work), then workers (warm shutdown), then Redis."""
        children = list(filter(None, [self.dashboard, self.gateway, *self.workers]))
        for process in children:
            if process.poll() is None:
                process.terminate()
        for process in children:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.redis:
            self.redis.stop()
        if self.temporary_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
