"""Hosts made of Linux network namespaces, for tests that need several machines.

Each host is a network namespace with one interface (eth0) and its own address, plugged by a veth pair into a
bridge; the bridge lives in a namespace of its own, so nothing touches this machine's own network, and every name
carries a random id, so parallel runs never meet. Programs run on a host through `ip netns exec` and, in a UTS
namespace of their own, with the host's name (`socket.gethostname()` tells the hosts apart, as on real machines).
Needs root and iproute2; `Network.available()` says why not otherwise.
"""
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

SUBNET = "198.18.0"   # RFC 2544's benchmarking range: an address of no real network


@dataclass
class Host:
    name: str          # its role in the test, e.g. "redis"
    namespace: str     # the network namespace
    address: str       # on the bridge
    hostname: str      # what programs on it see as their host name


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Network:
    def __init__(self):
        self.id = secrets.token_hex(3)
        self.switch = f"lenet-{self.id}-switch"
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen] = []
        self.namespaces: list[str] = []

    @staticmethod
    def available() -> str | None:
        """None when namespaces can be made here, else why not."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if not shutil.which("ip") or not shutil.which("unshare"):
            return "needs iproute2 (`ip`) and util-linux (`unshare`)"
        probe = f"lenet-probe-{secrets.token_hex(3)}"
        try:
            ip("netns", "add", probe)
        except RuntimeError as error:
            return f"cannot make a network namespace: {error}"
        ip("netns", "del", probe)
        return None

    def create(self) -> "Network":
        self._namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "dev", "br0", "up")
        return self

    def _namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "dev", "lo", "up")

    def add_host(self, name: str, number: int) -> Host:
        """A host plugged into the bridge at SUBNET.number; `name` also names its port on the bridge."""
        host = Host(name, f"lenet-{self.id}-{name}", f"{SUBNET}.{number}", f"{name}-{self.id}")
        self._namespace(host.namespace)
        ip("link", "add", "eth0", "netns", host.namespace, "type", "veth", "peer", "name", name, "netns", self.switch)
        ip("-n", self.switch, "link", "set", "dev", name, "master", "br0")
        ip("-n", self.switch, "link", "set", "dev", name, "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "dev", "eth0", "up")
        self.hosts[name] = host
        return host

    def command(self, host: str, argv: list[str]) -> list[str]:
        """argv as run on `host`: in its network namespace, under its host name."""
        return ["ip", "netns", "exec", self.hosts[host].namespace, "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', self.hosts[host].hostname, *argv]

    def start(self, host: str, argv: list[str], env: dict[str, str], log_path, **popen) -> subprocess.Popen:
        """A long-running program on `host`, its output in log_path (unless given stdout)."""
        log = None
        if "stdout" not in popen:
            log = popen["stdout"] = open(log_path, "ab")
            popen["stderr"] = subprocess.STDOUT
        try:
            process = subprocess.Popen(self.command(host, argv), env=env, start_new_session=True, **popen)
        finally:
            if log:
                log.close()    # the child has its own copy
        self.processes.append(process)
        return process

    def run(self, host: str, argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(host, argv), env=env, capture_output=True, text=True, timeout=timeout)

    def cut(self, host: str) -> None:
        """Unplug the host: its veth pair is deleted, so nothing it sends reaches anyone, nor the other way."""
        ip("-n", self.switch, "link", "del", "dev", host)

    def pids(self, host: str) -> list[int]:
        result = subprocess.run(["ip", "netns", "pids", self.hosts[host].namespace], capture_output=True, text=True)
        return [int(pid) for pid in result.stdout.split()]

    def kill(self, host: str) -> list[int]:
        """SIGKILL every process on the host (in its network namespace); returns their pids."""
        killed = self.pids(host)
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return killed

    def destroy(self) -> None:
        """Kill every process on every host, then remove the namespaces (and with them the links and bridge)."""
        for host in self.hosts:
            self.kill(host)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
            if process.stdout and not process.stdout.closed:
                process.stdout.close()
        for namespace in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
