"""The seed notebook's LeNet as an MXNet symbol, with the seed's layer names, and ways to look inside it."""
import json
from dataclasses import dataclass

import mxnet as mx
import numpy as np

from lenet_protos.contract import CLASSES, INPUT_SHAPE, LAYERS

LABEL = "SoftM_label"


def lenet() -> mx.sym.Symbol:
    """Two conv/tanh/max-pool stages, then 500 tanh units and a 10-way softmax, as in the seed."""
    net = mx.sym.Variable("data")
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=20, name="Conv1")
    net = mx.sym.Activation(net, act_type="tanh", name="Act1")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2), name="Pool1")
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=50, name="Conv2")
    net = mx.sym.Activation(net, act_type="tanh", name="Act2")
    net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2), name="Pool2")
    net = mx.sym.flatten(net, name="Flat")
    net = mx.sym.FullyConnected(net, num_hidden=500, name="Full1")
    net = mx.sym.Activation(net, act_type="tanh", name="Act3")
    net = mx.sym.FullyConnected(net, num_hidden=CLASSES, name="Full2")
    return mx.sym.SoftmaxOutput(net, name="SoftM")


@dataclass(frozen=True)
class Pixels:
    """How 0-255 pixels become the network's input: divided by 255 when `normalize`, then (x - mean) / std. The seed
    feeds raw pixels (the defaults); a model is always fed as it was trained."""
    normalize: bool = False
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def of(cls, hp) -> "Pixels":
        """A model's, from its hyper-parameters (lenet_protos.contract.HyperParams)."""
        return cls(hp.normalize, hp.input_mean, hp.input_std)

    def scale(self, x):
        """numpy arrays, NDArrays and Symbols alike; the seed's raw pixels pass untouched."""
        x = x / 255 if self.normalize else x
        return (x - self.mean) / self.std if (self.mean, self.std) != (0.0, 1.0) else x


def network_input(images: np.ndarray, pixels: Pixels = Pixels()) -> np.ndarray:
    """Pixels 0-255 as uint8 or float32, (N, 28, 28) or (N, 1, 28, 28), to the float32 (N, 1, 28, 28) the net takes,
    scaled as `pixels` says."""
    images = np.asarray(images)
    if images.dtype not in (np.uint8, np.float32):
        raise ValueError(f"images must be uint8 or float32 pixels 0-255, got {images.dtype}")
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != INPUT_SHAPE or len(images) == 0:
        raise ValueError(f"images must have shape (N, 28, 28) or (N, 1, 28, 28) with N >= 1, got {images.shape}")
    return pixels.scale(images.astype(np.float32))


def layer_outputs(symbol: mx.sym.Symbol, layers) -> mx.sym.Symbol:
    """The chosen layers' outputs as one grouped symbol, in the order asked."""
    internals = symbol.get_internals()
    available = internals.list_outputs()
    unknown = [name for name in layers if f"{name}_output" not in available]
    if unknown:
        raise ValueError(f"unknown layer {unknown[0]!r}: valid layers are {', '.join(LAYERS)}")
    return mx.sym.Group([internals[f"{name}_output"] for name in layers])


def layer_table(symbol: mx.sym.Symbol) -> list[dict]:
    """One row per layer: name, op, per-sample output shape, parameter count and a short description."""
    internals = symbol.get_internals()
    arg_shapes, out_shapes, _ = internals.infer_shape(data=(1, *INPUT_SHAPE))
    outputs = dict(zip(internals.list_outputs(), out_shapes))
    params = dict(zip(internals.list_arguments(), arg_shapes))
    nodes = _nodes(symbol)
    return [
        {
            "name": name,
            "op": nodes[name]["op"],
            "output_shape": list(outputs[f"{name}_output"][1:]),
            "parameter_count": sum(int(np.prod(params.get(f"{name}_{p}", 0))) for p in ("weight", "bias")),
            "attributes": _describe(nodes[name]["op"], nodes[name].get("attrs", {})),
        }
        for name in LAYERS
    ]


# Fill colours of the seed's graph.viz, by op.
_COLOURS = {"Convolution": "#fb8072", "FullyConnected": "#fb8072", "Activation": "#ffffb3", "Pooling": "#80b1d3",
            "Flatten": "#fdb462", "SoftmaxOutput": "#b3de69"}


def to_dot(symbol: mx.sym.Symbol) -> str:
    """Graphviz DOT text of the network, left to right, one node per layer labelled op / name / attributes."""
    lines = ["digraph LeNet {", "  rankdir=LR;", "  node [style=filled, penwidth=2];",
             '  "data" [label="data\\ndata", shape=oval, fillcolor="#8dd3c7"];']
    nodes = _nodes(symbol)
    for name in LAYERS:
        node = nodes[name]
        label = "\\n".join(filter(None, (node["op"], name, _describe(node["op"], node.get("attrs", {})))))
        shape = "oval" if node["op"] in ("Pooling", "Flatten") else "box"
        lines.append(f'  "{name}" [label="{label}", shape={shape}, fillcolor="{_COLOURS.get(node["op"], "white")}"];')
    for name in LAYERS:
        lines += [f'  "{source}" -> "{name}";' for source in nodes[name]["sources"]]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nodes(symbol: mx.sym.Symbol) -> dict[str, dict]:
    """The symbol's operator nodes by name, each with the names of the data or layers feeding it."""
    graph = json.loads(symbol.tojson())["nodes"]
    shown = {"data", *LAYERS}
    return {
        node["name"]: {**node, "sources": [graph[i]["name"] for i, *_ in node["inputs"] if graph[i]["name"] in shown]}
        for node in graph
        if node["op"] != "null"
    }


def _describe(op: str, attrs: dict) -> str:
    """Short human text for a layer's settings, e.g. "5×5, 20 filters" or "max 2×2 / 2"."""
    if op == "Convolution":
        return f"{_by(_ints(attrs['kernel']))}, {attrs['num_filter']} filters"
    if op == "Pooling":
        stride = _ints(attrs.get("stride", "(1, 1)"))
        step = stride[0] if len(set(stride)) == 1 else _by(stride)
        return f"{attrs['pool_type']} {_by(_ints(attrs['kernel']))} / {step}"
    if op == "Activation":
        return attrs["act_type"]
    if op == "FullyConnected":
        return f"{attrs['num_hidden']} units"
    return ""


def _ints(text: str) -> list[int]:
    """MXNet's attribute text "(5, 5)" as [5, 5]."""
    return [int(x) for x in text.strip("()").split(",") if x.strip()]


def _by(values) -> str:
    return "×".join(map(str, values))
