"""Stopping is bounded and leaves no process behind (issue 22), with real processes: `lenet up` stopped by SIGINT
or SIGTERM while a job runs, a worker node's supervisor killed, a training process stopped after its Redis is
gone. Each test prints the PIDs of what was started before and after the stop (run with -s to see them).

Short settings keep them fast: a 2-3 s stop grace, a 4 s heartbeat, tiny training subsets."""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lenet_cli import LENET, gateway, listening, until

from lenet_clients.client import LenetClient
from lenet_protos.contract import node_stop_seconds, stack_stop_seconds
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack, end
from lenet_services.store import Store
from lenet_services.store.redis_server import RedisServer, free_port

STOP_GRACE = 3.0
HEARTBEAT = 4.0
SLACK = 5.0   # beyond a stated bound: process start-up and exit on a loaded 2-core machine
FAST = {"LENET_STOP_GRACE_SECONDS": str(STOP_GRACE), "LENET_HEARTBEAT_SECONDS": str(HEARTBEAT)}


def processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) of every process (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        found[int(stat.parent.name)] = (int(parent), state)
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    table, found, frontier = processes(), [], [pid]
    while frontier:
        children = [child for child, (parent, state) in table.items() if parent in frontier and state != "Z"]
        found += children
        frontier = children
    return sorted(found)


def alive(pids: list[int]) -> list[int]:
    table = processes()
    return [pid for pid in pids if pid in table and table[pid][1] != "Z"]


def show(label: str, pids: list[int]) -> None:
    commands = {}
    for pid in pids:
        try:
            commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:90]
        except OSError:
            commands[pid] = "(gone)"
    print(f"\n{label}: {pids}" + "".join(f"\n  {pid}: {command}" for pid, command in commands.items()))


def running_job(address: str) -> pb.Job:
    """A training job that runs long enough to be stopped, once its first batches have been reported."""
    with LenetClient(address, timeout=60) as client:
        job = client.train(epochs=200, limit=1000, eval_limit=100, init_scale=0.07)
        for event in client.watch(job.id):
            if event.WhichOneof("kind") == "batch":
                running = client.job(job.id)
                assert running.state == pb.RUNNING
                return running
    pytest.fail("the job ended before it reported a batch")


def assert_handed_back(redis_url: str, job: pb.Job) -> None:
    """The worker that ran the job gave it back before it ended: no lease, and the event that says so."""
    store = Store(redis_url)
    assert store.leases.holder(job.id) is None
    assert any(f"worker {job.worker} is stopping: job handed back" in event.log for event in store.events.read(job.id))
    store.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_lenet_up_stops_everything_it_started_while_a_job_runs(data_dir, signum, tmp_path):
    """SIGINT: the stack's own replicated Redis (`--ha`: a primary, a replica, three sentinels), which must go
    too. SIGTERM: a Redis of the test's (REDIS_URL), which stays, so that what the worker did with its job can be
    read afterwards: handed back, queued again."""
    own_redis = RedisServer().start() if signum == signal.SIGTERM else None
    env = {**os.environ, **FAST, **({"REDIS_URL": own_redis.url} if own_redis else {})}
    up = subprocess.Popen([LENET, "up", "--port", str(free_port()), "--http-port", "0", "--dashboard-port", "0",
                           "--json", *([] if own_redis else ["--ha"])], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(up.stdout.readline() or "null")
        assert ready, up.stderr.read()
        job = running_job(ready["gateway"])
        started = descendants(up.pid)
        show(f"before {signal.Signals(signum).name} to lenet up (pid {up.pid})", started)
        assert len(started) == (5 if own_redis else 10)   # gateway, dashboard, a node of three; five Redis or none
        began = time.monotonic()
        up.send_signal(signum)
        up.wait(stack_stop_seconds(STOP_GRACE) + SLACK)
        took = time.monotonic() - began
        left = alive(started)
        show(f"after {took:.1f} s (bound {stack_stop_seconds(STOP_GRACE):.0f} s)", left)
        assert left == [] and up.returncode == 0
        stderr = up.stderr.read()
        assert "had to be killed" not in stderr, stderr   # each part ended on its own, in order
        assert not Path(ready["log_dir"]).exists()          # nothing killed: the temporary logs go
        if own_redis:
            assert_handed_back(own_redis.url, job)
    finally:
        if up.poll() is None:
            up.kill()
        if own_redis:
            own_redis.stop()


@pytest.fixture
def fast_settings(settings):
    return settings.model_copy(update={"stop_grace_seconds": STOP_GRACE, "heartbeat_seconds": HEARTBEAT})


def test_a_killed_supervisor_takes_its_processes_with_it(fast_settings, tmp_path):
    with Stack(fast_settings, log_dir=str(tmp_path)) as stack:
        job = running_job(stack.address)
        supervisor = stack.workers[0]
        children = descendants(supervisor.pid)
        show(f"before SIGKILL to the supervisor {supervisor.pid}", [supervisor.pid, *children])
        assert len(children) == 2
        began = time.monotonic()
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        gone = until(lambda: not alive(children), HEARTBEAT + SLACK)
        took = time.monotonic() - began
        show(f"after {took:.1f} s (a heartbeat period: {HEARTBEAT:.0f} s)", alive([supervisor.pid, *children]))
        assert gone
        assert_handed_back(stack.redis_url, job)   # they were stopped, not lost: the job went back


def test_a_training_process_whose_redis_is_gone_exits_within_its_grace(fast_settings, tmp_path):
    redis = RedisServer().start()
    try:
        with Stack(fast_settings, redis_url=redis.url, role="train", log_dir=str(tmp_path)) as stack:
            running_job(stack.address)
            training = stack.workers[0]
            show("before SIGTERM to the training process", [training.pid, *descendants(training.pid)])
            redis.kill()
            began = time.monotonic()
            training.send_signal(signal.SIGTERM)
            training.wait(STOP_GRACE + SLACK)
            took = time.monotonic() - began
            show(f"after {took:.1f} s (its grace: {STOP_GRACE:.0f} s)", alive([training.pid]))
            log = (tmp_path / "worker-cpu0.log").read_text()
            assert "still stopping after 3 s" in log, log[-2000:]
    finally:
        redis.stop()


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "print('ready', flush=True); time.sleep(120)"])
time.sleep(120)
"""


def test_a_part_that_ignores_sigterm_is_killed_with_what_it_started_at_its_bound():
    """What end() does when a part (here one that ignores SIGTERM, and its child that does too) outlives its
    bound: the whole process group is killed, and the part is named."""
    part = subprocess.Popen([sys.executable, "-c", STUBBORN], start_new_session=True, stdout=subprocess.PIPE,
                            text=True)
    assert part.stdout.readline() == "ready\n"   # both ignore SIGTERM now
    started = [part.pid, *descendants(part.pid)]
    assert len(started) == 2
    show("before end() of a part that ignores SIGTERM", started)
    began = time.monotonic()
    killed = end({"stubborn": part}, 1.0)
    took = time.monotonic() - began
    show(f"after {took:.1f} s (bound 1 s, then SIGKILL)", alive(started))
    assert killed == ["stubborn"] and alive(started) == [] and part.returncode == -signal.SIGKILL
    part.stdout.close()


def signal_another_thread(pid: int, signum: int) -> str:
    """Send `signum` to one of the process's threads other than its main one, as Linux may deliver a signal sent
    to the process (tgkill(2)); returns that thread's name."""
    threads = sorted(int(task.name) for task in Path(f"/proc/{pid}/task").iterdir() if int(task.name) != pid)
    chosen = threads[-1]
    if ctypes.CDLL(None, use_errno=True).tgkill(pid, chosen, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill {pid} {chosen}")
    return Path(f"/proc/{pid}/task/{chosen}/comm").read_text().strip()


@pytest.mark.parametrize("part", ["gateway", "worker"])
def test_a_sigterm_that_another_thread_receives_stops_the_part(data_dir, part):
    """The gateway and a worker node's supervisor wait for the signal in their main thread; one that Linux hands
    to another of their threads must stop them too (CI once saw a gateway serve on after its SIGTERM)."""
    with RedisServer() as redis:
        env = {**os.environ, **FAST, "REDIS_URL": redis.url, "LENET_TOKENS": "", "LENET_METRICS_PORT": ""}
        process = gateway(env, free_port()) if part == "gateway" else \
            listening([LENET, "worker", "--device", "cpu"], env, "serving")[0]
        try:
            if part == "worker":   # both its processes serve (one still starting would die of the signal)
                assert any("serving" in line for line in process.stdout)
            thread = signal_another_thread(process.pid, signal.SIGTERM)
            bound = STOP_GRACE + SLACK if part == "gateway" else node_stop_seconds(STOP_GRACE) + SLACK
            try:
                code = process.wait(bound)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{part} still running {bound:.0f} s after a SIGTERM to its thread {thread!r}")
            assert code == 0, f"{part} exited {code} after SIGTERM to its thread {thread!r}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
