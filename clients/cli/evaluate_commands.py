"""Evaluation and prediction: `lenet evaluate|predict`."""
import math
import re
import warnings
from pathlib import Path

import click
import numpy as np

from lenet_clients import images as image_files
from lenet_clients import tables
from lenet_clients.cli.output import (Failure, client_options, connect, ctrl_c_leaves_job_running, follow,
                                      global_options, job_line, printed_as_json, resolve_model)
from lenet_clients.client import DigitWarning, class_statistics, confusion_matrix, overall_statistics
from lenet_protos.contract import SPLIT_SIZES
from lenet_protos.documents import message_dict
from lenet_protos.lenet.v1 import lenet_pb2 as pb

SHOW_INDICES = 10       # worst-case sample indices printed, digits drawn
PREDICT_BATCH = 1000    # images per Predict call
SERVER_IMAGE_NUMBER = re.compile(r"^image (\d+)\b")   # how Predict's warnings name an image of the request


# ---------------------------------------------------------------------------------------------- evaluate

@click.command()
@click.argument("model_id", metavar="MODEL")
@click.option("--split", type=click.Choice(list(SPLIT_SIZES)), default="test", show_default=True)
@click.option("--limit", type=click.IntRange(0), default=0, help="only the first N images of the split [all]")
@click.option("--plots", "plots_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="write PNGs: confusion matrix, worst-case digits and their probabilities")
@client_options
def evaluate(model_id: str, split: str, limit: int, plots_dir: Path | None) -> int:
    """Evaluate a model: caret's statistics, the worst case.

    MODEL: an id, a unique prefix of one, latest, NAME, NAME/VERSION or NAME@ALIAS. Prints caret's confusion
    matrix, overall statistics and statistics by class, then the most confused pair of digits."""
    with connect() as client:
        job = client.evaluate(model_id, limit=limit, split=split)
        with ctrl_c_leaves_job_running(job.id):
            job = follow(client, job, quiet=global_options().as_json)
        if job.state != pb.SUCCEEDED:
            raise Failure(f"evaluation did not succeed: {job_line(job)}")
        evaluation = client.evaluation(job.id)
        written = write_plots(client, evaluation, plots_dir) if plots_dir else []
    if printed_as_json(evaluation_document(evaluation)):
        return 0
    click.echo(report(evaluation))
    for path in written:
        click.echo(f"wrote {path}")
    return 0


def evaluation_document(evaluation: pb.Evaluation) -> dict:
    """The Evaluation message, its class labels as integers like every label the CLI prints."""
    document = message_dict(evaluation)
    document["labels"] = [int(label) for label in evaluation.labels]
    for row in document["by_class"]:
        row["label"] = int(row["label"])
    return document


def describe(evaluation: pb.Evaluation) -> str:
    data = evaluation.dataset
    if data.HasField("images"):
        return f"{evaluation.samples:,} uploaded images"
    split = data.split or "test"
    if data.indices:
        return f"{evaluation.samples:,} chosen {split} images"
    return f"the first {evaluation.samples:,} {split} images" if data.limit else \
        f"all {evaluation.samples:,} {split} images"


def worst_cells(evaluation: pb.Evaluation) -> list[tuple[int, int, list[int]]]:
    return [(cell.prediction, cell.reference, list(cell.indices)) for cell in evaluation.worst]


def report(evaluation: pb.Evaluation) -> str:
    """The seed's printouts: cm$table, cm$overall, caret's by-class block, then the worst case."""
    labels = list(evaluation.labels)
    return "\n".join([
        f"Confusion Matrix and Statistics — model {evaluation.model_id}, {describe(evaluation)}", "",
        tables.confusion_table(confusion_matrix(evaluation), labels), "",
        "Overall Statistics", "",
        tables.named_vector(overall_statistics(evaluation)), "",
        "Statistics by Class:", "",
        tables.by_class_table(class_statistics(evaluation)), "",
        "Worst case (largest off-diagonal count; every cell when tied):",
        tables.worst_cases(worst_cells(evaluation), labels, SHOW_INDICES),
    ])


def write_plots(client, evaluation: pb.Evaluation, out: Path) -> list[Path]:
    """confusion.png always; worst-digits.png and worst-probabilities.png when something was misclassified."""
    return [draw_confusion(evaluation, out, titled=True), *draw_worst_case(client, evaluation, out, titled=True)]


def draw_confusion(evaluation: pb.Evaluation, out: Path, titled: bool) -> Path:
    """confusion.png: the matrix as a heat map, its worst cell(s) outlined. `titled`: a heading on the figure."""
    from lenet_clients import plots   # matplotlib takes ~0.8 s to import: only the commands that draw pay it
    return plots.confusion_heatmap(confusion_matrix(evaluation), out / "confusion.png", list(evaluation.labels),
                                   title=f"Confusion matrix, {describe(evaluation)}" if titled else "",
                                   highlight=[(c.prediction, c.reference) for c in evaluation.worst])


def draw_worst_case(client, evaluation: pb.Evaluation, out: Path, titled: bool) -> tuple[Path, ...]:
    """The seed's worst case: the digits of the most confused pair(s) (worst-digits.png) and the class
    probabilities the network gives them (worst-probabilities.png). Nothing when no digit was misclassified or the
    images were uploaded (the service cannot send those back). `titled`: headings on the figures themselves."""
    from lenet_clients import plots
    chosen = worst_samples(evaluation)
    if not chosen or evaluation.dataset.HasField("images"):
        return ()
    labels = list(evaluation.labels)
    by_index = {m.index: m for m in evaluation.misclassified}
    picked = [by_index[i] for i in chosen]
    digits, _ = client.samples(chosen, evaluation.dataset.split or "test")
    pairs = ", ".join(f"{labels[c.reference]} read as {labels[c.prediction]}" for c in evaluation.worst)
    titles = [f"#{m.index}: {labels[m.reference]} → {labels[m.prediction]}" for m in picked]
    return (plots.digits(digits, titles, out / "worst-digits.png",
                         title=f"Worst case: {pairs} (sample index: true → predicted)" if titled else ""),
            plots.probability_bars(np.array([m.probabilities for m in picked]), [f"#{m.index}" for m in picked],
                                   out / "worst-probabilities.png", true=[m.reference for m in picked],
                                   pred=[m.prediction for m in picked],
                                   title=f"Class probabilities, worst case: {pairs}" if titled else ""))


def worst_samples(evaluation: pb.Evaluation, show: int = SHOW_INDICES) -> list[int]:
    """Up to `show` sample indices from the worst cell(s), shared fairly between tied cells."""
    cells = [list(cell.indices) for cell in evaluation.worst]
    if not cells:
        return []
    each = math.ceil(show / len(cells))
    return [i for cell in cells for i in cell[:each]][:show]


# ---------------------------------------------------------------------------------------------- predict

@click.command()
@click.argument("model_id", metavar="MODEL")
@click.argument("image_paths", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--invert", is_flag=True, help="invert pixels: for dark digits on light paper (MNIST is white on black)")
@client_options
def predict(model_id: str, image_paths: tuple[str, ...], invert: bool) -> int:
    """Class probabilities for PNG digits or MNIST IDX files.

    MODEL: an id, a unique prefix of one, latest, NAME, NAME/VERSION or NAME@ALIAS. IMAGE: a PNG (made 28×28
    grey; a note says how) or an MNIST IDX images file, optionally gzipped. Images that do not look like MNIST
    digits are named on stderr."""
    try:
        pixels, sources, notes = image_files.load(image_paths, invert=invert)
    except ValueError as error:
        raise Failure(str(error), exit_code=2) from None
    for note in notes:
        click.echo(f"lenet: note: {note}", err=True)
    parts, doubts = [], []
    with connect() as client:
        model = resolve_model(client, model_id)
        for start in range(0, len(pixels), PREDICT_BATCH):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DigitWarning)
                parts.append(client.predict(model.id, pixels[start:start + PREDICT_BATCH]))
            doubts += [name_image(str(w.message), sources, start) for w in caught if w.category is DigitWarning]
    for doubt in doubts:
        click.echo(f"lenet: warning: {doubt}", err=True)
    if doubts and not invert:
        click.echo("lenet: hint: digits drawn dark on light paper need --invert", err=True)
    probabilities = np.concatenate([p for p, _ in parts])
    labels = np.concatenate([predicted for _, predicted in parts])
    if printed_as_json({"model_id": model.id, "model_name": model.name, "model_version": model.version,
                        "predictions": [{"source": source, "label": label, "probabilities": row}
                                        for source, label, row in zip(sources, labels, probabilities)]}):
        return 0
    width = max(len("image"), *map(len, sources))
    click.echo(f"{'image':<{width}}  label  probability  runner-up")
    for source, label, row in zip(sources, labels, probabilities):
        second = int(np.argsort(row)[-2])
        click.echo(f"{source:<{width}}  {label:>5}  {row[label]:>11.4f}  {second} ({row[second]:.4f})")
    click.echo(f"model {model.id} ({model.name}/{model.version})")
    return 0


def name_image(warning: str, sources: list[str], offset: int) -> str:
    """A Predict warning with the request's image number replaced by the file (and position) it came from."""
    found = SERVER_IMAGE_NUMBER.match(warning)
    if not found or offset + int(found[1]) >= len(sources):
        return warning
    return sources[offset + int(found[1])] + warning[found.end():]


COMMANDS = [evaluate, predict]
