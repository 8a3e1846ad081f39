"""Parameters as bytes in MXNet's `.params` format, so the store can keep them and R or Python can open them."""
import tempfile
from pathlib import Path

import mxnet as mx

from lenet_protos.contract import checkpoint_files


def params_to_bytes(arg_params: dict, aux_params: dict) -> bytes:
    """The exact bytes `mx.model.save_checkpoint` writes for these parameters ("arg:…" and "aux:…" keys)."""
    named = {f"arg:{k}": v.as_in_context(mx.cpu()) for k, v in arg_params.items()}
    named.update({f"aux:{k}": v.as_in_context(mx.cpu()) for k, v in aux_params.items()})
    with tempfile.TemporaryDirectory() as tmp:  # mx.nd.save only writes to files
        path = Path(tmp) / "model.params"
        mx.nd.save(str(path), named)
        return path.read_bytes()


def params_from_bytes(data: bytes) -> tuple[dict, dict]:
    """(arg_params, aux_params) from `.params` bytes, as `mx.model.load_checkpoint` splits them."""
    arg_params, aux_params = {}, {}
    for key, value in mx.nd.load_frombuffer(data).items():
        kind, name = key.split(":", 1)
        if kind not in ("arg", "aux"):
            raise ValueError(f"parameter key {key!r} is neither 'arg:…' nor 'aux:…'")
        (arg_params if kind == "arg" else aux_params)[name] = value
    return arg_params, aux_params


def save_checkpoint_files(prefix, symbol_json: str, params: bytes, epoch: int = 0) -> list[Path]:
    """Write PREFIX-symbol.json and PREFIX-EPOCH.params: what `mx.model.load_checkpoint` and R's mx.model.load read."""
    symbol_path, params_path = (Path(prefix).parent / name for name in checkpoint_files(Path(prefix).name, epoch))
    symbol_path.write_text(symbol_json)
    params_path.write_bytes(params)
    return [symbol_path, params_path]
