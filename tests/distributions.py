"""The repository's two distributions as their pyproject.toml files declare them: lenet-service (the root:
services/, workers/) and lenet-client (packaging/lenet-client: protos/, clients/); the name each folder is
installed under; and building their wheels from a copy of the tracked files, so that a build leaves nothing in the
checkout (setuptools writes build/ and *.egg-info beside a pyproject.toml)."""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = {"lenet-service": ROOT, "lenet-client": ROOT / "packaging" / "lenet-client"}


def package_dirs(project: Path) -> dict[str, str]:
    """A project's installed top-level names → the folders (relative to ROOT) they are built from."""
    table = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return {name: (project / folder).resolve().relative_to(ROOT).as_posix() for name, folder in table.items()}


INSTALLED = {folder: name for project in PROJECTS.values() for name, folder in package_dirs(project).items()}


def tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def copy_projects(folder: Path) -> Path:
    """The tracked files of both projects (their pyproject.toml files and package folders) copied under folder,
    keeping their places; returns the copy's root."""
    sources = {*INSTALLED, *(str(p.relative_to(ROOT) / "pyproject.toml") for p in PROJECTS.values())}
    for path in tracked():
        if any(path == source or path.startswith(f"{source.rstrip('/')}/") for source in sources):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes((ROOT / path).read_bytes())
    return folder


def build_wheel(project: str, folder: Path) -> Path:
    """The wheel of one project, built as `pip wheel` builds it from the repository (without build isolation:
    the setuptools of this environment), from a copy of the tracked files."""
    copy = copy_projects(folder / "src")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
                             str(folder / "wheels"), str(copy / PROJECTS[project].relative_to(ROOT))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (folder / "wheels").glob(f"{project.replace('-', '_')}-*.whl")
    return wheel
