"""Exporting a trained model: `lenet export MODEL --format mxnet|onnx --out DIR`."""
import hashlib
import sys
from pathlib import Path

from clients.cli.output import client_options, connect, print_json


def register(commands) -> None:
    export = commands.add_parser("export", help="write a model's files: an MXNet checkpoint or an ONNX model")
    client_options(export)
    export.add_argument("model_id")
    export.add_argument("--format", choices=["mxnet", "onnx"], default="mxnet",
                        help="mxnet: NAME-symbol.json + NAME-0000.params, as mx.model.load_checkpoint and R's "
                             "mx.model.load read them; onnx: NAME.onnx, input 0–255 pixels N×1×28×28 [mxnet]")
    export.add_argument("--out", default=".", help="folder to write into, created when missing [.]")
    export.set_defaults(run=run_export)


def run_export(args) -> int:
    with connect(args) as client:
        try:
            paths = client.export(args.model_id, args.out, args.format)
        except ValueError as error:
            print(f"lenet: {error}", file=sys.stderr)
            return 1
    if args.json:
        print_json([{"name": path.name, "path": str(path), "size": path.stat().st_size, "sha256": sha256(path)}
                    for path in paths])
    else:
        print("\n".join(str(path) for path in paths))
    return 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
