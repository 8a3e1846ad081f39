"""Predictions and per-layer activations of a trained LeNet."""
import ctypes
from collections import OrderedDict, deque
from collections.abc import Iterator

import mxnet as mx
import numpy as np

from lenet_workers.engine.checkpoint import params_from_bytes
from lenet_workers.engine.lenet import INPUT_SHAPE, LABEL, LAYERS, Pixels, layer_outputs, network_input

OUTPUT_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))
CACHED_EXECUTORS = 12  # per predictor; each holds its batch's outputs (about 70 MB for 500 images, all layers)


class Batch:
    """One forward pass's outputs for images [start, start + len). Valid until the next batch is asked for."""

    def __init__(self, start: int, layers: tuple, outputs: list):
        self.start = start
        self.outputs = dict(zip(layers, outputs))
        self.size = outputs[0].shape[0]

    def __len__(self) -> int:
        return self.size

    def shape(self, layer: str) -> tuple:
        return self.outputs[layer].shape

    def copy_rows(self, layer: str, start: int, stop: int, out: np.ndarray) -> None:
        """Rows [start, stop) of the layer's output into `out`, a C-contiguous array of their shape and dtype
        (e.g. a view into a message buffer): one copy, which is all asnumpy() would do, into memory we choose."""
        rows = self.outputs[layer][start:stop]  # a view: slicing the first axis copies nothing
        dtype = np.dtype(rows.dtype)
        if out.shape != rows.shape or out.dtype != dtype or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writable C-contiguous {dtype} array of shape {rows.shape}")
        mx.base.check_call(mx.base._LIB.MXNDArraySyncCopyToCPU(
            rows.handle, out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(out.size)))

    def numpy(self) -> dict[str, np.ndarray]:
        return {name: out.asnumpy() for name, out in self.outputs.items()}


class Predictor:
    """A trained network ready to run forward; images are pixels 0-255, preprocessed as in training."""

    def __init__(self, symbol_json: str, params: bytes, ctx=None, pixels: Pixels = Pixels()):
        self.symbol = mx.sym.load_json(symbol_json)
        self.arg_params, self.aux_params = params_from_bytes(params)
        missing = set(self.symbol.list_arguments()) - set(self.arg_params) - {"data", LABEL}
        if missing:
            raise ValueError(f"the parameters lack {', '.join(sorted(missing))} needed by the symbol")
        self.ctx = ctx or mx.cpu()
        self.pixels = pixels
        self._executors = OrderedDict()  # (layers, dtype, batch size, slot) -> executor, least recently used first

    def predict(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities, float32 (N, 10)."""
        return np.concatenate([out["SoftM"] for _, out in self.activations(images, ("SoftM",), batch_size)])

    def activations(self, images: np.ndarray, layers=LAYERS, batch_size: int = 500, dtype=np.float32
                    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Per batch: (index of its first image, {layer: array (b, *per-sample shape)} of `dtype`).

        Inputs are checked here, before the first batch is asked for.
        """
        batches = self.batches(images, layers, batch_size, dtype)
        return ((batch.start, batch.numpy()) for batch in batches)

    def batches(self, images: np.ndarray, layers=LAYERS, batch_size: int = 500, dtype=np.float32,
                first_batch: int = 0) -> Iterator[Batch]:
        """The forward passes as Batch objects, for consumers that copy outputs into buffers of their own; with
        `first_batch`, the first pass takes only that many images, so its outputs come out sooner.

        float16 is cast by MXNet inside the graph (rounded to nearest even, as numpy's astype). While the
        consumer copies out one batch, MXNet already computes the next on a second executor (after a short
        first pass, which runs alone).
        Inputs are checked here, before the first batch is asked for.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        dtype = np.dtype(dtype)
        if dtype not in OUTPUT_DTYPES:
            raise ValueError(f"dtype must be float32 or float16, got {dtype}")
        data, layers = network_input(images, self.pixels), tuple(layers)
        batch_size = min(batch_size, len(data))   # fewer images than a batch: one pass of their own size, kept
        outputs = layer_outputs(self.symbol, layers)
        if dtype != np.float32:
            outputs = mx.sym.Group([mx.sym.Cast(out, dtype=dtype.name) for out in outputs])
        first_batch = min(first_batch, batch_size) or batch_size
        return self._batches(data, (layers, dtype.name), outputs, batch_size, first_batch)

    def _batches(self, data: np.ndarray, key: tuple, outputs: mx.sym.Symbol, batch_size: int, first_batch: int):
        running = deque()  # forward passes started and not yet handed out: at most two
        starts = [0, *range(first_batch, len(data), batch_size)] if first_batch < len(data) else [0]
        for number, (start, stop) in enumerate(zip(starts, [*starts[1:], len(data)])):
            batch = data[start:stop]
            executor = self._executor(outputs, key, len(batch), slot=number % 2,
                                      cache=len(batch) in (batch_size, first_batch))
            executor.forward(is_train=False, data=batch)  # returns at once; MXNet computes in its own threads
            running.append((start, executor))
            if len(running) == 2 or number == 0 and first_batch < batch_size:   # a short first pass runs alone
                start, executor = running.popleft()
                yield Batch(start, key[0], executor.outputs)
        for start, executor in running:
            yield Batch(start, key[0], executor.outputs)

    def _executor(self, outputs: mx.sym.Symbol, key: tuple, size: int, slot: int, cache: bool
                  ) -> mx.executor.Executor:
        """An executor bound for `size` images; a short last batch gets its own, so no padding reaches the output.
        Two slots per shape, so one batch can be computed while the previous one is read."""
        if (key, size, slot) in self._executors:
            self._executors.move_to_end((key, size, slot))
            return self._executors[key, size, slot]
        # Not grad_req="null": that turns on MXNet's MKLDNN subgraph fusion, whose grouped internal outputs are
        # wrong (Act layers come out without tanh) and which is 3x slower on CPUs without AVX2. No backward runs.
        executor = outputs.simple_bind(self.ctx, grad_req="write", data=(size, *INPUT_SHAPE))
        executor.copy_params_from(self.arg_params, self.aux_params, allow_extra_params=True)
        if cache:
            self._executors[key, size, slot] = executor
            if len(self._executors) > CACHED_EXECUTORS:
                self._executors.popitem(last=False)
        return executor
