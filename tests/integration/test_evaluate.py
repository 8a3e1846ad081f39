"""Evaluate and Predict end to end: real gateway, real Celery workers, real Redis, the session's small model.

The evaluation is checked against the service's own Predict on the same images, with the statistics
recomputed locally by the engine's caret-exact module.
"""
import math
import struct

import grpc
import matplotlib.image as mpimg
import numpy as np
import pytest
from lenet_cli import run, strict_json, write_idx
from PIL import Image

from lenet_clients.client import class_statistics, confusion_matrix, misclassified, overall_statistics
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import Store
from lenet_workers.engine import stats

N = 1000


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def same(a: float, b: float) -> bool:
    return math.isnan(a) and math.isnan(b) or a == pytest.approx(b, rel=1e-9, abs=1e-12)


@pytest.fixture(scope="module")
def model_id(trained_model) -> str:
    assert trained_model.state == pb.SUCCEEDED, trained_model.error
    return trained_model.model_id


@pytest.fixture(scope="module")
def first(client):
    """The first N test images and labels, fetched through GetSamples."""
    return client.samples(range(N))


@pytest.fixture(scope="module")
def predicted(client, model_id, first):
    probabilities, labels = client.predict(model_id, first[0])
    return probabilities, labels


@pytest.fixture(scope="module")
def evaluation(client, model_id) -> pb.Evaluation:
    job = client.evaluate(model_id, limit=N)
    assert job.kind == pb.EVALUATE and job.queue == "cpu.serve" and job.model_id == model_id
    finished = client.wait(job.id)
    assert finished.state == pb.SUCCEEDED, finished.error
    result = client.evaluation(job.id)
    assert finished.accuracy == result.overall.accuracy
    return result


def test_matrix_counts_every_sample_in_carets_orientation(evaluation, first, predicted):
    table = confusion_matrix(evaluation)
    assert evaluation.samples == N and table.sum() == N
    assert list(evaluation.labels) == [str(k) for k in range(10)]
    truth, labels = first[1], predicted[1]
    np.testing.assert_array_equal(np.diag(table), np.bincount(truth[labels == truth], minlength=10))
    rows_are_predictions = stats.confusion_table(labels, truth)
    np.testing.assert_array_equal(table, rows_are_predictions)
    assert not np.array_equal(table, table.T)           # orientation matters for this model


def test_statistics_equal_the_engine_on_predict_output(evaluation, first, predicted):
    table = stats.confusion_table(predicted[1], first[1])
    local = stats.overall(table)
    remote = overall_statistics(evaluation)
    assert list(remote) == list(stats.OVERALL_NAMES)
    assert all(same(remote[name], local[name]) for name in local), (remote, local)
    assert 0.8 < remote["Accuracy"] < 1 and remote["AccuracyLower"] < remote["Accuracy"] < remote["AccuracyUpper"]
    local_rows = stats.by_class(table, [str(k) for k in range(10)])
    for got, want in zip(class_statistics(evaluation), local_rows, strict=True):
        assert got["Class"] == want["Class"]
        assert all(same(got[name], want[name]) for name in stats.BY_CLASS_NAMES), (got, want)


def test_worst_and_error_cells_agree_with_the_matrix(evaluation, first, predicted):
    table = confusion_matrix(evaluation)
    errors = table.copy()
    np.fill_diagonal(errors, 0)
    worst = {(c.prediction, c.reference) for c in evaluation.worst}
    assert worst == {tuple(cell) for cell in np.argwhere(errors == errors.max())}
    assert {(c.prediction, c.reference) for c in evaluation.errors} == {tuple(c) for c in np.argwhere(errors)}
    truth, labels = first[1], predicted[1]
    for cell in [*evaluation.worst, *evaluation.errors]:
        assert cell.count == table[cell.prediction, cell.reference] == len(cell.indices)
        assert all(labels[cell.indices] == cell.prediction) and all(truth[cell.indices] == cell.reference)
    assert sum(c.count for c in evaluation.errors) == N - np.trace(table)


def test_misclassified_probabilities_are_predicts(evaluation, first, predicted):
    indices, predictions, references, probabilities = misclassified(evaluation)
    np.testing.assert_array_equal(indices, np.flatnonzero(predicted[1] != first[1]))
    np.testing.assert_array_equal(predictions, predicted[1][indices])
    np.testing.assert_array_equal(references, first[1][indices])
    np.testing.assert_allclose(probabilities, predicted[0][indices], rtol=1e-5, atol=1e-6)
    assert np.all(probabilities.argmax(axis=1) == predictions)


def test_predict_answers_probabilities_for_every_image_format(client, model_id, first, predicted):
    probabilities, labels = predicted
    assert probabilities.shape == (N, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))
    images = first[0][:20]
    as_float, float_labels = client.predict(model_id, images.astype(np.float32)[:, None])   # N×1×28×28 float32
    np.testing.assert_allclose(as_float, probabilities[:20], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(float_labels, labels[:20])
    one, one_label = client.predict(model_id, images[3])                                   # a single 28×28
    assert one.shape == (1, 10) and one_label[0] == labels[3]


def test_uploaded_images_and_chosen_indices(client, model_id, evaluation, first, predicted):
    images, truth = first[0][:200], first[1][:200]
    uploaded = client.evaluate_and_wait(model_id, images=images, labels=truth)
    np.testing.assert_array_equal(confusion_matrix(uploaded), stats.confusion_table(predicted[1][:200], truth))
    assert uploaded.samples == 200
    assert uploaded.dataset.images.shape == [200, 28, 28] and not uploaded.dataset.images.data   # pixels not echoed
    assert all(0 <= i < 200 for cell in uploaded.errors for i in cell.indices)

    chosen = [999, 5, 640, 17, 3, 250]
    picked = client.evaluate_and_wait(model_id, indices=chosen)
    np.testing.assert_array_equal(confusion_matrix(picked),
                                  stats.confusion_table(predicted[1][chosen], first[1][chosen]))
    wrong = {int(i) for i in np.array(chosen)[predicted[1][chosen] != first[1][chosen]]}
    assert {i for cell in picked.errors for i in cell.indices} == wrong    # split indices, not positions


def test_bad_requests_are_invalid_argument_naming_the_field(client, model_id):
    images = np.zeros((2, 28, 28), np.uint8)
    cases = {
        "images": [lambda: client.predict(model_id, np.zeros((2, 28, 27), np.uint8)),
                   lambda: client.predict(model_id, np.zeros((2, 28, 28), np.int64)),
                   lambda: client.predict(model_id, np.full((2, 28, 28), np.nan, np.float32)),
                   lambda: client.stub.Predict(pb.PredictRequest(model_id=model_id)),
                   lambda: client.stub.Predict(pb.PredictRequest(model_id=model_id, images=pb.Tensor(
                       shape=[2, 28, 28], dtype=pb.UINT8, data=b"\0" * 100)))],
        "model_id": [lambda: client.predict("", images), lambda: client.evaluate("", limit=10)],
        "dataset.labels": [lambda: client.evaluate(model_id, images=images),
                           lambda: client.evaluate(model_id, images=images, labels=[1, 2, 3]),
                           lambda: client.evaluate(model_id, images=images, labels=[1, 12])],
        "dataset.images": [lambda: client.evaluate(model_id, images=images[:, :20], labels=[1, 2])],
        "dataset.indices": [lambda: client.evaluate(model_id, indices=[0, 10_000])],
        "dataset.split": [lambda: client.evaluate(model_id, split="valid")],
        "dataset.limit": [lambda: client.evaluate(model_id, limit=-1)],
    }
    for field, calls in cases.items():
        for call in calls:
            error = rpc_error(call)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
            assert error.details().startswith(field + ":"), (field, error.details())


def test_too_many_images_is_resource_exhausted(client, model_id):
    many = np.zeros((10_001, 28, 28), np.uint8)
    for call in (lambda: client.predict(model_id, many),
                 lambda: client.evaluate(model_id, images=many, labels=np.zeros(10_001, np.int64))):
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "at most 10,000 images" in error.details()


def test_unknown_ids_are_not_found(client):
    for call in (lambda: client.predict("feedfacefeedface", np.zeros((1, 28, 28), np.uint8)),
                 lambda: client.evaluate("feedfacefeedface", limit=10),
                 lambda: client.evaluation("deadbeefdeadbeef")):
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "deadbeef" in error.details() or "feedface" in error.details()


def test_evaluation_before_success_is_failed_precondition(client, model_id, trained_model):
    error = rpc_error(lambda: client.evaluation(trained_model.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "TRAIN" in error.details()
    waiting = client.evaluate(model_id, limit=10, device="gpu")          # no GPU worker: stays QUEUED
    assert waiting.queue == "gpu.serve"
    error = rpc_error(lambda: client.evaluation(waiting.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "QUEUED" in error.details()
    client.cancel(waiting.id)
    error = rpc_error(lambda: client.evaluation(waiting.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "CANCELLED" in error.details()


def test_worker_side_failures_keep_their_meaning(client, stack):
    """A model the gateway finds but a worker cannot load: Predict says INTERNAL, the evaluation job FAILS."""
    store = Store(stack.redis_url)
    try:
        broken = store.models.save(pb.Model(name="broken", device=pb.CPU), "{not json", b"", pb.Graph())
    finally:
        store.close()
    error = rpc_error(lambda: client.predict(broken.id, np.zeros((1, 28, 28), np.uint8)))
    assert error.code() == grpc.StatusCode.INTERNAL and broken.id in error.details()
    job = client.wait(client.evaluate(broken.id, limit=10).id)
    assert job.state == pb.FAILED and broken.id in job.error
    error = rpc_error(lambda: client.evaluation(job.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "FAILED" in error.details()
    assert job.error in error.details()


def test_cli_evaluate_json_and_plots(stack, model_id, tmp_path):
    done = run("evaluate", model_id, "--limit", "300", "--plots", str(tmp_path), "--json", gateway=stack.address)
    assert done.returncode == 0, done.stderr
    document = strict_json(done.stdout)
    assert document["samples"] == 300 and sum(document["confusion_matrix"]) == 300
    assert len(document["confusion_matrix"]) == 100 and len(document["by_class"]) == 10
    assert set(document["overall"]) == {"accuracy", "kappa", "accuracy_lower", "accuracy_upper", "accuracy_null",
                                        "accuracy_p_value", "mcnemar_p_value"}
    worst = document["worst"][0]
    assert worst["count"] == len(worst["indices"]) > 0
    for name in ("confusion.png", "worst-digits.png", "worst-probabilities.png"):
        image = mpimg.imread(tmp_path / name)
        assert image.shape[0] > 200 and image.shape[1] > 400 and image[..., :3].std() > 0, name


def test_cli_evaluate_prints_carets_layout(stack, model_id):
    done = run("evaluate", model_id, "--limit", "300", gateway=stack.address)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index("          Reference")
    assert lines[at + 1].split() == ["Prediction", *map(str, range(10))]
    counts = np.array([line.split()[1:] for line in lines[at + 2:at + 12]], dtype=int)
    assert [line.split()[0] for line in lines[at + 2:at + 12]] == list(map(str, range(10)))
    assert counts.sum() == 300
    for heading in ("Overall Statistics", "Statistics by Class:", "Worst case"):
        assert any(line.startswith(heading) for line in lines), heading
    assert "AccuracyPValue  McnemarPValue " in done.stdout and "Class: 0" in done.stdout


def test_cli_predict_png_and_idx(client, stack, model_id, first, predicted, tmp_path):
    images = first[0][:4]
    Image.fromarray(255 - images[0]).resize((56, 56)).save(tmp_path / "dark-on-light.png")    # like a drawing
    Image.fromarray(images[1]).save(tmp_path / "mnist-style.png")
    write_idx(tmp_path / "digits-idx3-ubyte.gz", images[2:4])
    done = run("predict", model_id, str(tmp_path / "mnist-style.png"), str(tmp_path / "digits-idx3-ubyte.gz"),
               "--json", gateway=stack.address)
    assert done.returncode == 0, done.stderr
    rows = strict_json(done.stdout)["predictions"]
    assert [row["source"] for row in rows] == ["mnist-style.png", "digits-idx3-ubyte.gz[0]", "digits-idx3-ubyte.gz[1]"]
    assert [row["label"] for row in rows] == predicted[1][1:4].tolist()
    np.testing.assert_allclose([row["probabilities"] for row in rows], predicted[0][1:4], rtol=1e-5, atol=1e-6)

    inverted = run("predict", model_id, str(tmp_path / "dark-on-light.png"), "--invert", gateway=stack.address)
    assert inverted.returncode == 0, inverted.stderr
    expected = client.predict(model_id, np.asarray(Image.fromarray(images[0]).resize((56, 56)).resize(
        (28, 28), Image.Resampling.LANCZOS)))[1][0]
    assert inverted.stdout.splitlines()[1].split()[:2] == ["dark-on-light.png", str(expected)]

    labels_file = tmp_path / "labels-idx1-ubyte"
    labels_file.write_bytes(struct.pack(">BBBBI", 0, 0, 0x08, 1, 2) + bytes([3, 4]))
    refused = run("predict", model_id, str(labels_file), gateway=stack.address)
    assert refused.returncode == 2 and "labels file" in refused.stderr
