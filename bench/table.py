"""Benchmark figures as sections: printed, kept in out/bench/ on every run, written to BENCHMARKS.md on request."""
import json
import os
import platform
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
RESULTS = ROOT / "out" / "bench"   # git-ignored: latest.md and latest.json of the last run
HEADER = ("# Benchmarks\n\nFigures written by `make bench ARGS=--write` (`python -m bench --write`); each section is "
          "replaced by its latest run. A run without `--write` leaves them in `out/bench/latest.md`.\n")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass
class Section:
    name: str
    columns: list[str]
    rows: list[list]
    note: str = ""
    command: str = ""          # what reproduces it
    figures: dict = field(default_factory=dict)  # the raw numbers, for latest.json
    when: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # other work on the machine when it ended

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        note = f"{self.note}\n\n" if self.note else ""
        command = f"`{self.command}` · " if self.command else ""
        where = f"{machine()}, load average {self.load:.1f}"
        return f"## {self.name}\n\n" + "\n".join(lines) + f"\n\n{note}_{command}measured {self.when} on {where}._\n"


def save(sections: list[Section], write_benchmarks: bool = False) -> Path:
    """Keep the run in out/bench/latest.{md,json}; with write_benchmarks also replace its sections in BENCHMARKS.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text("\n".join(section.markdown() for section in sections))
    (RESULTS / "latest.json").write_text(json.dumps([asdict(section) for section in sections], indent=1))
    if write_benchmarks:
        text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
        for section in sections:
            pattern = re.compile(rf"^## {re.escape(section.name)}\n.*?(?=^## |\Z)", re.S | re.M)
            replacement = section.markdown() + "\n"
            text = pattern.sub(lambda _: replacement, text) if pattern.search(text) else \
                text.rstrip() + "\n\n" + replacement
        BENCHMARKS.write_text(text.rstrip() + "\n")
    return RESULTS / "latest.md"
