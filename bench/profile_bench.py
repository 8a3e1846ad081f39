"""Where a training batch's time goes, op by op: MXNet's profiler on a bare Module with an OpenMP thread per core,
next to PyTorch's profiler on the same network (when installed). Each op's minimum over 30 batches, so other load
on the machine inflates it least; the sums are the kernels' own floor per batch, without the engine's overheads.
"""
import importlib.util

from bench import harness
from bench.table import Section


def run(args, service) -> list[Section]:
    mxnet = harness.child("mxnet_op_profile", cores="all")["ops"]
    torch = harness.child("torch_op_profile")["ops"] if importlib.util.find_spec("torch") else {}
    rows = [["MXNet", name, f"{ms:.2f}", f"{ms / sum(mxnet.values()):.0%}"] for name, ms in mxnet.items() if ms >= 0.05]
    rows.append(["MXNet", "**all ops**", f"**{sum(mxnet.values()):.2f}**", ""])
    rows += [["PyTorch", name, f"{ms:.2f}", f"{ms / sum(torch.values()):.0%}"] for name, ms in torch.items()]
    if torch:
        rows.append(["PyTorch", "**these kernels**", f"**{sum(torch.values()):.2f}**", ""])
    return [Section("Training batch profile: MXNet's ops next to PyTorch's kernels",
                    ["framework", "op", "ms per batch of 100 (minimum)", "share"], rows,
                    "Bare Module / PyTorch, batch 100, an OpenMP thread per core; MXNet with bulk execution off so "
                    "that every op is timed. An op run twice a batch (two convolutions) counts both." +
                    ("" if torch else " PyTorch is not installed here."), "python -m bench profile",
                    {"mxnet": mxnet, "torch": torch})]
