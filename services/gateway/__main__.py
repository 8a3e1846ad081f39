"""Run the gateway: `python -m services.gateway [--port 50051] [--host 127.0.0.1]` (settings: protos/settings.py)."""
import argparse
import signal
import sys
import threading

import redis

from protos.settings import ServiceSettings, load
from services import logs, memory
from services.gateway import recovery
from services.gateway.auth import Auth
from services.gateway.grpc_server import build
from services.gateway.gateway_metrics import GatewayMetrics
from services.gateway.service import LenetService
from services.store import Store
from services.task_queue import TaskQueue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    parser.add_argument("--insecure-dev", action="store_true", help="serve without tokens even though the store "
                        "holds records of token users (development only)")
    args = parser.parse_args(argv)
    try:
        settings = load(ServiceSettings)
        logs.configure(settings.log_format)
        auth = Auth(settings.tokens, settings.admins)
        store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
        store.ping()
        if not auth.secured and store.models.owned_records() and not args.insecure_dev:
            sys.exit("gateway: this store holds jobs or models of token users, and LENET_TOKENS is empty: an open "
                     "gateway would show them to anyone. Set LENET_TOKENS, or pass --insecure-dev to open it anyway")
    except (ValueError, OSError, redis.RedisError) as error:
        sys.exit(f"gateway: {error}")
    memory.reuse_freed_memory()  # Inspect relays chunks of MiBs
    tasks = TaskQueue(settings.redis_url)
    metrics = GatewayMetrics(store)
    try:
        server, port = build(LenetService(store, tasks, settings), auth, args.port, args.host, metrics)
        if settings.metrics_port is not None:
            metrics.serve(settings.metrics_port, args.host)
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"gateway: {error}")
    recovery.start(store, tasks, settings.recovery_seconds)
    scheme = "TLS" if settings.tls_cert else "plaintext"
    served = f"; metrics on {args.host}:{settings.metrics_port}/metrics" if settings.metrics_port is not None else ""
    print(f"gateway listening on {args.host}:{port} ({scheme}, tokens {'required' if auth.secured else 'off'})"
          f"{served}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
