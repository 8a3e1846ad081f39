"""Cost independent of history: Predict latency, 8-client Predict throughput and the submit rate with 100 ended
jobs in Redis, then with 100,000, side by side on one embedded stack.

The ended jobs are written through the store's own code (created, then cancelled), with their events and index
entries, as a long-running service accumulates them. `python -m bench history [--jobs 100000] [--calls 300]`.
"""
import statistics
import threading
import time
from concurrent import futures

import numpy as np

from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings
from lenet_services.stack import Stack
from lenet_services.store import Store


def fill(store: Store, count: int) -> None:
    """`count` ended training jobs, written by 8 threads through the store."""
    def some(n: int) -> None:
        for _ in range(n):
            job, _ = store.jobs.create(pb.Job(kind=pb.TRAIN, queue="cpu.train", train=pb.TrainRequest()))
            store.jobs.request_cancel(job.id)

    with futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(some, [count // 8 + (i < count % 8) for i in range(8)]))


def measure(client: LenetClient, address: str, model_id: str, calls: int) -> dict:
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 6:22, 12:16] = 255
    single = []
    for _ in range(calls):
        started = time.perf_counter()
        client.predict(model_id, digit)
        single.append(time.perf_counter() - started)
    done, stop_at = [], time.perf_counter() + 3

    def predictor():
        with LenetClient(address, timeout=60) as own:
            while time.perf_counter() < stop_at:
                own.predict(model_id, digit)
                done.append(1)

    threads = [threading.Thread(target=predictor) for _ in range(8)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    throughput = len(done) / (time.perf_counter() - began)
    submitted = []
    began = time.perf_counter()
    for _ in range(200):
        submitted.append(client.train(epochs=1, device="gpu").id)   # no GPU worker: they only queue
    submit_rate = len(submitted) / (time.perf_counter() - began)
    for job_id in submitted:
        client.cancel(job_id)
    listed = time.perf_counter()
    client.jobs(limit=100)
    return {"median": 1000 * statistics.median(single), "throughput": throughput, "submits": submit_rate,
            "list": 1000 * (time.perf_counter() - listed)}


def run(args, service=None) -> list[Section]:
    """On a stack of its own: the second run leaves 100,000 ended jobs behind."""
    with Stack(ServiceSettings(), workers=1) as stack, LenetClient(stack.address, timeout=300) as client:
        store = Store(stack.redis_url)
        model = client.wait(client.train(epochs=1, limit=1000).id)
        fill(store, 100)
        measure(client, stack.address, model.model_id, 50)            # warm-up
        small = measure(client, stack.address, model.model_id, args.calls)
        small_keys = store.redis.dbsize()
        fill(store, args.jobs - 100)
        large = measure(client, stack.address, model.model_id, args.calls)
        large_keys = store.redis.dbsize()
    rows = [[f"{ended:,} ended jobs ({keys:,} keys)", f"{run['median']:.1f}", f"{run['throughput']:,.0f}",
             f"{run['submits']:,.0f}", f"{run['list']:.0f}"]
            for ended, keys, run in ((100, small_keys, small), (args.jobs, large_keys, large))]
    rows.append(["ratio, many / few", f"{large['median'] / small['median']:.2f}×",
                 f"{large['throughput'] / small['throughput']:.2f}×", f"{large['submits'] / small['submits']:.2f}×",
                 f"{large['list'] / small['list']:.2f}×"])
    return [Section(
        "Cost and history: 100 against 100,000 ended jobs",
        ["store holds", "Predict median (ms)", "8-client Predict calls/s", "submits/s", "list 100 jobs (ms)"], rows,
        f"{args.calls} sequential one-image Predict calls, then 8 clients for 3 s, then 200 sequential submits, then "
        f"one 100-job page, with the store holding 100 ended jobs and again after writing {args.jobs - 100:,} more "
        "(created and cancelled through the store's code). Lists read one sorted set per filter and one page of "
        "records; live workers are one sorted set; nothing scans the keyspace.", "python -m bench history",
        {"few": small, "many": large})]
