"""Sharing a node's cores between a training and a serving process: which thread split (lenet_workers.engine.threads
.use_cores) keeps training fast and serving responsive.

For each split, a training process (the engine, 10,000 images, 1 epoch) and a serving process (one-image and
500-image Predicts in a loop) start together; the serving one stops when training ends. Training alone with every
core is the reference. Interleaved rounds, medians.
"""
import os
import statistics
import tempfile
import threading

from bench import harness
from bench.table import Section

IMAGES = 10_000
SPLITS = {  # name: (training cores, serving cores); a list pins the process to those CPU ids
    "training alone, use_cores() (all cores)": ("all", None),
    "train use_cores(2) + serve use_cores(2), unpinned": (2, 2),
    "train use_cores(2) + serve use_cores(1), unpinned": (2, 1),
    "train use_cores(1) + serve use_cores(1), unpinned": (1, 1),
    "train use_cores([first]) + serve use_cores([second]), pinned": ("first", "second"),
}


def together(symbol: str, params: str, train_cores, serve_cores) -> dict:
    cpus = sorted(os.sched_getaffinity(0))
    train_cores, serve_cores = ({"first": [cpus[0]], "second": [cpus[1]]}.get(cores, cores)
                                for cores in (train_cores, serve_cores))
    with tempfile.TemporaryDirectory() as folder:
        stop_file, served = os.path.join(folder, "stop"), {}
        server = None
        if serve_cores is not None:
            server = threading.Thread(target=lambda: served.update(harness.child(
                "serve_load", symbol=symbol, params=params, stop_file=stop_file, cores=serve_cores)))
            server.start()
        trained = harness.child("engine_train", images=IMAGES, eval_images=1000, cores=train_cores)
        open(stop_file, "w").close()
        if server:
            server.join()
    return {"train": trained["rate"], "latency": served.get("latency"), "serve": served.get("rate")}


def run(args, service) -> list[Section]:
    if harness.cores() < 2:
        return []
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = service.client.export(service.model_id, folder)
        runs = {name: (lambda t=t, s=s: together(str(symbol), str(params), t, s)) for name, (t, s) in SPLITS.items()}
        results = harness.rounds(runs, args.repeats)
    alone = statistics.median(run["train"] for run in results["training alone, use_cores() (all cores)"])
    rows = []
    for name, runs_ in results.items():
        train = statistics.median(run["train"] for run in runs_)
        served = [run for run in runs_ if run["serve"]]
        rows.append([name, f"{train:,.0f}", f"{train / alone:.2f}×",
                     f"{statistics.median(run['latency'] for run in served) * 1000:.1f}" if served else "",
                     f"{statistics.median(run['serve'] for run in served):,.0f}" if served else ""])
    return [Section("Sharing 2 cores between a training and a serving process",
                    ["split", "training images/s", "vs training alone", "serving: 1-image Predict median (ms)",
                     "serving: 500-image Predicts, images/s"], rows,
                    f"{IMAGES:,} training images (1 epoch) while the serving process answers Predicts back to back; "
                    f"median of {args.repeats} interleaved rounds.", "python -m bench threads", results)]
