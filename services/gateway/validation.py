"""Check every request field before anything is queued; errors name the field (INVALID_ARGUMENT)."""
import re

import numpy as np

from protos.contract import LAYERS, SPLIT_SIZES
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import from_tensor, images_from_tensor
from services.errors import InvalidArgument, ResourceExhausted

SEED_DEFAULTS = pb.HyperParameters(epochs=20, batch_size=100, learning_rate=0.05, momentum=0.9,
                                   weight_decay=1e-5, seed=42, init_scale=0.01)
MAX_UPLOAD_IMAGES = 10_000       # per Predict / Inspect / dataset upload (≈ 31 MB of float32 pixels)
MAX_INSPECT_SAMPLES = 10_000
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def check(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise InvalidArgument(field, problem)


def required_id(value: str, field: str) -> str:
    check(bool(value) and len(value) <= 64 and value.isprintable(), field, "must be a non-empty id")
    return value


def hyper_parameters(given: pb.HyperParameters) -> pb.HyperParameters:
    """The seed's defaults for unset fields, then range checks."""
    hp = pb.HyperParameters()
    hp.CopyFrom(SEED_DEFAULTS)
    for field, value in given.ListFields():
        setattr(hp, field.name, value)
    field = "hyper_parameters."
    check(1 <= hp.epochs <= 1000, field + "epochs", f"must be 1..1000, got {hp.epochs}")
    check(1 <= hp.batch_size <= 10_000, field + "batch_size", f"must be 1..10000, got {hp.batch_size}")
    check(0 < hp.learning_rate <= 10, field + "learning_rate", f"must be in (0, 10], got {hp.learning_rate}")
    check(0 <= hp.momentum < 1, field + "momentum", f"must be in [0, 1), got {hp.momentum}")
    check(0 <= hp.weight_decay < 1, field + "weight_decay", f"must be in [0, 1), got {hp.weight_decay}")
    check(0 < hp.init_scale <= 1, field + "init_scale", f"must be in (0, 1], got {hp.init_scale}")
    check(0 <= hp.seed < 2**31, field + "seed", f"must be in [0, 2^31), got {hp.seed}")
    return hp


def dataset(given: pb.Dataset, field: str, labels_required: bool = False) -> pb.Dataset:
    if given.HasField("images"):
        images = uploaded_images(given.images, field + ".images")
        check(given.HasField("labels") or not labels_required, field + ".labels", "uploaded images need labels")
        if given.HasField("labels"):
            try:
                labels = from_tensor(given.labels)
            except ValueError as error:
                raise InvalidArgument(field + ".labels", str(error)) from None
            check(labels.dtype in (np.uint8, np.int64) and labels.shape == (len(images),), field + ".labels",
                  f"need {len(images)} UINT8 or INT64 labels, got {labels.dtype} {list(labels.shape)}")
            check(labels.size == 0 or 0 <= labels.min() and labels.max() <= 9, field + ".labels",
                  "labels must be digits 0..9")
        return given
    split_indices(given.split, given.indices, field + ".")
    check(given.limit >= 0, field + ".limit", f"must be ≥ 0, got {given.limit}")
    return given


def split_indices(split: str, indices, prefix: str = "") -> None:
    """A known split ("" means "test") and indices inside it."""
    split = split or "test"
    check(split in SPLIT_SIZES, prefix + "split", f"must be one of {sorted(SPLIT_SIZES)}, got {split!r}")
    bad = [i for i in indices if not 0 <= i < SPLIT_SIZES[split]]
    check(not bad, prefix + "indices", f"{bad[:5]} out of range 0..{SPLIT_SIZES[split] - 1} of split {split!r}")


def uploaded_images(tensor: pb.Tensor, field: str) -> np.ndarray:
    if len(tensor.shape) >= 1 and tensor.shape[0] > MAX_UPLOAD_IMAGES:
        raise ResourceExhausted(f"{field}: at most {MAX_UPLOAD_IMAGES} images per request, got {tensor.shape[0]}")
    try:
        images = images_from_tensor(tensor)
    except ValueError as error:
        raise InvalidArgument(field, str(error)) from None
    check(images.dtype == np.uint8 or bool(np.isfinite(images).all()), field, "float pixels must be finite")
    return images


def device(value: int, field: str = "device") -> int:
    check(value in pb.Device.values(), field, f"unknown device {value}")
    return value


def train(request: pb.TrainRequest) -> pb.TrainRequest:
    checked = pb.TrainRequest()
    checked.CopyFrom(request)
    checked.hyper_parameters.CopyFrom(hyper_parameters(request.hyper_parameters))
    dataset(request.train_data, "train_data", labels_required=True)
    dataset(request.eval_data, "eval_data", labels_required=True)
    if not request.train_data.HasField("images"):
        checked.train_data.split = request.train_data.split or "train"
    if not request.eval_data.HasField("images"):
        checked.eval_data.split = request.eval_data.split or "test"
    device(request.device)
    checked.model_name = request.model_name or "lenet"
    check(bool(NAME.match(checked.model_name)), "model_name",
          "use 1–64 letters, digits, '.', '_' or '-'")
    check(len(request.idempotency_key) <= 128, "idempotency_key", "at most 128 characters")
    return checked


def evaluation(request: pb.EvaluationRequest) -> pb.EvaluationRequest:
    required_id(request.model_id, "model_id")
    dataset(request.dataset, "dataset", labels_required=True)
    device(request.device)
    check(len(request.idempotency_key) <= 128, "idempotency_key", "at most 128 characters")
    return request


def predict(request: pb.PredictRequest) -> pb.PredictRequest:
    required_id(request.model_id, "model_id")
    check(request.HasField("images"), "images", "required")
    uploaded_images(request.images, "images")
    return request


def inspect(request: pb.InspectRequest) -> pb.InspectRequest:
    required_id(request.model_id, "model_id")
    dataset(request.samples, "samples")
    unknown = [name for name in request.layers if name not in LAYERS]
    check(not unknown, "layers", f"unknown {unknown}; choose from {', '.join(LAYERS)}")
    check(request.dtype in (pb.DTYPE_UNSPECIFIED, pb.FLOAT32, pb.FLOAT16), "dtype", "must be FLOAT32 or FLOAT16")
    check(0 <= request.batch_size <= 2000, "batch_size", f"must be 0..2000, got {request.batch_size}")
    count = len(request.samples.indices) or request.samples.limit or SPLIT_SIZES.get(request.samples.split or "test", 0)
    if count > MAX_INSPECT_SAMPLES:
        raise ResourceExhausted(f"samples: at most {MAX_INSPECT_SAMPLES} samples per Inspect call, got {count}")
    return request


def samples(request: pb.GetSamplesRequest) -> pb.GetSamplesRequest:
    check(0 < len(request.indices) <= MAX_UPLOAD_IMAGES, "indices", f"give 1..{MAX_UPLOAD_IMAGES} indices")
    split_indices(request.split, request.indices)
    return request


def export(request: pb.ExportModelRequest) -> pb.ExportModelRequest:
    required_id(request.model_id, "model_id")
    check(request.format in pb.ExportFormat.values(), "format", f"unknown format {request.format}; use MXNET or ONNX")
    return request
