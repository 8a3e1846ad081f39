"""The generated code under protos/lenet/v1 matches what `make proto` produces from lenet.proto now."""
from pathlib import Path

from protos import generate

GENERATED = ["lenet_pb2.py", "lenet_pb2.pyi", "lenet_pb2_grpc.py"]


def test_generated_code_is_fresh(tmp_path):
    generate.generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / "protos/lenet/v1" / name).read_text()
        committed = (generate.ROOT / "protos/lenet/v1" / name).read_text()
        assert committed == fresh, f"protos/lenet/v1/{name} is stale: run `make proto`"


def test_every_rpc_and_message_is_commented():
    lines = Path(generate.ROOT, generate.PROTO).read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("rpc "):
            assert lines[number - 1].strip().startswith("//"), f"undocumented rpc: {line.strip()}"
