"""A consumer of the Inspect stream that never holds more than one chunk: it writes every layer's activations
into .npy files as the chunks arrive and keeps running per-layer statistics to forward (here: print as JSON).

    python clients/examples/stream_to_npy.py MODEL --gateway localhost:50051 --limit 10000 --out activations/

Then `numpy.load("activations/Conv1.npy", mmap_mode="r")` reads a layer without loading the others.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from lenet_clients.client import LenetClient


class RunningStats:
    """Mean, standard deviation, range and share of saturated values (|x| > 0.99, for tanh) of everything seen."""

    def __init__(self):
        self.count, self.total, self.squares, self.saturated = 0, 0.0, 0.0, 0
        self.low, self.high = np.inf, -np.inf

    def add(self, rows: np.ndarray) -> None:
        values = rows.astype(np.float64, copy=False)
        self.count += values.size
        self.total += values.sum()
        self.squares += np.square(values).sum()
        self.saturated += int(np.count_nonzero(np.abs(values) > 0.99))
        self.low, self.high = min(self.low, values.min()), max(self.high, values.max())

    def summary(self) -> dict:
        mean = self.total / self.count
        return {"mean": mean, "std": max(self.squares / self.count - mean ** 2, 0) ** 0.5, "min": float(self.low),
                "max": float(self.high), "saturated": self.saturated / self.count}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_id")
    parser.add_argument("--gateway", default=None, help="gateway address [$LENET_GATEWAY or localhost:50051]")
    parser.add_argument("--limit", type=int, default=1000, help="the first N test images [1000]")
    parser.add_argument("--layers", nargs="*", default=(), help="some layers [all]")
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--out", default="activations", help="folder for LAYER.npy files [activations]")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files, stats, received, started = {}, {}, 0, time.monotonic()
    with LenetClient(args.gateway) as client:
        for chunk, rows in client.inspect_chunks(args.model_id, limit=args.limit, layers=args.layers,
                                                 dtype=args.dtype):
            if chunk.layer not in files:  # the first chunk of a layer tells its full shape
                files[chunk.layer] = np.lib.format.open_memmap(
                    out / f"{chunk.layer}.npy", mode="w+", dtype=rows.dtype,
                    shape=(chunk.total_samples, *rows.shape[1:]))
                stats[chunk.layer] = RunningStats()
            files[chunk.layer][chunk.sample_start:chunk.sample_start + chunk.sample_count] = rows
            stats[chunk.layer].add(rows)
            received += rows.nbytes
    for array in files.values():
        array.flush()
    seconds = time.monotonic() - started
    print(json.dumps({"files": [str(out / f"{layer}.npy") for layer in files], "bytes": received,
                      "seconds": round(seconds, 3), "mb_per_second": round(received / seconds / 1e6, 1),
                      "layers": {layer: s.summary() for layer, s in stats.items()}}, indent=2))


if __name__ == "__main__":
    main()
