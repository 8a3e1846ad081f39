"""Inspect throughput: all 11 layers of the first N test images, streamed worker → Redis → gateway → client, in
float32 and float16, next to the engine alone (forward passes and the copy of every chunk into a buffer, no
transport) in a child process with the same threads.
"""
import statistics
import tempfile
import time

from bench import harness
from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_services.gateway.service import INSPECT_WINDOW

DTYPES = ("float32", "float16")


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


def run(args, service) -> list[Section]:
    client, model_id, limit = service.client, service.model_id, args.limit
    runs = {}
    for dtype in DTYPES:
        stream(client, model_id, limit, dtype)  # warm-up: loads the model, binds the executors
        runs[dtype] = median_run([stream(client, model_id, limit, dtype) for _ in range(args.repeats)])
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        engine = harness.child("engine_inspect", symbol=str(symbol), params=str(params), limit=limit,
                               repeats=args.repeats, cores="all")
    rows = []
    for dtype in DTYPES:
        run_, alone = runs[dtype], engine[dtype]
        rows.append([f"through the service, {dtype}", f"{run_['bytes'] / 1e6:,.0f}", run_["chunks"],
                     f"{run_['seconds']:.2f}", f"**{run_['bytes'] / run_['seconds'] / 1e6:,.0f}**",
                     f"{limit / run_['seconds']:,.0f}", f"{run_['first'] * 1000:.0f}",
                     f"{alone['seconds'] / run_['seconds']:.2f}"])
    for dtype in DTYPES:
        alone = engine[dtype]
        rows.append([f"engine alone, {dtype}", f"{alone['bytes'] / 1e6:,.0f}", "", f"{alone['seconds']:.2f}",
                     f"{alone['bytes'] / alone['seconds'] / 1e6:,.0f}", f"{limit / alone['seconds']:,.0f}", "", ""])
    largest = max(run_["largest"] for run_ in runs.values())
    return [Section(
        f"Inspect: all 11 layers of {limit:,} test images",
        ["run", "tensor data (MB)", "chunks", "wall time (s)", "MB/s", "images/s", "first chunk (ms)",
         "engine's share of the time"], rows,
        f"Median of {args.repeats} runs after a warm-up, on one embedded stack (1 CPU worker, loopback). MB/s counts "
        "the tensor bytes the client receives, from the call to the last chunk; \"first chunk\" is the time from the "
        f"call to the first chunk. The largest chunk carried {largest / 2**20:.1f} MiB of one layer's rows; Redis "
        f"holds at most {INSPECT_WINDOW} chunks of a stream. \"Engine alone\" is the worker's own work without "
        "transport: forward passes of 500 images and the copy of every chunk into a buffer. The worker, Redis, the "
        "gateway and the client all share the machine's cores.",
        "python -m bench inspect", {"service": runs, "engine": engine})]
