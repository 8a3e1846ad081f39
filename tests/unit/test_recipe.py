"""The recipe options and the validation split in the engine and the data layer, on real MNIST: absent options
train exactly as the seed's engine did, given ones are reproducible from the seed, and validation never meets train."""
import subprocess
import types
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from lenet_protos import contract, mnist
from lenet_protos.contract import HyperParams
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_workers.datasets import resolve
from lenet_workers.engine import augment
from lenet_workers.engine.inference import Predictor
from lenet_workers.engine.lenet import Pixels, network_input
from lenet_workers.engine.training import _optimizer_params, train

ROOT = Path(__file__).resolve().parents[2]
# The engine as it was before the recipe options (main at the start of issue 18's recipe work): the reference that
# absent options must reproduce bit for bit.
SEED_ENGINE = "8191dd2023a4bd53df06eed6b48d056ee15d5e7f"
RECIPE = dict(normalize=True, input_mean=0.13, input_std=0.31, lr_schedule="cosine", warmup_epochs=0.5,
              nesterov=True, reshuffle=True, augment_shift=2.0, augment_rotation=10.0, augment_scale=0.1,
              init_scale=0.07, batch_size=50)


@pytest.fixture(scope="module")
def small(data_dir):
    train_x, train_y = mnist.load_split("train", data_dir)
    test_x, test_y = mnist.load_split("test", data_dir)
    return train_x[:300], train_y[:300], test_x[:100], test_y[:100]


def seed_engine() -> types.ModuleType:
    """workers/engine/training.py at SEED_ENGINE, run against today's network module (its network_input took a
    `normalize` flag where today's takes Pixels)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{SEED_ENGINE}:workers/engine/training.py"],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("seed_training")
    exec(compile(source, "seed_training.py", "exec"), module.__dict__)
    module.network_input = lambda images, normalize=False: network_input(images, Pixels(normalize))
    return module


@pytest.mark.parametrize("given", [{}, {"normalize": True, "momentum": 0.0}], ids=["seed", "normalized-sgd"])
def test_absent_recipe_fields_train_bit_for_bit_as_the_seeds_engine(small, given):
    hp = contract.hyper_params(pb.HyperParameters(epochs=2, batch_size=50, **given))
    before, now = seed_engine().train(hp, *small), train(hp, *small)
    assert now.params == before.params
    assert [(h.train_accuracy, h.test_accuracy) for h in now.history] == \
        [(h.train_accuracy, h.test_accuracy) for h in before.history]
    assert all(h.validation_accuracy is None for h in now.history)


def test_recipe_options_are_reproducible_from_the_seed(small):
    first, second = (train(HyperParams(epochs=2, **RECIPE), *small) for _ in range(2))
    assert first.params == second.params
    assert train(HyperParams(epochs=2, **{**RECIPE, "seed": 7}), *small).params != first.params
    resumed = train(HyperParams(epochs=2, **RECIPE), *small, start_epoch=1, initial_params=first.history[0].params)
    assert resumed.history[0].train_accuracy > 0   # epoch 2 alone: its own shuffle, augmentation and rate


def test_augmentation_moves_each_image_its_own_way_within_the_frame(small):
    images = mx.nd.array(small[0][:64, None].astype(np.float32))
    same = augment.affine(images, np.random.RandomState(0), 0.0, 0.0, 0.0).asnumpy()
    np.testing.assert_allclose(same, images.asnumpy(), atol=1e-3)
    moved = augment.affine(images, np.random.RandomState(0), 2.0, 10.0, 0.1).asnumpy()
    again = augment.affine(images, np.random.RandomState(0), 2.0, 10.0, 0.1).asnumpy()
    assert np.array_equal(moved, again) and moved.min() >= 0 and moved.max() <= 255.01
    changed = np.abs(moved - images.asnumpy()).reshape(64, -1).max(axis=1)
    assert (changed > 10).all()   # every image moved
    ink = moved.reshape(64, -1).sum(axis=1) / images.asnumpy().reshape(64, -1).sum(axis=1)
    assert (0.7 < ink).all() and (ink < 1.3).all()   # scaled by at most 10 % a side: the digit stays in frame


@pytest.mark.parametrize("schedule, at, rate", [
    (dict(lr_schedule="cosine", warmup_epochs=1.0), (5, 10, 55, 100), (0.05, 0.1, 0.05, 0.0)),
    (dict(lr_schedule="step", lr_step_epochs=3, lr_step_factor=0.5), (1, 30, 31, 61), (0.1, 0.1, 0.05, 0.025)),
    (dict(warmup_epochs=2.0), (10, 20, 100), (0.05, 0.1, 0.1)),
])
def test_learning_rate_schedules(schedule, at, rate):
    """10 epochs of 10 steps at learning rate 0.1; MXNet's step counter starts at 1."""
    params = _optimizer_params(HyperParams(epochs=10, learning_rate=0.1, **schedule), 100, 10, 0)
    assert [params["lr_scheduler"](step) for step in at] == pytest.approx(rate, abs=1e-9)
    resumed = _optimizer_params(HyperParams(epochs=10, learning_rate=0.1, **schedule), 100, 10, 4)
    assert resumed["begin_num_update"] == 40


def test_the_seeds_constant_rate_has_no_scheduler():
    assert "lr_scheduler" not in _optimizer_params(HyperParams(), 100, 600, 0)


def test_validation_is_scored_beside_the_test_set_or_instead_of_it(small, data_dir):
    validation_x, validation_y = mnist.load_split("validation", data_dir)
    hp = HyperParams(epochs=2, batch_size=50)
    both = train(hp, *small, validation_x=validation_x[:120], validation_y=validation_y[:120])
    only = train(hp, *small[:2], None, None, validation_x=validation_x[:120], validation_y=validation_y[:120])
    assert both.params == only.params   # scoring never changes training
    for epoch in both.history:
        predicted = Predictor(both.symbol_json, epoch.params).predict(validation_x[:120]).argmax(axis=1)
        assert epoch.validation_accuracy == (predicted == validation_y[:120]).mean()
    assert [h.validation_accuracy for h in only.history] == [h.validation_accuracy for h in both.history]
    assert all(h.test_accuracy is None for h in only.history)


def test_a_model_is_fed_as_it_was_trained(small):
    hp = HyperParams(epochs=1, batch_size=50, normalize=True, input_mean=0.5, input_std=0.25)
    result = train(hp, *small)
    scaled = Predictor(result.symbol_json, result.params, pixels=Pixels.of(hp)).predict(small[2]).argmax(axis=1)
    assert result.history[0].test_accuracy == (scaled == small[3]).mean()
    np.testing.assert_allclose(network_input(small[2][:2], Pixels.of(hp)), (small[2][:2, None] / 255 - 0.5) / 0.25,
                               atol=1e-6)


def test_the_validation_split_is_the_training_files_tail_and_never_meets_train(data_dir):
    train_x, train_y = mnist.load_split("train", data_dir)
    validation_x, validation_y = mnist.load_split("validation", data_dir)
    assert len(validation_x) == contract.VALIDATION_SIZE == contract.SPLIT_SIZES["validation"]
    assert np.array_equal(validation_x, train_x[contract.VALIDATION_START:])
    assert np.array_equal(validation_y, mnist.load_split("validation", data_dir)[1])   # the same every time
    request = pb.TrainRequest(validation_data=pb.Dataset())
    trained = resolve(request.train_data, data_dir, "train_data", contract.train_split_size(request))
    validated = resolve(request.validation_data, data_dir, "validation_data")
    in_the_training_file = validated.indices + contract.VALIDATION_START
    assert len(trained.indices) + len(validated.indices) == contract.TRAINING_FILE_SIZE
    assert not set(trained.indices) & set(in_the_training_file)
    assert np.array_equal(validated.images, train_x[in_the_training_file])
    seed = resolve(pb.TrainRequest().train_data, data_dir, "train_data", contract.train_split_size(pb.TrainRequest()))
    assert len(seed.indices) == 60_000   # no validation_data: the seed's whole training file
