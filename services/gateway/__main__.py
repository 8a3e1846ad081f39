"""Run the gateway: `python -m services.gateway [--port 50051] [--host 127.0.0.1]` (settings: protos/settings.py)."""
import signal
import sys
import threading

from services import entry_point, memory
from services.gateway import recovery
from services.gateway.gateway_metrics import GatewayMetrics
from services.gateway import inference_http
from services.gateway.grpc_server import build
from services.gateway.inference_protocol import InferenceProtocol
from services.gateway.service import LenetService
from services.task_queue import TaskQueue


def main(argv: list[str] | None = None) -> None:
    args, settings, auth, store = entry_point.start("gateway", __doc__, 50051, argv)
    memory.reuse_freed_memory()  # Inspect relays chunks of MiBs
    tasks = TaskQueue(settings.redis_url)
    metrics = GatewayMetrics(store)
    service = LenetService(store, tasks, settings)
    protocol = InferenceProtocol(service)   # one for gRPC and REST: their calls batch and are counted together
    try:
        server, port = build(service, auth, args.port, args.host, metrics, protocol)
        if settings.metrics_port is not None:
            metrics.serve(settings.metrics_port, args.host)
        rest = inference_http.serve(protocol, auth, settings, args.host, settings.http_port) \
            if settings.http_port else None
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"gateway: {error}")
    recovery.start(store, tasks, settings.recovery_seconds)
    scheme = "TLS" if settings.tls_cert else "plaintext"
    served = f"; metrics on {args.host}:{settings.metrics_port}/metrics" if settings.metrics_port is not None else ""
    served += f"; Open Inference Protocol REST on {args.host}:{rest[1]}/v2" if rest else ""
    print(f"gateway listening on {args.host}:{port} ({scheme}, tokens {'required' if auth.secured else 'off'})"
          f"{served}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    if rest:
        rest[0].should_exit = True
    server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
