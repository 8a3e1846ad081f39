"""Issue 11's multi-host run, here: Redis, the gateway and two CPU worker hosts, each a network namespace with its own
address on a bridge, each running exactly the command and environment of its docker-compose.yml service as
`docker-compose config` resolves them (service names become the hosts' addresses, container paths the folders that
stand in for their volumes). A client host trains a small job across them through the gateway; the worker host
running it is then lost (its link cut, its processes killed) and the job finishes on the other host, resuming after
its last checkpointed epoch; the client then evaluates, predicts and inspects the model.

Needs root and iproute2 (CI runs as root); skips with the reason elsewhere.
"""
import json
import queue
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import compose_file
from netns import Network
from lenet_services.store.redis_server import redis_server_binary

requirements = compose_file.deploy_requirements().requirements

HEARTBEAT, RECOVERY = 3, 1      # seconds: LENET_HEARTBEAT_SECONDS and LENET_RECOVERY_SECONDS in the env file
PICKUP_SLACK = 10               # seconds for the survivor's idle training process to take the re-queued task
EPOCHS, LIMIT = 4, 2000         # the job: 4 epochs of the first 2,000 training images
DRIVER = Path(__file__).with_name("multihost_client.py")
HEALTH_SNIPPET = ("import sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; "
                  "s = g.HealthStub(grpc.insecure_channel('localhost:50051')); "
                  "sys.exit(s.Check(h.HealthCheckRequest(), timeout=3).status != h.HealthCheckResponse.SERVING)")

SCRAPE = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


def metrics_served() -> bool:
    """Whether the gateway and workers of this checkout serve LENET_METRICS_PORT: their extra carries
    prometheus-client (issue 11's metrics, which reach this branch with another engineer's change)."""
    return any(line.startswith("prometheus-client") for line in
               requirements(compose_file.ROOT / "pyproject.toml", ["server"]))


def translate(value: str, mounts: dict[str, Path], addresses: dict[str, str]) -> str:
    """A compose value as it reads on these hosts: a service name in a URL → that host's address; a path inside a
    container (also after the `@` of a file setting) → the folder standing in for what is mounted there."""
    url = urlsplit(value)
    if url.scheme and url.hostname in addresses:
        userinfo = url.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}{addresses[url.hostname]}{f':{url.port}' if url.port else ''}"
        return urlunsplit(url._replace(netloc=netloc))
    prefix, path = ("@", value[1:]) if value.startswith("@/") else ("", value)
    for target, source in mounts.items():
        if path == target or path.startswith(target + "/"):
            return prefix + str(source) + path[len(target):]
    return value


class Deployment:
    """The compose services on namespace hosts."""

    def __init__(self, config: dict, network: Network, folder: Path, data_dir: Path):
        self.config, self.network, self.folder = config, network, folder
        self.volumes = {"mnist": data_dir}   # the data service's volume: the verified copy this machine has
        self.addresses: dict[str, str] = {}     # compose service name → its host's address
        self.client_env: dict[str, str] = {}    # the client host's environment (gateway address, token)
        self.logs: dict[str, Path] = {}
        bins = [str(Path(sys.executable).parent), str(Path(redis_server_binary()).parent)]
        self.base_env = {"PATH": ":".join([*bins, "/usr/sbin", "/usr/bin", "/sbin", "/bin"]),
                         "HOME": str(folder), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}

    def mounts(self, service: str) -> dict[str, Path]:
        mounts = {}
        for entry in self.config["services"][service].get("volumes", []):
            source, target = entry.split(":")[:2]
            name = source if not source.startswith("/") else Path(source).name
            if name not in self.volumes:
                self.volumes[name] = self.folder / "volumes" / name
                self.volumes[name].mkdir(parents=True)
            mounts[target] = self.volumes[name]
        return mounts

    def env(self, service: str) -> dict[str, str]:
        environment = self.config["services"][service].get("environment", {})
        mounts = self.mounts(service)
        return {**self.base_env, **{name: translate(str(value), mounts, self.addresses)
                                    for name, value in environment.items()}}

    def argv(self, service: str, argv: list[str]) -> list[str]:
        mounts = self.mounts(service)
        return [translate(str(arg), mounts, self.addresses) for arg in argv]

    def start(self, service: str, host: str) -> subprocess.Popen:
        self.logs[host] = self.folder / f"{host}.log"
        return self.network.start(host, self.argv(service, self.config["services"][service]["command"]),
                                  self.env(service), self.logs[host])

    def healthcheck(self, service: str, host: str) -> subprocess.CompletedProcess:
        """The service's compose health check, run on its host."""
        test = self.config["services"][service]["healthcheck"]["test"]
        argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else self.argv(service, test[1:])
        result = self.network.run(host, argv, self.env(service), timeout=30)
        if result.returncode == 2 and "invalid choice: 'health'" in result.stderr:   # until `lenet health` lands
            result = self.network.run(host, [sys.executable, "-c", HEALTH_SNIPPET], self.env(service), timeout=30)
        return result

    def wait_healthy(self, checks: list[tuple[str, str]], processes: list[subprocess.Popen], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(checks)
        while pending:
            for process in processes:
                assert process.poll() is None, f"{process.args[-8:]} exited with {process.returncode}"
            pending = [(service, host) for service, host in pending if self.healthcheck(service, host).returncode]
            assert time.monotonic() < deadline, f"not healthy after {timeout:.0f} s: {pending}"
            time.sleep(0.5)

    def tails(self) -> str:
        return "\n".join(f"--- {host} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:])
                         for host, path in self.logs.items() if path.exists())


def read_lines(process: subprocess.Popen, lines: queue.Queue) -> None:
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def next_message(lines: queue.Queue, deadline: float) -> dict:
    line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
    assert line is not None, "the client ended early"
    return json.loads(line)


@pytest.fixture(scope="module")
def network():
    reason = Network.available()
    if reason:
        pytest.skip(reason)
    network = Network().create()
    try:
        yield network
    finally:
        network.destroy()


@pytest.fixture(scope="module")
def deployment(network, tmp_path_factory, data_dir) -> Deployment:
    """The compose services started on their hosts and healthy by their own health checks."""
    password, token = secrets.token_hex(16), secrets.token_hex(12)
    config = compose_file.resolved({"REDIS_PASSWORD": password, "LENET_TOKENS": f"alice:{token}",
                                    "LENET_HEARTBEAT_SECONDS": str(HEARTBEAT),
                                    "LENET_RECOVERY_SECONDS": str(RECOVERY)})
    for name, number in (("redis", 2), ("gateway", 3), ("w1", 11), ("w2", 12), ("client", 100)):
        network.add_host(name, number)
    hosts = network.hosts
    deployment = Deployment(config, network, tmp_path_factory.mktemp("multihost"), data_dir)
    deployment.addresses = {"redis": hosts["redis"].address, "gateway": hosts["gateway"].address}
    deployment.client_env = {**deployment.base_env, "LENET_GATEWAY": f"{hosts['gateway'].address}:50051",
                             "LENET_TOKEN": token}
    try:
        redis = deployment.start("redis", "redis")
        deployment.wait_healthy([("redis", "redis")], [redis], timeout=30)
        assert deployment.healthcheck("worker-cpu", "w1").returncode == 1   # no worker yet: the check fails
        started = [redis, deployment.start("gateway", "gateway"),
                   deployment.start("worker-cpu", "w1"), deployment.start("worker-cpu", "w2")]
        deployment.wait_healthy([("gateway", "gateway"), ("worker-cpu", "w1"), ("worker-cpu", "w2")], started,
                                timeout=240)
    except BaseException:
        print(deployment.tails())
        raise
    return deployment


@pytest.fixture(scope="module")
def takeover(deployment) -> dict:
    """Train from the client host; when the first epoch is in, lose the host running the job (its link cut, then its
    processes killed). Returns the job's events (as multihost_client.py prints them) and what happened."""
    network, hosts = deployment.network, deployment.network.hosts
    log_path = deployment.folder / "client.log"
    try:
        with open(log_path, "ab") as client_log:
            driver = network.start("client", [sys.executable, str(DRIVER), "train", str(EPOCHS), str(LIMIT)],
                                   deployment.client_env, None, stdout=subprocess.PIPE, stderr=client_log, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=read_lines, args=(driver, lines), daemon=True).start()
        deadline = time.monotonic() + 300
        events, victim, lost_at, killed = [], None, None, []
        while not events or events[-1]["kind"] != "job":
            events.append(next_message(lines, deadline))
            if events[-1]["kind"] == "epoch" and victim is None:
                by_hostname = {host.hostname: name for name, host in hosts.items()}
                victim = by_hostname[events[-1]["worker"].split("@", 1)[1].rsplit(".", 1)[0]]
                network.cut(victim)              # first the link, so the dying processes tell no one anything
                killed = network.kill(victim)
                lost_at = time.time()
    except BaseException:
        print(deployment.tails() + "\n--- client ---\n" + log_path.read_text(errors="replace")[-3000:])
        raise
    return {"events": events, "victim": victim, "survivor": {"w1": "w2", "w2": "w1"}[victim], "lost_at": lost_at,
            "killed": killed, "job": events[-1]}


def test_redis_refuses_a_client_without_the_password(deployment):
    code = ("import redis, sys\ntry:\n    redis.Redis(host=sys.argv[1], socket_timeout=5).ping()\n"
            "except redis.AuthenticationError as error:\n    print('refused:', error)")
    refused = deployment.network.run("client", [sys.executable, "-c", code, deployment.addresses["redis"]],
                                     deployment.client_env)
    assert refused.stdout.startswith("refused:"), refused.stdout + refused.stderr


def test_a_job_survives_the_loss_of_its_worker_host(deployment, takeover, capsys):
    hosts, events, done = deployment.network.hosts, takeover["events"], takeover["job"]
    victim, survivor = takeover["victim"], takeover["survivor"]
    # The job ended well, on the other host, on its second attempt, every epoch trained exactly once.
    assert len(takeover["killed"]) >= 3, f"a worker host runs a supervisor and two lane processes: {takeover}"
    assert done["state"] == "SUCCEEDED", done["error"]
    assert done["attempts"] == 2 and hosts[survivor].hostname in done["worker"]
    epochs = [e["epoch"] for e in events if e["kind"] == "epoch"]
    assert epochs == list(range(1, EPOCHS + 1))
    lost = next(e for e in events if e["kind"] == "log" and "was lost" in e["log"])
    resumed = [e for e in events if e["kind"] == "log" and e["log"].startswith("resuming after epoch")]
    checkpointed = len([e for e in events if e["kind"] == "epoch" and e["ms"] < lost["ms"]])
    assert [e["log"] for e in resumed] == [f"resuming after epoch {checkpointed}"] and checkpointed >= 1
    running = [e for e in events if e["kind"] == "state" and e["state"] == "RUNNING"]
    assert len(running) == 2 and hosts[survivor].hostname in running[1]["message"]

    # Figures: from the host's loss to the job noticed lost, and to it running again on the survivor.
    noticed, again = lost["ms"] / 1000 - takeover["lost_at"], running[1]["ms"] / 1000 - takeover["lost_at"]
    bound = HEARTBEAT + RECOVERY + PICKUP_SLACK
    with capsys.disabled():      # the figures the issue asks to see, in the suite's output too
        print(f"\nmulti-host takeover: {victim} ({hosts[victim].address}) lost during epoch {checkpointed + 1}; "
              f"job noticed lost after {noticed:.2f} s, running again on {survivor} ({hosts[survivor].address}) "
              f"after {again:.2f} s (heartbeat {HEARTBEAT} s, recovery every {RECOVERY} s: bound {bound} s); "
              f"resumed after epoch {checkpointed}; epoch events {epochs}; attempts {done['attempts']}")
    assert 0 < noticed <= again <= bound

    # The survivor and the gateway stay healthy by their compose health checks.
    assert deployment.healthcheck("worker-cpu", survivor).returncode == 0
    assert deployment.healthcheck("gateway", "gateway").returncode == 0


def test_the_model_trained_across_hosts_is_used_through_the_gateway(deployment, takeover, capsys):
    model_id = takeover["job"]["model_id"]
    result = deployment.network.run("client", [sys.executable, str(DRIVER), "use", model_id],
                                    deployment.client_env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    use = json.loads(result.stdout.splitlines()[-1])
    with capsys.disabled():
        print(f"model {model_id} (trained on both worker hosts): accuracy {use['accuracy']:.4f} on "
              f"{use['evaluated']} test images; Predict {use['predict_accuracy']:.3f} on {use['predicted']}; "
              f"Inspect {len(use['layers'])} layers")
    assert use["evaluated"] == 1000 and use["accuracy"] > 0.8 and use["predict_accuracy"] > 0.8
    assert use["history"] == list(range(1, EPOCHS + 1))
    assert use["layers"]["Conv1"] == [2, 20, 24, 24] and use["layers"]["SoftM"] == [2, 10]
    assert use["without_token"] == "UNAUTHENTICATED"


def test_redis_keeps_an_append_only_file_in_its_volume(deployment, takeover):
    aof = [path for path in deployment.volumes["redis-data"].rglob("*.aof*") if path.stat().st_size]
    assert aof, f"no append-only file in {deployment.volumes['redis-data']}"


def test_prometheus_can_scrape_the_gateway_and_the_workers(deployment, takeover):
    """What deploy/prometheus.yml scrapes: lenet_ metrics of the gateway and of the surviving worker node."""
    if not metrics_served():
        pytest.xfail("this checkout's server extra has no prometheus-client: LENET_METRICS_PORT is not served yet")
    hosts, services = deployment.network.hosts, deployment.config["services"]
    for service, host in (("gateway", "gateway"), ("worker-cpu", takeover["survivor"])):
        url = f"http://{hosts[host].address}:{services[service]['environment']['LENET_METRICS_PORT']}/metrics"
        scraped = deployment.network.run("client", [sys.executable, "-c", SCRAPE, url], deployment.client_env)
        assert scraped.returncode == 0, f"{url}: {scraped.stderr[-500:]}"
        assert any(line.startswith("lenet_") for line in scraped.stdout.splitlines()), url
