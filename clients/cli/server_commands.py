"""Running the service: `lenet up`, `lenet gateway`, `lenet worker`, `lenet data fetch`."""
import json
import os
import signal
import sys
import threading

from clients.cli.output import console


def register(commands) -> None:
    up = commands.add_parser("up", help="run the embedded stack (Redis, CPU workers, gateway) until Ctrl-C")
    up.add_argument("--port", type=int, default=50051)
    up.add_argument("--workers", type=int, default=1, help="CPU worker processes [1]")
    up.add_argument("--log-dir", default=None, help="where the children's logs go [a temporary folder]")
    up.add_argument("--json", action="store_true", help="announce readiness as one JSON line")
    up.set_defaults(run=run_up)

    gateway = commands.add_parser("gateway", help="run only the gateway (store: $REDIS_URL)")
    gateway.add_argument("--port", type=int, default=50051)
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.set_defaults(run=run_gateway)

    worker = commands.add_parser("worker", help="run one worker for one device (store and broker: $REDIS_URL)")
    worker.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    worker.add_argument("--name", default=None)
    worker.set_defaults(run=run_worker)

    data = commands.add_parser("data", help="the MNIST files")
    actions = data.add_subparsers(dest="action", required=True)
    fetch = actions.add_parser("fetch", help="download the four official MNIST files and check their sha256")
    fetch.add_argument("--dir", default=None, help="destination [$LENET_DATA_DIR or ~/.cache/lenet/mnist]")
    fetch.add_argument("--mirror", action="append", default=None,
                       help="base URL to download from (repeatable) [the usual public mirrors]")
    fetch.add_argument("--json", action="store_true", help="print the files as one JSON document")
    fetch.set_defaults(run=run_fetch)


def run_up(args) -> int:
    from protos.settings import ServiceSettings
    from services.stack import Stack

    settings = ServiceSettings()
    redis_url = settings.redis_url if "redis_url" in settings.model_fields_set else None  # REDIS_URL given
    with Stack(settings, port=args.port, workers=args.workers, log_dir=args.log_dir, redis_url=redis_url) as stack:
        if args.json:
            print(json.dumps({"gateway": stack.address, "redis": stack.redis_url, "workers": args.workers,
                              "log_dir": str(stack.log_dir)}), flush=True)
        else:
            console.print(f"LeNet service ready: gateway {stack.address}, Redis {stack.redis_url}, "
                          f"{args.workers} CPU worker(s); logs in {stack.log_dir}. Ctrl-C stops it.")
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        stopped.wait()
        console.print("stopping …")
    return 0


def run_gateway(args) -> None:
    from services.gateway.__main__ import main

    main(["--port", str(args.port), "--host", args.host])


def run_worker(args) -> None:
    """The worker runs as its own program (`python -m workers`), which MXNet's threads need anyway."""
    os.execv(sys.executable, [sys.executable, "-m", "workers", "--device", args.device,
                              *(["--name", args.name] if args.name else [])])


def run_fetch(args) -> int:
    from pathlib import Path

    from protos import mnist
    from protos.settings import ServiceSettings

    destination = Path(args.dir) if args.dir else ServiceSettings().data_dir
    try:
        files = mnist.fetch(destination, mirrors=args.mirror or mnist.MIRRORS,
                            log=(lambda *_: None) if args.json else console.print)
    except mnist.DatasetError as error:
        print(f"lenet: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"dir": str(destination), "files": [str(path) for path in files]}))
    else:
        console.print(f"MNIST ready in {destination} ({len(files)} files)")
    return 0
