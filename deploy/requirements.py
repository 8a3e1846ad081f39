"""Print the third-party requirements of the project with the given extras, one a line, from pyproject.toml alone.

    python deploy/requirements.py pyproject.toml server      # the gateway image's dependencies
    python deploy/requirements.py pyproject.toml cpu         # a CPU worker's (an extra naming the project's own
                                                             # extras, e.g. "lenet-service[server]", is expanded)

The images install these in a layer of their own before any source is copied (Dockerfile), so a code change
does not reinstall MXNet. Standard library only: it runs before anything is installed.
"""
import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    own = re.compile(rf"{re.escape(project['name'])}\s*\[([^\]]+)\]\s*", re.I)
    found, seen, pending = list(project.get("dependencies", [])), set(), list(extras)
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        try:
            listed = project["optional-dependencies"][extra]
        except KeyError:
            raise SystemExit(f"requirements: pyproject.toml has no extra {extra!r}") from None
        for requirement in listed:
            if match := own.fullmatch(requirement):
                pending += [name.strip() for name in match.group(1).split(",")]
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2:])))
