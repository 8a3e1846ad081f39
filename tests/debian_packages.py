"""Programs some tests need from Debian's packages (a TLS-capable redis-server, chromium, docker-compose): found
on PATH, else installed with apt-get where this process may (root, apt-get present), else None so the test can
skip saying why."""
import os
import shutil
import subprocess

_updated = False


def program(command: str, *packages: str) -> str | None:
    """The path of `command`, installing `packages` first when it is missing and apt-get may run."""
    global _updated
    found = shutil.which(command)
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=600"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        subprocess.run(["apt-get", *wait_for_lock, "update", "-qq"], env=environment, capture_output=True)
        _updated = True
    subprocess.run(["apt-get", *wait_for_lock, "install", "-y", "-qq", "--no-install-recommends", *packages],
                   env=environment, capture_output=True)
    return shutil.which(command)
