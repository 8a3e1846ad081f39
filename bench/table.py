"""Write one benchmark's figures as a section of BENCHMARKS.md, replacing that section's previous run."""
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nFigures written by `make bench` (`python -m bench NAME`); "
          "each section is replaced by its latest run.\n")


def markdown(columns: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def record(name: str, columns: list[str], rows: list[list], note: str = "") -> None:
    """Print the table and store it under `## name` in BENCHMARKS.md."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {name}\n\n{markdown(columns, rows)}\n\n{note + chr(10) + chr(10) if note else ''}" \
              f"_Measured {when} on {machine}._\n"
    print(section)
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)
