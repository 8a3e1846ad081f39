"""Hyper-parameter sweeps: `lenet sweep [--space …] [--wait]`, `lenet sweep show|cancel|rm ID`, `lenet sweeps`."""
import click
from rich.live import Live
from rich.table import Table

from lenet_clients.cli.job_commands import hyper_parameter_options
from lenet_clients.cli.output import client_options, columns, connect, console, global_options, print_json, \
    print_table
from lenet_clients.client import PRUNERS, dimension
from lenet_protos.contract import RECIPES, SWEEP_PRESETS, VALIDATION_SIZE
from lenet_protos.lenet.v1 import lenet_pb2 as pb


def space_option(_ctx, _param, values: tuple[str, ...]) -> list[pb.Dimension]:
    try:
        return [dimension(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group(invoke_without_command=True)
@click.option("--space", "space", multiple=True, callback=space_option, metavar="NAME=VALUES",
              help="a searched hyper-parameter: NAME=A,B,C (choices), NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
                   "NAME=LOW:HIGH:STEP (ranges), NAME=VALUE (fixed); repeat for each")
@click.option("--preset", type=click.Choice(sorted(SWEEP_PRESETS)), help="a search of the contract's "
              "(`better`: the recipe search); --space and the other options add to it or override it")
@click.option("--sampler", type=click.Choice(["grid", "random", "tpe"]), default=None, help="[tpe]")
@click.option("--trials", type=click.IntRange(0), default=None, help="trials in all [grid: every point; else 10]")
@click.option("--parallel", "parallelism", type=click.IntRange(0), default=None, help="trials at once [1]")
@click.option("--max-seconds", type=click.FloatRange(0), default=None, help="no trial starts after this [none]")
@click.option("--pruner", type=click.Choice(sorted(PRUNERS)), default=None,
              help="stop poor trials after an epoch: median or (asynchronous) successive halving [none]")
@click.option("--sampler-seed", type=click.IntRange(0, 2**31 - 1), default=None, help="seeds the sampler [0]")
@click.option("--objective", type=click.Choice(["validation_accuracy", "test_accuracy", "train_accuracy"]),
              default=None, help="what the winner is chosen on; test_accuracy tunes to the test set "
                                 "[validation_accuracy]")
@hyper_parameter_options
@click.option("--limit", type=click.IntRange(0), default=None, help="train on the first N training images [all]")
@click.option("--validation-limit", type=click.IntRange(0), default=None,
              help=f"score each epoch on the first N validation images [all {VALIDATION_SIZE:,}]")
@click.option("--recipe", type=click.Choice(list(RECIPES)), default=None,
              help="every trial starts from this recipe's hyper-parameters [seed]")
@click.option("--test-limit", type=click.IntRange(0), default=None,
              help="score the winner on the first N test images [all 10,000]")
@click.option("--device", type=click.Choice(["cpu", "gpu", "any"]), default="cpu", show_default=True)
@click.option("--name", default=None, help="the trials' model name [the preset's; else sweep-ID]")
@click.option("--alias", default=None, help="an alias of that name pointed at the winner")
@click.option("--idempotency-key", default="", help="a retried submit with this key returns the same sweep")
@click.option("--wait", is_flag=True, help="follow the sweep with a live table of its trials to its end")
@client_options
@click.pass_context
def sweep(ctx: click.Context, space: list[pb.Dimension], preset: str | None, wait: bool, **options) -> int:
    """Search hyper-parameters: each trial is a training job of yours, chosen by Optuna's sampler, stopped early
    by its pruner; the winner (best on the objective) is scored on test once.

    Hyper-parameter flags fix a value for every trial. `lenet sweep show|cancel|rm ID` look after one sweep."""
    if ctx.invoked_subcommand is not None:
        return 0
    given = {**SWEEP_PRESETS.get(preset, {}), **{key: value for key, value in options.items() if value is not None}}
    if given.get("objective") == "test_accuracy":
        given["validation_only"], given["validation_limit"] = False, None   # scored on test every epoch
    searched = {item.name: item for item in (*(dimension(text) for text in given.pop("space", ())), *space)}
    if not searched:
        raise click.UsageError("give --space NAME=VALUES (one per searched hyper-parameter) or --preset")
    with connect() as client:
        submitted = client.sweep(list(searched.values()), **_sweep_arguments(given))
        if not wait:
            return show(submitted)
        if global_options().as_json:
            return show(client.wait_sweep(submitted.id))
        if console.is_terminal:
            with Live(trial_table(submitted), console=console, auto_refresh=False) as live:
                for snapshot in client.watch_sweep(submitted.id):
                    live.update(trial_table(snapshot), refresh=True)
            done = client.get_sweep(submitted.id)
        else:   # piped: the final table only
            done = client.wait_sweep(submitted.id)
            print_table(trial_table(done))
    console.print(ending(done))
    return 0 if done.state == pb.SWEEP_SUCCEEDED else 1


def _sweep_arguments(given: dict) -> dict:
    """LenetClient.sweep's keywords from the options given (the others take the client's defaults)."""
    return {"model_name" if key == "name" else key: value for key, value in given.items()}


def sweep_state(sweep: pb.Sweep) -> str:
    """RUNNING, SUCCEEDED …: the enum's name without the prefix proto3 makes it carry, as jobs' states read."""
    return pb.SweepState.Name(sweep.state).removeprefix("SWEEP_")


def trial_table(shown: pb.Sweep) -> Table:
    budget = shown.request.budget
    table = columns("trial", "parameters", "epoch", shown.request.objective.metric.replace("_", " "), "state",
                    "worker", title=f"sweep {shown.id}  {sweep_state(shown)}  "
                                    f"{shown.trials_finished}/{budget.trials} finished, {shown.trials_pruned} "
                                    f"pruned, {shown.trials_in_flight} in flight", title_justify="left")
    table.columns[1].no_wrap, table.columns[1].overflow = False, "fold"   # a narrow terminal wraps the
    # parameters, not the other columns
    epochs = shown.request.train.hyper_parameters
    for trial in shown.trials:
        total = trial_epochs(trial, epochs)
        table.add_row(str(trial.number), parameters(trial.hyper_parameters), f"{trial.epoch}/{total}",
                      f"{trial.value:.4f}" if trial.HasField("value") else "", pb.JobState.Name(trial.state),
                      trial.worker)
    return table


def trial_epochs(trial: pb.Trial, base: pb.HyperParameters) -> int:
    if trial.hyper_parameters.HasField("epochs"):
        return trial.hyper_parameters.epochs
    return base.epochs if base.HasField("epochs") else 20


def parameters(values: pb.HyperParameters) -> str:
    return " ".join(f"{field.name}={value:g}" if isinstance(value, float) else f"{field.name}={value}"
                    for field, value in values.ListFields())


def ending(done: pb.Sweep) -> str:
    """The last line: the winner and its test accuracy, or why there is none."""
    if done.state != pb.SWEEP_SUCCEEDED:
        return f"sweep {done.id} {sweep_state(done)}" + (f": {done.error}" if done.error else "")
    winner = done.winner
    alias = f" (@{winner.alias})" if winner.alias else ""
    return (f"winner: trial {winner.trial} ({done.request.objective.metric} {winner.value:.4f}), model "
            f"{winner.model_id} = {winner.model_name}/{winner.model_version}{alias}, test accuracy "
            f"{winner.test_accuracy:.4f} (scored once, evaluation {winner.evaluation_job_id})")


def show(shown: pb.Sweep) -> int:
    if global_options().as_json:
        print_json(shown)
        return 0
    print_table(trial_table(shown))
    if shown.importances:
        console.print("importance: " + ", ".join(f"{item.name} {item.importance:.2f}" for item in shown.importances))
    if shown.state in (pb.SWEEP_SUCCEEDED, pb.SWEEP_FAILED, pb.SWEEP_CANCELLED):
        console.print(ending(shown))
    return 0


@sweep.command("show")
@click.argument("sweep_id")
@client_options
def show_sweep(sweep_id: str) -> int:
    """Show one sweep: its trials, Optuna's parameter importances and its winner."""
    with connect() as client:
        return show(client.get_sweep(sweep_id))


@sweep.command("cancel")
@click.argument("sweep_id")
@client_options
def cancel_sweep(sweep_id: str) -> int:
    """Cancel a sweep: no trial starts any more and every trial in flight is cancelled."""
    with connect() as client:
        return show(client.cancel_sweep(sweep_id))


@sweep.command("rm")
@click.argument("sweep_id")
@client_options
def remove_sweep(sweep_id: str) -> int:
    """Delete an ended sweep and its study (its trials stay as jobs and models)."""
    with connect() as client:
        console.print(f"deleted sweep {client.delete_sweep(sweep_id)}")
    return 0


@click.command("sweeps")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@client_options
def list_sweeps(limit: int) -> int:
    """Sweeps, newest first."""
    with connect() as client:
        found = client.sweeps(limit)
    if global_options().as_json:
        print_json({"sweeps": found})
        return 0
    table = columns("SWEEP", "STATE", "SAMPLER", "FINISHED", "PRUNED", "IN FLIGHT", "BEST", "TEST", "CREATED")
    for item in found:
        winner = item.winner
        table.add_row(item.id, sweep_state(item),
                      pb.Sampler.Name(item.request.sampler).lower(),
                      f"{item.trials_finished}/{item.request.budget.trials}", str(item.trials_pruned),
                      str(item.trials_in_flight), f"{winner.value:.4f}" if item.HasField("winner") else "",
                      f"{winner.test_accuracy:.4f}" if winner.HasField("test_accuracy") else "", item.created_at)
    print_table(table)
    return 0


COMMANDS = [sweep, list_sweeps]
