"""Tracing (OpenTelemetry): what it costs, side by side in one run, and what a trace shows.

Three embedded stacks, each with its own Redis, worker node and small model, differing only in the standard
OTEL_* variables: tracing off (no endpoint), 1 % of calls sampled, every call sampled, the last two exporting to a
real OTLP/gRPC receiver in this process (tests/otlp_receiver.py). They are measured in interleaved rounds (off,
1 %, 100 %, off, …): a lone client's Predict latency, then 64 concurrent clients (bench/serving_bench.py's load).
Then lone Predicts on the fully traced stack give the time of each stage, and one Predict's and the model's
training job's traces are drawn as waterfalls. `python -m bench tracing [--repeats 3] [--seconds 5] [--calls 200]`.
"""
from __future__ import annotations

import multiprocessing
import shutil
import statistics
import time
from collections import defaultdict
from concurrent import futures
from pathlib import Path

import numpy as np

from bench import harness
from bench.serving_bench import load
from bench.table import BENCHMARKS, RESULTS, Section
from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings
from lenet_protos.settings import load as load_settings
from lenet_protos.tracing import trace_id_of
from lenet_services.stack import Stack
from tests.otlp_receiver import Receiver, Span, server_span

MODES = {"off": {},
         "1 % sampled": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
         "100 % sampled": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}}
CLIENTS = 64
LONE_TRACES = 50           # lone Predicts whose traces give the per-stage times
PREDICT = "/lenet.v1.Lenet/Predict"
STAGES = ("validate", "serve lane", "lane round trip", "lane wait", "claim", "batch wait", "forward", "reply write",
          "reply read")
PICTURES = Path("bench") / "traces"   # where --write keeps the pictures BENCHMARKS.md shows
COLOURS = {"lenet-gateway": "tab:blue", "lenet-worker-serve": "tab:orange", "lenet-worker-train": "tab:green"}


def run(args, _service) -> list[Section]:
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 6:22, 12:16] = 255
    with Receiver() as receiver, futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) \
            as loader:
        stacks: dict[str, tuple[Stack, LenetClient, pb.Job]] = {}
        try:
            for mode, env in MODES.items():
                exporting = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
                stack = Stack(load_settings(ServiceSettings), workers=1, env={**env, **exporting} if env else {})
                stacks[mode] = (stack.start(), LenetClient(stack.address, timeout=600), None)
                client = stacks[mode][1]
                job = client.wait(client.train(epochs=2, limit=1000, eval_limit=500, init_scale=0.07).id)
                if job.state != pb.SUCCEEDED:
                    raise RuntimeError(f"training on the {mode} stack ended {pb.JobState.Name(job.state)}: {job.error}")
                stacks[mode] = (stack, client, job)

            def measure(mode: str) -> dict:
                stack, client, job = stacks[mode]
                lone = [harness.timed(lambda: client.predict(job.model_id, digit)) for _ in range(args.calls)]
                pids = harness.stack_processes(stack)
                pids = {"gateway": pids["gateway"], "serving": pids["worker 1: serve"]}
                before = {name: harness.cpu_seconds(pid) for name, pid in pids.items()}
                loaded = loader.submit(load, stack.address, job.model_id, CLIENTS, args.seconds).result()
                calls = loaded["rate"] * args.seconds
                cpu = {name: 1e6 * (harness.cpu_seconds(pid) - before[name]) / calls for name, pid in pids.items()}
                return {"lone_p50": 1000 * statistics.median(lone), "rate": loaded["rate"], "p50": loaded["p50"],
                        "failures": loaded["failures"], "gateway_cpu_us": cpu["gateway"],
                        "serving_cpu_us": cpu["serving"]}

            measured = harness.rounds({mode: lambda mode=mode: measure(mode) for mode in MODES}, args.repeats)
            _, client, job = stacks["100 % sampled"]
            predicts, lone = lone_traces(receiver, client, job.model_id, digit)
            trained = receiver.wait_for(lambda _: (spans := receiver.trace(trace_id_of(job.trace_context)))
                                        and sum(s.name.startswith("epoch ") for s in spans) >= 4 and spans)
        finally:
            for stack, client, _ in stacks.values():
                client.close()
                stack.stop()
    pictures = draw(predicts[len(predicts) // 2], trained)
    if args.write:
        (BENCHMARKS.parent / PICTURES).mkdir(parents=True, exist_ok=True)
        for picture in pictures:
            shutil.copy(picture, BENCHMARKS.parent / PICTURES / picture.name)
    return [overhead_section(args, measured), stages_section(predicts, lone)]


def lone_traces(receiver: Receiver, client: LenetClient, model_id: str, digit) -> tuple[list[list[Span]], list]:
    """LONE_TRACES lone Predicts on the fully traced stack and their traces, ordered by the call's duration; and
    the client's own times of them."""
    began, lone = time.time_ns(), []
    for _ in range(LONE_TRACES):
        lone.append(harness.timed(lambda: client.predict(model_id, digit)))

    def complete(spans: list[Span]):
        calls = [s for s in spans if s.name == PREDICT and s.kind == 2 and s.start_ns >= began]
        traces = [receiver.trace(call.trace_id) for call in calls]
        traces = [t for t in traces if set(STAGES) <= {s.name for s in t}]
        return len(traces) >= LONE_TRACES and traces
    traces = receiver.wait_for(complete, seconds=60)
    return sorted(traces, key=lambda t: server_span(t, PREDICT).seconds), lone


def overhead_section(args, measured: dict[str, list[dict]]) -> Section:
    def median(mode: str, figure: str) -> float:
        return statistics.median(run[figure] for run in measured[mode])
    rows = []
    for mode in MODES:
        lone, rate = median(mode, "lone_p50"), median(mode, "rate")
        cpu = median(mode, "gateway_cpu_us") + median(mode, "serving_cpu_us")
        off_cpu = median("off", "gateway_cpu_us") + median("off", "serving_cpu_us")
        rows.append([mode, f"{lone:.2f}", f"{100 * (lone / median('off', 'lone_p50') - 1):+.1f} %", f"{rate:,.0f}",
                     f"{100 * (rate / median('off', 'rate') - 1):+.1f} %", f"{median(mode, 'p50'):.1f}",
                     f"{median(mode, 'gateway_cpu_us'):,.0f}", f"{median(mode, 'serving_cpu_us'):,.0f}",
                     f"{100 * (cpu / off_cpu - 1):+.1f} %", sum(run["failures"] for run in measured[mode])])
    return Section(
        "Tracing: what it costs",
        ["tracing", "lone Predict p50 (ms)", "vs off", f"{CLIENTS} clients: calls/s", "vs off",
         f"{CLIENTS} clients: p50 (ms)", "gateway CPU per call (µs)", "serving worker CPU per call (µs)",
         "CPU vs off", "failed"], rows,
        f"Three stacks side by side (each its own Redis, one worker node, one small model), differing only in the "
        f"OTEL_* variables: off (no endpoint), `OTEL_TRACES_SAMPLER=parentbased_traceidratio` with "
        f"`OTEL_TRACES_SAMPLER_ARG=0.01`, and every call traced, both exporting over OTLP/gRPC to a receiver on "
        f"loopback. Interleaved rounds, the median of {args.repeats}: {args.calls} one-image calls from a lone "
        f"client, then {CLIENTS} clients for {args.seconds:g} s, during which the CPU time (user + system, from "
        f"/proc) the gateway and the serving process spent per call is read: on a busy machine the steadier "
        f"measure of what tracing adds. The goal is at most 3 % at 1 % sampling.",
        "python -m bench tracing", {"rounds": measured})


def stages_section(traces: list[list[Span]], lone: list[float]) -> Section:
    by_stage: dict[str, list[float]] = defaultdict(list)
    offsets: dict[str, list[float]] = defaultdict(list)
    services: dict[str, str] = {}
    for spans in traces:
        call = server_span(spans, PREDICT)
        by_stage[PREDICT].append(call.seconds)
        for span in spans:
            if span.name in STAGES:
                by_stage[span.name].append(span.seconds)
                offsets[span.name].append((span.start_ns - call.start_ns) / 1e9)
                services[span.name] = span.service
    call = statistics.median(by_stage[PREDICT])
    rows = [["the client's call (its own clock)", "lenet (bench)", "", f"{1000 * statistics.median(lone):.2f}", ""],
            ["Predict on the gateway (gRPC server span)", "lenet-gateway", "0.00", f"{1000 * call:.2f}", "100 %"]]
    for stage in sorted(STAGES, key=lambda name: statistics.median(offsets[name])):
        seconds = statistics.median(by_stage[stage])
        rows.append([stage, services[stage], f"{1000 * statistics.median(offsets[stage]):.2f}", f"{1000 * seconds:.2f}",
                     f"{100 * seconds / call:.0f} %"])
    return Section(
        "Tracing: where a lone Predict's time goes",
        ["stage (span)", "process", "starts at (ms)", "median (ms)", "of the call"], rows,
        f"The medians over {len(traces)} lone one-image Predicts on the fully traced stack, from their spans "
        "(starts: from the gateway's server span). Nested: serve lane ⊃ lane round trip ⊃ the worker's lane wait "
        "(from the gateway's push to the worker's read), claim, batch wait, forward (MXNet), reply write, and the "
        "gateway's reply read. One Predict's trace (the median one) and the model's training job's trace "
        "(submit → queued → 2 epochs, each with its evaluation and checkpoint):\n\n"
        f"![one Predict's trace]({PICTURES}/predict.png)\n\n![one training job's trace]({PICTURES}/training.png)",
        "python -m bench tracing", {"stages": dict(by_stage)})


def draw(predict: list[Span], training: list[Span]) -> list[Path]:
    """Both traces as waterfalls (a bar per span, coloured by process), PNGs in out/bench/."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = []
    for name, spans, unit, scale in (("predict", predict, "ms", 1e6), ("training", training, "s", 1e9)):
        spans = sorted(spans, key=lambda s: (s.start_ns, -s.end_ns))
        origin = spans[0].start_ns
        figure, axes = plt.subplots(figsize=(10, 0.32 * len(spans) + 1.2), dpi=120)
        for row, span in enumerate(spans):
            start, length = (span.start_ns - origin) / scale, (span.end_ns - span.start_ns) / scale
            axes.barh(row, max(length, 1e-3 if unit == "ms" else 1e-2), left=start,
                      color=COLOURS.get(span.service, "tab:gray"))
            axes.text(start + length, row, f"  {span.name}  {length:.2f} {unit}", va="center", fontsize=8)
        axes.set_yticks(range(len(spans)), [span.service.removeprefix("lenet-") for span in spans], fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(f"{unit} since the trace began")
        axes.set_xlim(0, (max(s.end_ns for s in spans) - origin) / scale * 1.35)
        axes.set_title(f"one {'Predict' if name == 'predict' else 'training job'}: trace {spans[0].trace_id}",
                       fontsize=9)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        path = RESULTS / f"{name}.png"
        RESULTS.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
        plt.close(figure)
        drawn.append(path)
    return drawn
