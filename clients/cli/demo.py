"""`lenet demo`: the seed notebook, start to end, as a client of the service.

It uses the gateway given by --gateway / $LENET_GATEWAY, which must answer; given none, the default gateway when
one answers, else it brings up the embedded stack (and MNIST, when missing) for its own duration. It prints what
the notebook prints and writes one self-contained HTML report (figures embedded; each also saved as a PNG beside
it).
"""
import contextlib
from pathlib import Path

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.table import Table

from lenet_clients.cli import evaluate_commands as evaluate, inspect_commands
from lenet_clients.cli.output import Failure, client_settings, console, follow, server_code, with_options
from lenet_clients.cli.server_commands import service_settings
from lenet_clients.client import LenetClient, open_channel
from lenet_clients.report import Report, Section
from lenet_protos import mnist
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ClientSettings

QUICK = dict(epochs=2, limit=10_000)   # a fast look: ≈ 0.95 test accuracy in well under a minute
SEED_ACCURACY = 0.9901


def answers(address: str, settings: ClientSettings) -> bool:
    with open_channel(address, settings) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            return True
        except grpc.RpcError:
            return False


def ensure_mnist(folder) -> None:
    """The embedded stack reads MNIST from the data folder: download the official files there when missing."""
    if mnist.missing_split(folder):
        console.print(f"MNIST is not in {folder}: downloading the four official files …")
        try:
            mnist.fetch(folder, log=console.print)
        except mnist.DatasetError as error:
            raise Failure(f"no MNIST in {folder}, and {error}: run `lenet data fetch` where the network reaches a "
                          f"mirror (or set LENET_DATA_DIR to a folder that holds the four files)") from None


@contextlib.contextmanager
def service(settings: ClientSettings):
    """The gateway given (--gateway or $LENET_GATEWAY), which must answer; given none, the default one when it
    answers, else a private embedded stack for the demo's duration."""
    address = settings.gateway
    if answers(address, settings):
        console.print(f"using the gateway at {address}")
        yield address
        return
    if "gateway" in settings.model_fields_set:
        raise Failure(f"no gateway answers at {address} (from --gateway or LENET_GATEWAY): start one with "
                      f"`lenet up`, or give no gateway to run the demo on an embedded stack")
    stack_module = server_code("lenet_services.stack")
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
    report = Report("LeNet on MNIST through the LeNet service",
                    "The R notebook 'Implementing LeNet with MXNET in R' reproduced step by step by a client of "
                    "the gRPC service: training, caret's confusion matrix and statistics, the worst case, and "
                    "every layer's output for one misclassified digit.")
    settings = client_settings()
    with service(settings) as address, LenetClient(address, settings=settings) as client:
        out.mkdir(parents=True, exist_ok=True)   # only once there is a service to fill it
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
    from lenet_clients import plots   # matplotlib takes ~0.8 s to import: only the commands that draw pay it
    console.rule("The data")
    images, labels = client.samples(range(5), split="train")
    console.print(f"Labels: {', '.join(map(str, labels))}")
    figure = plots.digits(images, [f"label {label}" for label in labels], out / "digits.png")
    report.section("The data", "data").text("MNIST: 60,000 training and 10,000 test images of 28×28 grey pixels.") \
        .figure(figure, f"The first five training digits, drawn as the seed's show_digit does; labels: "
                        f"{', '.join(map(str, labels))}.")


def train(client: LenetClient, report: Report, out: Path, options: dict) -> pb.Model | None:
    what = "a quick run: 2 epochs on 10,000 images" if options else "the seed's run: 20 epochs on 60,000 images"
    console.rule(f"Training LeNet ({what})")
    job = follow(client, client.train(**options))
    if job.state != pb.SUCCEEDED:
        console.print(f"training ended {pb.JobState.Name(job.state)}: {job.error}")
        return None
    return show_training(client, report, out, job)


def show_training(client: LenetClient, report: Report, out: Path, job: pb.Job) -> pb.Model:
    """The training section for a finished training job; the report's header names its model."""
    from lenet_clients import plots
    model = client.model(job.model_id)
    report.about["model"] = f"{model.id} ({model.name})"
    history = list(model.history)
    console.print(f"test accuracy {history[-1].test_accuracy:.4f} after {len(history)} epoch(s) "
                  f"(the seed reports {SEED_ACCURACY} after 20); model {model.id}")
    curve = plots.training_curve([m.epoch for m in history], [m.train_accuracy for m in history],
                                 [m.test_accuracy for m in history], out / "training-curve.png", title="")
    hp = model.hyper_parameters
    report.section("Training", "training") \
        .text(f"Job {job.id} trained model {model.id} on {model.train_samples:,} images: {hp.epochs} "
              f"epoch{'s' if hp.epochs != 1 else ''}, batch "
              f"{hp.batch_size}, SGD learning rate {hp.learning_rate:g}, momentum {hp.momentum:g}, weight decay "
              f"{hp.weight_decay:g}, seed {hp.seed}, {'0–1' if hp.normalize else 'raw 0–255'} pixels, initial "
              f"weights uniform in ±{hp.init_scale:g}. The seed notebook reports {SEED_ACCURACY} after 20 epochs "
              f"on 60,000.") \
        .table(["epoch", "train accuracy", "test accuracy", "seconds"],
               [[m.epoch, f"{m.train_accuracy:.4f}", f"{m.test_accuracy:.4f}", f"{m.elapsed_seconds:.1f}"]
                for m in history]) \
        .figure(curve, f"Training accuracy (blue) and test accuracy (red) after each epoch; last test accuracy "
                       f"{history[-1].test_accuracy:.4f}.", alt="Accuracy per epoch")
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
    section = report.section("The network", "network").table(
        ["layer", "operator", "output shape", "parameters", "attributes"], rows)
    section.text(f"{graph.parameter_count:,} parameters.")
    drawing = inspect_commands.draw_graph(graph, out / "graph.png", titled=False)
    section.figure(drawing, "Each node: operator, layer name and settings, coloured by operator as the seed's "
                            "graph.viz; under it the output shape for one image and the parameter count.",
                   alt="LeNet's layers from input to SoftM")
    section.download("lenet.dot", graph.dot.encode(), "text/vnd.graphviz",
                     "Download the Graphviz source (lenet.dot; render it with dot -Tsvg)")
    section.source("Graphviz source", graph.dot)


def show_evaluation(client: LenetClient, report: Report, out: Path, model: pb.Model) -> pb.Evaluation:
    console.rule("Evaluation on the test set")
    job = follow(client, client.evaluate(model.id))
    evaluation = client.evaluation(job.id)
    text = evaluate.report(evaluation)
    console.print(text, markup=False)
    section = report.section("Evaluation", "evaluation").text(
        f"Evaluation job {job.id}: {evaluate.describe(evaluation)}, printed as caret prints them.").pre(text)
    confusion = evaluate.draw_confusion(evaluation, out, titled=False)
    section.figure(confusion, f"Confusion matrix (rows: prediction, columns: reference, as caret's cm$table) on a "
                              f"log colour scale; accuracy {evaluation.overall.accuracy:.4f}.",
                   alt="Confusion matrix heat map")
    show_worst_case(client, section.subsection("The worst case", "worst-case"), out, evaluation)
    return evaluation


def show_worst_case(client: LenetClient, section: Section, out: Path, evaluation: pb.Evaluation) -> None:
    """The seed's worst case: digits of the most confused pair, and their class probabilities."""
    figures = evaluate.draw_worst_case(client, evaluation, out, titled=False)
    if not figures:
        section.text("Nothing to show: no digit was misclassified, or the images were uploaded.")
        return
    labels = list(evaluation.labels)
    pairs = " and ".join(f"{labels[c.reference]} read as {labels[c.prediction]} ({c.count} times)"
                         for c in evaluation.worst)
    section.text(f"The largest off-diagonal count: {pairs}. The first {len(evaluate.worst_samples(evaluation))} of "
                 f"those digits, and the probabilities the network gives each class for them.")
    digits, probabilities = figures
    section.figure(digits, "Test index: true class → predicted class.", alt=f"Digits {pairs}")
    section.figure(probabilities, "Class probabilities per digit: green the true class, red the predicted one.",
                   alt="Class probabilities of the worst-case digits")


def show_layers(client: LenetClient, report: Report, out: Path, model: pb.Model, evaluation: pb.Evaluation) -> None:
    from lenet_clients import plots
    chosen = evaluate.worst_samples(evaluation, show=1)
    if not chosen:
        return
    sample = chosen[0]
    wrong = next(m for m in evaluation.misclassified if m.index == sample)
    console.rule(f"Inside the network: test image #{sample} ({wrong.reference} read as {wrong.prediction})")
    activations = client.inspect(model.id, [sample])
    figures = plots.layer_figures(activations, 0, out, f"test image #{sample}", true=wrong.reference, titles=False)
    console.print(", ".join(f"{layer} {'×'.join(map(str, array.shape[1:]))}" for layer, array in activations.items()))
    section = report.section("Inside the network", "layers").text(
        f"Every layer's output for test image #{sample}, a {wrong.reference} the network reads as "
        f"{wrong.prediction}, streamed by Inspect. As R's image() in the seed, each feature map is scaled on its own; "
        f"signed outputs are drawn blue (negative), white (0) and red (positive), non-negative ones (SoftM) in R's "
        f"heat colours from red (0) to pale yellow (the largest). Bars: green the true class, red the predicted one.")
    for layer, array in activations.items():
        values = array[0]
        part = section.subsection(layer, f"layer-{layer}")
        part.figure(figures[layer], f"{plots.describe_layer(values.shape)}; values from {values.min():.4g} to "
                                    f"{values.max():.4g}.", alt=f"{layer} output of test image #{sample}")
        if f"{layer}-bars" in figures:
            part.figure(figures[f"{layer}-bars"], "The same values as bars, one per class.",
                        alt=f"{layer} output per class")


COMMANDS = [demo]
