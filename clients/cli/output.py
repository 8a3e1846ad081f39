"""Shared CLI plumbing: gateway/--json options, JSON documents, rich console, job progress."""
import argparse
import json

from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clients.client import LenetClient
from protos.lenet.v1 import lenet_pb2 as pb

console = Console(highlight=False)


def client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway", default=None, help="gateway address (default $LENET_GATEWAY or localhost:50051)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def connect(args) -> LenetClient:
    return LenetClient(args.gateway)


def as_dict(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


def print_json(document) -> None:
    print(json.dumps(document, indent=2, default=str))


def state(job: pb.Job) -> str:
    return pb.JobState.Name(job.state)


def job_line(job: pb.Job) -> str:
    kind = pb.JobKind.Name(job.kind).lower()
    detail = f"queue {job.queue}"
    if job.metrics.epoch:
        detail += f", epoch {job.metrics.epoch}, test accuracy {job.metrics.test_accuracy:.4f}"
    if job.kind == pb.EVALUATE and job.state == pb.SUCCEEDED:
        detail += f", accuracy {job.accuracy:.4f}"
    if job.model_id:
        detail += f", model {job.model_id}"
    if job.error:
        detail += f", error: {job.error}"
    return f"{job.id}  {kind:<8} {state(job):<9} {detail}"


def follow(client: LenetClient, job: pb.Job, quiet: bool = False) -> pb.Job:
    """Watch a job to its end with a progress bar (batches of all epochs) and a line per epoch."""
    epochs = job.train.hyper_parameters.epochs or 1
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=False) as progress:
        bar = progress.add_task(f"job {job.id}", total=None, info="queued")
        say = (lambda text: None) if quiet else progress.console.print

        def show(event: pb.JobEvent) -> None:
            kind = event.WhichOneof("kind")
            if kind == "batch":
                done = (event.batch.epoch - 1) * event.batch.batches_per_epoch + event.batch.batch
                progress.update(bar, total=epochs * event.batch.batches_per_epoch, completed=done,
                                info=f"epoch {event.batch.epoch}/{epochs} train acc {event.batch.train_accuracy:.3f} "
                                     f"{event.batch.samples_per_second:,.0f} img/s")
            elif kind == "epoch":
                say(f"epoch {event.epoch.epoch:>2}/{epochs}  train accuracy {event.epoch.train_accuracy:.4f}  "
                    f"test accuracy {event.epoch.test_accuracy:.4f}  {event.epoch.elapsed_seconds:6.1f} s")
            elif kind == "state":
                progress.update(bar, info=pb.JobState.Name(event.state.state).lower())
                if event.state.state == pb.SUCCEEDED and progress.tasks[0].total is None:
                    progress.update(bar, total=1, completed=1)  # a job without batches (evaluation)
                if event.state.message:
                    say(f"{pb.JobState.Name(event.state.state)}: {event.state.message}")
            elif kind == "log":
                say(event.log)

        return client.wait(job.id, show)
