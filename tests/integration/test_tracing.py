"""OpenTelemetry across the service's processes: a real OTLP/gRPC receiver on loopback collects what the real
gateway and worker processes export (OTEL_EXPORTER_OTLP_ENDPOINT pointed at it, as at a collector).

One stack traces every call (the SDK's default sampler), exporting every 100 ms (OTEL_BSP_SCHEDULE_DELAY); tests
wait on the spans they need, never on a sleep."""
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.request

import grpc
import lenet_cli
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from otlp_receiver import Receiver, server_span

from lenet_clients.client import LenetClient
from lenet_protos import tracing
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_protos.tensors import to_tensor
from lenet_services.stack import Stack
from lenet_services.store.redis_server import free_port

PREDICT = "/lenet.v1.Lenet/Predict"
SUBMIT = "/lenet.v1.Lenet/SubmitTraining"
EPOCHS = 2
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced(settings, receiver, tmp_path_factory):
    """A gateway and a worker node exporting to the receiver, and a model trained on it (its job's trace)."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "OTEL_PYTHON_GRPC_EXCLUDED_SERVICES": f" {HEALTH_SERVICE} , lenet.v1.NoSuchService"}
    with Stack(settings, workers=1, log_dir=str(tmp_path_factory.mktemp("tracing-logs")), env=env,
               metrics_port=free_port()) as stack, \
            LenetClient(stack.address, timeout=120) as client:
        job = client.wait(client.train(epochs=EPOCHS, limit=300, eval_limit=100, init_scale=0.07).id)
        assert job.state == pb.SUCCEEDED, job.error
        yield stack, client, job


def trace_with(receiver, needed: set, method: str = "", trace_id: str = "") -> list:
    """The spans of trace `trace_id` (else of the newest gateway call of `method`) once every name in `needed` and
    the gateway's server span of `method` (when given) are among them."""
    def complete(spans):
        call = server_span(spans, method) if method else None
        found = receiver.trace(trace_id or (call.trace_id if call else ""))
        names = {span.name for span in found}
        return needed <= names and (not method or method in names) and found
    return receiver.wait_for(complete)


def parents_come_first(spans) -> list[str]:
    """What breaks "every parent is in the trace and starts no later than its child"."""
    by_id = {span.span_id: span for span in spans}
    roots = [span for span in spans if not span.parent_id]
    problems = [f"{len(roots)} roots"] if len(roots) != 1 else []
    for span in spans:
        parent = by_id.get(span.parent_id)
        if span.parent_id and parent is None:
            problems.append(f"{span.name}: parent missing")
        elif parent is not None and parent.start_ns > span.start_ns:
            problems.append(f"{span.name} starts before its parent {parent.name}")
    return problems


def test_one_predict_is_one_trace_from_the_gateway_through_the_serving_worker(traced, receiver):
    _, client, job = traced
    images, _ = client.samples(range(3))
    client.predict(job.model_id, images)
    spans = trace_with(receiver, {"validate", "serve lane", "lane round trip", "lane wait", "claim", "batch wait",
                                  "forward", "reply write", "reply read"}, PREDICT)
    call = server_span(spans, PREDICT)
    assert {"lenet-gateway", "lenet-worker-serve"} <= {span.service for span in spans}
    assert {key: call.attributes.get(key) for key in ("rpc.system", "rpc.service", "rpc.method", "net.peer.ip")} == \
        {"rpc.system": "grpc", "rpc.service": "lenet.v1.Lenet", "rpc.method": "Predict", "net.peer.ip": "127.0.0.1"}
    assert parents_come_first(spans) == []
    named = {span.name: span for span in spans}
    assert named["forward"].service == "lenet-worker-serve" and named["forward"].attributes["batch_images"] == 3
    assert named["lane wait"].seconds + named["forward"].seconds <= call.seconds
    # every span lies within the call, but the worker's reply write may end after the gateway has answered: its
    # round trip's last commands (expiry, the claim's end) are answered after the reply was already read
    outside = [(span.name, span.start_ns - call.start_ns, span.end_ns - call.end_ns) for span in spans
               if span is not call and not call.start_ns <= span.start_ns <= span.end_ns <= call.end_ns
               and not (span.name == "reply write" and span.start_ns <= call.end_ns)]
    assert outside == []


def test_a_training_job_is_one_trace_from_submit_to_its_last_epoch(traced, receiver):
    _, client, job = traced
    trace_id = tracing.trace_id_of(job.trace_context)
    assert len(trace_id) == 32
    needed = {SUBMIT, "queued", "training", "model save", *(f"epoch {n}" for n in range(1, EPOCHS + 1))}
    spans = trace_with(receiver, needed, trace_id=trace_id)
    assert parents_come_first(spans) == []
    root = spans[0]
    assert (root.name, root.service) == (SUBMIT, "lenet-gateway")
    epochs = [span for span in spans if span.name.startswith("epoch ") and span.name != "epoch evaluation"]
    assert [span.attributes["epoch"] for span in epochs] == list(range(1, EPOCHS + 1))
    last = epochs[-1].attributes
    assert last["test_accuracy"] == pytest.approx(job.metrics.test_accuracy)
    assert last["train_accuracy"] == pytest.approx(job.metrics.train_accuracy)
    assert sum(span.name == "checkpoint write" for span in spans) == EPOCHS
    assert {span.service for span in spans} >= {"lenet-gateway", "lenet-worker-train"}


def test_a_callers_traceparent_is_continued(traced, receiver):
    stack, client, job = traced
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    images, _ = client.samples(range(1))
    with grpc.insecure_channel(stack.address) as channel:
        pb_grpc.LenetStub(channel).Predict(pb.PredictRequest(model_id=job.model_id, images=to_tensor(images, "images")),
                                           metadata=[("traceparent", f"00-{trace_id}-{parent_id}-01")], timeout=60)
    spans = trace_with(receiver, {"forward"}, PREDICT, trace_id)
    call = server_span(spans, PREDICT)
    assert call.parent_id == parent_id
    assert "lenet-worker-serve" in {span.service for span in spans}


def test_a_callers_decision_not_to_sample_is_kept_by_every_process(traced, receiver):
    """A traceparent whose sampled flag is off: neither the gateway nor the serving worker records a span of it.
    A sampled call sent after it, on the same processes, is the condition waited on (spans leave in order)."""
    stack, client, job = traced
    unsampled, sampled = secrets.token_hex(16), secrets.token_hex(16)
    images, _ = client.samples(range(1))
    request = pb.PredictRequest(model_id=job.model_id, images=to_tensor(images, "images"))
    with grpc.insecure_channel(stack.address) as channel:
        for trace_id, flags in ((unsampled, "00"), (sampled, "01")):
            traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"
            pb_grpc.LenetStub(channel).Predict(request, metadata=[("traceparent", traceparent)], timeout=60)
    trace_with(receiver, {"forward", "reply read"}, PREDICT, sampled)
    assert receiver.trace(unsampled) == []


def test_the_services_excluded_by_the_standard_variable_get_no_server_span(traced, receiver):
    """OTEL_PYTHON_GRPC_EXCLUDED_SERVICES names the health service: a health check sent with a sampled traceparent
    leaves no span, while a reflection call (a service not named) sent after it on the same gateway is traced,
    its server span the condition waited on (spans leave in order)."""
    stack, _, _ = traced
    excluded, kept = secrets.token_hex(16), secrets.token_hex(16)
    with grpc.insecure_channel(stack.address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), metadata=[("traceparent", f"00-{excluded}-{secrets.token_hex(8)}-01")],
            timeout=60)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        listed = list(reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=[("traceparent", f"00-{kept}-{secrets.token_hex(8)}-01")], timeout=60))
    assert HEALTH_SERVICE in {service.name for service in listed[0].list_services_response.service}
    trace_with(receiver, set(), REFLECTION, kept)
    assert receiver.trace(excluded) == []


def test_an_open_inference_protocol_rest_call_continues_the_callers_trace_too(traced, receiver):
    stack, _, job = traced
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    body = {"inputs": [{"name": "data", "datatype": "UINT8", "shape": [1, 28, 28], "data": [0] * 784}]}
    request = urllib.request.Request(f"{stack.http_url}/v2/models/{job.model_id}/infer", json.dumps(body).encode(),
                                     {"Content-Type": "application/json",
                                      "traceparent": f"00-{trace_id}-{parent_id}-01"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    spans = trace_with(receiver, {"validate", "forward", "reply read"}, trace_id=trace_id)
    (http,) = [span for span in spans if span.parent_id == parent_id]
    assert (http.service, http.kind) == ("lenet-gateway", 2) and http.name.startswith("POST")
    assert parents_come_first([dataclasses.replace(http, parent_id=""), *(s for s in spans if s is not http)]) == []


def test_an_inspect_stream_is_one_trace_from_the_gateway_through_the_serving_worker(traced, receiver):
    _, client, job = traced
    client.inspect(job.model_id, [0], layers=["Conv1"])
    needed = {"validate", "lane wait", "claim", "inspect", "forward", "reply write", "reply read"}
    spans = trace_with(receiver, needed, "/lenet.v1.Lenet/Inspect")
    assert parents_come_first(spans) == []
    assert {span.service for span in spans if span.name in ("inspect", "forward")} == {"lenet-worker-serve"}


def test_a_log_line_written_inside_a_span_names_its_trace(traced, receiver):
    """The gateway logs a refused call inside its server span: the line carries that span's trace id."""
    stack, client, _ = traced
    with pytest.raises(grpc.RpcError) as refused:
        client.predict("f" * 16, np.zeros((1, 28, 28), np.uint8))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    call = receiver.wait_for(lambda spans: (found := server_span(spans, PREDICT)) and found.attributes.get(
        "rpc.grpc.status_code") == grpc.StatusCode.NOT_FOUND.value[0] and found)
    lines = (stack.log_dir / "gateway.log").read_text().splitlines()
    assert [line for line in lines if "NOT_FOUND" in line and f"trace={call.trace_id}]" in line]


def test_the_cli_starts_a_trace_and_prints_its_id(traced, receiver):
    """`lenet --trace` exports nothing itself here (no endpoint in its environment): the service continues it."""
    stack, _, job = traced
    done = lenet_cli.run("job", job.id, "--trace", gateway=stack.address)
    assert lenet_cli.succeeded(done) and re.match(r"trace [0-9a-f]{32}$", done.stderr.splitlines()[0]), done.stderr
    trace_id = done.stderr.split()[1]
    spans = receiver.wait_for(lambda _: receiver.trace(trace_id))
    assert [(span.service, span.name) for span in spans] == [("lenet-gateway", "/lenet.v1.Lenet/GetJob")]


NO_EXPORTER = """
import json, threading
from lenet_protos import tracing
from lenet_protos.settings import TracingSettings
started = tracing.start("lenet-gateway", TracingSettings())
with tracing.span("validate", root=True):
    headers = tracing.carrier()
print(json.dumps([started, headers, [t.name for t in threading.enumerate()]]))
"""


@pytest.mark.parametrize("case, traced_here", [("no endpoint", False), ("disabled", False), ("endpoint", True)])
def test_without_an_endpoint_nothing_is_traced_and_no_exporter_thread_runs(receiver, case, traced_here):
    """With no endpoint set (or the SDK disabled) a process installs nothing: no span, no headers, no exporter
    thread, nothing received; the endpoint alone turns it on."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
    env = {"no endpoint": {}, "disabled": {**endpoint, "OTEL_SDK_DISABLED": "true"}, "endpoint": endpoint}[case]
    service = f"lenet-test-{secrets.token_hex(4)}"
    done = subprocess.run([sys.executable, "-c", NO_EXPORTER], capture_output=True, text=True, timeout=60,
                          env={**clean, "OTEL_SERVICE_NAME": service, "OTEL_TRACES_SAMPLER": "always_on", **env})
    assert done.returncode == 0, done.stderr
    started, headers, threads = json.loads(done.stdout)   # the process has exited: what it exported has arrived
    assert (started, "traceparent" in headers, "OtelBatchSpanRecordProcessor" in threads) == (traced_here,) * 3
    assert [span.name for span in receiver.spans if span.service == service] == (["validate"] if traced_here else [])


def test_rpc_latency_buckets_carry_trace_ids_as_exemplars(traced, receiver):
    """Served as OpenMetrics, the gateway's latency histogram names, in a Predict bucket, the trace of a Predict."""
    stack, client, job = traced
    images, _ = client.samples(range(1))
    client.predict(job.model_id, images)
    request = urllib.request.Request(f"http://127.0.0.1:{stack.metrics_port}/metrics",
                                     headers={"Accept": "application/openmetrics-text"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    bucket = r'^lenet_rpc_seconds_bucket\{[^}]*method="Predict"[^}]*\} \S+ # \{trace_id="([0-9a-f]{32})"\}'
    exemplars = re.findall(bucket, text, re.M)
    assert exemplars, text[:2000]
    predicts = receiver.wait_for(lambda spans: {s.trace_id for s in spans if s.name == PREDICT} >= set(exemplars)
                                 and exemplars)
    assert predicts
