"""Shared CLI plumbing: the global options, one-line failures, JSON printing, the console and tables,
and following a job with a progress bar."""
import contextlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import click
import grpc
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from lenet_clients.client import GatewayLost, LenetClient
from lenet_protos import tracing
from lenet_protos.documents import jsonable
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ClientSettings, TracingSettings, load

console = Console(highlight=False, markup=False, emoji=False)   # print text as it is: ids, errors, logs
console.soft_wrap = not console.is_terminal   # piped text is never wrapped at 80 columns
PIPED_TABLE_WIDTH = 100_000                  # piped tables: as wide as their content, never wrapped or cut


class Failure(click.ClickException):
    """What went wrong, as one line on stderr (`lenet: MESSAGE`), and the exit code (1 unless told)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"lenet: {self.message}", err=True)


def server_code(module: str):
    """Import a server module on demand: the base install is only the client, and says so in one line."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise Failure(f"this command needs the server install (pip install 'lenet-service[server]'): {error}") \
            from None


GATEWAY_GONE = ("failed to connect to all addresses", "errors resolving", "DNS resolution failed")
EXIT_GATEWAY_LOST = 75   # sysexits' EX_TEMPFAIL: following gave up on a gateway that may come back; try again


def rpc_message(error) -> str:
    """A gRPC error as `CODE: details`; a gateway that cannot be reached, or a missing token, says what to do."""
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE and details.startswith(GATEWAY_GONE):
        address, source = dialled()
        return f"UNAVAILABLE: no gateway answers at {address} ({source}; {details.rsplit(': ', 1)[-1].strip('[]')})" \
               f": choose another with --gateway HOST:PORT or LENET_GATEWAY, or start one with `lenet up`"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"UNAUTHENTICATED: {details}; give yours with --token TOKEN or LENET_TOKEN"
    return f"{code.name}: {details}"


def dialled() -> tuple[str, str]:
    """The gateway address the command dialled, and where it came from."""
    settings = client_settings()
    return settings.gateway, "from --gateway" if global_options().gateway else \
        "from LENET_GATEWAY" if "gateway" in settings.model_fields_set else "the default"


# -- global options: before or after the subcommand ---------------------------------------------------------------
@dataclass
class GlobalOptions:
    """--gateway, --json, --token, --timeout, --tls and --ca as given on the command line (None, False: not
    given)."""
    gateway: str | None = None
    as_json: bool = False
    token: str | None = None
    timeout: float | None = None
    tls: bool = False
    ca: Path | None = None
    trace: bool = False


def global_options() -> GlobalOptions:
    return click.get_current_context().find_root().ensure_object(GlobalOptions)


def _remember(ctx: click.Context, param: click.Parameter, value) -> None:
    """Keep an option given before or after the subcommand; the later one wins."""
    if value is not None and value is not False:
        setattr(ctx.find_root().ensure_object(GlobalOptions), param.name, value)


OPTIONS = {
    "gateway": click.option("--gateway", metavar="HOST:PORT", expose_value=False, callback=_remember,
                            help="gateway address [$LENET_GATEWAY or localhost:50051]"),
    "json": click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_remember,
                         help="print one JSON document (see the README's \"JSON output\")"),
    "token": click.option("--token", metavar="TOKEN", expose_value=False, callback=_remember,
                          help="bearer token for a secured gateway [$LENET_TOKEN]"),
    "timeout": click.option("--timeout", metavar="SECONDS", type=click.FloatRange(0, min_open=True),
                            expose_value=False, callback=_remember,
                            help="deadline of each call [$LENET_TIMEOUT, else none]"),
    "tls": click.option("--tls", is_flag=True, expose_value=False, callback=_remember,
                        help="connect with TLS, verified with the system's CAs [$LENET_TLS]"),
    "ca": click.option("--ca", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                       expose_value=False, callback=_remember,
                       help="connect with TLS, verified with this PEM CA bundle [$LENET_CA]"),
    "trace": click.option("--trace", is_flag=True, expose_value=False, callback=_remember,
                          help="trace this command's calls through the service (OpenTelemetry) and print the "
                               "trace id on stderr; spans are exported where $OTEL_EXPORTER_OTLP_ENDPOINT says"),
}


def with_options(*names: str):
    """Decorator: accept these global options here too, so they may follow the subcommand."""
    def decorate(command):
        for name in reversed(names):
            command = OPTIONS[name](command)
        return command
    return decorate


client_options = with_options("gateway", "json", "token", "timeout", "tls", "ca", "trace")


def client_settings() -> ClientSettings:
    """The environment's client settings, overridden by the options given."""
    given = global_options()
    overrides = {name: value for name, value in
                 (("gateway", given.gateway), ("token", given.token), ("timeout", given.timeout),
                  ("tls", given.tls or None), ("ca", given.ca)) if value is not None}
    try:
        return load(ClientSettings, **overrides)
    except ValueError as error:
        raise Failure(str(error)) from None


def connect() -> LenetClient:
    if global_options().trace:
        start_trace()
    return LenetClient(settings=client_settings())


def start_trace() -> None:
    """`--trace`: the rest of the command is one span, every call of it sampled, so the service continues the
    trace whatever its own sampling; the trace id goes to stderr."""
    ctx = click.get_current_context()
    try:
        tracing.start("lenet", load(TracingSettings), always=True)
    except ValueError as error:
        raise Failure(str(error)) from None
    ctx.call_on_close(tracing.flush)   # after the span below has ended
    ctx.with_resource(tracing.span(f"lenet {ctx.info_name}", root=True))
    click.echo(f"trace {tracing.trace_id()}", err=True)


def resolve_model(client: LenetClient, reference: str) -> pb.Model:
    """The model a reference (id, unique prefix, "latest", NAME, NAME/VERSION or NAME@ALIAS) names, resolved once
    so that every call of a command uses the same model and the output shows which one ran."""
    return client.model(reference)


# -- JSON: lenet_protos.documents' one serializer, for every command --------------------------------------------
def print_json(document, one_line: bool = False) -> None:
    click.echo(json.dumps(jsonable(document), indent=None if one_line else 2, allow_nan=False))


def printed_as_json(document, one_line: bool = False) -> bool:
    """Under --json, print `document` and say so; else print nothing, and the command prints its text."""
    if global_options().as_json:
        print_json(document, one_line)
    return global_options().as_json


def answer(document, line: str) -> None:
    """A command's answer: `document` as JSON under --json, else `line`."""
    if not printed_as_json(document):
        console.print(line)


# -- text -------------------------------------------------------------------------------------------------------
def columns(*headers: str, **options) -> Table:
    """A borderless table for lists (`lenet jobs`, `lenet models`): ids in the first column, one row per line."""
    table = Table(box=None, pad_edge=False, show_edge=False, **options)
    for header in headers:
        table.add_column(header, no_wrap=True)
    return table


def print_table(table: Table) -> None:
    """In a terminal, fitted to its width; piped, as wide as the content, so `awk '{print $1}'` reads whole ids."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(file=console.file, width=PIPED_TABLE_WIDTH, highlight=False, markup=False).print(table)


def state(job: pb.Job) -> str:
    return pb.JobState.Name(job.state)


def job_detail(job: pb.Job) -> str:
    detail = f"queue {job.queue}"
    if job.metrics.epoch:
        detail += f", epoch {job.metrics.epoch}"
        detail += "" if job.train.validation_only else f", test accuracy {job.metrics.test_accuracy:.4f}"
        if job.metrics.HasField("validation_accuracy"):
            detail += f", validation accuracy {job.metrics.validation_accuracy:.4f}"
    if job.kind == pb.EVALUATE and job.state == pb.SUCCEEDED:
        detail += f", accuracy {job.accuracy:.4f}"
    if job.model_id:
        detail += f", model {job.model_id}"
    if job.error:
        detail += f", error: {job.error}"
    return detail


def kind(job: pb.Job) -> str:
    return pb.JobKind.Name(job.kind).lower()


def job_line(job: pb.Job) -> str:
    return f"{job.id}  {kind(job):<8} {state(job):<9} {job_detail(job)}"


# -- following a job ----------------------------------------------------------------------------------------------
def follow(client: LenetClient, job: pb.Job, quiet: bool = False) -> pb.Job:
    """Watch a job to its end with a progress bar (batches of all epochs, time remaining) and a line per epoch."""
    epochs = job.train.hyper_parameters.epochs or 1
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("left"),
                  console=console, disable=quiet, transient=False) as progress:
        bar = progress.add_task(f"job {job.id}", total=None, info="queued")
        say = (lambda text: None) if quiet else progress.console.print

        def show(event: pb.JobEvent) -> None:
            kind = event.WhichOneof("kind")
            if kind == "batch":
                done = (event.batch.epoch - 1) * event.batch.batches_per_epoch + event.batch.batch
                progress.update(bar, total=epochs * event.batch.batches_per_epoch, completed=done,
                                info=f"epoch {event.batch.epoch}/{epochs} train acc {event.batch.train_accuracy:.3f} "
                                     f"{event.batch.samples_per_second:,.0f} img/s")
            elif kind == "evaluating":
                progress.update(bar, info=f"epoch {event.evaluating.epoch}/{epochs} evaluating on "
                                          f"{event.evaluating.samples:,} images")
            elif kind == "epoch":
                say(f"epoch {event.epoch.epoch:>2}/{epochs}  train accuracy {event.epoch.train_accuracy:.4f}  "
                    + ("" if job.train.validation_only else f"test accuracy {event.epoch.test_accuracy:.4f}  ")
                    + (f"validation accuracy {event.epoch.validation_accuracy:.4f}  "
                       if event.epoch.HasField("validation_accuracy") else "")
                    + f"{event.epoch.elapsed_seconds:6.1f} s")
            elif kind == "state":
                progress.update(bar, info=pb.JobState.Name(event.state.state).lower())
                if event.state.state == pb.SUCCEEDED and progress.tasks[0].total is None:
                    progress.update(bar, total=1, completed=1)  # a job without batches (evaluation)
                if event.state.message:
                    say(f"{pb.JobState.Name(event.state.state)}: {event.state.message}")
            elif kind == "log":
                say(event.log)

        aside = (lambda text: click.echo(f"lenet: {text}", err=True)) if quiet else say
        try:
            return client.wait(job.id, show, on_outage=aside)
        except GatewayLost as lost:
            raise Failure(f"{lost}: gave up following job {job.id} (exit code {EXIT_GATEWAY_LOST}); "
                          f"{how_to_resume(job.id)}", exit_code=EXIT_GATEWAY_LOST) from None


def how_to_resume(job_id: str) -> str:
    """The commands that follow or cancel a job again, with the --gateway given to this one."""
    gateway = global_options().gateway
    where = f" --gateway {gateway}" if gateway else ""
    return f"the job goes on: `lenet watch {job_id}{where}` follows it again, `lenet cancel {job_id}{where}` cancels it"


@contextlib.contextmanager
def ctrl_c_leaves_job_running(job_id: str):
    """Ctrl-C while following a job stops the following only: say so, and how to follow or cancel the job."""
    try:
        yield
    except KeyboardInterrupt:
        raise Failure(f"stopped following job {job_id}; {how_to_resume(job_id)}", exit_code=130) from None
