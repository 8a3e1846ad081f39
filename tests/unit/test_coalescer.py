"""The gateway's Predict coalescer: calls that wait together travel together, each caller gets exactly its own
rows, an error reaches every caller of its group, and a caller's deadline is its own."""
import threading
import time

import numpy as np
import pytest

from lenet_services.errors import DeadlineExceeded, NotFound
from lenet_services.gateway.coalescer import Coalescer


class Worker:
    """Answers each image with a row holding its first pixel; records the groups it was sent. `gate` holds it;
    `entered` is set once a group has reached it (before the gate)."""

    def __init__(self):
        self.groups, self.gate, self.entered = [], threading.Event(), threading.Event()
        self.gate.set()

    def send(self, lane, model_id, images, deadline):
        self.entered.set()
        self.gate.wait()
        self.groups.append((lane, model_id, len(images)))
        if model_id == "missing":
            raise NotFound("model 'missing' not found")
        return np.repeat(images[:, :1, 0].astype(np.float32), 10, axis=1)


def images(*firsts: int, dtype=np.uint8) -> np.ndarray:
    array = np.zeros((len(firsts), 28, 28), dtype)
    array[:, 0, 0] = firsts
    return array


def queued(coalescer: Coalescer, calls: int, waiting: int, timeout: float = 5) -> None:
    """Wait until `calls` calls in all have been put on the coalescer's queue and `waiting` of them are still there
    (its gatherer holds one while all senders are busy). A queue counts its puts in unfinished_tasks (the
    coalescer calls no task_done), so a moment when some calls are not yet put does not pass."""
    end = time.monotonic() + timeout
    while (coalescer.calls.unfinished_tasks, coalescer.calls.qsize()) != (calls, waiting):
        assert time.monotonic() < end, (f"{coalescer.calls.unfinished_tasks} calls put and {coalescer.calls.qsize()} "
                                        f"waiting after {timeout} s, not {calls} and {waiting}")
        time.sleep(0.01)


def test_a_lone_call_goes_at_once_and_gets_its_rows():
    worker = Worker()
    coalescer = Coalescer(worker.send, most_images=64)
    rows = coalescer.predict("cpu.serve", "m", images(3, 4), time.monotonic() + 5)
    assert rows[:, 0].tolist() == [3, 4] and worker.groups == [("cpu.serve", "m", 2)]


def test_calls_waiting_while_the_senders_are_busy_travel_together():
    worker = Worker()
    coalescer = Coalescer(worker.send, most_images=64, senders=1)
    worker.gate.clear()                                 # the one sender is busy with the first call
    results = {}

    def call(name, model, firsts, dtype=np.uint8):
        results[name] = coalescer.predict("cpu.serve", model, images(*firsts, dtype=dtype), time.monotonic() + 5)

    threads = [threading.Thread(target=call, args=("first", "m", [1]))]
    threads[0].start()
    assert worker.entered.wait(5)                       # the first call is at the sender, alone
    threads += [threading.Thread(target=call, args=(f"c{i}", "m", [10 * i, 10 * i + 1])) for i in range(5)]
    threads += [threading.Thread(target=call, args=("float", "m", [99], np.float32)),
                threading.Thread(target=call, args=("other", "n", [7]))]
    for thread in threads[1:]:
        thread.start()
    queued(coalescer, calls=8, waiting=6)               # the other seven wait: one held by the gatherer, six queued
    worker.gate.set()
    for thread in threads:
        thread.join(5)
    assert worker.groups[0] == ("cpu.serve", "m", 1)
    assert sorted(worker.groups[1:]) == [("cpu.serve", "m", 11), ("cpu.serve", "n", 1)]
    for i in range(5):
        assert results[f"c{i}"][:, 0].tolist() == [10 * i, 10 * i + 1]
    assert results["float"][:, 0].tolist() == [99] and results["other"][:, 0].tolist() == [7]


def test_groups_are_cut_at_the_most_images():
    worker = Worker()
    coalescer = Coalescer(worker.send, most_images=4, senders=1)
    worker.gate.clear()
    threads = [threading.Thread(target=coalescer.predict, args=("cpu.serve", "m", images(1, 2, 3), time.monotonic()
                                                                 + 5)) for _ in range(3)]
    threads[0].start()
    assert worker.entered.wait(5)                       # the first call is at the sender, alone
    for thread in threads[1:]:
        thread.start()
    queued(coalescer, calls=3, waiting=1)               # the other two wait together: 6 images, to cut at 4
    worker.gate.set()
    for thread in threads:
        thread.join(5)
    assert [size for _, _, size in worker.groups] == [3, 3, 3]


def test_an_error_reaches_its_callers_and_a_deadline_is_each_callers_own():
    worker = Worker()
    coalescer = Coalescer(worker.send, most_images=64)
    with pytest.raises(NotFound, match="missing"):
        coalescer.predict("cpu.serve", "missing", images(1), time.monotonic() + 5)
    worker.gate.clear()
    with pytest.raises(DeadlineExceeded):
        coalescer.predict("cpu.serve", "m", images(1), time.monotonic() + 0.2)
    worker.gate.set()

