"""The serving process's dynamic batcher: concurrent calls for one model run as one padded forward pass, each
caller gets exactly its own rows, and a batch never mixes models or grows past its bound."""
import threading
from concurrent.futures import Future

import numpy as np
import pytest

from lenet_workers.batcher import Batcher


class RowEcho:
    """A predictor whose 'probabilities' for an image are its first pixel, ten times: rows are easy to trace."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []    # (images, batch_size) of each forward pass

    def predict(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        self.calls.append((len(images), batch_size))
        return np.repeat(images.reshape(len(images), -1)[:, :1].astype(np.float32), 10, axis=1)


def images(*values: int) -> np.ndarray:
    return np.stack([np.full((28, 28), value, np.uint8) for value in values])


def while_busy(batcher: Batcher, calls: list[tuple[str, np.ndarray]]) -> list[Future]:
    """Queue `calls` while the MXNet thread is held by other work, then let it go: they all wait together. Their
    futures."""
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=batcher.run, args=(lambda: (started.set(), release.wait()),))
    holder.start()
    assert started.wait(5), "the MXNet thread did not take the holding work"
    futures = [batcher.predict(model_id, pixels) for model_id, pixels in calls]
    release.set()
    holder.join(5)
    return futures


def results(futures: list[Future]) -> list[np.ndarray]:
    return [future.result(timeout=5) for future in futures]


@pytest.fixture
def models():
    return {"a": RowEcho(), "b": RowEcho()}


def test_waiting_calls_for_one_model_run_as_one_padded_pass_each_getting_its_rows(models):
    batcher = Batcher(models.__getitem__, max_batch=64)
    first, second, other, third = results(while_busy(batcher, [("a", images(1)), ("a", images(2, 3)),
                                                               ("b", images(9)), ("a", images(4, 5))]))
    assert models["a"].calls == [(8, 8)]          # 5 images padded to the next power of two, one pass
    assert models["b"].calls == [(1, 1)]          # another model: a pass of its own
    assert first[:, 0].tolist() == [1] and second[:, 0].tolist() == [2, 3] and third[:, 0].tolist() == [4, 5]
    assert other[:, 0].tolist() == [9] and first.shape == (1, 10)
    assert (batcher.batches, batcher.predictions) == (2, 6)


def test_a_batch_stops_at_its_bound_and_the_rest_follow(models):
    batcher = Batcher(models.__getitem__, max_batch=4)
    rows = results(while_busy(batcher, [("a", images(1, 2)), ("a", images(3, 4)), ("a", images(5, 6))]))
    assert models["a"].calls == [(4, 4), (2, 2)]
    assert [result[:, 0].tolist() for result in rows] == [[1, 2], [3, 4], [5, 6]]


def test_one_call_larger_than_the_bound_runs_in_the_engines_own_batches(models):
    batcher = Batcher(models.__getitem__, max_batch=4)
    result = batcher.predict("a", images(*range(10))).result(timeout=5)
    assert models["a"].calls == [(10, 1000)] and result[:, 0].tolist() == list(range(10))


def test_a_failing_pass_fails_every_caller_in_it_and_the_next_pass_runs(models):
    def predictor_of(model_id: str):
        if model_id == "broken":
            raise ValueError("model broken cannot be loaded")
        return models[model_id]

    batcher = Batcher(predictor_of, max_batch=64)
    *broken, fine = while_busy(batcher, [("broken", images(1)), ("broken", images(2)), ("a", images(7))])
    for future in broken:
        with pytest.raises(ValueError, match="cannot be loaded"):
            future.result(timeout=5)
    assert fine.result(timeout=5)[:, 0].tolist() == [7]


def test_work_runs_on_the_same_thread_and_its_error_reaches_the_caller(models):
    batcher = Batcher(models.__getitem__)
    threads = {batcher.run(lambda: threading.current_thread().name) for _ in range(3)}
    assert threads == {"mxnet"}
    with pytest.raises(ZeroDivisionError):
        batcher.run(lambda: 1 / 0)
