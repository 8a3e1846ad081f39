"""The MXNet device a worker computes on."""
import mxnet as mx


def context(device: str, gpu: int = 0) -> mx.Context:
    """mx.cpu() for "cpu"; for "gpu", the GPU numbered `gpu`, refused if MXNet sees none."""
    if device == "cpu":
        return mx.cpu()
    if device == "gpu":
        if mx.context.num_gpus() == 0:
            raise RuntimeError("no GPU visible to MXNet: this build or machine has no CUDA device; use device 'cpu'")
        return mx.gpu(gpu)
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'gpu'")
