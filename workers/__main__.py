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

import redis

from protos.settings import ServiceSettings, load
from services import memory
from services.store import Store
from services.task_queue import celery_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--name", default=None, help="worker name (default DEVICE-RANDOM@HOST)")
    parser.add_argument("--loglevel", default="WARNING")
    args = parser.parse_args(argv)
    name = args.name or f"{args.device}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    try:
        settings = load(ServiceSettings)
    except ValueError as error:
        sys.exit(f"worker {name}: {error}")
    memory.reuse_freed_memory()  # Inspect writes chunks of MiBs

    from workers.engine.devices import context
    try:
        context(args.device, settings.gpu)
    except RuntimeError as error:
        sys.exit(f"worker {name} refused to start: {error}")

    from workers import tasks
    from workers.context import WorkerContext

    store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
    try:
        store.workers.heartbeat(name, args.device, os.getpid())
    except (redis.RedisError, ValueError) as error:
        sys.exit(f"worker {name}: cannot reach the store at {settings.redis_url}: {error}")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(settings.heartbeat_seconds / 3):
            store.workers.heartbeat(name, args.device, os.getpid())

    threading.Thread(target=beat, daemon=True).start()
    app = celery_app(settings.redis_url)
    tasks.register(app, WorkerContext(name, args.device, settings.gpu, settings.data_dir, store))
    try:
        app.worker_main(["worker", "--queues", args.device, "--pool", "solo", "--hostname", name,
                         "--loglevel", args.loglevel, "--without-gossip", "--without-mingle"])
    finally:
        stop.set()
        store.workers.leave(name)


if __name__ == "__main__":
    main()
