"""Turn a lenet.v1.Dataset (a split slice, chosen indices, or uploaded images) into numpy arrays."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet_protos import contract, mnist
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import from_tensor, images_from_tensor
from lenet_services.errors import FailedPrecondition, InvalidArgument


@dataclass
class Selection:
    images: np.ndarray          # uint8 or float32, N×28×28
    labels: np.ndarray | None   # N labels, None for unlabelled uploads
    indices: np.ndarray         # split indices (or 0…N-1 for uploads): what results refer to
    description: str


def resolve(dataset: pb.Dataset, data_dir: Path, field: str = "dataset", split_size: int = 0) -> Selection:
    """The images a dataset names; `field` (e.g. "train_data") names it in errors and picks the default split. With
    `split_size`, a whole split means its first `split_size` images (the train split outside the validation split)."""
    if dataset.HasField("images"):
        images = uploaded_images(dataset.images, f"{field}.images")
        labels = None
        if dataset.HasField("labels"):
            labels = from_tensor(dataset.labels).astype(np.int64).reshape(-1)
            if len(labels) != len(images) or labels.min(initial=0) < 0 or labels.max(initial=0) >= contract.CLASSES:
                raise InvalidArgument(f"{field}.labels", f"need {len(images)} labels in 0..9")
        return Selection(images, labels, np.arange(len(images)), f"{len(images)} uploaded images")
    split = dataset.split or contract.default_split(field)
    try:
        images, labels = mnist.load_split(split, data_dir)
    except mnist.DatasetError as error:
        raise FailedPrecondition(f"the worker has no MNIST data: {error}") from None
    try:
        available = min(split_size or len(images), len(images))
        indices = np.asarray(dataset.indices, dtype=np.int64) if dataset.indices else \
            np.arange(min(dataset.limit, available) if dataset.limit else available)
        images, labels = mnist.select(images, labels, indices=indices)
    except (IndexError, ValueError) as error:
        raise InvalidArgument(field, str(error)) from None
    return Selection(images, labels.astype(np.int64), indices, f"{len(indices)} {split} images")


def uploaded_images(tensor: pb.Tensor, field: str) -> np.ndarray:
    try:
        return images_from_tensor(tensor)
    except ValueError as error:
        raise InvalidArgument(field, str(error)) from None
