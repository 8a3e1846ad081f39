"""Data augmentation on the worker: every training image moved by a random affine transform of its own (a shift, a
rotation and a scaling), a whole epoch at once with MXNet's GridGenerator and BilinearSampler, so it runs as a few
vectorised operators on the training device rather than a Python loop over images."""
import mxnet as mx
import numpy as np

CHUNK = 10_000  # images per sampler call: bounds the sampling grid's memory (8 bytes per pixel)


def augments(hp) -> bool:
    """Whether the hyper-parameters (lenet_protos.contract.HyperParams) ask for any augmentation."""
    return bool(hp.augment_shift or hp.augment_rotation or hp.augment_scale)


def affine(images: mx.nd.NDArray, rng: np.random.RandomState, shift: float, rotation: float,
           scale: float) -> mx.nd.NDArray:
    """(N, 1, 28, 28) images, each shifted by up to ±shift pixels across and down, rotated by up to ±rotation
    degrees and scaled by a factor within 1 ± scale (each uniform, drawn from `rng`), resampled bilinearly; what
    moves in from outside the frame is 0, MNIST's black background (so augment before any input scaling)."""
    count, height, width = images.shape[0], images.shape[2], images.shape[3]
    angle = np.radians(rng.uniform(-rotation, rotation, count))
    zoom = rng.uniform(1 - scale, 1 + scale, count)
    across, down = rng.uniform(-shift, shift, count), rng.uniform(-shift, shift, count)
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    # Output pixel (x, y), both in [-1, 1] across the frame, samples the input at (cos x - sin y + tx, sin x + cos y
    # + ty); one pixel is 2 / (size - 1) of that range.
    theta = np.stack([cos, -sin, across * 2 / (width - 1), sin, cos, down * 2 / (height - 1)], axis=1)
    theta = mx.nd.array(theta.astype(np.float32), images.context)
    return mx.nd.concat(*[
        mx.nd.BilinearSampler(images[start:start + CHUNK], mx.nd.GridGenerator(
            theta[start:start + CHUNK], transform_type="affine", target_shape=(height, width)))
        for start in range(0, count, CHUNK)], dim=0)
