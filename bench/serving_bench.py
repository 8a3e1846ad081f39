"""Predict under concurrency: one-image calls from 1, 8, 32 and 64 clients at once, on an idle embedded stack and
while a 60,000-image training job runs beside it, next to the engine's own batch throughput and to the ceiling
of the transport alone (a gRPC server that answers Predict without any work, loaded the same way).

The clients are asyncio tasks on one gRPC channel in a process of their own, each calling Predict again as soon
as its previous call returns. Then the candidates for a Predict reply's hop from the worker back to the gateway
(issue 21), side by side: through Redis as the service does it (Requests.ask / take / reply) against gRPC from the
worker to the gateway, one unary call per reply or one stream kept open. `python -m bench serving [--seconds 5]`.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import queue
import statistics
import tempfile
import threading
import time
import uuid
from concurrent import futures

import grpc
import numpy as np

from bench import harness
from bench.table import Section
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_protos.settings import ServiceSettings
from lenet_protos.tensors import to_tensor
from lenet_services.store import Store
from lenet_services.store.redis_server import RedisServer, free_port

CLIENTS = (1, 8, 32, 64)
HOPS = ("Redis (the service's)", "gRPC, a unary call per reply", "gRPC, one stream for all replies")
HOP_CALLS = 500
LANE = "bench.serve"


def load(address: str, model_id: str, clients: int, seconds: float) -> dict:
    """Run `clients` concurrent callers for `seconds`; calls per second and latency percentiles (ms)."""
    return asyncio.run(_load(address, model_id, clients, seconds))


async def _load(address: str, model_id: str, clients: int, seconds: float) -> dict:
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 6:22, 12:16] = 255
    request = pb.PredictRequest(model_id=model_id, images=to_tensor(digit, "images"))
    latencies: list[float] = []
    failures = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.LenetStub(channel)
        await stub.Predict(request, timeout=60)
        stop_at = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    await stub.Predict(request, timeout=60)
                    latencies.append(time.perf_counter() - started)
                except grpc.aio.AioRpcError:
                    failures += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"rate": len(latencies) / elapsed, "p50": 1000 * harness.percentile(latencies, 0.5),
            "p99": 1000 * harness.percentile(latencies, 0.99), "failures": failures}


class Echo(pb_grpc.LenetServicer):
    """Answers Predict with a constant response: what the transport costs without any work behind it."""
    response = pb.PredictResponse(probabilities=to_tensor(np.full((1, 10), 0.1, np.float32)), labels=[0])

    def Predict(self, request, context):
        return self.response


def echo_server(port: int, ready) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(64))
    pb_grpc.add_LenetServicer_to_server(Echo(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    ready.set()
    server.wait_for_termination()


def hop_worker(url: str, gateway: str, hop: str) -> None:
    """A serving worker's lane and nothing else: take requests (claimed) and answer each with a Predict-sized
    reply, through the store or over gRPC to `gateway`."""
    requests, name = Store(url).requests, "bench-worker"
    reply = pb.WorkerReply(payload=Echo.response.SerializeToString())
    channel = grpc.insecure_channel(gateway)
    unary = channel.unary_unary("/bench.Replies/Reply", request_serializer=pb.WorkerReply.SerializeToString)
    outgoing: queue.Queue = queue.Queue()
    stream = None
    if hop == HOPS[2]:   # kept: a call nobody holds is cancelled
        stream = channel.stream_unary("/bench.Replies/Replies", request_serializer=pb.WorkerReply.SerializeToString
                             ).future(iter(outgoing.get, None))
    while stream is None or stream.running():
        for request in requests.take(LANE, 64, name):
            answer = pb.WorkerReply(payload=reply.payload, error_message=request.request_id)
            if hop == HOPS[0]:
                requests.reply([(request.request_id, answer)])
            else:
                (outgoing.put if hop == HOPS[2] else unary)(answer)
                requests.close(request.request_id)   # the claim ends, as a reply through the store ends it


def reply_hops() -> dict[str, list[float]]:
    """Lone request → reply round trips (seconds) through each candidate, in interleaved rounds."""
    waiting: dict[str, threading.Event] = {}

    def arrived(reply: pb.WorkerReply, _context=None) -> bytes:
        waiting.pop(reply.error_message).set()
        return b""

    def replies(stream, _context) -> bytes:
        for reply in stream:
            arrived(reply)
        return b""
    server = grpc.server(futures.ThreadPoolExecutor(8))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("bench.Replies", {
        "Reply": grpc.unary_unary_rpc_method_handler(arrived, request_deserializer=pb.WorkerReply.FromString),
        "Replies": grpc.stream_unary_rpc_method_handler(replies, request_deserializer=pb.WorkerReply.FromString)})])
    gateway = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    spawn, results = multiprocessing.get_context("spawn"), {hop: [] for hop in HOPS}
    with RedisServer() as redis_server:
        requests = Store(redis_server.url).requests
        for _round in range(2):
            for hop in HOPS:
                worker = spawn.Process(target=hop_worker, args=(redis_server.url, gateway, hop), daemon=True)
                worker.start()
                for number in range(HOP_CALLS + 50):   # the first 50 warm up (and wait for the worker to start)
                    request = pb.LaneRequest(request_id=uuid.uuid4().hex)
                    started = time.perf_counter()
                    if hop == HOPS[0]:
                        reply = requests.ask(LANE, request)
                        while reply is None:
                            reply = requests.reply_within(request.request_id, 30)
                    else:
                        waiting[request.request_id] = answered = threading.Event()
                        requests.submit(LANE, request)
                        answered.wait(30)
                    if number >= 50:
                        results[hop].append(time.perf_counter() - started)
                worker.kill()
                worker.join()
    server.stop(0)
    return results


def run(args, service) -> list[Section]:
    """Idle, then beside a training job; the echo ceiling; the engine's own rate at the batcher's largest batch."""
    settings, stack, client, model_id = ServiceSettings(), service.stack, service.client, service.model_id
    spawn = multiprocessing.get_context("spawn")
    rows = []
    with futures.ProcessPoolExecutor(1, mp_context=spawn) as loader:
        def measure(label: str, address: str, model: str) -> None:
            for clients in CLIENTS:
                result = loader.submit(load, address, model, clients, args.seconds).result()
                rows.append([label, clients, f"{result['rate']:,.0f}", f"{result['p50']:.1f}", f"{result['p99']:.1f}",
                             result["failures"]])

        measure("service, idle", stack.address, model_id)
        training = client.train(epochs=20)
        for event in client.watch(training.id):
            if event.WhichOneof("kind") == "batch":
                break
        measure("service, while a 60,000-image job trains", stack.address, model_id)
        client.cancel(training.id)
        port, ready = free_port(), spawn.Event()
        echo = spawn.Process(target=echo_server, args=(port, ready), daemon=True)
        echo.start()
        ready.wait(30)
        measure("transport ceiling (gRPC echo)", f"127.0.0.1:{port}", "x")
        echo.terminate()

    def row(label: str, clients: int) -> list:
        return next(r for r in rows if r[0] == label and r[1] == clients)
    lone, echo = float(row("service, idle", 1)[3]), float(row("transport ceiling (gRPC echo)", 1)[3])
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        engine = harness.child("engine_predict", symbol=str(symbol), params=str(params), calls=args.calls,
                               batch=settings.batch_max, cores="all")
        serving = harness.child("engine_predict", symbol=str(symbol), params=str(params), calls=args.calls,
                                batch=settings.batch_max, cores="all", pause=lone / 1000, wait_policy="PASSIVE")
    engine_ms, serving_ms = (1000 * statistics.median(run["single"]) for run in (engine, serving))
    rows.append([f"engine alone, a thread per core, batches of {settings.batch_max}", "",
                 f"{settings.batch_max / statistics.median(engine['bulk']):,.0f} images/s", "", "", ""])
    rows.append(["engine alone, one image per call", 1, f"{1000 / engine_ms:,.0f}", f"{engine_ms:.1f}",
                 f"{1000 * harness.percentile(engine['single'], 0.99):.1f}", ""])
    rows.append([f"engine alone, one image per call after a pause of {lone:.1f} ms, threads sleeping (as it serves)",
                 1, "", f"{serving_ms:.1f}", f"{1000 * harness.percentile(serving['single'], 0.99):.1f}", ""])

    share = float(row("service, idle", 64)[2].replace(",", "")) / \
        float(row("transport ceiling (gRPC echo)", 64)[2].replace(",", ""))
    hops = reply_hops()
    hop_rows = [[hop, f"{1000 * statistics.median(times):.2f}", f"{1000 * harness.percentile(times, 0.9):.2f}"]
                for hop, times in hops.items()]
    return [Section(
        "Predict under concurrency: one image per call", ["run", "clients", "calls/s", "p50 (ms)", "p99 (ms)",
                                                           "failed"], rows,
        f"Each client calls Predict with one image as soon as its previous call returns, {args.seconds:g} s per "
        "row, all clients asyncio tasks in one process on one channel, on this machine's cores with the service. "
        "The stack is `lenet up`'s: one worker node with a training and a serving process (both with a thread per "
        f"core, dynamic batching up to {settings.batch_max} images, {settings.batch_delay_ms:g} ms delay; the "
        "gateway coalesces concurrent calls). The transport ceiling is a gRPC server answering Predict with a "
        "constant, loaded the same way: what Python gRPC alone allows here. The engine's one-image rows are "
        f"{args.calls} calls of its Predictor in a process of its own: back to back, and as a serving process "
        "meets a lone client (its OpenMP threads asleep, OMP_WAIT_POLICY=PASSIVE, since the previous call, a lone "
        f"Predict's time earlier). In this run: a lone Predict took {lone - echo - engine_ms:+.1f} ms beyond the "
        f"echo floor plus the engine's time back to back (goal: at most 2 ms), {lone - echo - serving_ms:+.1f} ms "
        f"against the engine as it serves, and "
        f"64 clients made {share:.2f}× the echo ceiling's calls (goal: at least 0.5×).", "python -m bench serving",
        {"rows": rows}),
        Section("Predict's reply hop: Redis against gRPC (issue 21)", ["reply path", "p50 (ms)", "p90 (ms)"],
                hop_rows,
                f"A lone request's round trip, {HOP_CALLS} × 2 interleaved rounds: this process pushes a "
                "LaneRequest onto a serve lane and waits for its reply, a worker process takes it from the lane "
                "(claimed) and answers with a one-image PredictResponse: through Redis as the service does "
                "(Requests.ask, take, reply), or over gRPC straight to this process (then its claim is cleared), "
                "by a unary call per reply or on one stream kept open. The serve lane and the claim cost the same "
                "in all three; the figures differ by the reply's path alone.", "python -m bench serving",
                {"hops": hops})]
