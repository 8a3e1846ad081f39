"""Programs some tests need from Debian's packages (chromium and its driver, java, docker-compose, a TLS-capable
redis-server): found on PATH, else installed with apt-get where the tests may (root, apt-get present), else the
test is skipped saying why."""
import os
import shutil
import subprocess

import pytest

APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]   # other tests may be installing at the same time


def commands(packages: dict[str, str]) -> dict[str, str]:
    """command → its path, installing the Debian package of each missing command (`packages`: command → package)
    when the tests run as root with apt-get; skips the test, saying why, where that cannot be done."""
    found = {command: shutil.which(command) for command in packages}
    missing = sorted({packages[command] for command, path in found.items() if path is None})
    if not missing:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"needs {', '.join(missing)} (Debian packages): run `apt-get install -y {' '.join(missing)}` "
                    f"as root; these tests install them themselves only when run as root on a machine with apt-get")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in ([*APT, "update"], [*APT, "install", "-y", "--no-install-recommends", *missing]):
        done = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=environment,
                              timeout=1200)
        if done.returncode != 0:
            pytest.skip(f"`{' '.join(step)}` failed, so {', '.join(missing)} cannot be had here: "
                        f"{(done.stderr or done.stdout).strip()[-500:]}")
    found = {command: shutil.which(command) for command in packages}
    if None in found.values():
        pytest.skip(f"{', '.join(missing)} installed but {[c for c, p in found.items() if p is None]} not on PATH")
    return found
