"""Training LeNet the way the seed's `mx.model.FeedForward.create` call does, one linear loop.

R's defaults reproduced: weights uniform in ±0.01 and biases zero (`mx.init.uniform(0.01)`, init_scale), SGD with
momentum and weight decay, gradients rescaled by 1/batch size, and the training set shuffled once, the
same order for every epoch (R's `mx.io.arrayiter` shuffles when it is built, not on reset).
"""
import time
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np

from protos.contract import HyperParams
from workers.engine.checkpoint import params_from_bytes, params_to_bytes
from workers.engine.lenet import LABEL, lenet, network_input


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
          on_evaluating=None, should_stop=None, start_epoch=0, initial_params=None, batch_event_every=50
          ) -> TrainResult:
    """Train on uint8 (N, 28, 28) images, scoring the eval set after each epoch.

    Epochs run from start_epoch + 1 to hp.epochs; to resume after a lost worker, pass the last finished
    epoch and its checkpoint as initial_params (the momentum is not in a checkpoint, so it restarts at zero).
    """
    mx.random.seed(hp.seed)
    np.random.seed(hp.seed)
    order = np.random.permutation(len(train_y))
    batch_size = min(hp.batch_size, len(train_y))
    train_iter = _iterator(np.asarray(train_x)[order], np.asarray(train_y)[order], batch_size, hp.normalize)
    eval_iter = _iterator(eval_x, eval_y, batch_size, hp.normalize)
    batches = -(-len(train_y) // batch_size)

    symbol = lenet()
    model = mx.mod.Module(symbol, data_names=["data"], label_names=[LABEL], context=ctx or mx.cpu())
    model.bind(train_iter.provide_data, train_iter.provide_label)
    arg_params, aux_params = params_from_bytes(initial_params) if initial_params else (None, None)
    model.init_params(mx.init.Uniform(hp.init_scale), arg_params=arg_params, aux_params=aux_params)
    model.init_optimizer(optimizer="sgd", optimizer_params={
        "learning_rate": hp.learning_rate, "momentum": hp.momentum, "wd": hp.weight_decay,
        "rescale_grad": 1.0 / batch_size})

    metric, history, stopped = mx.metric.Accuracy(), [], False
    for epoch in range(start_epoch + 1, hp.epochs + 1):
        started = time.perf_counter()
        metric.reset()
        train_iter.reset()
        for batch_number, batch in enumerate(train_iter, start=1):
            if should_stop and should_stop():
                stopped = True
                break
            model.forward_backward(batch)
            model.update()
            model.update_metric(metric, batch.label)  # reads the outputs back, so timings below are real
            if on_batch and (batch_number % batch_event_every == 0 or batch_number == batches):
                rate = batch_number * batch_size / (time.perf_counter() - started)
                on_batch(BatchProgress(epoch, batch_number, batches, metric.get()[1], rate))
        if stopped:
            break
        if on_evaluating:
            on_evaluating(epoch)
        result = EpochResult(epoch, metric.get()[1], _accuracy(model, eval_iter, eval_y),
                             time.perf_counter() - started, params_to_bytes(*model.get_params()))
        history.append(result)
        if on_epoch:
            on_epoch(result)
    return TrainResult(symbol.tojson(), params_to_bytes(*model.get_params()), history, stopped)


def _iterator(images, labels, batch_size: int, normalize: bool) -> mx.io.NDArrayIter:
    """Batches in the given order; a short last batch is padded from the start, as R's arrayiter does."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return mx.io.NDArrayIter({"data": network_input(images, normalize)}, {LABEL: labels.astype(np.float32)},
                             batch_size=batch_size, shuffle=False, last_batch_handle="pad")


def _accuracy(model: mx.mod.Module, data: mx.io.NDArrayIter, labels) -> float:
    """Share of correct predictions; Module.predict drops the padding of the last batch."""
    predicted = model.predict(data).asnumpy().argmax(axis=1)
    return float((predicted == np.asarray(labels)).mean())
