"""What a worker process knows about itself, built once by its entry point and handed to every task."""
from dataclasses import dataclass, field

from lenet_protos.settings import ServiceSettings
from lenet_services.store import Store


@dataclass
class Status:
    """What the process does now, as its heartbeat reports it."""
    job_id: str = ""           # the job it runs
    requests: int = 0          # serve lanes: requests answered
    stopping: bool = False     # asked to stop: a running job is handed back at its next batch


@dataclass(frozen=True)
class WorkerContext:
    name: str                  # unique among live workers, e.g. "cpu-1a2b3c@host.serve"
    device: str                # "cpu" or "gpu": its MXNet context and its lanes' prefix
    lane: str                  # the one lane it serves, e.g. "cpu.train"
    settings: ServiceSettings
    store: Store
    status: Status = field(default_factory=Status)
