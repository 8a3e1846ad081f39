"""Tracing (OpenTelemetry): what it costs, side by side in one run, and what a trace shows.

Five embedded stacks, each with its own Redis, worker node and small model, differing only in the standard OTEL_*
variables: tracing off (no endpoint) twice, 1 % of calls sampled, 1 % with no server span on Predict's services
(OTEL_PYTHON_GRPC_EXCLUDED_SERVICES: tracing on, but no call of theirs is sampled), every call sampled, the traced
ones exporting to a real OTLP/gRPC receiver in this process (tests/otlp_receiver.py). The second untraced stack is
the control: how far two identical stacks differ is how small a cost this machine can show. They are measured in
short interleaved rounds (off, off again, 1 %, …, then the reverse order): a lone client's Predicts, with the CPU
time the gateway and the serving
process spend on each, then 64 concurrent clients (bench/serving_bench.py's load). Then lone Predicts on the fully
traced stack give the time of each stage, and one Predict's and the model's training job's traces are drawn as
waterfalls. `python -m bench tracing [--repeats 3] [--seconds 5] [--calls 200]`.
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

CONTROL = "off, a second stack"
ONE_PERCENT = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
UNSPANNED = "1 % sampled, Predict's services without server spans"
PREDICT_SERVICES = "lenet.v1.Lenet,inference.GRPCInferenceService"
MODES = {"off": {}, CONTROL: {}, "1 % sampled": ONE_PERCENT,
         UNSPANNED: {**ONE_PERCENT, "OTEL_PYTHON_GRPC_EXCLUDED_SERVICES": PREDICT_SERVICES},
         "100 % sampled": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}}
CLIENTS = 64
UNSAMPLED_CALLS = 20_000   # timeit's calls per piece of an unsampled call
ROUNDS_PER_REPEAT = 5      # short rounds, many of them: each traced stack is compared with the untraced one beside it
LONE_TRACES = 50           # lone Predicts whose traces give the per-stage times
PREDICT = "/lenet.v1.Lenet/Predict"
STAGES = ("validate", "serve lane", "lane round trip", "lane wait", "claim", "batch wait", "forward", "reply write",
          "reply read")
PICTURES = Path("bench") / "traces"   # where --write keeps the pictures BENCHMARKS.md shows
COLOURS = {"lenet-gateway": "tab:blue", "lenet-worker-serve": "tab:orange", "lenet-worker-train": "tab:green"}


def run(args, _service) -> list[Section]:
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 6:22, 12:16] = 255
    pieces = harness.child("unsampled_tracing", calls=UNSAMPLED_CALLS)   # first, while the machine is quietest
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
                pids = harness.stack_processes(stack)
                pids = [pids["gateway"], pids["worker 1: serve"]]
                before = cpu_seconds(pids)
                lone = [harness.timed(lambda: client.predict(job.model_id, digit)) for _ in range(args.calls)]
                lone_cpu = 1e6 * (cpu_seconds(pids) - before) / args.calls
                before = [harness.cpu_seconds(pid) for pid in pids]
                loaded = loader.submit(load, stack.address, job.model_id, CLIENTS, seconds).result()
                calls = loaded["rate"] * seconds
                gateway, serving = (1e6 * (harness.cpu_seconds(pid) - was) / calls for pid, was in zip(pids, before))
                if MODES[mode]:
                    settled(receiver)   # its exports done before the next stack is measured
                return {"lone_p50": 1000 * statistics.median(lone), "lone_cpu_us": lone_cpu, "rate": loaded["rate"],
                        "p50": loaded["p50"], "failures": loaded["failures"], "gateway_cpu_us": gateway,
                        "serving_cpu_us": serving}

            seconds = load_seconds(args)
            measured = harness.rounds({mode: lambda mode=mode: measure(mode) for mode in MODES},
                                      args.repeats * ROUNDS_PER_REPEAT, alternate=True)
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
    return [overhead_section(args, measured), unsampled_section(pieces, measured), stages_section(predicts, lone)]


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


def settled(receiver: Receiver, quiet: float = 1.0, seconds: float = 60.0) -> None:
    """Wait until no span has arrived for `quiet` seconds: after its load the fully traced stack goes on exporting
    (and this process on receiving) for a while, which would otherwise be charged to the stack measured next."""
    deadline, count = time.monotonic() + seconds, -1
    while count != len(receiver.spans) and time.monotonic() < deadline:
        count = len(receiver.spans)
        time.sleep(quiet)


def load_seconds(args) -> float:
    """Each round's seconds of 64-client load: --seconds spread over the repeat's ROUNDS_PER_REPEAT rounds, twice."""
    return args.seconds / ROUNDS_PER_REPEAT * 2


def median(measured: dict[str, list[dict]], mode: str, figure: str) -> float:
    """A figure's median over the rounds of `mode`."""
    return statistics.median(run[figure] for run in measured[mode])


def cpu_seconds(pids: list[int]) -> float:
    return sum(harness.cpu_seconds(pid) for pid in pids)


def versus(measured: dict[str, list[dict]], mode: str, *figures: str) -> str:
    """Against off: the median over rounds of the round's ratio (its two stacks measured seconds apart), which
    follows a busy machine's swings better than a ratio of medians."""
    ratios = [sum(run[f] for f in figures) / sum(off[f] for f in figures)
              for run, off in zip(measured[mode], measured["off"])]
    return f"{100 * (statistics.median(ratios) - 1):+.1f} %"


def overhead_section(args, measured: dict[str, list[dict]]) -> Section:
    """Each figure's median, and against off (`versus`)."""
    def of(mode: str, figure: str) -> float:
        return median(measured, mode, figure)

    def against(mode: str, *figures: str) -> str:
        return versus(measured, mode, *figures)
    rows = [[mode, f"{of(mode, 'lone_p50'):.2f}", against(mode, "lone_p50"), f"{of(mode, 'lone_cpu_us'):,.0f}",
             against(mode, "lone_cpu_us"), f"{of(mode, 'rate'):,.0f}", against(mode, "rate"),
             f"{of(mode, 'p50'):.1f}", f"{of(mode, 'gateway_cpu_us'):,.0f}",
             f"{of(mode, 'serving_cpu_us'):,.0f}", against(mode, "gateway_cpu_us", "serving_cpu_us"),
             sum(run["failures"] for run in measured[mode])] for mode in MODES]
    rounds, seconds = len(measured["off"]), load_seconds(args)
    return Section(
        "Tracing: what it costs",
        ["tracing", "lone Predict p50 (ms)", "vs off", "lone: gateway + worker CPU per call (µs)", "vs off",
         f"{CLIENTS} clients: calls/s", "vs off", f"{CLIENTS} clients: p50 (ms)", "gateway CPU per call (µs)",
         "serving worker CPU per call (µs)", "CPU vs off", "failed"], rows,
        f"Five stacks side by side (each its own Redis, one worker node, one small model), differing only in the "
        f"OTEL_* variables: off (no endpoint) twice — the second, \"{CONTROL}\", is the control: what two identical "
        f"stacks differ by is the smallest cost this run can show —, `OTEL_TRACES_SAMPLER=parentbased_traceidratio` "
        f"with `OTEL_TRACES_SAMPLER_ARG=0.01`, the same with `OTEL_PYTHON_GRPC_EXCLUDED_SERVICES` naming "
        f"lenet.v1.Lenet and the Open Inference Protocol (tracing on, exporter and all, but no Predict gets a server "
        f"span, so none is sampled: the rest of tracing's cost), and every call traced, all three exporting over "
        f"OTLP/gRPC to a receiver on loopback. {rounds} short rounds, every other one in reverse order: "
        f"{args.calls} one-image calls from a "
        f"lone client, during which the CPU time (user + system, from /proc) the gateway and the serving process "
        f"spend per call is read, then {CLIENTS} clients for {seconds:g} s, CPU per call read likewise (the batches' "
        f"sizes follow the rate, so it moves with it). Figures are medians over the rounds; \"vs off\" is the "
        f"median of each round's ratio to the off stack measured beside it. The goal is at most 3 % at 1 % sampling.",
        "python -m bench tracing", {"rounds": measured})


def unsampled_section(pieces: dict[str, float], measured: dict[str, list[dict]]) -> Section:
    """What a call the 1 % sampler leaves out pays, timed alone (bench.children.unsampled_tracing), against the CPU a
    call costs with tracing off; and the cost of 1 % sampling this gives: that, plus a hundredth of what a sampled
    call adds (the 100 % row)."""
    gateway, serving = median(measured, "off", "gateway_cpu_us"), median(measured, "off", "serving_cpu_us")
    sampled = (median(measured, "100 % sampled", "gateway_cpu_us") + median(measured, "100 % sampled", "serving_cpu_us")
               - gateway - serving)
    ours = (pieces["lenet server spans"] + pieces["a Predict's spans on the gateway"]
            + pieces["a lane request's spans on the serving worker"])
    rows = [[piece, f"{micros:.1f}", f"{100 * micros / (serving if 'worker' in piece else gateway):.2f} %"]
            for piece, micros in pieces.items()]
    rows += [["an unsampled Predict, all of it (our server span, the gateway's spans, the worker's)", f"{ours:.1f}",
              f"{100 * ours / (gateway + serving):.2f} %"],
             ["1 % sampling: that, plus a hundredth of what a sampled call adds", f"{ours + sampled / 100:.1f}",
              f"{100 * (ours + sampled / 100) / (gateway + serving):.2f} %"]]
    return Section(
        "Tracing: what an unsampled call pays",
        ["piece", "CPU per call (µs)", "of the call's CPU with tracing off"], rows,
        f"Each piece timed alone (timeit, best of 5 × {UNSAMPLED_CALLS:,} calls, in a fresh process tracing at 1 % "
        f"with no exporter): the gateway's server span around a handler that does nothing, with the maintained "
        f"gRPC instrumentation and with ours (services/gateway/server_spans.py, which lets the sampler decide "
        f"first), then what a Predict opens on the gateway and what the serving worker records for it. Shares are "
        f"of the CPU a call costs with tracing off in the run above ({gateway:,.0f} µs on the gateway, "
        f"{serving:,.0f} µs on the serving worker, {CLIENTS} clients); a sampled call adds {sampled:,.0f} µs. "
        f"This is what the unsampled path itself costs. Under {CLIENTS} clients the run above shows more than "
        f"these pieces account for: 1 % sampling changed the calls per second by "
        f"{versus(measured, '1 % sampled', 'rate')}, and by {versus(measured, UNSPANNED, 'rate')} with tracing on "
        f"but no server span on Predict's services (the control: {versus(measured, CONTROL, 'rate')}): the "
        f"two differ by what the server span that asks the sampler about every call costs under load, against the "
        f"few microseconds it takes alone.",
        "python -m bench tracing", {"pieces": pieces})


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
