"""The Dockerfile, read as Docker reads it (stages, instructions, the build context after .dockerignore), since no
Docker engine runs here: each image compose runs is built from a target of its own, runs as an unprivileged user,
installs its third-party dependencies in layers that no source change invalidates, and gets exactly the dependencies
of its pyproject.toml extra; the wheel stage, rebuilt here from the same context, holds every module."""
import email
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field

import pytest
from packaging.requirements import Requirement

import compose_file
from compose_file import ROOT
from distributions import INSTALLED, PROJECTS, copy_projects, package_dirs

SOURCES = tuple(INSTALLED)   # the folders the distributions install: protos, services, workers, clients


requirements = compose_file.deploy_requirements().requirements


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)   # (INSTRUCTION, arguments)
    args: dict[str, str] = field(default_factory=dict)                  # ARG defaults declared in the stage


def parse_dockerfile(text: str) -> dict[str, Stage]:
    """Stages by name, with their instructions (continuation lines joined, comments dropped)."""
    lines, joined = [], ""
    for line in text.splitlines():
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        joined += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            lines.append(" ".join(joined.split()))
            joined = ""
    stages: dict[str, Stage] = {}
    current = None
    for line in lines:
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = arguments.split()
            current = Stage(name=words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages)),
                            base=words[0])
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((instruction, arguments))
            if instruction == "ARG":
                name, _, default = arguments.partition("=")
                current.args[name] = default
    return stages


STAGES = parse_dockerfile((ROOT / "Dockerfile").read_text())


def chain(target: str) -> list[Stage]:
    """The stages an image is made of, its own last: the target and the stages it is FROM, recursively."""
    stages = []
    name = target
    while name in STAGES:
        stages.insert(0, STAGES[name])
        name = STAGES[name].base
    return stages


def copies(stage: Stage) -> list[tuple[str | None, list[str]]]:
    """(from-stage or None for the build context, sources) of each COPY of a stage."""
    found = []
    for instruction, arguments in stage.instructions:
        if instruction == "COPY":
            words = arguments.split()
            source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
            paths = [w for w in words if not w.startswith("--")][:-1]
            found.append((source_stage, paths))
    return found


def sees_sources(name: str) -> bool:
    """Whether a stage's layers depend on the project's source packages (a code change rebuilds them)."""
    return any(any(path.rstrip("/").split("/")[0] in SOURCES for path in paths) if origin is None else
               sees_sources(origin) for stage in chain(name) for origin, paths in copies(stage))


@pytest.fixture(scope="module")
def builds() -> dict[str, dict]:
    """compose service → its `build` section, for the services that build an image of the project."""
    services = compose_file.raw()["services"]
    return {name: service["build"] for name, service in services.items() if "build" in service}


def test_compose_builds_only_targets_of_the_dockerfile(builds):
    assert {build["target"] for build in builds.values()} == {"gateway", "worker"}
    assert all(build["target"] in STAGES for build in builds.values())


@pytest.mark.parametrize("target", ["gateway", "worker"])
def test_each_image_runs_as_an_unprivileged_user(target):
    instructions = [item for stage in chain(target) for item in stage.instructions]
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image would run as root"
    created = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert re.search(rf"useradd\b[^&;]*\b{re.escape(users[-1].split(':')[0])}\b", created), "the user is not created"


@pytest.mark.parametrize("target", ["gateway", "worker"])
def test_dependencies_are_installed_in_layers_no_source_change_invalidates(target):
    final = chain(target)
    layers = [(stage.name, origin, paths) for stage in final for origin, paths in copies(stage)]
    venvs = [i for i, (_stage, origin, paths) in enumerate(layers) if origin and paths == ["/opt/venv"]]
    assert len(venvs) == 1, "one virtualenv of third-party dependencies is copied in"
    deps_stage = layers[venvs[0]][1]
    assert not sees_sources(deps_stage), f"stage {deps_stage} depends on the sources: every change reinstalls"
    first_source_layer = next(i for i, (_stage, origin, paths) in enumerate(layers)
                              if (origin and sees_sources(origin)) or
                              any(p.split("/")[0] in SOURCES for p in paths))
    assert venvs[0] < first_source_layer, "the dependencies come after the sources"
    runs = " ".join(arguments for instruction, arguments in STAGES[deps_stage].instructions if instruction == "RUN")
    assert "pip install -r" in runs and "requirements.py" in runs


def extra_of(deps_stage: Stage, build_args: dict[str, str]) -> str:
    """The extra a deps stage installs: the last word of its requirements.py call, with ARGs expanded."""
    runs = " ".join(arguments for instruction, arguments in deps_stage.instructions if instruction == "RUN")
    word = re.search(r"requirements\.py \S+ (\S+)", runs).group(1).strip('"')
    return re.sub(r"\$\{?(\w+)\}?", lambda m: build_args.get(m.group(1), deps_stage.args.get(m.group(1), "")), word)


def test_each_image_gets_the_dependencies_of_its_extra_and_the_gateway_no_mxnet(builds):
    installed = {}
    for name, build in builds.items():
        deps = next(origin for stage in chain(build["target"]) for origin, paths in copies(stage)
                    if paths == ["/opt/venv"])
        installed[name] = extra_of(STAGES[deps], build.get("args", {}))
    assert installed == {"data": "server", "gateway": "server", "dashboard": "server", "worker-cpu": "cpu",
                         "worker-gpu": "gpu"}
    names = {extra: {Requirement(r).name for r in requirements(ROOT / "pyproject.toml", [extra])}
             for extra in set(installed.values())}
    assert not names["server"] & {"mxnet", "mxnet-cu112", "onnx"}   # scikit-learn: Optuna's fANOVA for sweeps
    assert "mxnet" in names["cpu"] and "mxnet-cu112" in names["gpu"] and "celery" in names["cpu"]


@pytest.fixture(scope="module")
def metadata_requirements(tmp_path_factory) -> dict[str, list[str]]:
    """Requires-Dist of each project as setuptools reads its pyproject.toml now (what `pip install .[extra]`
    follows), by project name."""
    copy = copy_projects(tmp_path_factory.mktemp("metadata"))
    found = {}
    for name, project in PROJECTS.items():
        folder = copy / project.relative_to(ROOT)
        code = "import setuptools.build_meta as b; print(b.prepare_metadata_for_build_wheel('.'))"
        result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        metadata = email.message_from_string((folder / result.stdout.split()[-1] / "METADATA").read_text())
        found[name] = metadata.get_all("Requires-Dist")
    return found


@pytest.mark.parametrize("extra", ["server", "cpu", "gpu", "dev"])
def test_the_requirements_script_lists_what_pip_installs_for_the_extra(metadata_requirements, extra):
    def expand(project: str, extras: set[str]) -> set[str]:
        found = set()
        for line in metadata_requirements[project]:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras)
            if wanted and requirement.name in metadata_requirements:
                found |= expand(requirement.name, set(requirement.extras))
            elif wanted:
                requirement.marker = None
                found.add(str(requirement))
        return found
    assert set(map(str, map(Requirement, requirements(ROOT / "pyproject.toml", [extra])))) == expand("lenet-service",
                                                                                                   {extra})


def dockerignore() -> list[tuple[bool, re.Pattern]]:
    """(exception, pattern) of each .dockerignore line, in the syntax of Docker's pattern matcher."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception, line = line.startswith("!"), line.lstrip("!").strip("/")
        regex = ""
        for token in re.findall(r"\*\*/|\*\*|\*|\?|[^*?]+", line):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token) or re.escape(token)
        patterns.append((exception, re.compile(regex + r"\Z")))
    return patterns


def in_context(path: str) -> bool:
    """Whether a file reaches the build context: the last pattern matching it or a folder above it decides."""
    parts = path.split("/")
    kept = True
    for exception, pattern in dockerignore():
        if any(pattern.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            kept = exception
    return kept


def context_sources() -> list[str]:
    return sorted({path for stage in STAGES.values() for origin, paths in copies(stage) if origin is None
                   for path in paths})


def test_the_build_context_has_what_is_copied_and_no_secret():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for source in context_sources():
        files = [path for path in tracked if path == source or path.startswith(source.rstrip("/") + "/")]
        assert files, f"COPY {source}: nothing tracked there"
        assert [path for path in files if not in_context(path)] == [], f"COPY {source}: files left out"
    for secret in (".env", "deploy/secrets/tokens", "deploy/secrets/tls.key", ".venv/bin/python", ".git/config",
                   "tests/conftest.py", "protos/__pycache__/settings.cpython-311.pyc"):
        assert not in_context(secret), f"{secret} would be sent to the Docker engine"


def test_the_wheel_stage_packs_every_module(tmp_path):
    """Rebuild the wheel stage here: copy what its COPY lines copy from the context, run its pip wheel command.
    Each distribution's wheel holds its folders' modules under their installed names, and nothing else."""
    (wheel_stage,) = [s for s in STAGES.values() if any("pip wheel" in a for i, a in s.instructions if i == "RUN")]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for _origin, paths in copies(wheel_stage):
        for source in paths:
            for path in tracked:
                if (path == source or path.startswith(source.rstrip("/") + "/")) and in_context(path):
                    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
                    (tmp_path / path).write_bytes((ROOT / path).read_bytes())
    command = next(a for i, a in wheel_stage.instructions if i == "RUN" and "pip wheel" in a).split()
    assert command[:2] == ["pip", "wheel"]
    wheels = tmp_path / "wheels"
    arguments = [str(wheels) if a == "/wheels" else a for a in command[2:]]
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", *arguments],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    packed = {}
    for name, project in PROJECTS.items():
        (wheel,) = wheels.glob(f"{name.replace('-', '_')}-*.whl")
        files = zipfile.ZipFile(wheel).namelist()
        assert {path.split("/")[0] for path in files if ".dist-info/" not in path} == set(package_dirs(project))
        packed.update({path: name for path in files})
    modules = {f"{INSTALLED[path.split('/')[0]]}/{path.partition('/')[2]}" for path in tracked
               if path.endswith(".py") and path.split("/")[0] in SOURCES}
    assert modules - set(packed) == set()
    assert packed["lenet_protos/lenet/v1/lenet_pb2.py"] == "lenet-client"
    assert packed["lenet_services/dashboard/static/index.html"] == "lenet-service"


def test_each_image_defaults_to_its_compose_command():
    """An image started without a command (`docker run lenet-worker`) does what compose runs."""
    services = compose_file.raw()["services"]
    for target, service in (("gateway", "gateway"), ("worker", "worker-cpu")):
        cmd = next(a for i, a in reversed(chain(target)[-1].instructions) if i == "CMD")
        assert re.findall(r'"([^"]*)"', cmd) == services[service]["command"], target


def test_compose_mounts_the_data_volume_where_the_image_made_it_writable():
    """A new named volume copies the ownership of the image folder it is mounted on: the `data` service (the
    unprivileged user) can write to it only because the image made that folder the user's."""
    runtime = " ".join(a for stage in chain("gateway") for i, a in stage.instructions if i == "RUN")
    data = compose_file.raw()["services"]["data"]
    folder = data["command"][data["command"].index("--dir") + 1]
    assert f"mkdir -p {folder}" in runtime and re.search(rf"chown \S+ {re.escape(folder)}", runtime)
    assert any(entry.split(":")[1] == folder for entry in data["volumes"])
