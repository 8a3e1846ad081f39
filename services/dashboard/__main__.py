"""Run the dashboard: `serve(ServerOptions(...))`, as `lenet dashboard` does, or `python -m lenet_services.dashboard
OPTIONS` with the options as one JSON document, as the embedded stack starts it (settings: protos/settings.py).

Prints `dashboard listening on http://HOST:PORT/` once it accepts connections (port 0 picks a free port)."""
import socket
import sys

import uvicorn

from lenet_protos.settings import ServerOptions, options_argument
from lenet_services import entry_point
from lenet_services.dashboard.web import build
from lenet_services.gateway.service import LenetService
from lenet_services.task_queue import TaskQueue

SHUTDOWN_SECONDS = 3   # open event streams get this long to end when the dashboard is stopped


def serve(options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM."""
    settings, auth, store = entry_point.start("dashboard", options)
    try:
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        listener = socket.create_server((options.host, options.port), family=family)
    except OSError as error:
        sys.exit(f"dashboard: cannot listen on {options.host}:{options.port}: {error}")
    app = entry_point.traced(build(LenetService(store, TaskQueue(store.where), settings), auth))
    host, port = listener.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    print(f"dashboard listening on http://{host}:{port}/", flush=True)
    server.run(sockets=[listener])


if __name__ == "__main__":
    serve(options_argument(ServerOptions, sys.argv[1:]))
