"""Full seed training (60,000 images, 20 epochs) through the service next to the same run on the engine directly.

Both runs happen in this process tree, one after the other, on the same machine state: the direct run calls
workers.engine.training.train in a child process; the service run goes client → gateway → Celery worker on a
fresh embedded stack. Usage: `python -m bench train [--epochs E] [--limit N]` (defaults: the seed's 20 × 60,000).
"""
import argparse
import json
import os
import subprocess
import sys
import time

from bench.table import record
from clients.client import LenetClient
from protos.lenet.v1 import lenet_pb2 as pb
from services.stack import Stack

DIRECT = """
import json, sys, time
from workers.engine import mnist
from workers.engine.training import HyperParams, train
epochs, limit = int(sys.argv[1]), int(sys.argv[2])
x, y = mnist.load_split("train"); tx, ty = mnist.load_split("test")
started = time.perf_counter()
result = train(HyperParams(epochs=epochs), x[:limit], y[:limit], tx, ty)
print(json.dumps({"seconds": time.perf_counter() - started, "accuracy": result.history[-1].test_accuracy}))
"""


def direct(epochs: int, limit: int) -> dict:
    output = subprocess.run([sys.executable, "-c", DIRECT, str(epochs), str(limit)], check=True,
                            capture_output=True, text=True, env=os.environ).stdout
    return json.loads(output.strip().splitlines()[-1])


def through_service(epochs: int, limit: int) -> dict:
    with Stack(workers=1) as stack, LenetClient(stack.address) as client:
        started = time.perf_counter()
        job = client.wait(client.train(epochs=epochs, limit=limit).id)
        seconds = time.perf_counter() - started
        if job.state != pb.SUCCEEDED:
            sys.exit(f"service run ended {job.state}: {job.error}")
        return {"seconds": seconds, "accuracy": job.metrics.test_accuracy}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench train", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=60_000)
    args = parser.parse_args(argv or [])
    runs = {"engine directly": direct(args.epochs, args.limit),
            "through the service": through_service(args.epochs, args.limit)}
    base = runs["engine directly"]["seconds"]
    rows = [[name, f"{run['accuracy']:.4f}", f"{run['seconds']:.1f}", f"{run['seconds'] / base:.2f}×"]
            for name, run in runs.items()]
    record(f"Training: {args.limit:,} images × {args.epochs} epochs (seed hyper-parameters)",
           ["run", "test accuracy (10,000 images)", "wall time (s)", "time vs direct"], rows,
           "The seed notebook reports 0.9901 test accuracy after 20 epochs. The service run includes queueing, "
           "per-batch events, per-epoch checkpoints to Redis and saving the model; stack start-up is excluded.")


if __name__ == "__main__":
    main(sys.argv[1:])
