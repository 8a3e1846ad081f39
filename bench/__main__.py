"""Run benchmarks: `python -m bench` runs all with their defaults; `python -m bench NAME [OPTIONS]` runs one."""
import importlib
import sys

BENCHES = ["inspect", "predict", "serving", "history", "train"]


def main(argv: list[str]) -> None:
    name, options = (argv[0], argv[1:]) if argv else (None, [])
    if name is not None and name not in BENCHES:
        sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
    for bench in [name] if name else BENCHES:
        importlib.import_module(f"bench.{bench}_bench").main(options)


if __name__ == "__main__":
    main(sys.argv[1:])
