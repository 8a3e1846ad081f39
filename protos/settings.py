"""Every setting the project reads from the environment, in one place: the service's (gateway, workers,
embedded stack) and the client's.

Each entry point reads them once (`load(ServiceSettings)`, keyword arguments override the environment, which
overrides ENVIRONMENT_FILE) and passes the object down; no other module reads the environment. The README's
configuration table lists every variable here; tests/unit/test_settings.py keeps the two in agreement.

Also here: what a server process is started with (`ServerOptions`, `WorkerOptions`). The `lenet` command parses
its options once and calls the server with these; a process started for it (`python -m lenet_workers OPTIONS`, as the
embedded stack and a worker node's supervisor start them) receives them as one JSON argument.
"""
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lenet_protos.contract import DEVICES, GATEWAY_PORT, ROLES, gateway_address

DEFAULT_DATA_DIR = Path.home() / ".cache" / "lenet" / "mnist"
# Settings kept with this Python environment: `make` writes the data folder it chose into .venv/lenet.env, so a new
# shell with the environment activated finds it; a variable set in the environment wins over the file.
ENVIRONMENT_FILE = Path(sys.prefix) / "lenet.env"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LENET_", populate_by_name=True, frozen=True, extra="ignore",
                                      env_ignore_empty=True, env_file=ENVIRONMENT_FILE)

    redis_url: str = Field("redis://localhost:6379/0", validation_alias="REDIS_URL",
                           description="the shared Redis: store and Celery broker (with redis_sentinels: "
                                       "its password, database and scheme; the sentinels name the host)")
    redis_sentinels: str = Field("", validation_alias="REDIS_SENTINELS", description="Redis Sentinel addresses, "
                                 "HOST:PORT comma-separated: when set, every process asks them for the primary of "
                                 "redis_sentinel_master, and finds the new one after a failover")
    redis_sentinel_master: str = Field("lenet", validation_alias="REDIS_SENTINEL_MASTER", pattern=r"^[\w.-]+$",
                                       description="the name the sentinels monitor the primary under")
    durable_replicas: int = Field(1, ge=0, description="with redis_sentinels: replicas that must confirm a write "
                                  "the caller is told succeeded (job accepted, model saved, alias moved, final "
                                  "state) before it is acknowledged; 0: none")
    durable_timeout_seconds: float = Field(1.0, gt=0, description="how long such a write waits for its replicas "
                                           "before it fails with UNAVAILABLE")
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="folder with the four MNIST IDX files (.gz or raw)")
    tokens: str = Field("", description="gateway: `user:token` pairs, comma-separated or `@file` with one per "
                                        "line; when set, every call needs `authorization: Bearer TOKEN`")
    heartbeat_seconds: float = Field(30.0, gt=0, description="a worker silent this long is taken for lost")
    stop_grace_seconds: float = Field(10.0, gt=0, description="workers: how long a worker process asked to stop "
                                      "(or whose supervisor died) may take to hand its job back before it exits "
                                      "anyway; a job it could not hand back is taken over once its lease expires")
    recovery_seconds: float = Field(10.0, gt=0, description="how often the gateway re-queues RUNNING jobs of "
                                                            "lost workers")
    retention_seconds: float = Field(7 * 24 * 3600.0, gt=0, description="how long an ended job, its events "
                                     "and results, and idempotency keys are kept")
    gpu: int = Field(0, ge=0, description="the GPU index a GPU worker computes on")
    request_timeout_seconds: float = Field(60.0, gt=0, description="how long the gateway waits for a worker's "
                                           "answer when the caller set no deadline")
    stream_idle_seconds: float = Field(30.0, gt=0, description="a serving worker gives up a stream whose reader "
                                       "took nothing for this long")
    max_streams: int = Field(32, ge=1, description="gateway: long streams (WatchJob, Inspect) open at once")
    max_streams_per_client: int = Field(8, ge=1, description="gateway: long streams open at once per client "
                                        "(token user, else address)")
    batch_max: int = Field(64, ge=1, description="serving: most images one dynamic batch runs together")
    batch_delay_ms: float = Field(0.0, ge=0, description="serving: how long a batch waits for more Predict "
                                  "calls once the first arrives (0: it takes what is already queued)")
    admins: str = Field("", description="gateway: comma-separated users (from LENET_TOKENS) who see and may "
                                        "change every owner's jobs and models")
    tls_cert: Path | None = Field(None, description="gateway: PEM certificate chain; with tls_key, serve TLS only")
    tls_key: Path | None = Field(None, description="gateway: PEM private key of tls_cert")
    tls_client_ca: Path | None = Field(None, description="gateway: PEM CA bundle; when set, clients must present "
                                                         "a certificate it signed")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="gateway and workers: serve Prometheus "
                                     "metrics at http://HOST:PORT/metrics (unset: none)")
    metrics_host: str = Field("127.0.0.1", description="gateway and workers: the address the metrics listen on "
                                                       "(beyond loopback only with metrics_open)")
    metrics_open: bool = Field(False, description="gateway and workers: let the metrics listen beyond loopback, "
                                                  "where anyone who reaches them reads them (counts, no names)")
    insecure_open: bool = Field(False, description="gateway and dashboard: listen beyond loopback without "
                                "tokens, letting anyone who reaches them call everything (--insecure-open)")
    http_port: int = Field(8000, ge=0, le=65535, description="gateway: serve the Open Inference Protocol's "
                           "REST side at http://HOST:PORT/v2 (0: none)")
    log_format: str = Field("text", pattern="^(text|json)$", description="log lines as text or JSON objects")
    relay_address: str = Field("", description="gateway: HOST:PORT at which serving workers reach it to stream "
                               "answers to it directly (default: its listening address, or for 0.0.0.0 its address "
                               "towards Redis; `off`: answers go through Redis)")
    trace_url: str = Field("", pattern=r"^$|\{trace_id\}", description="dashboard: a trace UI's address with "
                           "{trace_id} in it (e.g. Jaeger's http://localhost:16686/trace/{trace_id}); when set, "
                           "jobs and evaluations link to their trace")


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LENET_", populate_by_name=True, frozen=True, extra="ignore",
                                      env_ignore_empty=True, env_file=ENVIRONMENT_FILE)

    gateway: str = Field(f"localhost:{GATEWAY_PORT}", description=f"client: the gateway address, HOST:PORT (HOST "
                                                                  f"alone: port {GATEWAY_PORT})")
    token: str = Field("", description="client: the bearer token to send")
    timeout: float | None = Field(None, gt=0, description="client: seconds each call may take (unset: no deadline)")
    tls: bool = Field(False, description="client: connect with TLS (implied by ca)")
    ca: Path | None = Field(None, description="client: PEM CA bundle to verify the gateway with (default: the "
                                             "system's)")
    client_cert: Path | None = Field(None, description="client: PEM certificate to present to a gateway that "
                                                       "checks clients")
    client_key: Path | None = Field(None, description="client: PEM private key of client_cert")
    reconnect_seconds: float = Field(300.0, gt=0, description="client: how long a follower (`lenet watch`, "
                                     "`lenet train --wait`, LenetClient.watch) retries a gateway that does not "
                                     "answer before it gives up")
    tls_server_name: str = Field("", description="client: the name the gateway's certificate must carry, when not "
                                                 "the host of the gateway address (e.g. a health check on localhost)")

    @field_validator("gateway")
    @classmethod
    def _port(cls, address: str) -> str:
        return gateway_address(address)


class TracingSettings(BaseSettings):
    """The OpenTelemetry SDK's standard variables that this project relies on, as the SDK defines them (its
    "environment variable specification"): the SDK reads them itself, so they mean here what they mean everywhere.
    They are declared here for the README's table and so that a process knows whether to start tracing at all
    (`on`). Only the environment counts (not lenet.env), as the SDK reads only the environment."""
    model_config = SettingsConfigDict(populate_by_name=True, frozen=True, extra="ignore", env_ignore_empty=True)

    exporter_otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT", description="OTLP "
                                        "receiver to send spans to, e.g. http://localhost:4317 (gRPC); setting it "
                                        "turns tracing on")
    exporter_otlp_traces_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                               description="the same, for traces only; also turns tracing on")
    exporter_otlp_protocol: str = Field("grpc", validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL", description="how "
                                        "the otlp exporter sends: grpc (installed) or http/protobuf (needs "
                                        "opentelemetry-exporter-otlp-proto-http)")
    traces_exporter: str = Field("", validation_alias="OTEL_TRACES_EXPORTER", description="comma-separated "
                                 "exporters: otlp, console or none; setting it (not none) turns tracing on")
    sdk_disabled: bool = Field(False, validation_alias="OTEL_SDK_DISABLED", description="true: no tracing "
                               "whatever else is set")
    service_name: str = Field("", validation_alias="OTEL_SERVICE_NAME", description="service.name of the "
                              "process's spans")
    traces_sampler: str = Field("", validation_alias="OTEL_TRACES_SAMPLER", description="which calls are traced, "
                                "e.g. parentbased_traceidratio (a caller's sampled trace is always continued)")
    traces_sampler_arg: str = Field("", validation_alias="OTEL_TRACES_SAMPLER_ARG", description="the sampler's "
                                    "argument, e.g. 0.01 for one call in a hundred")
    resource_attributes: str = Field("", validation_alias="OTEL_RESOURCE_ATTRIBUTES", description="key=value "
                                     "pairs added to every span's resource, e.g. deployment.environment=prod")
    bsp_schedule_delay: str = Field("", validation_alias="OTEL_BSP_SCHEDULE_DELAY", description="milliseconds "
                                    "between exports of finished spans")
    grpc_excluded_services: str = Field("", validation_alias="OTEL_PYTHON_GRPC_EXCLUDED_SERVICES",
                                        description="gateway: comma-separated gRPC services whose calls get no "
                                        "server span, e.g. grpc.health.v1.Health (the maintained gRPC "
                                        "instrumentation's variable)")

    @property
    def excluded_services(self) -> list[str]:
        return [name.strip() for name in self.grpc_excluded_services.split(",") if name.strip()]

    @property
    def on(self) -> bool:
        exporters = {name.strip() for name in self.traces_exporter.split(",") if name.strip()}
        wanted = bool(self.exporter_otlp_endpoint or self.exporter_otlp_traces_endpoint or exporters)
        return wanted and not self.sdk_disabled and exporters != {"none"}


def env_names(settings_class: type[BaseSettings]) -> dict[str, str]:
    """Environment variable → field name, as the class reads them."""
    prefix = settings_class.model_config.get("env_prefix", "")
    return {(info.validation_alias or f"{prefix}{name}").upper(): name
            for name, info in settings_class.model_fields.items()}


def load(settings_class: type[BaseSettings], **overrides) -> BaseSettings:
    """Read the settings; a malformed variable raises ValueError naming it in one line."""
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        names = {field: env for env, field in env_names(settings_class).items()}
        problems = "; ".join(f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in error.errors())
        raise ValueError(f"bad setting: {problems}") from None


class ServerOptions(BaseModel):
    """How a gateway or a dashboard listens (`lenet gateway`, `lenet dashboard`)."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    port: int = Field(ge=0, le=65535)   # 0: a free port
    host: str = "127.0.0.1"
    insecure_dev: bool = False          # serve without tokens a store that holds records of token users
    insecure_open: bool = False         # listen beyond loopback without tokens (over LENET_INSECURE_OPEN)
    tls_cert: Path | None = None        # the gateway's TLS files, over LENET_TLS_CERT and LENET_TLS_KEY
    tls_key: Path | None = None


class WorkerOptions(BaseModel):
    """What a worker node runs (`lenet worker`); `supervisor` is set in the processes a `role="both"` node
    starts: the pid they end with."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    device: Literal[DEVICES] = "cpu"
    role: Literal[tuple(ROLES)] = "both"
    name: str | None = None             # None: DEVICE-RANDOM@HOST
    cores: int | None = Field(None, ge=1)
    cpus: str | None = None             # CPU ids to pin each process to, e.g. "0,1"
    supervisor: int | None = None


def options_argument(options_class: type[BaseModel], argv: list[str]) -> BaseModel:
    """The options a process was started with: its one JSON argument (none: the defaults); exits with one line
    when that is not valid."""
    try:
        return options_class.model_validate_json(argv[0] if argv else "{}")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        sys.exit(f"{options_class.__name__}: {problems}")
