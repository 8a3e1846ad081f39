"""Inspect throughput: all 11 layers for the test images, streamed worker → Redis → gateway → client.

A fresh embedded stack (one CPU worker) trains a small model (1 epoch on 2,000 images; accuracy does not matter
here), then the client streams every layer for the first N test images, float32 and float16, and counts the
tensor bytes that reach it. Next to it, the engine alone in a child process (forward passes and the copy of every
chunk into a buffer, no transport) shows how much of the time the computation itself takes.
Usage: `python -m bench inspect [--limit 10000] [--repeats 3]`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.table import record
from clients.client import LenetClient
from protos.lenet.v1 import lenet_pb2 as pb
from services import memory
from services.gateway.dispatch import INSPECT_WINDOW
from services.stack import Stack

DTYPES = ("float32", "float16")

ENGINE = """
import json, sys, time
import numpy as np
from services import memory
from workers.engine import mnist
from workers.engine.inference import Predictor
from workers.engine.lenet import LAYERS
from workers.requests import BATCH_SIZE, CHUNK_BYTES, row_ranges
memory.reuse_freed_memory()  # as the worker does
symbol, params = open(sys.argv[1]).read(), open(sys.argv[2], "rb").read()
limit, repeats = int(sys.argv[3]), int(sys.argv[4])
images = mnist.load_split("test")[0][:limit]
predictor, buffer, results = Predictor(symbol, params), np.empty(CHUNK_BYTES, np.uint8), {}
for dtype in (np.float32, np.float16):
    runs = []
    for _ in range(repeats + 1):  # the first run binds the executors
        started, nbytes = time.perf_counter(), 0
        for batch in predictor.batches(images, LAYERS, BATCH_SIZE, dtype):
            for layer in LAYERS:
                for start, stop in row_ranges(batch.shape(layer), np.dtype(dtype).itemsize):
                    rows = (stop - start, *batch.shape(layer)[1:])
                    out = buffer[:int(np.prod(rows)) * np.dtype(dtype).itemsize].view(dtype).reshape(rows)
                    batch.copy_rows(layer, start, stop, out)
                    nbytes += out.nbytes
        runs.append({"seconds": time.perf_counter() - started, "bytes": nbytes})
    results[np.dtype(dtype).name] = sorted(runs[1:], key=lambda run: run["seconds"])[len(runs[1:]) // 2]
print(json.dumps(results))
"""


def stream(client: LenetClient, model_id: str, limit: int, dtype: str) -> dict:
    """One Inspect of every layer for the first `limit` test images, consumed chunk by chunk."""
    started, first, nbytes, chunks, largest = time.perf_counter(), None, 0, 0, 0
    for _chunk, rows in client.inspect_chunks(model_id, limit=limit, dtype=dtype):
        first = first if first is not None else time.perf_counter() - started
        nbytes, chunks, largest = nbytes + rows.nbytes, chunks + 1, max(largest, rows.nbytes)
    return {"seconds": time.perf_counter() - started, "first": first, "bytes": nbytes, "chunks": chunks,
            "largest": largest}


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return {**ordered[len(ordered) // 2], "first": statistics.median(run["first"] for run in runs)}


def engine_alone(client: LenetClient, model_id: str, limit: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        output = subprocess.run([sys.executable, "-c", ENGINE, str(symbol), str(params), str(limit), str(repeats)],
                                check=True, capture_output=True, text=True, env=os.environ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench inspect", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10_000, help="test images [10000]")
    parser.add_argument("--repeats", type=int, default=3, help="runs per dtype; the median is reported [3]")
    args = parser.parse_args(argv or [])
    memory.reuse_freed_memory()  # this process is the client: let it reuse chunk buffers as the services do
    with Stack(workers=1) as stack, LenetClient(stack.address) as client:
        job = client.wait(client.train(epochs=1, limit=2000, eval_limit=500, init_scale=0.07, model_name="bench").id)
        if job.state != pb.SUCCEEDED:
            sys.exit(f"training for the benchmark ended {pb.JobState.Name(job.state)}: {job.error}")
        runs = {}
        for dtype in DTYPES:
            stream(client, job.model_id, args.limit, dtype)  # warm-up: loads the model, binds the executors
            runs[dtype] = median_run([stream(client, job.model_id, args.limit, dtype) for _ in range(args.repeats)])
        engine = engine_alone(client, job.model_id, args.limit, args.repeats)
    rows, largest = [], max(run["largest"] for run in runs.values())
    for dtype in DTYPES:
        run = runs[dtype]
        rows.append([f"through the service, {dtype}", f"{run['bytes'] / 1e6:,.0f}", run["chunks"],
                     f"{run['seconds']:.2f}", f"**{run['bytes'] / run['seconds'] / 1e6:,.0f}**",
                     f"{args.limit / run['seconds']:,.0f}", f"{run['first'] * 1000:.0f}"])
    for dtype in DTYPES:
        run = engine[dtype]
        rows.append([f"engine alone, {dtype}", f"{run['bytes'] / 1e6:,.0f}", "", f"{run['seconds']:.2f}",
                     f"{run['bytes'] / run['seconds'] / 1e6:,.0f}", f"{args.limit / run['seconds']:,.0f}", ""])
    record(f"Inspect: all 11 layers of {args.limit:,} test images",
           ["run", "tensor data (MB)", "chunks", "wall time (s)", "MB/s", "images/s", "first chunk (ms)"], rows,
           f"Median of {args.repeats} runs after a warm-up, on one embedded stack (1 CPU worker, loopback). MB/s "
           "counts the tensor bytes the client receives, from the call to the last chunk; \"first chunk\" is the "
           f"time from the call to the first chunk. The largest chunk carried {largest / 2**20:.1f} MiB of one "
           f"layer's rows; Redis holds at most {INSPECT_WINDOW} chunks of a stream. \"Engine alone\" is the "
           "worker's own work without transport: forward passes of 500 images and the copy of every chunk into a "
           "buffer (float16 is cast by MXNet, which costs more than the halved bytes save on a CPU). The worker, "
           "Redis, the gateway and the client all share the machine's cores, so the service's figure is bounded "
           "by the engine's plus the copies through Redis and gRPC.")

if __name__ == "__main__":
    main(sys.argv[1:])
