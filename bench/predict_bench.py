"""Predict for other services: latency of one-image calls and throughput of 1,000-image calls through the
service (client → gateway → Redis → Celery worker → back), next to the engine's own Predictor in a child process.

A fresh embedded stack (one CPU worker) trains a small model first (1 epoch on 2,000 images).
Usage: `python -m bench predict [--calls 200]`.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from bench.table import record
from clients.client import LenetClient
from services.stack import Stack

BATCH = 1000

ENGINE = """
import json, sys, time
from workers.engine import mnist
from workers.engine.inference import Predictor
symbol, params = open(sys.argv[1]).read(), open(sys.argv[2], "rb").read()
calls, batch = int(sys.argv[3]), int(sys.argv[4])
images = mnist.load_split("test")[0]
predictor = Predictor(symbol, params)
predictor.predict(images[:1]); predictor.predict(images[:batch])   # bind the executors first
single = []
for i in range(calls):
    started = time.perf_counter(); predictor.predict(images[i:i + 1]); single.append(time.perf_counter() - started)
bulk = []
for i in range(5):
    started = time.perf_counter(); predictor.predict(images[:batch]); bulk.append(time.perf_counter() - started)
print(json.dumps({"single": single, "bulk": bulk}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def through_service(client: LenetClient, model_id: str, calls: int) -> dict:
    images, _ = client.samples(range(BATCH))
    client.predict(model_id, images[:1])
    client.predict(model_id, images)            # the worker loads the model and binds both batch sizes
    single = []
    for i in range(calls):
        started = time.perf_counter()
        client.predict(model_id, images[i % BATCH:i % BATCH + 1])
        single.append(time.perf_counter() - started)
    bulk = []
    for _ in range(5):
        started = time.perf_counter()
        client.predict(model_id, images)
        bulk.append(time.perf_counter() - started)
    return {"single": single, "bulk": bulk}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench predict", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="one-image calls to time [200]")
    args = parser.parse_args(argv or [])
    with Stack(workers=1) as stack, LenetClient(stack.address) as client:
        job = client.wait(client.train(epochs=1, limit=2000).id)
        service = through_service(client, job.model_id, args.calls)
        with tempfile.TemporaryDirectory() as folder:
            symbol, params = client.export(job.model_id, folder)
            output = subprocess.run([sys.executable, "-c", ENGINE, str(symbol), str(params), str(args.calls),
                                     str(BATCH)], check=True, capture_output=True, text=True).stdout
    engine = json.loads(output.strip().splitlines()[-1])
    rows = []
    for name, run in (("through the service", service), ("engine directly", engine)):
        rows.append([name, f"{statistics.median(run['single']) * 1000:.1f}",
                     f"{percentile(run['single'], 0.95) * 1000:.1f}",
                     f"{BATCH / statistics.median(run['bulk']):,.0f}"])
    record("Predict: one image per call, and 1,000 images per call",
           ["run", "1 image: median latency (ms)", "1 image: p95 (ms)", "1,000 images: images/s"], rows,
           f"{args.calls} one-image calls and 5 calls of 1,000 test images after a warm-up, one CPU worker. The "
           "service adds a gRPC round trip, a Redis request record, a Celery message and a Redis reply per call.")


if __name__ == "__main__":
    main(sys.argv[1:])
