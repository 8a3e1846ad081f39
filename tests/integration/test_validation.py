"""Validation and recipe options through the whole service (real redis-server, Celery workers, gateway): jobs report
validation accuracy per epoch in their events and their model's history, and the validation split can be evaluated
and read like the others."""
import numpy as np
import pytest

from lenet_protos import contract, mnist
from lenet_protos.lenet.v1 import lenet_pb2 as pb


def epoch_events(client, job_id: str) -> list[pb.TrainMetrics]:
    return [event.epoch for event in client.watch(job_id) if event.WhichOneof("kind") == "epoch"]


@pytest.fixture(scope="module")
def validated(client):
    """2 epochs on 300 images, scored on 100 test and 120 validation images."""
    return client.wait(client.train(epochs=2, limit=300, eval_limit=100, validation_limit=120, batch_size=50).id)


def test_validation_accuracy_is_reported_every_epoch_beside_test_accuracy(client, validated):
    assert validated.state == pb.SUCCEEDED, validated.error
    assert (validated.train.validation_data.split, validated.train.validation_data.size) == ("validation", 120)
    epochs = epoch_events(client, validated.id)
    history = client.model(validated.model_id).history
    assert [e.epoch for e in epochs] == [m.epoch for m in history] == [1, 2]
    assert all(e.HasField("validation_accuracy") and 0 < e.validation_accuracy <= 1 and e.test_accuracy > 0
               for e in epochs)
    assert [m.validation_accuracy for m in history] == [e.validation_accuracy for e in epochs]
    assert validated.metrics.validation_accuracy == epochs[-1].validation_accuracy


def test_the_validation_split_is_evaluated_and_read_as_the_training_files_tail(client, validated, data_dir):
    evaluation = client.evaluate_and_wait(validated.model_id, split="validation", limit=120)
    assert evaluation.dataset.split == "validation" and evaluation.samples == 120
    assert evaluation.overall.accuracy == pytest.approx(validated.metrics.validation_accuracy)
    images, labels = client.samples([0, 119], split="validation")
    train_x, train_y = mnist.load_split("train", data_dir)
    assert np.array_equal(images, train_x[[contract.VALIDATION_START, contract.VALIDATION_START + 119]])
    assert list(labels) == list(train_y[[contract.VALIDATION_START, contract.VALIDATION_START + 119]])


def test_validation_only_with_recipe_options_skips_the_test_set(client):
    job = client.wait(client.train(epochs=1, limit=300, validation_limit=100, validation_only=True, batch_size=50,
                                   normalize=True, input_mean=0.13, input_std=0.31, lr_schedule="cosine",
                                   warmup_epochs=0.5, nesterov=True, reshuffle=True, augment_shift=2.0,
                                   augment_rotation=10.0, augment_scale=0.1, init_scale=0.07).id)
    assert job.state == pb.SUCCEEDED, job.error
    events = list(client.watch(job.id))
    (evaluating,) = [e.evaluating for e in events if e.WhichOneof("kind") == "evaluating"]
    (epoch,) = [e.epoch for e in events if e.WhichOneof("kind") == "epoch"]
    assert evaluating.samples == 100 and epoch.test_accuracy == 0 and epoch.HasField("validation_accuracy")
    model = client.model(job.model_id)
    assert (model.hyper_parameters.lr_schedule, model.hyper_parameters.input_std) == ("cosine", pytest.approx(0.31))
    scored = client.evaluate_and_wait(job.model_id, split="validation", limit=100)   # fed as it was trained
    assert scored.overall.accuracy == pytest.approx(epoch.validation_accuracy)
