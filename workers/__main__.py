"""Start one worker process for one device: `python -m workers --device cpu|gpu [--name NAME]`.

It consumes only its device's queue, runs one task at a time (Celery's solo pool: no fork after MXNet
starts its threads), and keeps a heartbeat in the store so the gateway knows the device has capacity.
A GPU worker refuses to start when MXNet sees no GPU.
"""
import argparse
import os
import socket
import sys
import threading
import uuid

from services import memory
from services.store import Store, workers as heartbeats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--name", default=None, help="worker name (default DEVICE-RANDOM@HOST)")
    parser.add_argument("--loglevel", default="WARNING")
    args = parser.parse_args(argv)
    memory.reuse_freed_memory()  # Inspect writes chunks of MiBs
    name = args.name or f"{args.device}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    os.environ["LENET_WORKER_DEVICE"], os.environ["LENET_WORKER_NAME"] = args.device, name

    from workers.engine.devices import context
    try:
        context(args.device)
    except RuntimeError as error:
        sys.exit(f"worker {name} refused to start: {error}")

    store = Store()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeats.TTL_SECONDS / 3):
            store.workers.heartbeat(name, args.device, os.getpid())

    store.workers.heartbeat(name, args.device, os.getpid())
    threading.Thread(target=beat, daemon=True).start()
    from workers.tasks import app
    try:
        app.worker_main(["worker", "--queues", args.device, "--pool", "solo", "--hostname", name,
                         "--loglevel", args.loglevel, "--without-gossip", "--without-mingle"])
    finally:
        stop.set()
        store.workers.leave(name)


if __name__ == "__main__":
    main()
