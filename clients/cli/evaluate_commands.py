"""Evaluation and prediction: `lenet evaluate|predict`."""
import json
import math
import sys
from pathlib import Path

import numpy as np
from google.protobuf.json_format import MessageToDict

from clients import images as image_files
from clients import plots, tables
from clients.cli.output import client_options, connect, follow, job_line
from clients.client import class_statistics, confusion_matrix, overall_statistics
from protos.lenet.v1 import lenet_pb2 as pb

SHOW_INDICES = 10       # worst-case sample indices printed, digits drawn
PREDICT_BATCH = 1000    # images per Predict call


def register(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="evaluate a model: caret's confusion matrix and statistics, "
                                                    "the worst case")
    client_options(evaluate)
    evaluate.add_argument("model_id", metavar="MODEL", help="model id (see `lenet models`)")
    evaluate.add_argument("--split", choices=["test", "train"], default="test", help="[test]")
    evaluate.add_argument("--limit", type=int, default=0, help="only the first N images of the split [all]")
    evaluate.add_argument("--plots", metavar="DIR", help="write PNGs: confusion matrix, worst-case digits and "
                                                          "their probabilities")
    evaluate.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", help="class probabilities for PNG digits or MNIST IDX files")
    client_options(predict)
    predict.add_argument("model_id", metavar="MODEL", help="model id (see `lenet models`)")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="PNG (resized to 28×28 grey) or IDX "
                                                                    "images file, optionally gzipped")
    predict.add_argument("--invert", action="store_true", help="invert pixels: for dark digits on light paper "
                                                               "(MNIST is white on black)")
    predict.set_defaults(run=run_predict)


# ---------------------------------------------------------------------------------------------- evaluate

def run_evaluate(args) -> int:
    with connect(args) as client:
        job = client.evaluate(args.model_id, limit=args.limit, split=args.split)
        job = client.wait(job.id) if args.json else follow(client, job)
        if job.state != pb.SUCCEEDED:
            print(f"lenet: evaluation did not succeed: {job_line(job)}", file=sys.stderr)
            return 1
        evaluation = client.evaluation(job.id)
        written = write_plots(client, evaluation, Path(args.plots)) if args.plots else []
    if args.json:
        print(json.dumps(evaluation_dict(evaluation), indent=2, allow_nan=False))
    else:
        print(report(evaluation))
        for path in written:
            print(f"wrote {path}")
    return 0


def evaluation_dict(evaluation: pb.Evaluation) -> dict:
    """The message as proto3 JSON: every field present, int64 as numbers, NaN as the string "NaN"."""
    return MessageToDict(evaluation, always_print_fields_with_no_presence=True, preserving_proto_field_name=True,
                         unquote_int64_if_possible=True)


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
    labels = list(evaluation.labels)
    written = [plots.confusion_heatmap(confusion_matrix(evaluation), out / "confusion.png", labels,
                                       title=f"Confusion matrix, {describe(evaluation)}",
                                       highlight=[(c.prediction, c.reference) for c in evaluation.worst])]
    chosen = worst_samples(evaluation)
    if not chosen or evaluation.dataset.HasField("images"):
        return written  # no errors, or uploaded images the service cannot send back
    by_index = {m.index: m for m in evaluation.misclassified}
    picked = [by_index[i] for i in chosen]
    digits, _ = client.samples(chosen, evaluation.dataset.split or "test")
    pairs = ", ".join(f"{labels[c.reference]} read as {labels[c.prediction]}" for c in evaluation.worst)
    titles = [f"#{m.index}: {labels[m.reference]} → {labels[m.prediction]}" for m in picked]
    written.append(plots.digits(digits, titles, out / "worst-digits.png",
                                title=f"Worst case: {pairs} (sample index: true → predicted)"))
    written.append(plots.probability_bars(np.array([m.probabilities for m in picked]), [f"#{m.index}" for m in picked],
                                          out / "worst-probabilities.png", true=[m.reference for m in picked],
                                          pred=[m.prediction for m in picked],
                                          title=f"Class probabilities, worst case: {pairs}"))
    return written


def worst_samples(evaluation: pb.Evaluation, show: int = SHOW_INDICES) -> list[int]:
    """Up to `show` sample indices from the worst cell(s), shared fairly between tied cells."""
    cells = [list(cell.indices) for cell in evaluation.worst]
    if not cells:
        return []
    each = math.ceil(show / len(cells))
    return [i for cell in cells for i in cell[:each]][:show]


# ---------------------------------------------------------------------------------------------- predict

def run_predict(args) -> int:
    try:
        pixels, sources = image_files.load(args.images, invert=args.invert)
    except ValueError as error:
        print(f"lenet: {error}", file=sys.stderr)
        return 2
    with connect(args) as client:
        parts = [client.predict(args.model_id, pixels[start:start + PREDICT_BATCH])
                 for start in range(0, len(pixels), PREDICT_BATCH)]
    probabilities = np.concatenate([p for p, _ in parts])
    labels = np.concatenate([predicted for _, predicted in parts])
    if args.json:
        print(json.dumps({"model_id": args.model_id, "predictions": [
            {"source": source, "label": int(label), "probabilities": [float(p) for p in row]}
            for source, label, row in zip(sources, labels, probabilities)]}, indent=2))
        return 0
    width = max(len("image"), *map(len, sources))
    print(f"{'image':<{width}}  label  probability  runner-up")
    for source, label, row in zip(sources, labels, probabilities):
        second = int(np.argsort(row)[-2])
        print(f"{source:<{width}}  {label:>5}  {row[label]:>11.4f}  {second} ({row[second]:.4f})")
    return 0
