"""Run benchmarks: `python -m bench [NAME …]` (default: all). Each module under bench/ with a main() is one."""
import importlib
import sys

BENCHES = ["train", "inspect"]


def main(names: list[str]) -> None:
    for name in names or BENCHES:
        if name not in BENCHES:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
