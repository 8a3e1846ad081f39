"""Inspect throughput: all 11 layers of the first N test images, in float32 and float16, side by side in
interleaved rounds: through the service with the rows in the client's shared memory (the chunks naming slots),
through the service with the chunks relayed worker → gateway over gRPC (issue 21), through
the service with the chunks through Redis (a second gateway on the same workers, LENET_RELAY_ADDRESS=off: the
path before issue 21), and the engine alone (forward passes and the copy of every chunk into a buffer, no
transport) in a child process with the same threads.
"""
import os
import statistics
import tempfile
import time

import numpy as np

from bench import harness
from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.contract import CHUNK_BYTES
from lenet_protos.shared_memory import SLOTS
from lenet_services.gateway.relay import RELAY_WINDOW
from lenet_services.gateway.service import INSPECT_WINDOW

DTYPES = ("float32", "float16")
PATHS = {"shared": "through the service, rows in the client's shared memory",
         "relay": "through the service, relayed over gRPC", "store": "through the service, through Redis"}


def stream(client: LenetClient, model_id: str, limit: int, dtype: str, shared_memory: bool = False) -> dict:
    """One Inspect of every layer for the first `limit` test images, each chunk's rows copied out as they come
    (as a consumer would; from shared memory, that is the one copy out of the ring)."""
    started, first, nbytes, chunks, largest = time.perf_counter(), None, 0, 0, 0
    out = np.empty(CHUNK_BYTES, np.uint8)
    for _chunk, rows in client.inspect_chunks(model_id, limit=limit, dtype=dtype, shared_memory=shared_memory):
        first = first if first is not None else time.perf_counter() - started
        out[:rows.nbytes] = rows.reshape(-1).view(np.uint8)
        nbytes, chunks, largest = nbytes + rows.nbytes, chunks + 1, max(largest, rows.nbytes)
    return {"seconds": time.perf_counter() - started, "first": first, "bytes": nbytes, "chunks": chunks,
            "largest": largest}


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return {**ordered[len(ordered) // 2], "first": statistics.median(run["first"] for run in runs)}


def run(args, service) -> list[Section]:
    model_id, limit = service.model_id, args.limit
    with service.gateway({"LENET_RELAY_ADDRESS": "off"}) as through_store, \
            tempfile.TemporaryDirectory() as folder:
        clients = {"shared": service.client, "relay": service.client, "store": through_store}
        symbol, params = service.client.export(model_id, folder)
        variants = {}
        for dtype in DTYPES:
            for path, client in clients.items():
                stream(client, model_id, limit, dtype, path == "shared")  # warm-up: the model, the executors
                variants[path, dtype] = lambda c=client, d=dtype, s=path == "shared": stream(c, model_id, limit, d, s)
        variants["engine"] = lambda: harness.child("engine_inspect", symbol=str(symbol), params=str(params),
                                                   limit=limit, repeats=1, cores="all")
        load_before = os.getloadavg()[0]
        results = harness.rounds(variants, args.repeats)
        load_after = os.getloadavg()[0]
    engine = {dtype: median_run([alone[dtype] for alone in results["engine"]]) for dtype in DTYPES}
    runs = {key: median_run(results[key]) for key in results if key != "engine"}
    rows = []
    for dtype in DTYPES:
        alone = engine[dtype]
        for path in PATHS:
            run_ = runs[path, dtype]
            rows.append([f"{PATHS[path]}, {dtype}", f"{run_['bytes'] / 1e6:,.0f}", run_["chunks"],
                         f"{run_['seconds']:.2f}", f"**{run_['bytes'] / run_['seconds'] / 1e6:,.0f}**",
                         f"{limit / run_['seconds']:,.0f}", f"{run_['first'] * 1000:.0f}",
                         f"**{alone['seconds'] / run_['seconds']:.2f}×**"])
        rows.append([f"engine alone, {dtype}", f"{alone['bytes'] / 1e6:,.0f}", "", f"{alone['seconds']:.2f}",
                     f"{alone['bytes'] / alone['seconds'] / 1e6:,.0f}", f"{limit / alone['seconds']:,.0f}",
                     f"{alone['first'] * 1000:.0f}", "1.00×"])
    largest = max(run_["largest"] for run_ in runs.values())
    return [Section(
        f"Inspect: all 11 layers of {limit:,} test images",
        ["run", "tensor data (MB)", "chunks", "wall time (s)", "MB/s", "images/s", "first chunk (ms)",
         "vs engine alone"], rows,
        f"Median of {args.repeats} interleaved rounds after a warm-up (each round: every row once, the engine in a "
        f"fresh child process), on one embedded stack (1 CPU worker, loopback); load average {load_before:.1f} "
        f"before the rounds, {load_after:.1f} after. MB/s counts the tensor bytes the client receives, from the call "
        "to the last chunk, the client copying each chunk's rows out as they come; \"first chunk\" is the time from "
        f"the call to the first chunk. The largest chunk carried {largest / 2**20:.1f} MiB of one layer's rows. Shared "
        f"memory: the client lends the worker a ring of {SLOTS} slots in /dev/shm (lenet_protos.shared_memory), the "
        "worker writes each chunk's rows into the next free slot and the chunk, relayed, only names the slot "
        "(worker and client on one host). Relayed: the worker streams the chunks to the gateway "
        f"over gRPC (lenet.internal.v1.Relay; the gateway holds at most {RELAY_WINDOW} of a stream, gRPC's flow "
        "control the rest); through Redis: a second gateway on the same worker with LENET_RELAY_ADDRESS=off, as "
        f"before issue 21 (Redis holds at most {INSPECT_WINDOW} chunks of a stream). \"Engine alone\" is the "
        "worker's own work without transport: its forward passes (32 images, then 500 at a time) and the copy "
        "of every chunk into a buffer; its \"first chunk\" is the time to the first chunk copied. The worker, "
        "Redis, the gateway and the client all share the machine's cores.",
        "python -m bench inspect", {"service": {f"{path} {dtype}": run_ for (path, dtype), run_ in runs.items()},
                                    "engine": engine})]
