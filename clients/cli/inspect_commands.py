"""Looking inside a model: `lenet inspect` (every layer's activations, streamed) and `lenet graph` (the network)."""
from pathlib import Path

import numpy as np
from rich.table import Table

from clients import plots
from clients.cli.output import client_options, connect, console, print_json
from protos.contract import LAYERS
from protos.lenet.v1 import lenet_pb2 as pb


def register(commands) -> None:
    inspect = commands.add_parser("inspect", help="every layer's activations for chosen samples, and the seed's "
                                                  "pictures of them")
    client_options(inspect)
    inspect.add_argument("model_id", metavar="MODEL", help="model id (see `lenet models`)")
    inspect.add_argument("--sample", type=int, nargs="+", required=True, metavar="J",
                         help="index of the sample in the split (several allowed)")
    inspect.add_argument("--split", choices=["test", "train"], default="test", help="[test]")
    inspect.add_argument("--layers", nargs="+", choices=LAYERS, metavar="LAYER",
                         help=f"some of {' '.join(LAYERS)} [all]")
    inspect.add_argument("--dtype", choices=["f32", "f16"], default="f32", help="float32 or float16 tensors [f32]")
    inspect.add_argument("--npz", metavar="FILE", help="save the arrays with numpy.savez: one per layer (samples "
                                                       "first), plus samples, images and labels")
    inspect.add_argument("--plots", metavar="DIR", help="draw each layer for each sample: feature-map grids, strips "
                                                        "and bar charts, as the seed does (a folder per sample when "
                                                        "several)")
    inspect.set_defaults(run=run_inspect)

    graph = commands.add_parser("graph", help="the network: its layers with output shapes and parameter counts")
    client_options(graph)
    graph.add_argument("model_id", metavar="MODEL", help="model id (see `lenet models`)")
    graph.add_argument("--dot", metavar="FILE", help="write the Graphviz DOT text (render it with `dot -Tpng`)")
    graph.add_argument("--png", metavar="FILE", help="draw the layer chain as a PNG, like the seed's graph.viz")
    graph.set_defaults(run=run_graph)


# ----------------------------------------------------------------------------------------------- inspect

def run_inspect(args) -> int:
    with connect(args) as client:
        arrays = client.inspect(args.model_id, args.sample, split=args.split, layers=args.layers or (),
                                dtype=args.dtype)
        images, labels = client.samples(args.sample, args.split)
    written = []
    if args.npz:
        path = Path(args.npz)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:  # a file object: savez would add ".npz" to a name without it
            np.savez(file, samples=np.asarray(args.sample), images=images, labels=labels, **arrays)
        written.append(path)
    if args.plots:
        written += draw_layers(arrays, images, args.sample, args.split, Path(args.plots))
    if args.json:
        print_json(inspect_document(args, arrays, labels, written))
    else:
        show_inspection(args, arrays, labels)
        for path in written:
            console.print(f"wrote {path}")
    return 0


def draw_layers(arrays: dict, images: np.ndarray, samples: list[int], split: str, out: Path) -> list[Path]:
    """The input digit and every layer's picture, per sample."""
    written = []
    for position, sample in enumerate(samples):
        folder = out if len(samples) == 1 else out / f"{split}-{sample}"
        name = f"{split} image #{sample}"
        written.append(plots.digits(images[position:position + 1], [name], folder / "input.png"))
        written += plots.layer_figures(arrays, position, folder, name).values()
    return written


def stats(array: np.ndarray) -> dict:
    values = array.astype(np.float64)
    return {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
            "std": float(values.std())}


def inspect_document(args, arrays: dict, labels: np.ndarray, written: list[Path]) -> dict:
    document = {"model_id": args.model_id, "split": args.split, "samples": args.sample,
                "labels": [int(label) for label in labels], "dtype": "float16" if args.dtype == "f16" else "float32",
                "layers": [{"name": name, "shape": list(array.shape), **stats(array)}
                           for name, array in arrays.items()]}
    if "SoftM" in arrays:
        document["predictions"] = [
            {"sample": sample, "label": int(label), "predicted": int(np.argmax(probabilities)),
             "probabilities": [round(float(p), 6) for p in probabilities]}
            for sample, label, probabilities in zip(args.sample, labels, arrays["SoftM"])]
    document["files"] = [str(path) for path in written]
    return document


def show_inspection(args, arrays: dict, labels: np.ndarray) -> None:
    dtype = "float16" if args.dtype == "f16" else "float32"
    table = Table("layer", "shape", "min", "max", "mean", "std", title=f"model {args.model_id}: {len(args.sample)} "
                  f"{args.split} image(s), {dtype} activations")
    for name, array in arrays.items():
        figures = stats(array)
        table.add_row(name, "×".join(map(str, array.shape)), *(f"{figures[key]:.4g}" for key in
                                                               ("min", "max", "mean", "std")))
    console.print(table)
    for sample, label, probabilities in zip(args.sample, labels, arrays.get("SoftM", ())):
        predicted = int(np.argmax(probabilities))
        verdict = "right" if predicted == label else "wrong"
        console.print(f"{args.split} image #{sample}: label {label}, predicted {predicted} "
                      f"(probability {float(probabilities[predicted]):.3f}, {verdict})")


# ------------------------------------------------------------------------------------------------- graph

def run_graph(args) -> int:
    with connect(args) as client:
        graph = client.graph(args.model_id)
    written = []
    if args.dot:
        path = Path(args.dot)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(graph.dot)
        written.append(path)
    if args.png:
        written.append(draw_graph(graph, Path(args.png)))
    if args.json:
        print_json({"model_id": args.model_id, "parameter_count": graph.parameter_count,
                    "layers": [layer_dict(layer) for layer in graph.layers], "dot": graph.dot,
                    "files": [str(path) for path in written]})
        return 0
    table = Table("layer", "operator", "attributes", "output shape", "parameters",
                  title=f"model {args.model_id}: LeNet, {graph.parameter_count:,} parameters")
    for layer in graph.layers:
        table.add_row(layer.name, layer.op, layer.attributes, "×".join(map(str, layer.output_shape)),
                      f"{layer.parameter_count:,}" if layer.parameter_count else "")
    console.print(table)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def layer_dict(layer: pb.Layer) -> dict:
    return {"name": layer.name, "op": layer.op, "attributes": layer.attributes,
            "output_shape": list(layer.output_shape), "parameter_count": layer.parameter_count}


def draw_graph(graph: pb.Graph, path: Path) -> Path:
    """The network's PNG (matplotlib, so no Graphviz install is needed; --dot gives the source for `dot`)."""
    return plots.network_graph([layer_dict(layer) for layer in graph.layers], path,
                               title=f"LeNet — {graph.parameter_count:,} parameters")
