"""Training LeNet the way the seed's `mx.model.FeedForward.create` call does, one linear loop.

R's defaults reproduced: weights uniform in ±0.01 and biases zero (`mx.init.uniform(0.01)`, init_scale), SGD with
momentum and weight decay, gradients rescaled by 1/batch size, and the training set shuffled once, the
same order for every epoch (R's `mx.io.arrayiter` shuffles when it is built, not on reset).

Made cheap without changing what it computes: the batches are NDArrays made once, right answers are counted on
the device and read back only when a callback reports them, MXNet runs at most one batch ahead of this loop (so
should_stop acts within a batch), and the end-of-epoch evaluation reuses one inference executor bound once.
"""
import time
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np

from lenet_protos.contract import INPUT_SHAPE, HyperParams
from lenet_workers.engine.checkpoint import params_from_bytes, params_to_bytes
from lenet_workers.engine.lenet import LABEL, lenet, network_input

EVAL_BATCH_SIZE = 500  # images per forward pass of the end-of-epoch evaluation (500 ran faster than 1000 here)


@dataclass
class BatchProgress:
    epoch: int  # 1-based
    batch: int  # 1-based
    batches_per_epoch: int
    train_accuracy: float  # running, over this epoch so far
    samples_per_second: float


@dataclass
class EpochResult:
    epoch: int
    train_accuracy: float
    test_accuracy: float
    elapsed_seconds: float
    params: bytes = field(repr=False)  # `.params` bytes: the checkpoint after this epoch


@dataclass
class TrainResult:
    symbol_json: str
    params: bytes = field(repr=False)
    history: list[EpochResult]
    stopped: bool


def train(hp: HyperParams, train_x, train_y, eval_x, eval_y, *, ctx=None, on_batch=None, on_epoch=None,
          on_evaluating=None, should_stop=None, start_epoch=0, initial_params=None, batch_event_every=50,
          eval_batch_size=EVAL_BATCH_SIZE) -> TrainResult:
    """Train on uint8 (N, 28, 28) images, scoring the eval set after each epoch.

    Epochs run from start_epoch + 1 to hp.epochs; to resume after a lost worker, pass the last finished
    epoch and its checkpoint as initial_params (the momentum is not in a checkpoint, so it restarts at zero).
    should_stop is asked before every training batch and every evaluation batch.
    """
    ctx = ctx or mx.cpu()
    mx.random.seed(hp.seed)
    np.random.seed(hp.seed)
    order = np.random.permutation(len(train_y))
    batch_size = min(hp.batch_size, len(train_y))
    batches = _batches(np.asarray(train_x)[order], np.asarray(train_y)[order], batch_size, hp.normalize, ctx)

    symbol = lenet()
    model = mx.mod.Module(symbol, data_names=["data"], label_names=[LABEL], context=ctx)
    model.bind([("data", (batch_size, *INPUT_SHAPE))], [(LABEL, (batch_size,))])
    arg_params, aux_params = params_from_bytes(initial_params) if initial_params else (None, None)
    model.init_params(mx.init.Uniform(hp.init_scale), arg_params=arg_params, aux_params=aux_params)
    model.init_optimizer(optimizer="sgd", optimizer_params={
        "learning_rate": hp.learning_rate, "momentum": hp.momentum, "wd": hp.weight_decay,
        "rescale_grad": 1.0 / batch_size})
    scorer = _Scorer(symbol, eval_x, eval_y, hp.normalize, eval_batch_size, ctx)

    history, stopped = [], False
    for epoch in range(start_epoch + 1, hp.epochs + 1):
        started = time.perf_counter()
        right, previous = mx.nd.zeros((1,), ctx), None  # right answers so far this epoch, counted on the device
        for number, batch in enumerate(batches, start=1):
            if should_stop and should_stop():
                stopped = True
                break
            model.forward_backward(batch)
            model.update()
            hits = _hits(model.get_outputs()[0], batch.label[0])
            right += hits
            if previous is not None:
                previous.wait_to_read()  # MXNet runs at most one batch ahead of this loop
            previous = hits
            if on_batch and (number % batch_event_every == 0 or number == len(batches)):
                accuracy = right.asscalar() / (number * batch_size)  # the one read-back: waits for this batch
                rate = number * batch_size / (time.perf_counter() - started)
                on_batch(BatchProgress(epoch, number, len(batches), float(accuracy), rate))
        if stopped:
            break
        if on_evaluating:
            on_evaluating(epoch)
        weights = model.get_params()
        test_accuracy = scorer.accuracy(*weights, should_stop)
        if test_accuracy is None:
            stopped = True
            break
        train_accuracy = float(right.asscalar() / (len(batches) * batch_size))
        result = EpochResult(epoch, train_accuracy, test_accuracy, time.perf_counter() - started,
                             params_to_bytes(*weights))
        history.append(result)
        if on_epoch:
            on_epoch(result)
    return TrainResult(symbol.tojson(), params_to_bytes(*model.get_params()), history, stopped)


def _batches(images, labels, batch_size: int, normalize: bool, ctx) -> list[mx.io.DataBatch]:
    """The training batches as NDArrays, made once; a short last batch is padded from the start, as R's arrayiter
    does (and, as there, the padding is trained on and counted in the train accuracy)."""
    labels = _float_labels(images, labels)
    pad = -len(labels) % batch_size
    images = network_input(images, normalize)
    data = mx.nd.array(np.concatenate([images, images[:pad]]), ctx)
    label = mx.nd.array(np.concatenate([labels, labels[:pad]]), ctx)
    return [mx.io.DataBatch([data[start:start + batch_size]], [label[start:start + batch_size]])
            for start in range(0, len(label), batch_size)]


def _float_labels(images, labels) -> np.ndarray:
    """One label per image, as float32 (what MXNet's label arrays hold)."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return labels.astype(np.float32)


def _hits(probabilities: mx.nd.NDArray, labels: mx.nd.NDArray) -> mx.nd.NDArray:
    """How many rows' most probable class is their label, as a one-element NDArray (nothing is read back)."""
    return (mx.nd.argmax(probabilities, axis=1) == labels).sum()


class _Scorer:
    """The eval set's accuracy under given weights, with one inference executor bound once."""

    def __init__(self, symbol, images, labels, normalize: bool, batch_size: int, ctx):
        labels = _float_labels(images, labels)
        self.count = len(labels)
        self.images = mx.nd.array(network_input(images, normalize), ctx)
        self.labels = mx.nd.array(labels, ctx)
        # Not grad_req="null": MXNet's MKLDNN subgraph fusion, which that turns on, ran 2-3x slower here and keeps the
        # weights it was first given (later copies go unseen). No backward runs.
        self.executor = symbol.simple_bind(ctx, grad_req="write", data=(min(batch_size, self.count), *INPUT_SHAPE))

    def accuracy(self, arg_params: dict, aux_params: dict, should_stop=None) -> float | None:
        """Share of eval images whose most probable class is their label; None when should_stop said stop."""
        self.executor.copy_params_from(arg_params, aux_params)
        data, right = self.executor.arg_dict["data"], mx.nd.zeros((1,), self.images.context)
        for start in range(0, self.count, len(data)):
            if should_stop and should_stop():
                return None
            size = min(len(data), self.count - start)
            data[:size] = self.images[start:start + size]  # a short last batch: the rows after `size` are ignored
            probabilities = self.executor.forward(is_train=False)[0]
            right += _hits(probabilities[:size], self.labels[start:start + size])
        return float(right.asscalar()) / self.count
