"""Training LeNet the way the seed's `mx.model.FeedForward.create` call does, one linear loop.

R's defaults reproduced: weights uniform in ±0.01 and biases zero (`mx.init.uniform(0.01)`, init_scale), SGD with
momentum and weight decay, gradients rescaled by 1/batch size, and the training set shuffled once, the
same order for every epoch (R's `mx.io.arrayiter` shuffles when it is built, not on reset).

Made cheap without changing what it computes: the batches are NDArrays made once, right answers are counted on
the device and read back only when a callback reports them, MXNet runs at most one batch ahead of this loop (so
should_stop acts within a batch), and the end-of-epoch evaluation reuses one inference executor bound once.

The recipe options (contract.HyperParams beyond the seed's) change it only when given: input scaling (Pixels),
a learning-rate schedule with warm-up (MXNet's own schedulers), Nesterov's momentum (MXNet's NAG), a new shuffle and
random affine augmentation every epoch (both drawn from the seed and the epoch, so a resumed job sees the same).
A validation set, when given, is scored after every epoch beside (or instead of) the eval set.
"""
import time
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np

from lenet_protos.contract import INPUT_SHAPE, HyperParams
from lenet_workers.engine import augment
from lenet_workers.engine.checkpoint import params_from_bytes, params_to_bytes
from lenet_workers.engine.lenet import LABEL, Pixels, lenet, network_input

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
    test_accuracy: float | None        # None without an eval set
    elapsed_seconds: float
    params: bytes = field(repr=False)  # `.params` bytes: the checkpoint after this epoch
    validation_accuracy: float | None = None  # None without a validation set


@dataclass
class TrainResult:
    symbol_json: str
    params: bytes = field(repr=False)
    history: list[EpochResult]
    stopped: bool


def train(hp: HyperParams, train_x, train_y, eval_x, eval_y, *, validation_x=None, validation_y=None, ctx=None,
          on_batch=None, on_epoch=None, on_evaluating=None, should_stop=None, start_epoch=0, initial_params=None,
          batch_event_every=50, eval_batch_size=EVAL_BATCH_SIZE) -> TrainResult:
    """Train on uint8 (N, 28, 28) images, scoring the eval set (unless eval_x is None) and the validation set (if
    given) after each epoch.

    Epochs run from start_epoch + 1 to hp.epochs; to resume after a lost worker, pass the last finished
    epoch and its checkpoint as initial_params (the momentum is not in a checkpoint, so it restarts at zero).
    should_stop is asked before every training batch and every evaluation batch.
    """
    ctx = ctx or mx.cpu()
    mx.random.seed(hp.seed)
    np.random.seed(hp.seed)
    order = np.random.permutation(len(train_y))
    batch_size = min(hp.batch_size, len(train_y))
    epochs = _Epochs(np.asarray(train_x)[order], np.asarray(train_y)[order], batch_size, hp, ctx)

    symbol = lenet()
    model = mx.mod.Module(symbol, data_names=["data"], label_names=[LABEL], context=ctx)
    model.bind([("data", (batch_size, *INPUT_SHAPE))], [(LABEL, (batch_size,))])
    arg_params, aux_params = params_from_bytes(initial_params) if initial_params else (None, None)
    model.init_params(mx.init.Uniform(hp.init_scale), arg_params=arg_params, aux_params=aux_params)
    model.init_optimizer(optimizer="nag" if hp.nesterov else "sgd",
                         optimizer_params=_optimizer_params(hp, batch_size, epochs.count, start_epoch))
    sets = {"test": (eval_x, eval_y), "validation": (validation_x, validation_y)}
    scorers = {name: _Scorer(symbol, x, y, Pixels.of(hp), eval_batch_size, ctx)
               for name, (x, y) in sets.items() if x is not None}

    history, stopped = [], False
    for epoch in range(start_epoch + 1, hp.epochs + 1):
        started, batches = time.perf_counter(), epochs.batches(epoch)
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
        accuracy = {name: scorer.accuracy(*weights, should_stop) for name, scorer in scorers.items()}
        if None in accuracy.values():
            stopped = True
            break
        train_accuracy = float(right.asscalar() / (len(batches) * batch_size))
        result = EpochResult(epoch, train_accuracy, accuracy.get("test"), time.perf_counter() - started,
                             params_to_bytes(*weights), accuracy.get("validation"))
        history.append(result)
        if on_epoch:
            on_epoch(result)
    return TrainResult(symbol.tojson(), params_to_bytes(*model.get_params()), history, stopped)


def _optimizer_params(hp: HyperParams, batch_size: int, steps_per_epoch: int, start_epoch: int) -> dict:
    """SGD's settings, with the learning-rate schedule and warm-up (MXNet's schedulers count SGD steps) when asked
    for; a resumed job's schedule goes on from its first epoch's step."""
    params = {"learning_rate": hp.learning_rate, "momentum": hp.momentum, "wd": hp.weight_decay,
              "rescale_grad": 1.0 / batch_size}
    steps, warmup = hp.epochs * steps_per_epoch, round(hp.warmup_epochs * steps_per_epoch)
    rate = {"base_lr": hp.learning_rate, "warmup_steps": min(warmup, steps - 1)}
    if hp.lr_schedule == "cosine":
        schedule = mx.lr_scheduler.CosineScheduler(steps, final_lr=0.0, **rate)
    elif hp.lr_schedule == "step":
        schedule = mx.lr_scheduler.FactorScheduler(hp.lr_step_epochs * steps_per_epoch, hp.lr_step_factor,
                                                   stop_factor_lr=0.0, **rate)
    elif warmup:  # a constant rate after the warm-up
        schedule = mx.lr_scheduler.FactorScheduler(steps + 1, 1.0, **rate)
    else:
        return params
    return {**params, "lr_scheduler": schedule, "begin_num_update": start_epoch * steps_per_epoch}


class _Epochs:
    """Each epoch's training batches. The seed's are made once, on the training set shuffled once (as R's arrayiter);
    with reshuffle or augmentation they are made anew every epoch, drawn from the seed and the epoch number.

    A short last batch is padded from the start, as R's arrayiter does (and, as there, the padding is trained on and
    counted in the train accuracy)."""

    def __init__(self, images, labels, batch_size: int, hp: HyperParams, ctx):
        labels = _float_labels(images, labels)
        pad = -len(labels) % batch_size
        self.hp, self.batch_size, self.count = hp, batch_size, (len(labels) + pad) // batch_size
        self.label = mx.nd.array(np.concatenate([labels, labels[:pad]]), ctx)
        if hp.reshuffle or augment.augments(hp):
            self.pixels = mx.nd.array(np.concatenate([images, images[:pad]])[:, None], ctx, dtype=np.float32)
            self.fixed = None
        else:
            self.fixed = self._slices(mx.nd.array(network_input(np.concatenate([images, images[:pad]]),
                                                                Pixels.of(hp)), ctx), self.label)

    def batches(self, epoch: int) -> list[mx.io.DataBatch]:
        if self.fixed is not None:
            return self.fixed
        hp = self.hp
        rng = np.random.RandomState([hp.seed, epoch])
        pixels, label = self.pixels, self.label
        if hp.reshuffle:
            order = mx.nd.array(rng.permutation(len(label)), label.context)
            pixels, label = mx.nd.take(pixels, order), mx.nd.take(label, order)
        if augment.augments(hp):
            pixels = augment.affine(pixels, rng, hp.augment_shift, hp.augment_rotation, hp.augment_scale)
        return self._slices(Pixels.of(hp).scale(pixels), label)

    def _slices(self, data: mx.nd.NDArray, label: mx.nd.NDArray) -> list[mx.io.DataBatch]:
        size = self.batch_size
        return [mx.io.DataBatch([data[start:start + size]], [label[start:start + size]])
                for start in range(0, len(label), size)]


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

    def __init__(self, symbol, images, labels, pixels: Pixels, batch_size: int, ctx):
        labels = _float_labels(images, labels)
        self.count = len(labels)
        self.images = mx.nd.array(network_input(images, pixels), ctx)
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
