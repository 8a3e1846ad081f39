"""What durable acknowledgement costs per call, side by side on one replicated Redis (a primary, a replica, three
sentinels, on loopback): SubmitTraining through two gateways started alike but for LENET_DURABLE_REPLICAS (1:
the job and its task message are on the replica before the call answers; 0: the primary's word suffices), their
calls interleaved, each first every other time; and in one process the store's own job write with and without the
confirmation that follows it (a mark and WAIT on one connection). `python -m bench durability [--calls 300]`.

The jobs ask for a GPU and no GPU worker runs, so they only queue: the figures are the gateway's and the store's.
"""
import statistics
import time

import grpc

from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.contract import SERVER_STOP_SECONDS
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServerOptions, ServiceSettings
from lenet_services.stack import Stack, end
from lenet_services.store import Store
from lenet_services.store.redis_server import free_port

WAITING, PLAIN = "WAIT 1", "no WAIT"


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds."""
    ordered = sorted(seconds)
    return 1000 * statistics.median(ordered), 1000 * ordered[int(0.95 * (len(ordered) - 1))]


def interleaved(calls: int, ways: dict) -> dict[str, list[float]]:
    """Seconds of each call of each way (name → function), the ways taking turns to go first."""
    timings = {name: [] for name in ways}
    order = list(ways.items())
    for call in range(calls):
        for name, way in order[::1 if call % 2 else -1]:
            began = time.perf_counter()
            way()
            timings[name].append(time.perf_counter() - began)
    return timings


def through_gateways(stack: Stack, calls: int) -> dict[str, list[float]]:
    ports = {WAITING: free_port(), PLAIN: free_port()}
    gateways = {name: stack.spawn(f"gateway-{replicas}", "-m", "lenet_services.gateway",
                                  ServerOptions(port=ports[name]).model_dump_json(),
                                  env={"LENET_DURABLE_REPLICAS": str(replicas), "LENET_HTTP_PORT": "0"})
                for name, replicas in ((WAITING, 1), (PLAIN, 0))}
    clients = {name: LenetClient(f"127.0.0.1:{port}", timeout=30) for name, port in ports.items()}
    try:
        for client in clients.values():
            until_answers(client)
            for _ in range(20):                                     # warm-up: connections, caches
                client.train(epochs=1, device="gpu")
        return interleaved(calls, {name: lambda c=client: c.train(epochs=1, device="gpu")
                                   for name, client in clients.items()})
    finally:
        for client in clients.values():
            client.close()
        end(gateways, SERVER_STOP_SECONDS)


def in_the_store(stack: Stack, calls: int) -> dict[str, list[float]]:
    store = Store(stack.where())

    def write() -> None:
        store.jobs.create(pb.Job(kind=pb.TRAIN, queue="gpu.train", train=pb.TrainRequest()))

    def write_and_confirm() -> None:
        write()
        store.confirm()
    try:
        return interleaved(calls, {WAITING: write_and_confirm, PLAIN: write})
    finally:
        store.close()


def run(args, service=None) -> list[Section]:
    with Stack(ServiceSettings(), workers=0, ha=True) as stack:
        gateway = through_gateways(stack, args.calls)
        store = in_the_store(stack, args.calls)
    figures = {f"{where}, {name}": percentiles(values) for where, timings in (("gateway", gateway), ("store", store))
               for name, values in timings.items()}
    rows = []
    for where, label in (("gateway", "SubmitTraining through the gateway"), ("store", "the store's job write")):
        (wait_median, wait_p95), (plain_median, plain_p95) = figures[f"{where}, {WAITING}"], \
            figures[f"{where}, {PLAIN}"]
        rows += [[f"{label}, acknowledged once a replica holds it (WAIT 1)", f"{wait_median:.2f}", f"{wait_p95:.2f}"],
                 [f"{label}, acknowledged by the primary alone", f"{plain_median:.2f}", f"{plain_p95:.2f}"],
                 [f"{label}: the wait's cost", f"{wait_median - plain_median:+.2f}", f"{wait_p95 - plain_p95:+.2f}"]]
    return [Section(
        "Durable acknowledgement: what waiting for a replica costs",
        ["call", "median (ms)", "95th percentile (ms)"], rows,
        f"{args.calls} calls each way, interleaved, each way first every other time, on one replicated Redis on "
        "loopback: two gateways alike but for LENET_DURABLE_REPLICAS (1 and 0), then the store's job write with and "
        "without its confirmation in one process. The confirmation is one more round trip, in which the primary "
        "asks the replica for its offset (REPLCONF GETACK) and answers once the replica has it.",
        f"python -m bench durability --calls {args.calls}",
        {name: {"median_ms": median, "p95_ms": p95} for name, (median, p95) in figures.items()})]


def until_answers(client: LenetClient, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.jobs(limit=1)
            return
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
