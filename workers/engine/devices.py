"""The MXNet device a worker computes on."""
import os

import mxnet as mx


def context(device: str) -> mx.Context:
    """mx.cpu() for "cpu"; for "gpu", the GPU numbered $LENET_GPU (default 0), refused if MXNet sees none."""
    if device == "cpu":
        return mx.cpu()
    if device == "gpu":
        if mx.context.num_gpus() == 0:
            raise RuntimeError("no GPU visible to MXNet: this build or machine has no CUDA device; use device 'cpu'")
        return mx.gpu(int(os.environ.get("LENET_GPU", "0")))
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'gpu'")
