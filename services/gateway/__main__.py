"""Run the gateway: `python -m services.gateway [--port 50051] [--host 127.0.0.1]` (store: $REDIS_URL)."""
import argparse
import signal
import threading

from services import memory
from services.gateway import recovery
from services.gateway.server import build
from services.store import Store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.gateway", description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    args = parser.parse_args(argv)
    memory.reuse_freed_memory()  # Inspect relays chunks of MiBs
    store = Store()
    store.ping()
    server, port = build(store, args.port, args.host)
    recovery.start(store)
    print(f"gateway listening on {args.host}:{port}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
