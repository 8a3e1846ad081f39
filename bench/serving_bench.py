"""Predict under concurrency: one-image calls from 1, 8, 32 and 64 clients at once, on an idle embedded stack and
while a 60,000-image training job runs beside it, next to the engine's own batch throughput and to the ceiling
of the transport alone (a gRPC server that answers Predict without any work, loaded the same way).

The clients are asyncio tasks on one gRPC channel in a process of their own, each calling Predict again as soon
as its previous call returns. `python -m bench serving [--seconds 5]`.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from concurrent import futures

import grpc
import numpy as np

from bench import harness
from bench.table import Section
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_protos.settings import ServiceSettings
from lenet_protos.tensors import to_tensor
from lenet_services.store.redis_server import free_port

CLIENTS = (1, 8, 32, 64)


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
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        engine = harness.child("engine_predict", symbol=str(symbol), params=str(params), calls=0,
                               batch=settings.batch_max, cores="all")
    rows.append([f"engine alone, a thread per core, batches of {settings.batch_max}", "",
                 f"{settings.batch_max / statistics.median(engine['bulk']):,.0f} images/s", "", "", ""])
    return [Section(
        "Predict under concurrency: one image per call", ["run", "clients", "calls/s", "p50 (ms)", "p99 (ms)",
                                                           "failed"], rows,
        f"Each client calls Predict with one image as soon as its previous call returns, {args.seconds:g} s per "
        "row, all clients asyncio tasks in one process on one channel, on this machine's cores with the service. "
        "The stack is `lenet up`'s: one worker node with a training and a serving process (both with a thread per "
        f"core, dynamic batching up to {settings.batch_max} images, {settings.batch_delay_ms:g} ms delay; the "
        "gateway coalesces concurrent calls). The transport ceiling is a gRPC server answering Predict with a "
        "constant, loaded the same way: what Python gRPC alone allows here.", "python -m bench serving",
        {"rows": rows})]
