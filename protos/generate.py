"""Regenerate the Python code for the gRPC contracts: `python -m lenet_protos.generate` (or `make proto`).

Our own contract's modules sit beside lenet.proto under protos/lenet/v1/. The Open Inference Protocol's proto
(protos/inference/, package `inference`) becomes a descriptor set, not Python modules: generated modules would
register `inference.*` in protobuf's default pool, where tritonclient's copy of the same package lives, and a
process importing both would fail. protos/inference/__init__.py loads the set into a private pool instead.
Nothing here is edited by hand; tests/unit/test_proto_fresh.py fails when it is stale.
"""
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = "protos/lenet/v1/lenet.proto"
INTERNAL_PROTO = "protos/lenet/internal/v1/relay.proto"   # between gateway and workers (issue 21)
INFERENCE = "protos/inference"
INFERENCE_PROTO = "grpc_service.proto"
INFERENCE_DESCRIPTORS = f"{INFERENCE}/grpc_service.binpb"
# protoc names the generated modules after their protos' folders (protos.lenet.…); they are imported under this
# package's installed name (lenet_protos.lenet.…).
GENERATED_PACKAGE = ".".join(PROTO.split("/")[:2])
INSTALLED_PACKAGE = f"{__package__}.lenet"


def generate(out_dir: Path = ROOT) -> None:
    """Compile PROTO and INTERNAL_PROTO into out_dir (keeping their paths) with grpc_tools' bundled protoc, naming
    the generated modules (their imports of each other, their classes' module) by INSTALLED_PACKAGE; and the
    inference protocol into its descriptor set (with the model_config.proto it imports)."""
    include = Path(protoc.__file__).parent / "_proto"
    for proto in (PROTO, INTERNAL_PROTO):
        run(["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
             f"--grpc_python_out={out_dir}", str(ROOT / proto)], proto)
        for module in (out_dir / proto).parent.glob("*_pb2*.py*"):
            module.write_text(module.read_text().replace(f"{GENERATED_PACKAGE}.", f"{INSTALLED_PACKAGE}."))
    (out_dir / INFERENCE).mkdir(parents=True, exist_ok=True)
    run(["protoc", f"-I{ROOT / INFERENCE}", "--include_imports",
         f"--descriptor_set_out={out_dir / INFERENCE_DESCRIPTORS}", str(ROOT / INFERENCE / INFERENCE_PROTO)],
        INFERENCE_PROTO)


def run(args: list[str], name: str) -> None:
    if protoc.main(args) != 0:
        sys.exit(f"protoc failed on {name}")


if __name__ == "__main__":
    generate()
