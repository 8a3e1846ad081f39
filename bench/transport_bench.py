"""Inspect's transport, hop by hop: how fast each stage moves the worker's 4 MiB TensorChunk frames on its own, so
the service's figure (bench/inspect_bench.py) can be read against each stage's own limit, and the candidates for
the worker → gateway hop side by side (issue 21).

- Redis: a writer process pushes frames through Requests.push_chunk (credits, XADD) while this process takes them
  as the gateway does (Requests.take_chunks: XREAD, XDEL, credits back); also with chunks 4 × larger.
- gRPC relay: a writer process sends frames through the worker's RelaySink to a Relay served here as the gateway
  serves it (lenet_services.gateway.relay), taken from its Mailbox as the gateway's Inspect call takes them.
- Shared memory: a writer process copies frames into a two-slot ring, this process copies them out as bytes.
- gRPC: a server process yields the same ready frames from Inspect (as the gateway relays them, unparsed) and this
  process reads them with the client library (LenetClient.inspect_chunks: parse, numpy view).
- Client parse: TensorChunk.FromString and the numpy view of its tensor, no socket, with glibc's malloc defaults
  and with the settings the services use (services/memory.py): every chunk's bytes are a fresh 4 MiB allocation.
"""
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from concurrent import futures

import grpc
import redis
from redis._parsers import _RESP2Parser
from redis.utils import HIREDIS_AVAILABLE

from bench import children, harness
from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.contract import CHUNK_BYTES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.shared_memory import SLOTS, Ring
from lenet_services import memory
from lenet_services.gateway.grpc_server import OPTIONS
from lenet_services.gateway.relay import Relay, handler
from lenet_services.gateway.service import INSPECT_WINDOW
from lenet_services.mailbox import Ended
from lenet_services.store import Store
from lenet_services.store.requests import Requests
from lenet_services.store.redis_server import RedisServer

CHUNKS = 300   # ≈ 1.3 GB, about what all layers of 10,000 images make


def redis_stage(parser: str, scale: int = 1) -> float:
    """`parser`: how the reading side parses Redis replies, "hiredis" (the C parser, when installed) or "python";
    `scale`: chunks that many times the worker's (the same bytes in all)."""
    with RedisServer() as server:
        store = Store(server.url)
        if parser == "python":
            store.requests = Requests(redis.Redis.from_url(server.url, parser_class=_RESP2Parser))
        request_id = uuid.uuid4().hex
        store.requests.submit("bench", pb.LaneRequest(request_id=request_id), window=INSPECT_WINDOW)
        writer = threading.Thread(target=harness.child, args=("redis_writer",),
                                  kwargs={"url": server.url, "request_id": request_id, "count": CHUNKS // scale,
                                          "scale": scale})
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


def relay_stage() -> float:
    """A worker's RelaySink (a child process) → this process's Relay, served as the gateway serves it."""
    with RedisServer() as server:
        relay = Relay()
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=OPTIONS)
        grpc_server.add_generic_rpc_handlers([handler(relay)])
        relay.address = f"127.0.0.1:{grpc_server.add_insecure_port('127.0.0.1:0')}"
        grpc_server.start()
        lane_request = pb.LaneRequest(request_id=uuid.uuid4().hex)
        with relay.expect(lane_request) as expected:
            writer = threading.Thread(target=harness.child, args=("relay_writer",), kwargs={
                "url": server.url, "address": relay.address, "request": lane_request.SerializeToString().hex(),
                "count": CHUNKS})
            writer.start()
            started, nbytes = None, 0
            try:
                while True:
                    frame = expected.mailbox.get(60)
                    if started is None:   # from the first chunk on, as for Redis
                        started = time.perf_counter()
                    else:
                        nbytes += len(frame)
            except Ended as ended:
                assert ended.reason == "complete", ended.reason
            seconds = time.perf_counter() - started
        writer.join()
        grpc_server.stop(1).wait()
    return nbytes / seconds / 1e6


def shared_memory_stage() -> float:
    """A writer process puts each chunk's rows into the next free slot of a client's ring (lenet_protos.shared_memory,
    as the worker does), announcing the slot on a queue (where the service relays a chunk naming it); this process
    copies each slot's rows out and frees it, as a client does."""
    context = multiprocessing.get_context("spawn")
    ring, reference = Ring.create()
    filled = context.Queue()
    writer = context.Process(target=children.shared_memory_writer,
                             args=(reference.SerializeToString(), CHUNK_BYTES, CHUNKS, filled))
    writer.start()
    started, nbytes, out = None, 0, bytearray(CHUNK_BYTES)
    try:
        while (slot := filled.get(timeout=60)) is not None:
            out[:] = ring.data(slot, CHUNK_BYTES)
            ring.free(slot)
            if started is None:
                started = time.perf_counter()
            else:
                nbytes += len(out)
        seconds = time.perf_counter() - started
    finally:
        writer.join(60)
        ring.close()
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
              "the same with chunks of 16 MiB (4 × the worker's)": lambda: redis_stage("python", scale=4),
              "gRPC relay: worker's RelaySink → gateway's Relay (two processes; issue 21)": relay_stage,
              f"shared memory: a client's ring of {SLOTS} slots in /dev/shm, each chunk copied out (two processes)":
                  shared_memory_stage,
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
