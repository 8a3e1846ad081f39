"""The `lenet` command and the service's processes as the tests run them, and waiting for what they do: one copy
of each helper for every test file that needs it."""
import gzip
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lenet_services.store.redis_server import free_port

LENET = str(Path(sys.executable).parent / "lenet")


def run(*args: str, gateway: str | None = None, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`lenet ARGS` as a user runs it; LENET_GATEWAY names `gateway` (or nothing that answers); `env` is set on top
    (LENET_GATEWAY too)."""
    environment = {**os.environ, "LENET_GATEWAY": gateway or f"127.0.0.1:{free_port()}", **env}
    return subprocess.run([LENET, *args], env=environment, capture_output=True, text=True, timeout=timeout)


def succeeded(done: subprocess.CompletedProcess) -> str:
    """The output of a command that must have succeeded, without a traceback."""
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def strict_json(text: str):
    """JSON as the standard reads it: NaN or Infinity fail."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def write_idx(path: Path, images: np.ndarray) -> Path:
    """`images` (N×28×28 uint8) as a gzipped IDX file, as MNIST ships them."""
    header = struct.pack(">BBBBIII", 0, 0, 0x08, 3, *images.shape)
    path.write_bytes(gzip.compress(header + images.tobytes()))
    return path


def gateway(env: dict, port: int = 0, *options: str) -> subprocess.Popen:
    """A gateway process (`lenet gateway --port PORT OPTIONS`) that has said it listens; the caller terminates it.
    One that ends first fails the test with what it said. Its REST side gets a free port unless `env` names one
    (LENET_HTTP_PORT)."""
    env = {**env, "LENET_HTTP_PORT": env.get("LENET_HTTP_PORT") or str(free_port())}
    return listening([LENET, "gateway", "--port", str(port), *options], env, "gateway listening")[0]


def listening(argv: list[str], env: dict, banner: str) -> tuple[subprocess.Popen, list[str]]:
    """A server process that has printed `banner`, and the lines (warnings) it wrote before; the caller terminates
    it. One that ends first fails the test with what it said."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    before = []
    for line in process.stdout:
        if banner in line:
            return process, before
        before.append(line)
    process.kill()
    pytest.fail(f"{' '.join(argv[:3])} did not start: {''.join(before)}{process.communicate(timeout=30)[0]}")


def stopped(process: subprocess.Popen, seconds: float = 30) -> int:
    """Terminate a server process and wait for its exit code; one still running after `seconds` is killed, so
    that its ports are free for the tests after this one, and fails this test."""
    process.terminate()
    try:
        return process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{' '.join(process.args[:3])} was still running {seconds:.0f} s after SIGTERM: killed")


def stream_order(event_id: str) -> tuple[int, int]:
    """An event id's place in its stream ("MILLISECONDS-SEQUENCE")."""
    milliseconds, sequence = event_id.split("-")
    return int(milliseconds), int(sequence)


def until(condition, seconds: float, pause: float = 0.2):
    """condition()'s first true value within `seconds`, else its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(pause)
