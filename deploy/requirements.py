"""Print the third-party requirements of the project with the given extras, one a line, from pyproject.toml alone.

    python deploy/requirements.py pyproject.toml server      # the gateway image's dependencies
    python deploy/requirements.py pyproject.toml cpu         # a CPU worker's (an extra naming the project's own
                                                             # extras, e.g. "lenet-service[server]", is expanded)

A requirement naming a project of this repository (the root's, or lenet-client's in packaging/lenet-client/) is
replaced by that project's own requirements. The images install these in a layer of their own before any source
is copied (Dockerfile), so a code change does not reinstall MXNet. Standard library only: it runs before anything
is installed.
"""
import re
import sys
import tomllib
from pathlib import Path

REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def local_projects(pyproject: Path) -> dict[str, dict]:
    """The [project] tables of the repository by name: the given pyproject.toml's and those under packaging/."""
    paths = [pyproject, *sorted(pyproject.parent.glob("packaging/*/pyproject.toml"))]
    projects = [tomllib.loads(path.read_text())["project"] for path in paths]
    return {normalized(project["name"]): project for project in projects}


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    projects = local_projects(Path(pyproject))
    root = next(iter(projects))
    found, seen, pending = [], set(), [(root, None), *((root, extra) for extra in extras)]
    while pending:
        name, extra = pending.pop(0)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        project = projects[name]
        if extra is None:
            listed = project.get("dependencies", [])
        elif extra in project.get("optional-dependencies", {}):
            listed = project["optional-dependencies"][extra]
        else:
            raise SystemExit(f"requirements: {project['name']} has no extra {extra!r}")
        for requirement in listed:
            own, own_extras = REQUIREMENT.match(requirement).groups()
            own = normalized(own)
            if own in projects:
                pending += [(own, None), *((own, e.strip()) for e in (own_extras or "").split(",") if e.strip())]
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2:])))
