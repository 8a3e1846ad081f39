"""Run the dashboard: `python -m services.dashboard [--port 8080] [--host 127.0.0.1]` (settings: protos/settings.py).

Prints `dashboard listening on http://HOST:PORT/` once it accepts connections (--port 0 picks a free port)."""
import socket
import sys

import uvicorn

from services import entry_point
from services.dashboard.web import build
from services.gateway.service import LenetService
from services.task_queue import TaskQueue

SHUTDOWN_SECONDS = 3   # open event streams get this long to end when the dashboard is stopped


def main(argv: list[str] | None = None) -> None:
    args, settings, auth, store = entry_point.start("dashboard", __doc__, 8080, argv)
    try:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host, args.port), family=family)
    except OSError as error:
        sys.exit(f"dashboard: cannot listen on {args.host}:{args.port}: {error}")
    app = build(LenetService(store, TaskQueue(settings.redis_url), settings), auth)
    host, port = listener.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    print(f"dashboard listening on http://{host}:{port}/", flush=True)
    server.run(sockets=[listener])


if __name__ == "__main__":
    main()
