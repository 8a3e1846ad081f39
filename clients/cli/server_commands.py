"""Running the service: `lenet up`, `lenet gateway`, `lenet worker`, `lenet data fetch`.

Each option is declared here once; the commands call the servers with typed options (lenet_protos.settings). Server
code (services/, Redis, Celery) is imported inside these commands only, so the client install runs every other
command; `lenet worker` becomes `python -m lenet_workers OPTIONS` and never imports that package itself.
"""
import importlib.util
import os
import socket
import sys
from pathlib import Path

import click

from lenet_clients.cli.output import (Failure, answer, console, global_options, printed_as_json, server_code,
                                      with_options)
from lenet_protos import mnist
from lenet_protos.contract import DEVICES, ROLES, lane
from lenet_protos.settings import ServerOptions, ServiceSettings, WorkerOptions, load


def service_settings() -> ServiceSettings:
    try:
        return load(ServiceSettings)
    except ValueError as error:
        raise Failure(str(error)) from None


def require_mnist(data_dir: Path) -> None:
    """The workers train on the MNIST files: say where they were looked for and how to get them."""
    split = mnist.missing_split(data_dir)
    if split:
        raise Failure(f"no MNIST {split} files in {data_dir}: run `lenet data fetch` (or set LENET_DATA_DIR to "
                      f"the folder that holds them)")


def require_redis(settings: ServiceSettings) -> None:
    """Fail in one line when REDIS_URL or REDIS_SENTINELS is malformed or nothing answers there, before any
    process starts."""
    store = server_code("lenet_services.store")
    try:
        where = store.Location.of(settings)
    except ValueError as error:
        raise Failure(f"cannot use Redis: {error}") from None
    try:
        store.Store(where).ping()
    except (ValueError, OSError, store.Unavailable) as error:
        named = "REDIS_SENTINELS" if where.sentinels else "REDIS_URL"
        raise Failure(f"cannot use Redis at {where.describe()} ({named}): {error}") from None


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=50051, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="CPU worker nodes, each a training and a serving process")
@click.option("--log-dir", type=click.Path(file_okay=False), help="keep the children's logs there [a temporary "
                                                                  "folder, removed at exit]")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="serve the gateway's Prometheus metrics at "
              "http://127.0.0.1:PORT/metrics, and each worker node's on the next free port after it")
@click.option("--dashboard-port", type=click.IntRange(0, 65535), help="serve the live dashboard at "
              "http://127.0.0.1:PORT/ (0: a free port)")
@click.option("--http-port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="serve the Open Inference Protocol's REST side at http://127.0.0.1:PORT/v2 (0: a free port; "
                   "its gRPC side is on --port)")
@click.option("--ha", is_flag=True, help="a replicated Redis on loopback: a primary, a replica and three "
              "sentinels, which promote the replica when the primary is lost (not with REDIS_URL or REDIS_SENTINELS)")
@with_options("json")
def up(port: int, workers: int, log_dir: str | None, metrics_port: int | None, dashboard_port: int | None,
       http_port: int, ha: bool) -> int:
    """Run Redis, CPU workers and a gateway until Ctrl-C.

    It uses $REDIS_URL when set, else starts a private redis-server with a random password; MNIST must be in
    $LENET_DATA_DIR. Ctrl-C (or SIGTERM) stops the gateway, then the workers (which hand their jobs back), then
    Redis, and returns once none of them is left (the README's "Stopping" says how long that may take). A gateway
    or worker node that ends on its own is started again."""
    settings = service_settings()
    require_mnist(settings.data_dir)
    external = "redis_url" in settings.model_fields_set or bool(settings.redis_sentinels)   # the user's Redis
    if external:
        if ha:
            raise Failure("--ha starts a Redis of its own: unset REDIS_URL and REDIS_SENTINELS to use it")
        require_redis(settings)
    stack = server_code("lenet_services.stack").Stack(settings, port=port, workers=workers, log_dir=log_dir,
                                                  redis_url=settings.redis_url if external else None,
                                                  metrics_port=metrics_port, dashboard_port=dashboard_port,
                                                  http_port=http_port, ha=ha, restart_lost=True)
    try:
        stack.start()
    except (RuntimeError, TimeoutError) as error:
        raise Failure(str(error)) from None
    try:
        stopped = server_code("lenet_services.stop_signal").event()   # before the banner, as the gateway's
        metrics = {part: f"http://127.0.0.1:{part_port}/metrics" for part, part_port in stack.metrics_ports().items()}
        if not printed_as_json({"gateway": stack.address, "redis": stack.redis_url,
                                "sentinels": stack.sentinels or None, "workers": workers, "log_dir": stack.log_dir,
                                "metrics": metrics,
                                "dashboard": stack.dashboard_url, "inference_http": stack.http_url}, one_line=True):
            full_url = f" (the full URL in {stack.redis_env_file})" if stack.redis_env_file else ""
            console.print(f"LeNet service ready: gateway {stack.address}, Redis {stack.shown_redis_url()}{full_url}, "
                          f"{workers} CPU worker node(s); logs in {stack.log_dir}. Ctrl-C stops it.")
            if stack.ha:
                console.print(f"Redis Sentinel: REDIS_SENTINELS={stack.sentinels} REDIS_SENTINEL_MASTER="
                              f"{stack.settings.redis_sentinel_master}; to try a failover, kill the primary: "
                              f"kill -9 {stack.redis.current_primary().process.pid} (it comes back as a replica)")
            console.print(f"Open Inference Protocol: gRPC {stack.address}, REST {stack.http_url}/v2")
            if stack.dashboard_url:
                console.print(f"dashboard: {stack.dashboard_url}")
            for part, address in metrics.items():
                console.print(f"metrics of the {part.replace('-', ' ')}: {address}")
        sys.stdout.flush()
        while not stopped.wait(1):
            if stack.ha:
                try:
                    for server in stack.redis.revive():
                        console.print(f"Redis on port {server.port} is back, as a replica (pid "
                                      f"{server.process.pid})")
                except RuntimeError as error:   # it did not sync in time: tried again next second
                    console.print(f"lenet up: {error}")
        click.echo(f"stopping … (at most {stack.stop_seconds():.0f} s)", err=True)
    finally:
        killed = stack.stop()
        if killed:
            click.echo(f"lenet up: {', '.join(killed)} did not stop in time and had to be killed; the logs are "
                       f"kept in {stack.log_dir}", err=True)
    return 0


def server_options(default_port: int):
    """The options of `lenet gateway` and `lenet dashboard`: lenet_protos.settings.ServerOptions."""
    port = click.option("--port", type=click.IntRange(0, 65535), default=default_port, show_default=True)
    host = click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: all)")
    insecure_dev = click.option("--insecure-dev", is_flag=True, help="serve without tokens even though the store "
                                "holds records of token users (development only)")
    insecure_open = click.option("--insecure-open", is_flag=True, help="listen beyond loopback without tokens: "
                                 "anyone who reaches the port may train, delete and read everything "
                                 "(LENET_INSECURE_OPEN)")
    return lambda command: port(host(insecure_dev(insecure_open(command))))


def run_server(module: str, **options) -> None:
    """The server of MODULE in this process, once Redis answers."""
    require_redis(service_settings())
    server_code(f"{module}.__main__").serve(ServerOptions(**options))


@click.command()
@server_options(50051)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate chain: serve TLS "
                                                                                "only (LENET_TLS_CERT)")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert "
                                                                               "(LENET_TLS_KEY)")
def gateway(port: int, host: str, insecure_dev: bool, insecure_open: bool, tls_cert: str | None,
            tls_key: str | None) -> None:
    """Run only the gateway (Redis: $REDIS_URL). Beyond loopback (--host 0.0.0.0) it needs LENET_TOKENS, or
    --insecure-open."""
    run_server("lenet_services.gateway", port=port, host=host, insecure_dev=insecure_dev, insecure_open=insecure_open,
               tls_cert=tls_cert, tls_key=tls_key)


@click.command()
@server_options(8080)
@click.option("--check", is_flag=True, help="only ask the dashboard at HOST:PORT whether it answers: exit 0 if so "
                                            "(a container health check)")
def dashboard(port: int, host: str, insecure_dev: bool, insecure_open: bool, check: bool) -> int | None:
    """Run only the live web dashboard (Redis: $REDIS_URL). Beyond loopback it needs LENET_TOKENS, or
    --insecure-open."""
    if check:
        import urllib.request

        try:
            urllib.request.urlopen(f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/healthz", timeout=5)
        except OSError as error:
            raise Failure(f"the dashboard on port {port} does not answer: {error}") from None
        return 0
    run_server("lenet_services.dashboard", port=port, host=host, insecure_dev=insecure_dev, insecure_open=insecure_open)


DEFAULT_WORKER = WorkerOptions()


@click.command()
@click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_WORKER.device, show_default=True)
@click.option("--role", type=click.Choice(list(ROLES)), default=DEFAULT_WORKER.role, show_default=True,
              help="the lanes to serve: a training process, a serving process, or one of each")
@click.option("--name", help="worker name [DEVICE-RANDOM@HOST]")
@click.option("--cores", type=click.IntRange(1), help="compute threads of each worker process [every core]")
@click.option("--cpus", metavar="IDS", help="pin each worker process to these CPU ids, e.g. 0,1")
@click.option("--check", is_flag=True, help="exit 0 when this host's worker processes of the role are alive")
def worker(device: str, role: str, name: str | None, cores: int | None, cpus: str | None, check: bool) -> int:
    """Run a worker node for one device (Redis: $REDIS_URL)."""
    if check:
        return worker_check(device, role)
    options = WorkerOptions(device=device, role=role, name=name, cores=cores, cpus=cpus)
    if importlib.util.find_spec("mxnet") is None or importlib.util.find_spec("lenet_workers") is None:
        raise Failure(f"a worker needs MXNet and the worker code: pip install 'lenet-service[{device}]'")
    require_redis(service_settings())
    # Its own program (`python -m lenet_workers`): MXNet's threads must start in the process that runs the engine.
    os.execv(sys.executable, [sys.executable, "-m", "lenet_workers", options.model_dump_json(exclude_defaults=True)])


def worker_check(device: str, role: str) -> int:
    """0 when every lane of `role` on this host has a live worker in the store; else a Failure naming what is
    missing."""
    settings = service_settings()
    store = server_code("lenet_services.store")
    try:
        alive = store.Store.of(settings).workers.alive()
    except (ValueError, store.Unavailable) as error:
        raise Failure(f"worker check: {error}") from None
    here = {live.lane for live in alive if live.host == socket.gethostname()}
    missing = [lane(device, name) for name in ROLES[role] if lane(device, name) not in here]
    if missing:
        raise Failure(f"worker check: no live {', '.join(missing)} worker on {socket.gethostname()}")
    return 0


@click.group()
def data() -> None:
    """The MNIST files."""


@data.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="destination [$LENET_DATA_DIR or ~/.cache/lenet/mnist]")
@click.option("--mirror", "mirrors", multiple=True, metavar="URL",
              help="base URL to download from (repeatable) [the usual public mirrors]")
@click.option("--force", is_flag=True, help="replace files there whose sha256 is not the official one")
@with_options("json")
def fetch(folder: Path | None, mirrors: tuple[str, ...], force: bool) -> int:
    """Download the four official MNIST files and check their sha256.

    Intact files are kept; files whose checksum differs are replaced only with --force."""
    as_json = global_options().as_json
    destination = folder or service_settings().data_dir
    try:
        files = mnist.fetch(destination, mirrors=list(mirrors) or mnist.MIRRORS,
                            log=(lambda *_: None) if as_json else console.print, force=force)
    except mnist.NotOfficial as error:
        raise Failure(f"{error}; `lenet data fetch --force` downloads the official files over them") from None
    except mnist.DatasetError as error:
        raise Failure(str(error)) from None
    answer({"dir": destination, "files": files}, f"MNIST ready in {destination} ({len(files)} files)")
    return 0


COMMANDS = [up, gateway, dashboard, worker, data]
