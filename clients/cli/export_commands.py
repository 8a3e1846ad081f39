"""Exporting a trained model: `lenet export MODEL --format mxnet --out DIR` (or `--format onnx`)."""
import hashlib
from pathlib import Path

import click

from lenet_clients.cli.output import Failure, client_options, connect, printed_as_json, resolve_model


@click.command()
@click.argument("model_id", metavar="MODEL")
@click.option("--format", "file_format", type=click.Choice(["mxnet", "onnx"]), default="mxnet", show_default=True,
              help="mxnet: NAME-symbol.json + NAME-0000.params, as mx.model.load_checkpoint and R's mx.model.load "
                   "read them; onnx: NAME.onnx, input 0–255 pixels N×1×28×28")
@click.option("--out", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder to write into, created when missing")
@client_options
def export(model_id: str, file_format: str, out: Path) -> int:
    """Write a model's files: MXNet checkpoint or ONNX.

    MODEL: an id, a unique prefix of one, latest, NAME, NAME/VERSION or NAME@ALIAS."""
    with connect() as client:
        model_id = resolve_model(client, model_id).id
        try:
            paths = client.export(model_id, out, file_format)
        except ValueError as error:
            raise Failure(str(error)) from None
    if not printed_as_json([{"model_id": model_id, "name": path.name, "path": path, "size": path.stat().st_size,
                             "sha256": sha256(path)} for path in paths]):
        click.echo("\n".join(str(path) for path in paths))
    return 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


COMMANDS = [export]
