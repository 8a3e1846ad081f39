"""Run the benchmarks: `python -m bench [NAME …] [--write] [--full] [--repeats N]` (`make bench ARGS=…`); the chaos
soak runs only when named (`python -m bench chaos --minutes M`).

Every run prints its figures and keeps them in out/bench/latest.md and latest.json (git-ignored); `--write` also
replaces their sections in BENCHMARKS.md. The service benchmarks share one embedded stack and one small model, and
the peak memory of the stack's processes is read after them.
"""
import argparse
import importlib
import signal
import sys

from bench import harness
from bench.table import Section, save

BENCHES = ["train", "profile", "evaluate", "inspect", "predict", "serving", "threads", "transport", "history", "oip",
           "recipe", "tracing", "durability", "chaos"]
ON_REQUEST = {"chaos"}   # not part of a run of all
SERVICE = {"evaluate", "inspect", "predict", "serving", "threads", "oip"}   # these share one stack (threads: its model)


def memory_section(service: harness.Service, benches: list[str]) -> Section:
    peaks = {name: harness.peak_memory_mb(pid) for name, pid in service.processes().items()}
    rows = [[name, "—" if mb is None else f"{mb:,.0f}"] for name, mb in peaks.items()]   # None: the process has gone
    return Section("Peak memory of the stack's processes", ["process", "peak RSS, VmHWM (MB)"], rows,
                   f"Read from /proc/PID/status after the {', '.join(benches)} benchmarks on one stack (1 CPU worker).",
                   f"python -m bench {' '.join(benches)}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHES)} [all]")
    parser.add_argument("--write", action="store_true", help="also rewrite their sections of BENCHMARKS.md")
    parser.add_argument("--full", action="store_true", help="train: the seed's full run (60,000 × 20) both ways; "
                                                                "recipe: the recipe's full run")
    parser.add_argument("--recipe", default="better", help="recipe: the contract's recipe to run [better]")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per figure; the median is reported [3]")
    parser.add_argument("--images", type=int, default=20_000, help="train: training images side by side [20000]")
    parser.add_argument("--limit", type=int, default=10_000, help="evaluate, inspect: test images [10000]")
    parser.add_argument("--calls", type=int, default=200, help="predict, durability: calls to time [200]")
    parser.add_argument("--seconds", type=float, default=5.0, help="serving: seconds of load per row [5]")
    parser.add_argument("--jobs", type=int, default=100_000, help="history: ended jobs for the second run [100000]")
    parser.add_argument("--minutes", type=float, default=10.0, help="chaos: minutes of load and faults [10]")
    parser.add_argument("--faults", type=int, default=0, help="chaos: faults of each kind [one per 5 minutes]")
    parser.add_argument("--seed", type=int, default=19, help="chaos: the faults' order and targets [19]")
    parser.add_argument("--nodes", type=int, default=2, help="chaos: worker nodes [2]")
    parser.add_argument("--ha", action="store_true", help="chaos: Redis Sentinel (a primary, a replica, three "
                        "sentinels); the Redis fault kills the primary")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # stopped: its stacks stop what they started too
    unknown = set(args.names) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")
    names = [name for name in BENCHES if name in (args.names or set(BENCHES) - ON_REQUEST)]
    sections, service = [], None
    try:
        for name in names:
            if name in SERVICE and service is None:
                service = harness.Service.start()
            for section in importlib.import_module(f"bench.{name}_bench").run(args, service):
                print(section.markdown(), flush=True)
                sections.append(section)
        if service is not None:
            sections.append(memory_section(service, [name for name in names if name in SERVICE]))
            print(sections[-1].markdown())
    finally:
        if service is not None:
            service.stop()
        if sections:
            print(f"figures kept in {save(sections, write_benchmarks=args.write)}"
                  + (" and BENCHMARKS.md" if args.write else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
