"""Predict for other services: latency of one-image calls and throughput of 1,000-image calls through the
service (client → gateway → Redis → Celery worker → back), next to the engine's own Predictor in a child process.
"""
import statistics
import tempfile

from bench import children, harness
from bench.table import Section
from lenet_clients.client import LenetClient

BATCH = 1000


def through_service(client: LenetClient, model_id: str, calls: int) -> dict:
    images, _ = client.samples(range(BATCH))
    return children.time_predicts(lambda batch: client.predict(model_id, batch), images, calls, BATCH)


def run(args, service) -> list[Section]:
    measured = through_service(service.client, service.model_id, args.calls)
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = service.client.export(service.model_id, folder)
        engine = harness.child("engine_predict", symbol=str(symbol), params=str(params), calls=args.calls,
                               batch=BATCH, cores="all")
    rows = [[name, f"{statistics.median(run['single']) * 1000:.1f}",
             f"{harness.percentile(run['single'], 0.95) * 1000:.1f}", f"{BATCH / statistics.median(run['bulk']):,.0f}"]
            for name, run in (("through the service", measured), ("engine directly", engine))]
    return [Section(
        "Predict: one image per call, and 1,000 images per call",
        ["run", "1 image: median latency (ms)", "1 image: p95 (ms)", "1,000 images: images/s"], rows,
        f"{args.calls} one-image calls and 5 calls of 1,000 test images after a warm-up, one CPU worker. The "
        "service adds a gRPC round trip, a request on the model's serve lane (a Redis list, drained in batches) and a "
        "Redis reply per call.",
        "python -m bench predict", {"service": measured, "engine": engine})]
