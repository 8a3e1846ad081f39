"""Jobs, models and workers: `lenet train|job|jobs|watch|cancel|models|share|rm|workers|health`."""
import click
import grpc

from lenet_clients.cli.output import (answer, client_options, columns, connect, console, ctrl_c_leaves_job_running,
                                      follow, global_options, job_detail, job_line, kind, print_table, printed_as_json,
                                      rpc_message, state)
from lenet_protos.contract import HYPER_PARAMETERS, ID, RECIPES, VALIDATION_SIZE
from lenet_protos.lenet.v1 import lenet_pb2 as pb


def hyper_parameter_options(command):
    """A flag per lenet_protos.contract.HYPER_PARAMETERS entry, bounded as the contract bounds it. A flag left out is
    not sent, so the service fills in the seed's value; a flag given is sent, zero included."""
    for spec in reversed(HYPER_PARAMETERS):
        flag = "--" + spec.name.replace("_", "-")
        if spec.type is bool:
            option = click.option(f"{flag}/--no-{flag[2:]}", spec.name, default=None,
                                  help=f"{spec.help} [{'on' if spec.default else 'off'}]")
        elif spec.choices:
            option = click.option(flag, spec.name, type=click.Choice(spec.choices), default=None,
                                  help=f"{spec.help} [{spec.default}]")
        else:
            bounds = click.IntRange(spec.low, spec.high) if spec.type is int else \
                click.FloatRange(spec.low, spec.high, min_open=spec.low_open, max_open=spec.high_open)
            option = click.option(flag, spec.name, type=bounds, default=None, help=f"{spec.help} [{spec.default}]")
        command = option(command)
    return command


def enum_choice(enum, unspecified: str) -> click.Choice:
    """The enum's value names in lower case, as the filters of `lenet jobs` take them."""
    return click.Choice([name.lower() for name in enum.keys() if name != unspecified], case_sensitive=False)


def enum_value(enum, name: str | None) -> int:
    return enum.Value(name.upper()) if name else 0


def report(job: pb.Job, wait: bool = False) -> int:
    """Print the job; after following it, exit 1 unless it succeeded."""
    answer(job, job_line(job))
    return 1 if wait and job.state != pb.SUCCEEDED else 0


@click.command()
@hyper_parameter_options
@click.option("--limit", type=click.IntRange(0), default=0, help="train on the first N training images [all 60,000]")
@click.option("--eval-limit", type=click.IntRange(0), default=0,
              help="evaluate each epoch on the first N test images [all 10,000]")
@click.option("--validate", is_flag=True,
              help=f"score the validation split (the last {VALIDATION_SIZE:,} training images) every epoch; "
                   "training then leaves it out")
@click.option("--validation-limit", type=click.IntRange(0), default=0,
              help=f"with --validate: the first N validation images [all {VALIDATION_SIZE:,}]")
@click.option("--validation-only", is_flag=True, help="with --validate: do not score the test images each epoch")
@click.option("--recipe", type=click.Choice(list(RECIPES)), default="seed", show_default=True,
              help="start from a named recipe's hyper-parameters (lenet_protos.contract.RECIPES); flags override it")
@click.option("--device", type=click.Choice(["cpu", "gpu", "any"]), default="cpu", show_default=True)
@click.option("--name", default="", help="model name; the model becomes its next version [lenet]")
@click.option("--idempotency-key", default="", help="a retried submit with this key returns the same job")
@click.option("--wait", is_flag=True, help="follow the job to its end with a progress bar")
@client_options
def train(limit: int, eval_limit: int, validate: bool, validation_limit: int, validation_only: bool, recipe: str,
          device: str, name: str, idempotency_key: str, wait: bool, **hyper_parameters) -> int:
    """Submit a training job.

    Hyper-parameters left out take the recipe's values, else the seed's (in brackets)."""
    if (validation_limit or validation_only) and not validate:
        raise click.UsageError("--validation-limit and --validation-only go with --validate")
    with connect() as client:
        job = client.train(limit=limit, eval_limit=eval_limit, device=device, model_name=name,
                           idempotency_key=idempotency_key, recipe=recipe,
                           validation_limit=validation_limit if validate else None,
                           validation_only=validation_only, **hyper_parameters)
        click.echo(f"lenet: {size_and_estimate(client, job)}", err=True)
        if not wait:
            return report(job)
        quiet = global_options().as_json
        with ctrl_c_leaves_job_running(job.id):
            if not quiet:
                console.print(f"submitted {job_line(job)}")
            job = follow(client, job, quiet)
        return report(job, wait=True)


def size_and_estimate(client, job: pb.Job) -> str:
    """How much the job trains, and how long that takes at the pace of the newest finished training on its queue
    (its last epoch: training and scoring, images per second)."""
    hp, train_size, eval_size = job.train.hyper_parameters, job.train.train_data.size, job.train.eval_data.size
    scored = [f"{eval_size:,} test images"] if not job.train.validation_only else []
    scored += [f"{job.train.validation_data.size:,} validation images"] if job.train.HasField("validation_data") else []
    size = (f"job {job.id} trains {hp.epochs} epoch{'s' if hp.epochs != 1 else ''} on {train_size:,} images, "
            f"each scored on {' and '.join(scored)}")
    pace = next((done for done in client.jobs(20, kind=pb.TRAIN, state=pb.SUCCEEDED)
                 if done.queue == job.queue and done.metrics.elapsed_seconds > 0), None)
    if pace is None:
        return f"{size}; no finished training on {job.queue} to estimate its time from"
    per_second = (pace.train.train_data.size + pace.train.eval_data.size) / pace.metrics.elapsed_seconds
    seconds = hp.epochs * (train_size + eval_size) / per_second
    return f"{size}: about {duration(seconds)} at the pace of job {pace.id} ({per_second:,.0f} images/s)"


def duration(seconds: float) -> str:
    """A rough duration: "40 s", "12 min", "3.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


@click.command("job")
@click.argument("job_id")
@client_options
def show_job(job_id: str) -> int:
    """Show one job."""
    with connect() as client:
        return report(client.job(job_id))


@click.command()
@click.argument("job_id")
@client_options
def watch(job_id: str) -> int:
    """Follow a job's progress to its end."""
    with connect() as client, ctrl_c_leaves_job_running(job_id):
        return report(follow(client, client.job(job_id), quiet=global_options().as_json), wait=True)


@click.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="return once the job has stopped (then `lenet rm` may delete it)")
@client_options
def cancel(job_id: str, wait: bool) -> int:
    """Cancel a job.

    A queued job is cancelled at once, a running one within a batch."""
    with connect() as client:
        job = client.cancel(job_id)
        return report(client.wait(job.id) if wait else job)


@click.command("jobs")
@click.option("--state", "state_name", type=enum_choice(pb.JobState, "JOB_STATE_UNSPECIFIED"),
              help="only jobs in this state")
@click.option("--kind", "kind_name", type=enum_choice(pb.JobKind, "JOB_KIND_UNSPECIFIED"),
              help="only jobs of this kind")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="at most N jobs")
@client_options
def list_jobs(state_name: str | None, kind_name: str | None, limit: int) -> int:
    """List jobs, newest first."""
    with connect() as client:
        found = client.jobs(limit, kind=enum_value(pb.JobKind, kind_name), state=enum_value(pb.JobState, state_name))
    if printed_as_json(found):
        return 0
    table = columns("ID", "KIND", "STATE", "CREATED", "DETAIL")
    for listed in found:
        table.add_row(listed.id, kind(listed), state(listed), listed.created_at, job_detail(listed))
    print_table(table)
    return 0


@click.command("models")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="at most N models")
@click.option("--name", default="", help="only the versions of this model name, highest first")
@client_options
def list_models(limit: int, name: str) -> int:
    """List trained models, newest first, with their name, version and aliases."""
    with connect() as client:
        found = client.models(limit, name=name)
    if printed_as_json(found):
        return 0
    table = columns("ID", "NAME", "VERSION", "ALIASES", "CREATED", "IMAGES", "EPOCHS", "ACCURACY")
    for model in found:
        table.add_row(model.id, model.name, str(model.version), ",".join(model.aliases) or "-", model.created_at,
                      str(model.train_samples), str(model.hyper_parameters.epochs),
                      f"{model.metrics.test_accuracy:.4f}")
    print_table(table)
    return 0


@click.command()
@click.argument("model_id", metavar="MODEL")
@click.option("--with", "add", multiple=True, metavar="USER", help="share it read-only with USER (repeatable)")
@click.option("--stop", "remove", multiple=True, metavar="USER", help="stop sharing it with USER (repeatable)")
@client_options
def share(model_id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> int:
    """Share a model read-only with other users of a secured gateway, or stop sharing it (only its owner may)."""
    with connect() as client:
        model = client.share_model(model_id, add, remove)
    answer(model, f"model {model.id} is shared with: {', '.join(model.shared_with) or 'nobody'}")
    return 0


@click.command("workers")
@client_options
def list_workers() -> int:
    """List the live workers (lane, host, what each runs) and what waits on each lane."""
    with connect() as client:
        found = client.workers()
    if printed_as_json(found):
        return 0
    table = columns("NAME", "LANE", "HOST", "PID", "THREADS", "JOB", "REQUESTS", "LAST SEEN")
    for worker in found.workers:
        table.add_row(worker.name, worker.lane, worker.host, str(worker.pid), str(worker.threads),
                      worker.job_id or "-", str(worker.requests), worker.last_seen)
    print_table(table)
    lanes = columns("LANE", "WORKERS", "JOBS WAITING", "REQUESTS WAITING")
    for lane in found.lanes:
        lanes.add_row(lane.name, str(lane.workers), str(lane.jobs_waiting), str(lane.requests_waiting))
    console.print()
    print_table(lanes)
    return 0


@click.command()
@client_options
def health() -> int:
    """Ask the gateway's grpc.health.v1 service; exit 0 when it is SERVING (a container health check)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with connect() as client:
        status = health_pb2_grpc.HealthStub(client.channel).Check(
            health_pb2.HealthCheckRequest(service="lenet.v1.Lenet"), timeout=client.timeout or 10).status
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    answer({"gateway": client.address, "status": name}, f"{client.address}: {name}")
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1


@click.command("rm")
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@click.option("--model", "models_only", is_flag=True, help="the ids are models only (an id, a unique prefix of one, "
                                                           "\"latest\", NAME, NAME/VERSION or NAME@ALIAS)")
@client_options
def remove(ids: tuple[str, ...], models_only: bool) -> int:
    """Delete ended jobs and models.

    An id is tried as a job (deleted with its events and results), then as a model; a prefix, "latest", NAME,
    NAME/VERSION or NAME@ALIAS names a model (a version an alias points at is refused: move or remove the alias
    first). Every id is tried even when one fails; the exit code is 1 if any failed."""
    deleted, failed = [], False
    with connect() as client:
        for given in ids:
            try:
                entry = delete(client, given, models_only)
            except grpc.RpcError as error:
                entry, problem = None, rpc_message(error)
            else:
                problem = "NOT_FOUND: no job or model has this id"
            if entry:
                deleted.append(entry)
            else:
                click.echo(f"lenet: {given}: {problem}", err=True)
                failed = True
    if not printed_as_json(deleted):
        for entry in deleted:
            console.print(f"deleted {entry['kind']} {entry['id']}")
    return 1 if failed else 0


def delete(client, given: str, models_only: bool) -> dict | None:
    """Delete the job or model `given` names: {"kind": …, "id": …}, or None when a full id is neither."""
    if models_only or not ID.fullmatch(given):
        return {"kind": "model", "id": client.delete_model(given)}
    for kind_name, delete_one in (("job", client.delete_job), ("model", client.delete_model)):
        try:
            return {"kind": kind_name, "id": delete_one(given)}
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
    return None


COMMANDS = [train, show_job, list_jobs, watch, cancel, list_models, share, remove, list_workers, health]
