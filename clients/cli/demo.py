"""`lenet demo`: the seed notebook, start to end, as a client of the service.

It uses the gateway given by --gateway / $LENET_GATEWAY, which must answer; given none, the default gateway when
one answers, else it brings up the embedded stack (and MNIST, when missing) for its own duration. It prints what
the notebook prints and writes an HTML report with every figure beside it.
"""
import contextlib
from pathlib import Path

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.table import Table

from clients import plots
from clients.cli import evaluate_commands as evaluate
from clients.cli.output import Failure, client_settings, console, follow, server_code, with_options
from clients.cli.server_commands import service_settings
from clients.client import LenetClient
from clients.report import Report
from protos import mnist
from protos.lenet.v1 import lenet_pb2 as pb
from protos.settings import ClientSettings

QUICK = dict(epochs=2, limit=10_000)   # a fast look: ≈ 0.95 test accuracy in well under a minute
SEED_ACCURACY = 0.9901


def answers(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            return True
        except grpc.RpcError:
            return False


def ensure_mnist(folder) -> None:
    """The embedded stack reads MNIST from the data folder: download the official files there when missing."""
    try:
        for split in mnist.SPLIT_FILES:
            mnist.find_split_files(split, folder)
    except mnist.DatasetError:
        console.print(f"MNIST is not in {folder}: downloading the four official files …")
        mnist.fetch(folder, log=console.print)


@contextlib.contextmanager
def service(settings: ClientSettings):
    """The gateway given (--gateway or $LENET_GATEWAY), which must answer; given none, the default one when it
    answers, else a private embedded stack for the demo's duration."""
    address = settings.gateway
    if answers(address):
        console.print(f"using the gateway at {address}")
        yield address
        return
    if "gateway" in settings.model_fields_set:
        raise Failure(f"no gateway answers at {address} (from --gateway or LENET_GATEWAY): start one with "
                      f"`lenet up`, or give no gateway to run the demo on an embedded stack")
    stack_module = server_code("services.stack")
    stack_settings = service_settings()
    ensure_mnist(stack_settings.data_dir)
    console.print("no gateway answers: starting the embedded stack (Redis, one CPU worker, gateway) …")
    with stack_module.Stack(stack_settings) as stack:
        console.print(f"stack ready: gateway {stack.address}, logs in {stack.log_dir}")
        yield stack.address


@click.command()
@click.option("--quick", is_flag=True, help="train 2 epochs on 10,000 images instead of the seed's 20 epochs on "
                                            "60,000")
@click.option("--out", default="lenet-report", show_default=True, type=click.Path(file_okay=False),
              help="folder for the report and its figures")
@with_options("gateway", "token", "timeout")
def demo(quick: bool, out: str) -> int:
    """The seed notebook through the service, written up as a report."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report("LeNet on MNIST through the LeNet service",
                    "The R notebook 'Implementing LeNet with MXNET in R' reproduced step by step by a client of "
                    "the gRPC service: training, caret's confusion matrix and statistics, the worst case, and "
                    "every layer's output for one misclassified digit.")
    settings = client_settings()
    with service(settings) as address, LenetClient(address, settings=settings) as client:
        show_data(client, report, out)
        model = train(client, report, out, QUICK if quick else {})
        if model is None:
            return 1
        show_graph(client, report, out, model)
        evaluation = show_evaluation(client, report, out, model)
        show_layers(client, report, out, model, evaluation)
    path = report.write(out / "report.html")
    console.rule()
    console.print(f"report: {path}")
    return 0


def show_data(client: LenetClient, report: Report, out: Path) -> None:
    console.rule("The data")
    images, labels = client.samples(range(5), split="train")
    console.print(f"Labels: {', '.join(map(str, labels))}")
    figure = plots.digits(images, [f"label {label}" for label in labels], out / "digits.png")
    report.section("The data").text(f"The first five training digits; labels: {', '.join(map(str, labels))}.") \
        .figure(figure, "The first five MNIST training digits")


def train(client: LenetClient, report: Report, out: Path, options: dict) -> pb.Model | None:
    what = "a quick run: 2 epochs on 10,000 images" if options else "the seed's run: 20 epochs on 60,000 images"
    console.rule(f"Training LeNet ({what})")
    job = follow(client, client.train(**options))
    if job.state != pb.SUCCEEDED:
        console.print(f"training ended {pb.JobState.Name(job.state)}: {job.error}")
        return None
    model = client.model(job.model_id)
    history = list(model.history)
    console.print(f"test accuracy {history[-1].test_accuracy:.4f} after {len(history)} epoch(s) "
                  f"(the seed reports {SEED_ACCURACY} after 20); model {model.id}")
    curve = plots.training_curve([m.epoch for m in history], [m.train_accuracy for m in history],
                                 [m.test_accuracy for m in history], out / "training-curve.png")
    hp = model.hyper_parameters
    report.section("Training") \
        .text(f"Job {job.id} trained model {model.id} on {model.train_samples:,} images: {hp.epochs} epochs, batch "
              f"{hp.batch_size}, SGD learning rate {hp.learning_rate:g}, momentum {hp.momentum:g}, weight decay "
              f"{hp.weight_decay:g}, seed {hp.seed}, raw 0–255 pixels, initial weights uniform in "
              f"±{hp.init_scale:g}. The seed notebook reports {SEED_ACCURACY} after 20 epochs on 60,000.") \
        .table(["epoch", "train accuracy", "test accuracy", "seconds"],
               [[m.epoch, f"{m.train_accuracy:.4f}", f"{m.test_accuracy:.4f}", f"{m.elapsed_seconds:.1f}"]
                for m in history]) \
        .figure(curve, "Accuracy per epoch")
    return model


def show_graph(client: LenetClient, report: Report, out: Path, model: pb.Model) -> None:
    console.rule("The network")
    graph = client.graph(model.id)
    table = Table("layer", "operator", "output shape", "parameters", "attributes")
    rows = [[layer.name, layer.op, "×".join(map(str, layer.output_shape)), f"{layer.parameter_count:,}",
             layer.attributes] for layer in graph.layers]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"{graph.parameter_count:,} parameters")
    (out / "lenet.dot").write_text(graph.dot)
    section = report.section("The network").table(["layer", "operator", "output shape", "parameters", "attributes"],
                                                  rows)
    section.text(f"{graph.parameter_count:,} parameters. Graphviz source: lenet.dot.")
    with contextlib.suppress(ImportError):  # the graph drawing lives with `lenet graph`
        from clients.cli.inspect_commands import draw_graph
        section.figure(draw_graph(graph, out / "graph.png"), "LeNet, as the seed's graph.viz draws it")


def show_evaluation(client: LenetClient, report: Report, out: Path, model: pb.Model) -> pb.Evaluation:
    console.rule("Evaluation on the test set")
    job = follow(client, client.evaluate(model.id))
    evaluation = client.evaluation(job.id)
    text = evaluate.report(evaluation)
    console.print(text, markup=False)
    figures = evaluate.write_plots(client, evaluation, out)
    section = report.section("Evaluation").pre(text)
    captions = {"confusion.png": "Confusion matrix (rows: prediction, columns: reference)",
                "worst-digits.png": "The worst case: digits of the most confused pair",
                "worst-probabilities.png": "Their class probabilities"}
    for figure in figures:
        section.figure(figure, captions.get(figure.name, figure.stem))
    return evaluation


def show_layers(client: LenetClient, report: Report, out: Path, model: pb.Model, evaluation: pb.Evaluation) -> None:
    chosen = evaluate.worst_samples(evaluation, show=1)
    if not chosen:
        return
    sample = chosen[0]
    wrong = next(m for m in evaluation.misclassified if m.index == sample)
    console.rule(f"Inside the network: test image #{sample} ({wrong.reference} read as {wrong.prediction})")
    activations = client.inspect(model.id, [sample])
    figures = plots.layer_figures(activations, 0, out, f"test image #{sample}")
    console.print(", ".join(f"{layer} {'×'.join(map(str, array.shape[1:]))}" for layer, array in activations.items()))
    section = report.section("Inside the network").text(
        f"Every layer's output for test image #{sample}, a {wrong.reference} the network reads as "
        f"{wrong.prediction}, streamed by Inspect.")
    for name, figure in figures.items():
        section.figure(figure, name.replace("-bars", " (bar chart)"))


COMMANDS = [demo]
