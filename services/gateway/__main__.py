"""Run the gateway: `serve(ServerOptions(...))`, as `lenet gateway` does, or `python -m lenet_services.gateway OPTIONS`
with the options as one JSON document, as the embedded stack starts it (settings: protos/settings.py)."""
import sys

from lenet_protos.settings import ServerOptions, options_argument
from lenet_services import entry_point, exposure, memory, stop_signal
from lenet_services.gateway import inference_http, recovery
from lenet_services.gateway.gateway_metrics import GatewayMetrics
from lenet_services.gateway.grpc_server import build
from lenet_services.gateway.inference_protocol import InferenceProtocol
from lenet_services.gateway.relay import Relay
from lenet_services.gateway.service import LenetService
from lenet_services.task_queue import TaskQueue


def serve(options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM."""
    settings, auth, store = entry_point.start("gateway", options, tls=True)
    memory.reuse_freed_memory()  # Inspect relays chunks of MiBs
    tasks = TaskQueue(store.where)
    metrics = GatewayMetrics(store)
    service = LenetService(store, tasks, settings, Relay())
    protocol = InferenceProtocol(service)   # one for gRPC and REST: their calls batch and are counted together
    try:
        if settings.metrics_port is not None:
            metrics.serve(settings.metrics_port, settings.metrics_host, settings.metrics_open)
        server, port = build(service, auth, options.port, options.host, metrics, protocol)
        rest = inference_http.serve(protocol, auth, settings, options.host, settings.http_port) \
            if settings.http_port else None   # the gateway's own host: the exposure check above covers it
    except exposure.Refused as refusal:
        sys.exit(str(refusal))
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"gateway: {error}")
    recovery.start(store, tasks, settings.recovery_seconds)
    stopped = stop_signal.event()   # before the banner: a SIGTERM right after it stops the gateway in order
    scheme = "TLS" if settings.tls_cert else "plaintext"
    served = (f"; metrics on {settings.metrics_host}:{settings.metrics_port}/metrics"
              if settings.metrics_port is not None else "")
    served += f"; Open Inference Protocol REST on {options.host}:{rest[1]}/v2" if rest else ""
    served += f"; workers stream answers to {service.relay.address or 'Redis'}"
    print(f"gateway listening on {options.host}:{port} ({scheme}, tokens {'required' if auth.secured else 'off'})"
          f"{served}", flush=True)
    stop_signal.wait(stopped)
    if rest:
        rest[0].should_exit = True
    server.stop(grace=2).wait()


if __name__ == "__main__":
    serve(options_argument(ServerOptions, sys.argv[1:]))
