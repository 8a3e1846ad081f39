"""Looking inside a model: `lenet inspect` (every layer's activations, streamed) and `lenet graph` (the network)."""
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
from rich.table import Table

from lenet_clients.cli.output import client_options, connect, console, print_table, printed_as_json, resolve_model
from lenet_protos.contract import LAYERS, SPLIT_SIZES
from lenet_protos.documents import message_dict
from lenet_protos.lenet.v1 import lenet_pb2 as pb

DTYPES = {"f32": "float32", "f16": "float16"}


class SeveralValuesAfterAnOption(click.Command):
    """Lets `--sample 5 6 7` and `--layers Conv1 Pool2` give several values, as they always could: words after
    such an option's value that are values of it too (numbers, layer names) repeat the option for click."""
    several: dict[str, Callable[[str], bool]] = {"--sample": str.isdigit, "--layers": LAYERS.__contains__}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        spread, option, first_value_given = [], None, False
        for position, word in enumerate(args):
            if word == "--":
                spread += args[position:]
                break
            if option and first_value_given and self.several[option](word):
                spread += [option, word]
                continue
            spread.append(word)
            if option and not first_value_given:
                first_value_given = True
            else:
                option, first_value_given = (word if word in self.several else None), False
        return super().parse_args(ctx, spread)


# ----------------------------------------------------------------------------------------------- inspect

@click.command(cls=SeveralValuesAfterAnOption)
@click.argument("model_id", metavar="MODEL")
@click.option("--sample", "samples", type=click.IntRange(0), multiple=True, required=True, metavar="J...",
              help="index of the sample in the split (several allowed: --sample 5 6 7)")
@click.option("--split", type=click.Choice(list(SPLIT_SIZES)), default="test", show_default=True)
@click.option("--layers", type=click.Choice(LAYERS), multiple=True, metavar="LAYER...",
              help=f"some of {' '.join(LAYERS)} [all]")
@click.option("--dtype", type=click.Choice(list(DTYPES)), default="f32", show_default=True,
              help="float32 or float16 tensors")
@click.option("--npz", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="save the arrays with numpy.savez: one per layer (samples first), plus samples, images and labels")
@click.option("--plots", "plots_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="draw each layer for each sample: feature-map grids, strips and bar charts, as the seed does "
                   "(a folder per sample when several)")
@client_options
def inspect(model_id: str, samples: tuple[int, ...], split: str, layers: tuple[str, ...], dtype: str,
            npz: Path | None, plots_dir: Path | None) -> int:
    """Every layer's activations for chosen samples.

    MODEL: an id, a unique prefix of one, latest, NAME, NAME/VERSION or NAME@ALIAS. Prints each layer's shape
    and range, and draws the seed's pictures of them with --plots."""
    samples = list(samples)
    with connect() as client:
        model_id = resolve_model(client, model_id).id
        arrays = client.inspect(model_id, samples, split=split, layers=layers, dtype=dtype)
        images, labels = client.samples(samples, split)
    written = []
    if npz:
        npz.parent.mkdir(parents=True, exist_ok=True)
        with npz.open("wb") as file:  # a file object: savez would add ".npz" to a name without it
            np.savez(file, samples=np.asarray(samples), images=images, labels=labels, **arrays)
        written.append(npz)
    if plots_dir:
        written += draw_layers(arrays, images, samples, split, plots_dir)
    title = f"model {model_id}: {len(samples)} {split} image(s), {DTYPES[dtype]} activations"
    if printed_as_json({"model_id": model_id, "split": split, "samples": samples, "labels": labels,
                        "dtype": DTYPES[dtype], "layers": [{"name": name, "shape": array.shape, **stats(array)}
                                                           for name, array in arrays.items()],
                        "predictions": predictions(samples, labels, arrays), "files": written}):
        return 0
    show_inspection(title, arrays, samples, split, labels)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def draw_layers(arrays: dict, images: np.ndarray, samples: list[int], split: str, out: Path) -> list[Path]:
    """The input digit and every layer's picture, per sample."""
    from lenet_clients import plots   # matplotlib takes ~0.8 s to import: only the commands that draw pay it
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


def predictions(samples: list[int], labels: np.ndarray, arrays: dict) -> list[dict]:
    """Each sample's label, predicted class and probabilities, when SoftM was asked for."""
    return [{"sample": sample, "label": label, "predicted": np.argmax(probabilities), "probabilities": probabilities}
            for sample, label, probabilities in zip(samples, labels, arrays.get("SoftM", ()))]


def show_inspection(title: str, arrays: dict, samples: list[int], split: str, labels: np.ndarray) -> None:
    table = Table("layer", "shape", "min", "max", "mean", "std", title=title)
    for name, array in arrays.items():
        figures = stats(array)
        table.add_row(name, "×".join(map(str, array.shape)), *(f"{figures[key]:.4g}" for key in
                                                               ("min", "max", "mean", "std")))
    print_table(table)
    for prediction in predictions(samples, labels, arrays):
        predicted, probabilities = prediction["predicted"], prediction["probabilities"]
        verdict = "right" if predicted == prediction["label"] else "wrong"
        console.print(f"{split} image #{prediction['sample']}: label {prediction['label']}, predicted {predicted} "
                      f"(probability {float(probabilities[predicted]):.3f}, {verdict})")


# ------------------------------------------------------------------------------------------------- graph

@click.command()
@click.argument("model_id", metavar="MODEL")
@click.option("--dot", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="write the Graphviz DOT text (render it with `dot -Tpng`)")
@click.option("--png", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="draw the layer chain as a PNG, like the seed's graph.viz")
@client_options
def graph(model_id: str, dot: Path | None, png: Path | None) -> int:
    """The network: layers, output shapes, parameter counts.

    MODEL: an id, a unique prefix of one, latest, NAME, NAME/VERSION or NAME@ALIAS."""
    with connect() as client:
        model_id = resolve_model(client, model_id).id
        network = client.graph(model_id)
    written = []
    if dot:
        dot.parent.mkdir(parents=True, exist_ok=True)
        dot.write_text(network.dot)
        written.append(dot)
    if png:
        written.append(draw_graph(network, png))
    if printed_as_json({"model_id": model_id, **message_dict(network), "files": written}):
        return 0
    table = Table("layer", "operator", "attributes", "output shape", "parameters",
                  title=f"model {model_id}: LeNet, {network.parameter_count:,} parameters")
    for layer in network.layers:
        table.add_row(layer.name, layer.op, layer.attributes, "×".join(map(str, layer.output_shape)),
                      f"{layer.parameter_count:,}" if layer.parameter_count else "")
    print_table(table)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def draw_graph(graph: pb.Graph, path: Path, titled: bool = True) -> Path:
    """The network's PNG (matplotlib, so no Graphviz install is needed; --dot gives the source for `dot`).
    `titled`: a heading on the figure."""
    from lenet_clients import plots
    return plots.network_graph([message_dict(layer) for layer in graph.layers], path,
                               title=f"LeNet — {graph.parameter_count:,} parameters" if titled else "")


COMMANDS = [inspect, graph]
