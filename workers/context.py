"""What a worker process knows about itself, built once by its entry point and handed to every task."""
from dataclasses import dataclass
from pathlib import Path

from services.store import Store


@dataclass(frozen=True)
class WorkerContext:
    name: str          # unique among live workers, e.g. "cpu-1a2b3c@host"
    device: str        # "cpu" or "gpu": its queue and its MXNet context
    gpu: int           # the GPU index when device is "gpu"
    data_dir: Path     # the MNIST files
    store: Store
