"""Inspect's transport, hop by hop: how fast each stage moves the worker's 4 MiB TensorChunk frames on its own, so
the service's figure (bench/inspect_bench.py) can be read against each stage's own limit.

- Redis: a writer process pushes frames through Requests.push_chunk (credits, XADD) while this process takes them
  as the gateway does (Requests.take_chunks: XREAD, XDEL, credits back).
- gRPC: a server process yields the same ready frames from Inspect (as the gateway relays them, unparsed) and this
  process reads them with the client library (LenetClient.inspect_chunks: parse, numpy view).
- Client parse: TensorChunk.FromString and the numpy view of its tensor, no socket, with glibc's malloc defaults
  and with the settings the services use (services/memory.py): every chunk's bytes are a fresh 4 MiB allocation.
"""
import os
import statistics
import tempfile
import threading
import time
import uuid

import redis
from redis._parsers import _RESP2Parser
from redis.utils import HIREDIS_AVAILABLE

from bench import children, harness
from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services import memory
from lenet_services.gateway.service import INSPECT_WINDOW
from lenet_services.store import Store
from lenet_services.store.requests import Requests
from lenet_services.store.redis_server import RedisServer

CHUNKS = 300   # ≈ 1.3 GB, about what all layers of 10,000 images make


def redis_stage(parser: str) -> float:
    """`parser`: how the reading side parses Redis replies, "hiredis" (the C parser, when installed) or "python"."""
    with RedisServer() as server:
        store = Store(server.url)
        if parser == "python":
            store.requests = Requests(redis.Redis.from_url(server.url, parser_class=_RESP2Parser))
        request_id = uuid.uuid4().hex
        store.requests.submit("bench", pb.LaneRequest(request_id=request_id), window=INSPECT_WINDOW)
        writer = threading.Thread(target=harness.child, args=("redis_writer",),
                                  kwargs={"url": server.url, "request_id": request_id, "count": CHUNKS})
        started, after, nbytes, finished = None, "0-0", 0, False
        writer.start()
        while not finished:
            for entry_id, kind, data in store.requests.take_chunks(request_id, after, block_ms=500):
                after, finished = entry_id, kind == "end"
                if started is None:  # from the first chunk on: the writer's start-up is not the stage's
                    started = time.perf_counter()
                elif kind == "pb":
                    nbytes += len(data)
        seconds = time.perf_counter() - started
        writer.join()
        store.close()
    return nbytes / seconds / 1e6


def grpc_stage() -> float:
    with tempfile.TemporaryDirectory() as folder:
        port_file = os.path.join(folder, "port")
        server = threading.Thread(target=harness.child, args=("grpc_chunks",),
                                  kwargs={"port_file": port_file, "count": CHUNKS})
        server.start()
        while not os.path.exists(port_file) or not open(port_file).read():
            time.sleep(0.05)
        with LenetClient(f"127.0.0.1:{open(port_file).read()}") as client:
            started, nbytes = time.perf_counter(), 0
            for _chunk, rows in client.inspect_chunks("bench"):
                nbytes += rows.nbytes
            seconds = time.perf_counter() - started
        server.join(60)
        if server.is_alive():
            raise RuntimeError("the gRPC chunk server did not end within 60 s of its last chunk")
    return nbytes / seconds / 1e6


def run(args, service) -> list[Section]:
    memory.reuse_freed_memory()  # this process reads as the gateway and as the client: as in bench inspect
    stages = {"Redis: worker's push_chunk → gateway's take_chunks (two processes), redis-py's Python parser":
              lambda: redis_stage("python")}
    if HIREDIS_AVAILABLE:
        stages["the same with the hiredis parser (`pip install hiredis`)"] = lambda: redis_stage("hiredis")
    stages |= {
              "gRPC: a server yielding ready frames → LenetClient.inspect_chunks (two processes)": grpc_stage,
              "client parse alone, glibc's malloc defaults": lambda: harness.child(
                  "parse_chunks", count=CHUNKS // 3, reuse_freed_memory=False)["rate"],
              "client parse alone, with lenet_services.memory.reuse_freed_memory()": lambda: harness.child(
                  "parse_chunks", count=CHUNKS // 3, reuse_freed_memory=True)["rate"]}
    results = harness.rounds(stages, args.repeats)
    rows = [[name, f"{statistics.median(rates):,.0f}", " ".join(f"{rate:,.0f}" for rate in rates)]
            for name, rates in results.items()]
    return [Section("Inspect transport, stage by stage", ["stage", "MB/s (median)", "rounds"], rows,
                    f"{CHUNKS} frames of {len(children.chunk_frame_bytes()) / 2**20:.1f} MiB (Conv1 rows, float32) per "
                    f"run, {args.repeats} interleaved rounds. Each stage alone; in the service they run at once on the "
                    "same cores as the forward passes, and the gateway does both the Redis read and the gRPC write.",
                    "python -m bench transport", results)]
