"""Predict under concurrency: one-image calls from 1, 8, 32 and 64 clients at once, on an idle embedded stack and
while a 60,000-image training job runs beside it, next to the engine's own batch throughput and to the ceiling
of the transport alone (a gRPC server that answers Predict without any work, loaded the same way).

The clients are asyncio tasks on one gRPC channel in a process of their own, each calling Predict again as soon
as its previous call returns. Usage: `python -m bench serving [--seconds 5]`.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from concurrent import futures

import grpc
import numpy as np

from bench.table import record
from clients.client import LenetClient
from protos.lenet.v1 import lenet_pb2 as pb
from protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from protos.settings import ServiceSettings
from protos.tensors import to_tensor
from services.stack import Stack
from services.store.redis_server import free_port

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
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": 1000 * latencies[len(latencies) // 2],
            "p99": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], "failures": failures}


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


ENGINE = """
import json, sys, time
import numpy as np
from workers.engine.inference import Predictor
symbol, params, batch = open(sys.argv[1]).read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
images = np.random.default_rng(0).integers(0, 256, (batch, 28, 28)).astype(np.uint8)
predictor = Predictor(symbol, params)
predictor.predict(images, batch_size=batch)
started, passes = time.perf_counter(), 200
for _ in range(passes):
    predictor.predict(images, batch_size=batch)
print(json.dumps(batch * passes / (time.perf_counter() - started)))
"""


def engine_rate(client: LenetClient, model_id: str, batch: int) -> float:
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        output = subprocess.run([sys.executable, "-c", ENGINE, str(symbol), str(params), str(batch)], check=True,
                                capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench serving", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per row [5]")
    args = parser.parse_args(argv or [])
    settings = ServiceSettings()
    spawn = multiprocessing.get_context("spawn")
    rows = []
    with Stack(settings, workers=1) as stack, LenetClient(stack.address, timeout=600) as client, \
            futures.ProcessPoolExecutor(1, mp_context=spawn) as loader:
        model = client.wait(client.train(epochs=1, limit=2000).id)

        def measure(label: str) -> None:
            for clients in CLIENTS:
                result = loader.submit(load, stack.address, model.model_id, clients, args.seconds).result()
                rows.append([label, clients, f"{result['rate']:,.0f}", f"{result['p50']:.1f}", f"{result['p99']:.1f}",
                             result["failures"]])

        measure("service, idle")
        training = client.train(epochs=20)
        for event in client.watch(training.id):
            if event.WhichOneof("kind") == "batch":
                break
        measure("service, while a 60,000-image job trains")
        client.cancel(training.id)
        batch = settings.batch_max
        engine = engine_rate(client, model.model_id, batch)
    port = free_port()
    ready = spawn.Event()
    echo = spawn.Process(target=echo_server, args=(port, ready), daemon=True)
    echo.start()
    ready.wait(30)
    with futures.ProcessPoolExecutor(1, mp_context=spawn) as loader:
        for clients in CLIENTS:
            result = loader.submit(load, f"127.0.0.1:{port}", "x", clients, args.seconds).result()
            rows.append(["transport ceiling (gRPC echo)", clients, f"{result['rate']:,.0f}", f"{result['p50']:.1f}",
                         f"{result['p99']:.1f}", result["failures"]])
    echo.terminate()
    rows.append([f"engine alone, batches of {batch}", "", f"{engine:,.0f} images/s", "", "", ""])
    record("Predict under concurrency: one image per call",
           ["run", "clients", "calls/s", "p50 (ms)", "p99 (ms)", "failed"], rows,
           f"Each client calls Predict with one image as soon as its previous call returns, {args.seconds:g} s per "
           "row, all clients asyncio tasks in one process on one channel. The stack is `lenet up`'s: one worker "
           "node with a training and a serving process (dynamic batching up to "
           f"{settings.batch_max} images, {settings.batch_delay_ms:g} ms delay). The transport ceiling is a gRPC "
           "server answering Predict with a constant, loaded the same way: what Python gRPC alone allows on this "
           "machine, with the load generator on the same cores.")


if __name__ == "__main__":
    main(sys.argv[1:])
