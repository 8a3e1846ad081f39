"""TaskQueue against a broker that is not there: a real Celery publish to a closed port on loopback."""
import socket

import pytest

from lenet_services.errors import Unavailable
from lenet_services.task_queue import TaskQueue


def test_a_refused_publish_is_unavailable_not_an_internal_error():
    with socket.socket() as probe:   # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tasks = TaskQueue(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(Unavailable, match="task queue unavailable"):
            tasks.send("train", ["0123456789abcdef"], "cpu.train")
    finally:
        tasks.close()
