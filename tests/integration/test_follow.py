"""Following a job (`lenet watch`, `lenet train --wait`) while its gateway goes away: a real redis-server, real
gateway processes on one loopback port, no worker (the job waits on its queue, so it is surely still followed).
The follower says at once that it retries, resumes after the last event it saw when a gateway is back, and gives
up after LENET_RECONNECT_SECONDS with one line saying how to follow the job again."""
import os
import queue
import subprocess
import threading

import pytest
from lenet_cli import LENET, gateway, stopped

from lenet_clients.client import LenetClient
from lenet_services.store.redis_server import RedisServer, free_port

NO_WORKER = "no cpu.train worker is alive"   # the event the gateway adds to a job nobody can take


class Lines:
    """A process's output (stdout and stderr together), line by line as it comes, with the lines seen so far."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.seen, self.arrived = process, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.arrived.put(line)
        self.arrived.put(None)

    def until(self, text: str, seconds: float) -> str:
        """The first line (from now on) containing `text`; fails with everything said when none comes in time."""
        while True:
            try:
                line = self.arrived.get(timeout=seconds)
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail(f"no line with {text!r}; the follower said:\n{''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self, seconds: float) -> str:
        """Wait for the process to end; everything it said."""
        self.process.wait(seconds)
        while (line := self.arrived.get(timeout=seconds)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


@pytest.fixture
def env(data_dir):
    with RedisServer() as redis:
        yield {**os.environ, "REDIS_URL": redis.url}


def follower(env: dict, address: str, reconnect_seconds: float, *args: str) -> Lines:
    return Lines(subprocess.Popen([LENET, *args], env={**env, "LENET_GATEWAY": address,
                                                       "LENET_RECONNECT_SECONDS": str(reconnect_seconds)},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))


def test_watch_retries_while_the_gateway_is_gone_and_resumes_after_the_last_event(env):
    port = free_port()
    address = f"127.0.0.1:{port}"
    first = gateway(env, port)
    try:
        with LenetClient(address, timeout=30) as client:
            job = client.train(epochs=1, limit=100)
        watching = follower(env, address, 120, "watch", job.id)
        watching.until(NO_WORKER, 60)
    finally:
        stopped(first)
    said = watching.until("is not answering", 30)
    assert address in said and "retrying every 5 s" in said and "LENET_RECONNECT_SECONDS" in said
    second = gateway(env, port)
    try:
        with LenetClient(address, timeout=30) as client:
            client.cancel(job.id)
        watching.until("answers again", 60)
        output = watching.rest(60)
    finally:
        stopped(second)
    assert watching.process.returncode == 1, output      # followed to its end: CANCELLED, not SUCCEEDED
    assert f"{job.id}  train    CANCELLED" in output and "Traceback" not in output
    assert output.count(NO_WORKER) == 1, output           # resumed after the last event seen, not from the start


def test_train_wait_gives_up_after_the_bound_saying_how_to_follow_again(env):
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = gateway(env, port)
    try:
        waiting = follower(env, address, 3, "train", "--epochs", "1", "--limit", "100", "--wait")
        job_id = waiting.until("submitted", 60).split()[1]
        waiting.until(NO_WORKER, 60)
    finally:
        stopped(server)
    waiting.until("is not answering", 30)
    gave_up = waiting.until("gave up", 60)
    output = waiting.rest(30)
    assert waiting.process.returncode == 75, output
    assert gave_up.startswith(f"lenet: the gateway at {address} has not answered for 3 s: gave up following job "
                              f"{job_id} (exit code 75)")
    assert f"`lenet watch {job_id}` follows it again" in gave_up and "Traceback" not in output
