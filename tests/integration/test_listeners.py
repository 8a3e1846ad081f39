"""Issue 23, with real processes: every listener (gateway, dashboard, the gateway's and a worker's metrics) refuses an
address beyond loopback without tokens in one line, opens it when told by name, and warns about plaintext tokens;
across an authenticated session no token reaches a log line, a banner or an error, and a secured gateway's metrics
and health answers name nobody."""
import http.client
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lenet_cli import LENET, listening, run, stopped
from prometheus_client.parser import text_string_to_metric_families

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store.redis_server import RedisServer, free_port

EVERYWHERE = "0.0.0.0"
ALICE, OPS, FORGED = (secrets.token_hex(12) for _ in range(3))
TOKENS = f"alice:{ALICE},ops:{OPS}"


@pytest.fixture(scope="module")
def redis_url():
    """A Redis of this module's own: nothing of a token user in it, so an open gateway may start on it."""
    with RedisServer() as server:
        yield server.url


def environment(redis_url: str, **settings: str) -> dict:
    """The environment of a gateway or dashboard on `redis_url`, its REST side on a free port (not 8000: it may be
    taken), `settings` over it."""
    return {**os.environ, "REDIS_URL": redis_url, "LENET_TOKENS": "", "LENET_METRICS_PORT": "",
            "LENET_HTTP_PORT": str(free_port()), "PYTHONUNBUFFERED": "1", **settings}


def refused(argv: list[str], env: dict) -> str:
    """The one line a server that must not start says, after it exited non-zero without serving."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stdout == "", done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def gateway_argv(port: int, *options: str) -> list[str]:
    return [LENET, "gateway", "--host", EVERYWHERE, "--port", str(port), *options]


def dashboard_argv(port: int, *options: str) -> list[str]:
    return [LENET, "dashboard", "--host", EVERYWHERE, "--port", str(port), *options]


def code_of(call) -> grpc.StatusCode:
    try:
        call()
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def http_status(url: str, **headers: str) -> int:
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


# -- the gateway ---------------------------------------------------------------------------------------------------

def test_lenet_gateway_beyond_loopback_without_tokens_exits_with_one_line(redis_url, capsys):
    line = refused(gateway_argv(free_port()), environment(redis_url))
    assert line.startswith("gateway: refusing to listen on 0.0.0.0 without tokens")
    assert "LENET_TOKENS=user:TOKEN" in line and "--insecure-open" in line
    with capsys.disabled():
        print(f"\n$ lenet gateway --host 0.0.0.0   (no tokens) → exit non-zero:\n{line}")


def test_lenet_gateway_with_tokens_serves_and_a_call_without_one_is_unauthenticated(redis_url, capsys):
    port = free_port()
    process, said = listening(gateway_argv(port), environment(redis_url, LENET_TOKENS=TOKENS), "gateway listening")
    try:
        warnings = [line for line in said if "WARNING" in line]
        assert len(warnings) == 1 and "plaintext on 0.0.0.0" in warnings[0], said
        assert "--tls-cert/--tls-key" in warnings[0]
        with LenetClient(f"127.0.0.1:{port}", timeout=10, token="") as anonymous, \
                LenetClient(f"127.0.0.1:{port}", timeout=10, token=ALICE) as alice:
            assert code_of(anonymous.jobs) == grpc.StatusCode.UNAUTHENTICATED
            assert code_of(alice.jobs) == grpc.StatusCode.OK
    finally:
        stopped(process)
    with capsys.disabled():
        print(f"\n$ LENET_TOKENS=… lenet gateway --host 0.0.0.0 → serves; warns:\n{warnings[0].strip()}\n"
              f"a call without a token: {grpc.StatusCode.UNAUTHENTICATED.name}")


@pytest.mark.parametrize("override", ["--insecure-open", "LENET_INSECURE_OPEN=true"])
def test_the_explicit_override_opens_the_gateway_to_anyone_and_says_so(redis_url, override):
    port = free_port()
    flag, setting = ([override], {}) if override.startswith("--") else ([], dict([override.split("=")]))
    process, said = listening(gateway_argv(port, *flag), environment(redis_url, **setting), "gateway listening")
    try:
        assert any("open to anyone who reaches 0.0.0.0, without tokens" in line for line in said), said
        with LenetClient(f"127.0.0.1:{port}", timeout=10, token="") as anonymous:
            assert code_of(anonymous.jobs) == grpc.StatusCode.OK
    finally:
        stopped(process)


def test_loopback_needs_neither_tokens_nor_a_flag_and_says_nothing(redis_url):
    port = free_port()
    process, said = listening([LENET, "gateway", "--port", str(port)], environment(redis_url), "gateway listening")
    try:
        assert said == []
        with LenetClient(f"127.0.0.1:{port}", timeout=10) as client:
            assert code_of(client.jobs) == grpc.StatusCode.OK
    finally:
        stopped(process)


# -- the dashboard -------------------------------------------------------------------------------------------------

def test_the_dashboard_refuses_beyond_loopback_without_tokens(redis_url):
    line = refused(dashboard_argv(free_port()), environment(redis_url))
    assert line.startswith("dashboard: refusing to listen on 0.0.0.0 without tokens") and "LENET_TOKENS" in line


def test_the_dashboard_opens_with_the_override_and_warns_of_plaintext_tokens(redis_url):
    port = free_port()
    opened, said = listening(dashboard_argv(port, "--insecure-open"), environment(redis_url), "dashboard listening")
    try:
        assert any("open to anyone" in line for line in said), said
        assert http_status(f"http://127.0.0.1:{port}/api/jobs") == 200
    finally:
        stopped(opened)
    secured, said = listening(dashboard_argv(port), environment(redis_url, LENET_TOKENS=TOKENS),
                              "dashboard listening")
    try:
        assert any("plaintext on 0.0.0.0" in line and "TLS proxy" in line for line in said), said
        assert http_status(f"http://127.0.0.1:{port}/api/jobs") == 401
        assert http_status(f"http://127.0.0.1:{port}/api/jobs", Authorization=f"Bearer {ALICE}") == 200
    finally:
        stopped(secured)


# -- metrics ---------------------------------------------------------------------------------------------------------

def test_the_gateway_metrics_stay_on_loopback_unless_opened_by_name(redis_url):
    metrics_port = free_port()
    env = environment(redis_url, LENET_TOKENS=TOKENS, LENET_METRICS_PORT=str(metrics_port),
                      LENET_METRICS_HOST=EVERYWHERE)
    line = refused([LENET, "gateway", "--port", str(free_port())], env)
    assert line.startswith("gateway metrics: refusing to serve metrics on 0.0.0.0") and "LENET_METRICS_OPEN" in line
    process, said = listening([LENET, "gateway", "--port", str(free_port())], {**env, "LENET_METRICS_OPEN": "true"},
                              "gateway listening")
    try:
        assert any("metrics open to anyone who reaches 0.0.0.0" in line for line in said), said
        assert http_status(f"http://127.0.0.1:{metrics_port}/metrics") == 200
    finally:
        stopped(process)


def test_a_worker_metrics_stay_on_loopback_unless_opened_by_name(redis_url):
    metrics_port = free_port()
    env = environment(redis_url, LENET_METRICS_PORT=str(metrics_port), LENET_METRICS_HOST=EVERYWHERE)
    argv = [LENET, "worker", "--device", "cpu", "--role", "serve", "--name", "exposed"]
    line = refused(argv, env)
    assert line.startswith("worker exposed: refusing to serve metrics on 0.0.0.0") and "LENET_METRICS_OPEN" in line
    process, said = listening(argv, {**env, "LENET_METRICS_OPEN": "true"}, "worker exposed.serve serving")
    try:
        assert any("metrics open to anyone who reaches 0.0.0.0" in line for line in said), said
        assert http_status(f"http://127.0.0.1:{metrics_port}/metrics") == 200
    finally:
        stopped(process)


def signed_in(dashboard_url: str, token: str) -> str:
    """Where the dashboard's sign-in form sends a browser that posted `token`."""
    address = urllib.parse.urlsplit(dashboard_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("POST", "/login", body=f"token={token}",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        return answer.getheader("Location", "")
    finally:
        connection.close()


# -- an authenticated session: nothing secret in logs, banners, errors, metrics or health --------------------------

@pytest.fixture(scope="module")
def session(settings, tmp_path_factory):
    """A secured stack (one worker node, metrics, the dashboard) through which alice trains, evaluates, predicts and
    inspects, an admin lists, and strangers try forged tokens over gRPC, the CLI and the dashboard's sign-in form."""
    logs = tmp_path_factory.mktemp("exposure-logs")
    with Stack(settings, workers=1, log_dir=str(logs), metrics_port=free_port(), dashboard_port=0,
               env={"LENET_TOKENS": TOKENS, "LENET_ADMINS": "ops"}) as stack:
        with LenetClient(stack.address, timeout=120, token=ALICE) as alice, \
                LenetClient(stack.address, timeout=30, token=OPS) as ops, \
                LenetClient(stack.address, timeout=30, token=FORGED) as forger:
            job = alice.wait(alice.train(epochs=1, limit=200, eval_limit=100, model_name="alices-digits").id)
            assert job.state == pb.SUCCEEDED, job
            digits, _ = alice.samples([0, 1])
            alice.predict(job.model_id, digits)
            alice.inspect(job.model_id, [0])
            alice.evaluate_and_wait(job.model_id, limit=100)
            assert [model.id for model in ops.models()] == [job.model_id]
            denied = [code_of(call) for call in (forger.jobs, lambda: forger.model(job.model_id),
                                                 lambda: forger.predict(job.model_id, np.zeros((1, 28, 28),
                                                                                             np.uint8)))]
        cli = [run("jobs", gateway=stack.address, LENET_TOKEN=token) for token in (ALICE, FORGED)]
        form = {token: signed_in(stack.dashboard_url, token) for token in (ALICE, FORGED)}
        scraped = {part: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                   for part, port in stack.metrics_ports().items()}
        with grpc.insecure_channel(stack.address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        healthz = urllib.request.urlopen(f"{stack.dashboard_url}healthz", timeout=10).read().decode()
        yield {"stack": stack, "job": job, "denied": denied, "cli": cli, "form": form, "metrics": scraped,
               "health": health, "healthz": healthz}


def test_the_session_ran_and_strangers_were_refused(session):
    assert session["denied"] == [grpc.StatusCode.UNAUTHENTICATED] * 3
    mine, forged = session["cli"]
    assert mine.returncode == 0 and session["job"].id in mine.stdout
    assert forged.returncode != 0 and "UNAUTHENTICATED" in forged.stderr.upper()
    assert session["form"][ALICE] == "/" and session["form"][FORGED] == "/login?failed=1"


def test_no_token_reaches_any_log_line_banner_or_error(session):
    stack = session["stack"]
    said = {path.name: path.read_text(errors="replace") for path in stack.log_dir.glob("*.log")}
    assert {"gateway.log", "dashboard.log", "worker-cpu0.log"} <= set(said), sorted(said)
    assert any("gateway listening" in text for text in said.values())          # the banners are in there too
    said.update({f"lenet jobs ({which})": done.stdout + done.stderr for which, done in zip(("alice", "forged"),
                                                                                         session["cli"])})
    for token in (ALICE, OPS, FORGED):
        assert [name for name, text in said.items() if token in text] == [], "a token was written out"


ALLOWED_LABELS = {"method", "code", "state", "lane", "kind", "outcome", "result", "le"}


def test_a_secured_gateways_metrics_and_health_name_nobody(session):
    job = session["job"]
    secrets_ = (ALICE, OPS, FORGED, "alice", "ops", "alices-digits", job.id, job.model_id)
    for part, text in session["metrics"].items():
        assert "lenet_" in text, part
        for secret in secrets_:
            assert secret not in text, f"the {part}'s metrics show {secret!r}"
        labels = {name for family in text_string_to_metric_families(text) for sample in family.samples
                  for name in sample.labels if family.name.startswith("lenet_")}
        assert labels <= ALLOWED_LABELS, f"the {part}'s metrics have labels {labels - ALLOWED_LABELS}"
    assert session["health"] == health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
    assert session["healthz"] == "ok\n"
