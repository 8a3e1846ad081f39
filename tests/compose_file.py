"""docker-compose.yml as Docker Compose reads it, for the tests of the deployment (tests/unit/test_compose.py,
tests/integration/test_multihost.py).

`resolved(env)` runs `docker-compose config` (Debian's docker-compose package: it validates the file against the
Compose schema, merges the YAML anchors and interpolates the variables from an env file) and returns the result.
`docker_compose()` installs that package where it is missing and the tests run as root; elsewhere it skips.
"""
import importlib.util
import os
import re
import subprocess
import tempfile
from pathlib import Path

import yaml
from debian_packages import commands

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
OUR_IMAGES = ("lenet-gateway", "lenet-worker", "lenet-worker-gpu")   # the images the Dockerfile builds


def docker_compose() -> str:
    """The docker-compose program; installed with apt-get (as root) where missing, else the test is skipped."""
    return commands({"docker-compose": "docker-compose"})["docker-compose"]


def run_config(env: dict[str, str], profiles: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`docker-compose config` with exactly `env` as the env file (none of the caller's environment leaks in)."""
    with tempfile.NamedTemporaryFile("w", suffix=".env", prefix="compose-test-") as env_file:
        env_file.write("".join(f"{name}={value}\n" for name, value in env.items()))
        env_file.flush()
        command = [docker_compose(), "--project-directory", str(ROOT), "--env-file", env_file.name,
                   "-f", str(COMPOSE_FILE), *[arg for profile in profiles for arg in ("--profile", profile)], "config"]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()})


def resolved(env: dict[str, str], profiles: tuple[str, ...] = ()) -> dict:
    """The compose file as Compose resolves it with these variables; fails the test when Compose rejects it."""
    result = run_config(env, profiles)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def raw() -> dict:
    """The compose file as YAML (anchors merged, variables not interpolated): to list services before running."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolated_names() -> set[str]:
    """Every variable the compose file interpolates (`${NAME}`, `${NAME:-default}`, `${NAME:?error}`)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))


def example_names() -> set[str]:
    """The variables .env.example sets or shows commented out (`NAME=` or `# NAME=`)."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def documented_names() -> set[str]:
    """The first column of the README's table of compose variables (section "Deployment")."""
    section = (ROOT / "README.md").read_text().split("## Deployment", 1)[1].split("\n## ", 1)[0]
    table = section.split("### Compose variables", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, re.M))


def ours(service: dict) -> bool:
    """A service that runs one of the project's images."""
    return service.get("image", "").split(":")[0] in OUR_IMAGES


def deploy_requirements():
    """deploy/requirements.py as a module (it is a script beside the Dockerfile, not a package)."""
    spec = importlib.util.spec_from_file_location("deploy_requirements", ROOT / "deploy" / "requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
