"""Predictions and per-layer activations of a trained LeNet."""
from collections.abc import Iterator

import mxnet as mx
import numpy as np

from workers.engine.checkpoint import params_from_bytes
from workers.engine.lenet import INPUT_SHAPE, LABEL, LAYERS, layer_outputs, network_input


class Predictor:
    """A trained network ready to run forward; images are pixels 0-255, preprocessed as in training."""

    def __init__(self, symbol_json: str, params: bytes, ctx=None, normalize: bool = False):
        self.symbol = mx.sym.load_json(symbol_json)
        self.arg_params, self.aux_params = params_from_bytes(params)
        missing = set(self.symbol.list_arguments()) - set(self.arg_params) - {"data", LABEL}
        if missing:
            raise ValueError(f"the parameters lack {', '.join(sorted(missing))} needed by the symbol")
        self.ctx = ctx or mx.cpu()
        self.normalize = normalize
        self._executors = {}  # (layers, batch size) -> executor, for full batches only

    def predict(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities, float32 (N, 10)."""
        return np.concatenate([out["SoftM"] for _, out in self.activations(images, ("SoftM",), batch_size)])

    def activations(self, images: np.ndarray, layers=LAYERS, batch_size: int = 500
                    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Per batch: (index of its first image, {layer: float32 array (b, *per-sample shape)}).

        Inputs are checked here, before the first batch is asked for.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        data, layers = network_input(images, self.normalize), tuple(layers)
        return self._batches(data, layers, layer_outputs(self.symbol, layers), batch_size)

    def _batches(self, data: np.ndarray, layers: tuple, outputs: mx.sym.Symbol, batch_size: int):
        for start in range(0, len(data), batch_size):
            batch = data[start:start + batch_size]
            executor = self._executor(outputs, layers, len(batch), cache=len(batch) == batch_size)
            executor.forward(is_train=False, data=batch)
            yield start, {name: out.asnumpy() for name, out in zip(layers, executor.outputs)}

    def _executor(self, outputs: mx.sym.Symbol, layers: tuple, size: int, cache: bool) -> mx.executor.Executor:
        """An executor bound for `size` images; a short last batch gets its own, so no padding reaches the output."""
        if (layers, size) in self._executors:
            return self._executors[layers, size]
        # Not grad_req="null": that turns on MXNet's MKLDNN subgraph fusion, whose grouped internal outputs are
        # wrong (Act layers come out without tanh) and which is 3x slower on CPUs without AVX2. No backward runs.
        executor = outputs.simple_bind(self.ctx, grad_req="write", data=(size, *INPUT_SHAPE))
        executor.copy_params_from(self.arg_params, self.aux_params, allow_extra_params=True)
        if cache:
            self._executors[layers, size] = executor
        return executor
