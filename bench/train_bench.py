"""Training speed: the engine next to a bare MXNet Module and PyTorch on the same cores, and the same training
through the service next to the engine directly.

Side by side: every variant runs in a fresh process, in interleaved rounds (A B C … A B C …), and the median of the
rounds is reported, so all share the machine's state; the ratios are the figures to trust on a shared machine.
Through the service: a fresh embedded stack (one CPU worker, an OpenMP thread per core) trains while the client
follows its events, against the engine called directly with the same threads; `--full` makes both the seed's
run (60,000 images × 20 epochs).
"""
import importlib.util
import statistics
import time

from bench import harness
from bench.table import Section
from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb

TORCH = "PyTorch CPU, same network, batch and optimizer"


def side_by_side(images: int, repeats: int) -> Section:
    runs = {
        "engine (`lenet_workers.engine.training.train`), MXNet's default threads":
            lambda: harness.child("engine_train", images=images),
        "engine, `use_cores()`: an OpenMP thread per core":
            lambda: harness.child("engine_train", images=images, cores="all"),
        "engine, `use_cores()`, bulk execution off (`MXNET_EXEC_BULK_EXEC_TRAIN=0`)":
            lambda: harness.child("engine_train", images=images, cores="all", bulk_exec=False),
        "bare MXNet Module, default threads": lambda: harness.child("module_train", images=images),
        "bare MXNet Module, `use_cores()`": lambda: harness.child("module_train", images=images, cores="all"),
    }
    torch = importlib.util.find_spec("torch") is not None  # only if installed: never a project dependency
    if torch:
        runs[TORCH] = lambda: harness.child("torch_train", images=images)
    results = harness.rounds(runs, repeats)
    rates = {name: statistics.median(run["rate"] for run in runs_) for name, runs_ in results.items()}
    reference = rates.get(TORCH)
    baseline = rates["bare MXNet Module, default threads"]
    rows = [[name, f"{rate:,.0f}", f"{rate / baseline:.2f}×", f"{rate / reference:.2f}×" if reference else "—",
             " ".join(f"{run['rate']:,.0f}" for run in results[name])] for name, rate in rates.items()]
    engine = statistics.median(run["seconds"] for run in results["engine, `use_cores()`: an OpenMP thread per core"])
    note = (f"{images:,} training images, 1 epoch, batch 100, SGD 0.05/0.9/1e-5, after a 1,000-image warm-up epoch in "
            f"the same process; median of {repeats} interleaved rounds (each round's figure in the last column). "
            "The engine's rate is its own (BatchProgress.samples_per_second at the last batch); its whole call, with "
            f"the end-of-epoch evaluation of 10,000 test images, took a median {engine:.1f} s. "
            + ("" if torch else "PyTorch is not installed here, so its row is missing (`pip install torch` to add it; "
                                "it is never a project dependency)."))
    return Section("Training speed: engine, bare MXNet Module and PyTorch, side by side",
                   ["run", "images/s", "vs bare Module (default)", "vs PyTorch", "rounds"], rows, note,
                   "python -m bench train", {name: [run["rate"] for run in r] for name, r in results.items()})


def through_service(epochs: int, limit: int) -> dict:
    with harness.embedded_stack() as stack, LenetClient(stack.address) as client:
        started = time.perf_counter()
        job = client.wait(client.train(epochs=epochs, limit=limit).id)
        seconds = time.perf_counter() - started
        if job.state != pb.SUCCEEDED:
            raise RuntimeError(f"service run ended {pb.JobState.Name(job.state)}: {job.error}")
        return {"seconds": seconds, "accuracy": job.metrics.test_accuracy}


def service_vs_engine(epochs: int, limit: int) -> Section:
    runs = {"engine directly": harness.child("engine_train", images=limit, epochs=epochs, cores="all",
                                             warm_up=False),
            "through the service": through_service(epochs, limit)}
    base = runs["engine directly"]["seconds"]
    rows = [[name, f"{run['accuracy']:.4f}", f"{run['seconds']:.1f}", f"{run['seconds'] / base:.3f}×"]
            for name, run in runs.items()]
    return Section(f"Training through the service: {limit:,} images × {epochs} epochs (seed hyper-parameters)",
                   ["run", "test accuracy (10,000 images)", "wall time (s)", "time vs direct"], rows,
                   "Both with an OpenMP thread per core. The seed notebook reports 0.9901 test accuracy after 20 "
                   "epochs. The service run includes queueing, per-batch events, per-epoch checkpoints to Redis and "
                   "saving the model; stack start-up is excluded. The previous engine took 410.6 s for the full run.",
                   "python -m bench train --full" if (epochs, limit) == (20, 60_000) else "python -m bench train",
                   {name: run["seconds"] for name, run in runs.items()})


def run(args, service) -> list[Section]:
    epochs, limit = (20, 60_000) if args.full else (2, args.images)
    return [side_by_side(args.images, args.repeats), service_vs_engine(epochs, limit)]
