"""Run the dashboard: `python -m services.dashboard [--port 8080] [--host 127.0.0.1]` (settings: protos/settings.py).

Prints `dashboard listening on http://HOST:PORT/` once it accepts connections (--port 0 picks a free port)."""
import argparse
import logging
import socket
import sys

import redis
import uvicorn

from protos.settings import ServiceSettings, load
from services.dashboard.web import build
from services.gateway.auth import Auth
from services.gateway.service import LenetService
from services.store import Store
from services.task_queue import TaskQueue

SHUTDOWN_SECONDS = 3   # open event streams get this long to end when the dashboard is stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(ServiceSettings)
        auth = Auth(settings.tokens)
        store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
        store.ping()
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host, args.port), family=family)
    except (ValueError, OSError, redis.RedisError) as error:
        sys.exit(f"dashboard: {error}")
    app = build(LenetService(store, TaskQueue(settings.redis_url), settings), auth)
    host, port = listener.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    print(f"dashboard listening on http://{host}:{port}/", flush=True)
    server.run(sockets=[listener])


if __name__ == "__main__":
    main()
