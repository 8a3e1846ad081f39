"""Regenerate the Python code for the gRPC contract: `python -m protos.generate` (or `make proto`).

The generated modules sit beside lenet.proto under protos/lenet/v1/ and are never edited by hand;
tests/unit/test_proto_fresh.py fails when they are stale.
"""
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = "protos/lenet/v1/lenet.proto"


def generate(out_dir: Path = ROOT) -> None:
    """Compile PROTO into out_dir (keeping the protos/lenet/v1 path) with grpc_tools' bundled protoc."""
    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", str(ROOT / PROTO)]
    if protoc.main(args) != 0:
        sys.exit(f"protoc failed on {PROTO}")


if __name__ == "__main__":
    generate()
