"""Check every request field before anything reaches Redis or a queue.

A malformed field is INVALID_ARGUMENT and a field beyond a stated limit is RESOURCE_EXHAUSTED; both messages
start with the field's name and never echo more than a few dozen characters of what was sent. The limits and
defaults are lenet_protos.contract's.
"""
import re
from dataclasses import dataclass, replace

import numpy as np

from lenet_protos import contract, shared_memory
from lenet_protos.contract import HYPER_PARAMETERS, LAYERS, SPLIT_SIZES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import from_tensor, images_from_tensor
from lenet_services.errors import InvalidArgument, ResourceExhausted
from lenet_services.sweep_driver import grid_size, searched


def check(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise InvalidArgument(field, problem)


def at_most(count: int, limit: int, field: str, unit: str) -> None:
    if count > limit:
        raise ResourceExhausted(f"{field}: at most {limit:,} {unit}, got {count:,}")


def shown(value: str) -> str:
    """A value quoted for an error message, cut short when long."""
    return repr(value) if len(value) <= 40 else repr(value[:40]) + f"… ({len(value):,} characters)"


def job_id(value: str, field: str = "job_id") -> str:
    check(bool(value), field, "required")
    check(bool(contract.ID.fullmatch(value)), field, f"{shown(value)} is not a job id (16 hex digits)")
    return value


VERSION = re.compile(r"[1-9][0-9]{0,14}")   # a version as a decimal string, 1..contract.MAX_VERSION


@dataclass(frozen=True)
class ModelReference:
    """What a model reference names: the newest model (`latest`), an `id`, an id `prefix`, or a `name` with
    a `version` or an `alias` (neither: the production alias, else the newest version)."""
    latest: bool = False
    id: str = ""
    prefix: str = ""
    name: str = ""
    version: int = 0
    alias: str = ""


def model_ref(value: str, field: str = "model_id") -> ModelReference:
    """An id, a unique prefix of one (resolved by the service), "latest", NAME, NAME/VERSION or NAME@ALIAS."""
    check(bool(value), field, "required")
    if value == contract.LATEST:
        return ModelReference(latest=True)
    if contract.ID.fullmatch(value):
        return ModelReference(id=value)
    if contract.ID_PREFIX.fullmatch(value) and len(value) >= contract.MIN_ID_PREFIX:
        return ModelReference(prefix=value)
    parts = contract.NAME_REFERENCE.fullmatch(value)
    check(parts is not None and not contract.ID_PREFIX.fullmatch(parts["name"]), field,
          f"{shown(value)} is not a model reference: a model id (16 hex digits), a prefix of at least "
          f"{contract.MIN_ID_PREFIX} of them, {contract.LATEST!r}, NAME, NAME/VERSION or NAME@ALIAS")
    return ModelReference(name=model_name(parts["name"], field), version=int(parts["version"] or 0),
                          alias=parts["alias"] or "")


def model_version(reference: ModelReference, value: str, field: str = "model_version") -> ModelReference:
    """`reference` with a version given apart from it (the OIP's model_version): a decimal 1..MAX_VERSION, which
    goes with a plain NAME (that version of it) or an id (which must be that version)."""
    check(bool(VERSION.fullmatch(value)), field, f"{shown(value)} is not a version (1..{contract.MAX_VERSION:,})")
    check(bool(reference.id or reference.name and not reference.version and not reference.alias), field,
          "a version goes with a model name or id, not with 'latest', an id prefix, NAME/VERSION or NAME@ALIAS")
    return replace(reference, version=int(value))


def model_name(value: str, field: str = "name") -> str:
    problem = contract.name_problem(value)
    check(problem is None, field, f"{shown(value)}: {problem}" if value else "required")
    return value


def alias(value: str, field: str = "alias") -> str:
    check(bool(value), field, "required")
    check(bool(contract.ALIAS.fullmatch(value)), field,
          f"{shown(value)}: use 1–{contract.MAX_NAME_LENGTH} letters, digits, '.', '_' or '-'")
    return value


def version(value: int, field: str = "version") -> int:
    check(1 <= value <= contract.MAX_VERSION, field, f"must be 1..{contract.MAX_VERSION:,}, got {value}")
    return value


def users(values, field: str) -> None:
    """User names as LENET_TOKENS writes them."""
    at_most(len(values), 100, field, "users")
    bad = [shown(value) for value in values if not contract.USER.fullmatch(value)]
    check(not bad, field, f"{', '.join(bad[:3])} not a user name (letters, digits, '.', '_', '-', '@')")


def idempotency_key(value: str) -> str:
    check(len(value) <= contract.MAX_KEY_LENGTH and value.isprintable(), "idempotency_key",
          f"at most {contract.MAX_KEY_LENGTH} printable characters")
    return value


def hyper_parameters(given: pb.HyperParameters) -> pb.HyperParameters:
    """Range checks on the fields given, then every field filled in (the seed's default where absent)."""
    for spec in HYPER_PARAMETERS:
        if given.HasField(spec.name):
            problem = spec.problem(getattr(given, spec.name))
            check(problem is None, f"hyper_parameters.{spec.name}", problem or "")
    return contract.hyper_parameters_message(contract.hyper_params(given))


def dataset(given: pb.Dataset, field: str, labels_required: bool = False, train_size: int = SPLIT_SIZES["train"]
            ) -> pb.Dataset:
    """The dataset with its split (default for `field`) and size filled in; of the train split, only the first
    `train_size` images may be named (the rest are the validation split, when a job holds it out)."""
    checked = pb.Dataset()
    checked.CopyFrom(given)
    check(given.size == 0, field + ".size", "is output only")
    if given.HasField("images"):
        images = uploaded_images(given.images, field + ".images")
        check(given.HasField("labels") or not labels_required, field + ".labels", "uploaded images need labels")
        if given.HasField("labels"):
            labels(given.labels, len(images), field + ".labels")
        checked.ClearField("split")
        checked.size = len(images)
        return checked
    checked.split = split(given.split, field + ".split", contract.default_split(field))
    split_size = train_size if checked.split == contract.TRAIN_SPLIT else SPLIT_SIZES[checked.split]
    held_out = " outside the validation split" if split_size < SPLIT_SIZES[checked.split] else ""
    check(given.limit >= 0, field + ".limit", f"must be ≥ 0, got {given.limit}")
    check(given.limit <= split_size, field + ".limit",
          f"the {checked.split} split has {split_size:,} images{held_out}, got {given.limit:,}")
    indices(given.indices, checked.split, field + ".indices", contract.MAX_INDICES, split_size)
    checked.size = len(given.indices) or given.limit or split_size
    return checked


def split(value: str, field: str, default: str) -> str:
    value = value or default
    check(value in SPLIT_SIZES, field, f"must be one of {', '.join(SPLIT_SIZES)}, got {shown(value)}")
    return value


def indices(values, split_name: str, field: str, limit: int, size: int = 0) -> None:
    """At most `limit` indices, each inside the split (its first `size` images, when given)."""
    at_most(len(values), limit, field, "indices")
    size = size or SPLIT_SIZES[split_name]
    array = np.asarray(values, dtype=np.int64)
    bad = array[(array < 0) | (array >= size)]
    check(bad.size == 0, field, f"{bad[:5].tolist()} out of range 0..{size - 1} of split {split_name!r}")


def uploaded_images(tensor: pb.Tensor, field: str) -> np.ndarray:
    if tensor.shape:
        at_most(tensor.shape[0], contract.MAX_IMAGES, field, "images")
    try:
        images = images_from_tensor(tensor)
    except ValueError as error:
        raise InvalidArgument(field, str(error)) from None
    check(images.dtype == np.uint8 or bool(np.isfinite(images).all()), field, "float pixels must be finite")
    return images


def labels(tensor: pb.Tensor, count: int, field: str) -> None:
    try:
        values = from_tensor(tensor)
    except ValueError as error:
        raise InvalidArgument(field, str(error)) from None
    check(values.dtype in (np.uint8, np.int64) and values.shape == (count,), field,
          f"need {count} UINT8 or INT64 labels, got {values.dtype} {list(values.shape)}")
    check(values.size == 0 or 0 <= values.min() and values.max() < contract.CLASSES, field,
          "labels must be digits 0..9")


def enum(value: int, enum_type, field: str) -> int:
    check(value in enum_type.values(), field, f"unknown {enum_type.DESCRIPTOR.name} {value}")
    return value


def page(page_size: int, page_token: str) -> tuple[int, str]:
    check(0 <= page_size, "page_size", f"must be ≥ 0, got {page_size}")
    at_most(page_size, contract.MAX_PAGE_SIZE, "page_size", "items per page")
    check(len(page_token) <= 100 and page_token.isprintable(), "page_token", "not a token this service gave")
    return page_size or contract.DEFAULT_PAGE_SIZE, page_token


# -- one function per request ------------------------------------------------------------------------------------

def train(request: pb.TrainRequest) -> pb.TrainRequest:
    checked = pb.TrainRequest()
    checked.CopyFrom(request)
    checked.hyper_parameters.CopyFrom(hyper_parameters(request.hyper_parameters))
    checked.train_data.CopyFrom(dataset(request.train_data, "train_data", labels_required=True,
                                        train_size=contract.train_split_size(request)))
    checked.eval_data.CopyFrom(dataset(request.eval_data, "eval_data", labels_required=True))
    if request.HasField("validation_data"):
        checked.validation_data.CopyFrom(dataset(request.validation_data, "validation_data", labels_required=True))
    check(request.HasField("validation_data") or not request.validation_only, "validation_only",
          "needs validation_data to score instead of eval_data")
    enum(request.device, pb.Device, "device")
    checked.model_name = model_name(request.model_name or contract.DEFAULT_MODEL_NAME, "model_name")
    idempotency_key(request.idempotency_key)
    return checked


def evaluation(request: pb.EvaluationRequest) -> pb.EvaluationRequest:
    checked = pb.EvaluationRequest()
    checked.CopyFrom(request)
    model_ref(request.model_id)
    checked.dataset.CopyFrom(dataset(request.dataset, "dataset", labels_required=True))
    enum(request.device, pb.Device, "device")
    idempotency_key(request.idempotency_key)
    return checked


def list_models(request: pb.ListModelsRequest) -> tuple[int, str]:
    """The page size and token, after checking the name filter."""
    if request.name:
        model_name(request.name)
    return page(request.page_size, request.page_token)


def list_jobs(request: pb.ListJobsRequest) -> tuple[int, str]:
    """The page size and token, after checking the filters."""
    enum(request.kind, pb.JobKind, "kind")
    enum(request.state, pb.JobState, "state")
    return page(request.page_size, request.page_token)


def watch(request: pb.WatchJobRequest) -> pb.WatchJobRequest:
    job_id(request.job_id)
    check(not request.after_event_id or bool(contract.EVENT_ID.fullmatch(request.after_event_id)),
          "after_event_id", f"{shown(request.after_event_id)} is not an event id (MILLISECONDS-SEQUENCE)")
    return request


def predict(request: pb.PredictRequest) -> tuple[pb.PredictRequest, np.ndarray]:
    """The request and its images as an array."""
    model_ref(request.model_id)
    check(request.HasField("images"), "images", "required")
    return request, uploaded_images(request.images, "images")


def inspect(request: pb.InspectRequest) -> pb.InspectRequest:
    checked = pb.InspectRequest()
    checked.CopyFrom(request)
    model_ref(request.model_id)
    checked.samples.CopyFrom(dataset(request.samples, "samples"))
    at_most(checked.samples.size, contract.MAX_SAMPLES, "samples", "samples per Inspect call")
    at_most(len(request.layers), len(LAYERS), "layers", "layers")
    unknown = [shown(name) for name in request.layers if name not in LAYERS]
    check(not unknown, "layers", f"unknown {', '.join(unknown[:3])}; choose from {', '.join(LAYERS)}")
    repeated = sorted({name for name in request.layers if list(request.layers).count(name) > 1})
    check(not repeated, "layers", f"{', '.join(repeated)} asked more than once")
    check(request.dtype in (pb.DTYPE_UNSPECIFIED, pb.FLOAT32, pb.FLOAT16), "dtype", "must be FLOAT32 or FLOAT16")
    checked.dtype = request.dtype or pb.FLOAT32
    check(0 <= request.batch_size <= contract.INSPECT_BATCH_MAX, "batch_size",
          f"must be 0..{contract.INSPECT_BATCH_MAX}, got {request.batch_size}")
    checked.batch_size = request.batch_size   # 0: the worker's choice (contract.INSPECT_BATCH_DEFAULT, …)
    if request.HasField("shared_memory"):
        why = shared_memory.problem(request.shared_memory)
        check(why is None, "shared_memory", why or "")
    return checked


def samples(request: pb.GetSamplesRequest) -> pb.GetSamplesRequest:
    checked = pb.GetSamplesRequest()
    checked.CopyFrom(request)
    check(len(request.indices) > 0, "indices", "give at least one index")
    checked.split = split(request.split, "split", contract.TEST_SPLIT)
    indices(request.indices, checked.split, "indices", contract.MAX_SAMPLES)
    return checked


def export(request: pb.ExportModelRequest) -> pb.ExportModelRequest:
    model_ref(request.model_id)
    enum(request.format, pb.ExportFormat, "format")
    return request


def set_alias(request: pb.SetModelAliasRequest) -> pb.SetModelAliasRequest:
    model_name(request.name)
    alias(request.alias)
    version(request.version)
    return request


def delete_alias(request: pb.DeleteModelAliasRequest) -> pb.DeleteModelAliasRequest:
    model_name(request.name)
    alias(request.alias)
    return request


# -- sweeps -------------------------------------------------------------------------------------------------------

def sweep(request: pb.SweepRequest, model_name_default: str) -> pb.SweepRequest:
    """The request with every default filled in: the trials' training request (its model name
    `model_name_default` when it gives none), sampler, pruner settings, budget and objective."""
    checked = pb.SweepRequest()
    checked.CopyFrom(request)
    check(not request.train.idempotency_key, "train.idempotency_key", "give the sweep's own idempotency_key")
    checked.objective.metric = objective_metric(request.objective.metric)
    given = pb.TrainRequest()
    given.CopyFrom(request.train)
    if checked.objective.metric == "validation_accuracy" and not given.HasField("validation_data"):
        given.validation_data.SetInParent()   # chosen on validation: its default split, the training file's tail
    check(checked.objective.metric != "validation_accuracy" or given.HasField("validation_data"),
          "train.validation_data", "the objective is validation accuracy")
    check(checked.objective.metric != "test_accuracy" or not given.validation_only, "train.validation_only",
          "the objective is test accuracy, which validation_only leaves out")
    checked.train.CopyFrom(train(given))
    checked.train.model_name = model_name(request.train.model_name or model_name_default, "train.model_name")
    checked.train.ClearField("hyper_parameters")
    checked.train.hyper_parameters.CopyFrom(request.train.hyper_parameters)   # fields given only: the trials fill in
    hyper_parameters(request.train.hyper_parameters)
    space(request.space)
    enum(request.sampler, pb.Sampler, "sampler")
    checked.sampler = request.sampler or pb.TPE
    check(0 <= request.seed < 2**31, "seed", f"must be 0..{2**31 - 1}, got {request.seed}")
    checked.pruner.CopyFrom(pruner(request.pruner))
    checked.budget.CopyFrom(budget(request.budget, checked.sampler, request.space))
    if request.alias:
        alias(request.alias)
    checked.test_data.CopyFrom(dataset(request.test_data, "test_data", labels_required=True))
    idempotency_key(request.idempotency_key)
    return checked


def space(dimensions) -> None:
    check(len(dimensions) > 0, "space", "give at least one hyper-parameter to search")
    at_most(len(dimensions), contract.MAX_DIMENSIONS, "space", "hyper-parameters")
    seen = set()
    for position, dimension in enumerate(dimensions):
        field = f"space[{position}]"
        spec = contract.HYPER_PARAMETER.get(dimension.name)
        check(spec is not None, field + ".name", f"{shown(dimension.name)} is not a hyper-parameter; choose from "
                                                 f"{', '.join(contract.HYPER_PARAMETER)}")
        check(dimension.name not in seen, field + ".name", f"{dimension.name} is searched more than once")
        seen.add(dimension.name)
        kind = dimension.WhichOneof("values")
        check(kind is not None, field, "give fixed, fixed_name, choices, float_range or int_range")
        named = spec.type is str
        check(named == (kind == "fixed_name") or kind not in ("fixed", "fixed_name"), f"{field}.{kind}",
              f"{spec.name} takes {'names: use fixed_name' if named else 'numbers: use fixed'}")
        if kind in ("fixed", "fixed_name"):
            sweep_value(spec, getattr(dimension, kind), f"{field}.{kind}")
        elif kind == "choices":
            listed, other = ("names", "values") if named else ("values", "names")
            values = getattr(dimension.choices, listed)
            check(not getattr(dimension.choices, other), f"{field}.choices.{other}",
                  f"{spec.name} takes {'names' if named else 'numbers'}: use choices.{listed}")
            check(len(values) > 0, f"{field}.choices.{listed}", "give at least one")
            at_most(len(values), contract.MAX_CHOICES, f"{field}.choices.{listed}", listed)
            for number, value in enumerate(values):
                sweep_value(spec, value, f"{field}.choices.{listed}[{number}]")
        elif kind == "float_range":
            float_range(spec, dimension.float_range, field + ".float_range")
        else:
            int_range(spec, dimension.int_range, field + ".int_range")


def sweep_value(spec: contract.HyperParameter, value: float | str, field: str) -> None:
    """A value `spec` may take: within its bounds (one of its names), whole for an integer, 0 or 1 for a bool."""
    if spec.type is str:
        problem = spec.problem(value)
        check(problem is None, field, problem or "")
        return
    if spec.type is bool:
        check(value in (0, 1), field, f"{spec.name} is true (1) or false (0), got {value}")
        return
    check(spec.type is float or float(value).is_integer(), field, f"{spec.name} is an integer, got {value}")
    problem = spec.problem(spec.type(value))
    check(problem is None, field, problem or "")


def float_range(spec: contract.HyperParameter, span: pb.FloatRange, field: str) -> None:
    check(spec.type is float, field, f"{spec.name} is not real: use {'int_range or ' * (spec.type is int)}choices")
    sweep_value(spec, span.low, field + ".low")
    sweep_value(spec, span.high, field + ".high")
    check(span.low < span.high, field + ".high", f"must be above low ({span.low:g}), got {span.high:g}")
    check(not span.log or span.low > 0, field + ".low", "a log scale needs low > 0")
    check(span.step >= 0 and np.isfinite(span.step), field + ".step", f"must be ≥ 0, got {span.step}")
    check(not (span.log and span.step), field + ".step", "a log scale takes no step")


def int_range(spec: contract.HyperParameter, span: pb.IntRange, field: str) -> None:
    check(spec.type is int, field, f"{spec.name} is not an integer: use {'float_range or ' * (spec.type is float)}"
                                   f"choices")
    sweep_value(spec, span.low, field + ".low")
    sweep_value(spec, span.high, field + ".high")
    check(span.low <= span.high, field + ".high", f"must be at least low ({span.low}), got {span.high}")
    check(not span.log or span.low >= 1, field + ".low", "a log scale needs low ≥ 1")
    check(span.step >= 0, field + ".step", f"must be ≥ 0, got {span.step}")
    check(not (span.log and span.step > 1), field + ".step", "a log scale takes no step")


def pruner(given: pb.Pruner) -> pb.Pruner:
    enum(given.kind, pb.PrunerKind, "pruner.kind")
    checked = pb.Pruner(kind=given.kind or pb.NO_PRUNER)
    for name, default in contract.PRUNER_DEFAULTS.items():
        value = getattr(given, name)
        low, high = (2, contract.MAX_REDUCTION_FACTOR) if name == "reduction_factor" else \
            (0, contract.MAX_PRUNER_SETTING)
        check(value == 0 or low <= value <= high, f"pruner.{name}",
              f"must be {low}..{high} (0: {default}), got {value}")
        setattr(checked, name, value or default)
    return checked


def budget(given: pb.Budget, sampler: int, dimensions) -> pb.Budget:
    """Trials (default: every point of a grid, else contract.DEFAULT_TRIALS), parallelism (default 1), wall time."""
    check(0 <= given.trials, "budget.trials", f"must be ≥ 0, got {given.trials}")
    at_most(given.trials, contract.MAX_TRIALS, "budget.trials", "trials")
    check(0 <= given.parallelism, "budget.parallelism", f"must be ≥ 0, got {given.parallelism}")
    at_most(given.parallelism, contract.MAX_PARALLELISM, "budget.parallelism", "trials at once")
    check(given.max_seconds >= 0 and np.isfinite(given.max_seconds), "budget.max_seconds",
          f"must be ≥ 0, got {given.max_seconds}")
    trials = given.trials or contract.DEFAULT_TRIALS
    if sampler == pb.GRID:
        for position, dimension in enumerate(dimensions):
            kind = dimension.WhichOneof("values")
            check(kind != "float_range" or dimension.float_range.step > 0, f"space[{position}].float_range.step",
                  "a grid needs a step on every real range")
        points = grid_size(searched(dimensions))
        at_most(points, contract.MAX_TRIALS, "space", "grid points")
        check(given.trials <= points, "budget.trials", f"the grid has {points} points, got {given.trials}")
        trials = given.trials or points
    return pb.Budget(trials=trials, parallelism=given.parallelism or 1, max_seconds=given.max_seconds)


def objective_metric(metric: str) -> str:
    """A per-epoch accuracy of TrainMetrics (default: contract.DEFAULT_OBJECTIVE)."""
    figures = [field.name for field in pb.TrainMetrics.DESCRIPTOR.fields
               if field.type == field.TYPE_DOUBLE and field.name.endswith("accuracy")]
    metric = metric or contract.DEFAULT_OBJECTIVE
    check(metric in figures, "objective.metric", f"{shown(metric)}: choose from {', '.join(figures)}")
    return metric


def sweep_id(value: str) -> str:
    check(bool(value), "sweep_id", "required")
    check(bool(contract.ID.fullmatch(value)), "sweep_id", f"{shown(value)} is not a sweep id (16 hex digits)")
    return value
