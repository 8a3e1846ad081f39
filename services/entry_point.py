"""What the gateway's and the dashboard's entry points share: logging, tracing, who may reach them
(services/exposure.py), and the parts they build from the settings (read once, here, with the options over them):
the settings, the tokens and the store."""
import sys

from lenet_protos import tracing
from lenet_protos.settings import ServerOptions, ServiceSettings, TracingSettings, load
from lenet_services import exposure, logs, task_queue
from lenet_services.gateway.auth import Auth
from lenet_services.store import Store, Unavailable


def start(name: str, options: ServerOptions, tls: bool = False) -> tuple[ServiceSettings, Auth, Store]:
    """Set up logging, read the settings (the options' insecure_open, tls_cert and tls_key over theirs) and reach
    the store; exits with one line naming `name` when a setting is bad, the address is refused (`tls`: this server
    can serve TLS itself), the store does not answer, or it would serve a store of token users without tokens."""
    overrides = options.model_dump(include={"insecure_open", "tls_cert", "tls_key"}, exclude_defaults=True)
    try:
        settings = load(ServiceSettings, **overrides)
        logs.configure(settings.log_format)
        if tracing.start(f"lenet-{name}", load(TracingSettings)):
            task_queue.instrument()
        auth = Auth(settings.tokens, settings.admins)
        exposure.check(name, options.host, tokens=auth.secured, insecure_open=settings.insecure_open,
                       plaintext_fix=(None if settings.tls_cert else exposure.SERVE_TLS) if tls else exposure.TLS_PROXY)
        store = Store.of(settings)
        store.ping()
        owned = store.owned_records()
    except exposure.Refused as refusal:
        sys.exit(str(refusal))
    except (ValueError, OSError, Unavailable) as error:
        sys.exit(f"{name}: {error}")
    if not auth.secured and owned and not options.insecure_dev:
        sys.exit(f"{name}: this store holds jobs or models of token users, and LENET_TOKENS is empty: an open "
                 f"{name} would show them to anyone. Set LENET_TOKENS, or pass --insecure-dev to open it anyway")
    return settings, auth, store


def traced(app):
    """The ASGI app with the maintained ASGI instrumentation (an HTTP server span per request, continuing a
    caller's `traceparent` header) when this process traces; else the app itself."""
    if not tracing.on():
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    return OpenTelemetryMiddleware(app, exclude_spans=["receive", "send"])
