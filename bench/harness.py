"""What the benchmarks share: child processes that print one JSON line, medians of interleaved rounds, one embedded
stack with a small model for the service benchmarks, and the peak memory of the stack's processes."""
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ServiceSettings, WorkerOptions, load
from lenet_services import memory
from lenet_services.stack import Stack


def child(task: str, **arguments) -> dict:
    """Run bench.children.TASK(**arguments) in a fresh interpreter (MXNet's threads are fixed at import) and return
    the JSON it prints."""
    done = subprocess.run([sys.executable, "-m", "bench.children", task, json.dumps(arguments)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench child {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rounds(runs: dict, repeats: int, alternate: bool = False) -> dict[str, list]:
    """Call each of runs' functions once per round, the rounds one after the other (A B C A B C …), so that every
    variant sees the same machine state; `alternate`: every other round backwards (A B C C B A …), so that no variant
    always runs right after the same one. Returns each variant's results in round order."""
    results = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in (reversed(runs) if alternate and repeat % 2 else runs):
            results[name].append(runs[name]())
    return results


def percentile(values, share: float) -> float:
    """The value at `share` (0.5, 0.95, …): the sorted values' element int(share × n), at most the last."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def peak_memory_mb(pid: int) -> float | None:
    """VmHWM (the peak resident set) of a live process, in MB; None when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return kilobytes / 1024 if kilobytes is not None else None


def cores() -> int:
    return len(os.sched_getaffinity(0))


def embedded_stack() -> Stack:
    """The service benchmarks' stack, not yet started: one CPU worker node, whose processes each take an OpenMP
    thread per core themselves (workers.share_cores → lenet_workers.engine.threads.use_cores)."""
    return Stack(load(ServiceSettings), workers=1)


@dataclass
class Service:
    """One embedded stack (one CPU worker with an OpenMP thread per core) and a small model trained on it."""
    stack: Stack
    client: LenetClient
    model_id: str

    @classmethod
    def start(cls) -> "Service":
        memory.reuse_freed_memory()  # this process is the client: let it reuse chunk buffers as the services do
        stack = embedded_stack().start()
        client = LenetClient(stack.address, timeout=600)
        job = client.wait(client.train(epochs=1, limit=2000, eval_limit=500, init_scale=0.07, model_name="bench").id)
        if job.state != pb.SUCCEEDED:
            stack.stop()
            sys.exit(f"training the benchmark's model ended {pb.JobState.Name(job.state)}: {job.error}")
        return cls(stack, client, job.model_id)

    def processes(self) -> dict[str, int]:
        return stack_processes(self.stack)

    @contextmanager
    def gateway(self, env: dict[str, str]) -> Iterator[LenetClient]:
        """A client of a second gateway on this stack, started with `env` (e.g. a setting changed), for comparing
        two gateways side by side on the same workers; stopped afterwards."""
        with self.stack.another_gateway(env) as address, LenetClient(address, timeout=600) as client:
            yield client

    def stop(self) -> None:
        self.client.close()
        self.stack.stop()


def stack_processes(stack: Stack) -> dict[str, int]:
    """The pids of a started stack's processes by name: gateway, redis-server, "worker N: supervisor|train|serve"."""
    named = {"gateway": stack.gateway.pid, "redis-server": stack.redis.process.pid}
    for number, worker in enumerate(stack.workers, start=1):
        named[f"worker {number}: supervisor"] = worker.pid
        for role, child in node_processes(worker.pid).items():   # `--role both`: its training and serving process
            named[f"worker {number}: {role}"] = child
    return named


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far: less swayed by a busy machine than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def node_processes(supervisor: int) -> dict[str, int]:
    """The live processes a worker node's supervisor started (`--role both`), by role: "train", "serve"."""
    processes = {}
    for child in _children(supervisor):
        try:
            processes[WorkerOptions.model_validate_json(_cmdline(child).split("\0")[-2]).role] = child
        except (ValueError, IndexError):
            continue   # ended while we looked
    return processes


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""
