"""The facts every side of the service shares, each written once: the network's layers, the seed's
hyper-parameters with their bounds, the dataset splits, caret's statistic names (and an Evaluation read by them),
file names, request limits, job states, task and queue names.

Plain Python and numpy over the generated messages (no gRPC, Redis, Celery or MXNet), so the engine, the
gateway, the workers and the client library all import it. The proto's comments restate these values for readers
in other languages; tests/unit/test_contract.py fails when the two disagree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, make_dataclass

import numpy as np

from lenet_protos.lenet.v1 import lenet_pb2 as pb

# -- the network --------------------------------------------------------------------------------------------
INPUT_SHAPE = (1, 28, 28)      # one grey 28×28 image
IMAGE_SHAPE = INPUT_SHAPE[1:]
CLASSES = 10
CLASS_LABELS = tuple(str(k) for k in range(CLASSES))
# The seed network's named outputs in forward order, with their per-sample shapes: what Inspect streams.
LAYER_SHAPES = {
    "Conv1": (20, 24, 24), "Act1": (20, 24, 24), "Pool1": (20, 12, 12),
    "Conv2": (50, 8, 8), "Act2": (50, 8, 8), "Pool2": (50, 4, 4),
    "Flat": (800,), "Full1": (500,), "Act3": (500,), "Full2": (CLASSES,), "SoftM": (CLASSES,),
}
LAYERS = tuple(LAYER_SHAPES)
PARAMETER_COUNT = 431_080      # weights and biases of the seed's LeNet


# -- hyper-parameters ---------------------------------------------------------------------------------------
LR_SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class HyperParameter:
    """One training setting: its name (as in lenet.v1.HyperParameters), the seed's value, and its bounds.
    `low_open`/`high_open` exclude the bound itself."""
    name: str
    type: type
    default: int | float | bool | str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()   # the values a str may take

    def problem(self, value) -> str | None:
        """Why `value` is out of bounds (NaN is: every comparison with it is false), or None."""
        if self.choices:
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}, got {value!r}"
        if self.low is None:
            return None
        if math.isnan(value):
            return f"must be a number in {self.bounds()}, got NaN"
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        return f"must be in {self.bounds()}, got {value}" if below or above else None

    def bounds(self) -> str:
        """As the proto writes them: "1..1000" for integers, "(0, 10]" or "[0, 1)" for reals, "one of a, b" for
        choices."""
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        if self.type is int:
            return f"{self.low}..{self.high}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


HYPER_PARAMETERS = (
    HyperParameter("epochs", int, 20, "passes over the training set", 1, 1000),
    HyperParameter("batch_size", int, 100, "images per SGD step", 1, 10_000),
    HyperParameter("learning_rate", float, 0.05, "SGD step size", 0.0, 10.0, low_open=True),
    HyperParameter("momentum", float, 0.9, "SGD momentum; 0 is plain SGD", 0.0, 1.0, high_open=True),
    HyperParameter("weight_decay", float, 1e-5, "L2 penalty on the weights", 0.0, 1.0, high_open=True),
    HyperParameter("seed", int, 42, "seeds the initial weights and the shuffle", 0, 2**31 - 1),
    HyperParameter("normalize", bool, False, "scale pixels to 0–1 (the seed feeds raw 0–255)"),
    HyperParameter("init_scale", float, 0.01, "initial weights uniform in ±SCALE (R's mx.init.uniform)", 0.0, 1.0,
                   low_open=True),
    # The recipe options; each one's default is the seed's behaviour.
    HyperParameter("input_mean", float, 0.0, "subtracted from every pixel (after --normalize)", -255.0, 255.0),
    HyperParameter("input_std", float, 1.0, "every pixel then divided by it", 0.0, 255.0, low_open=True),
    HyperParameter("lr_schedule", str, "constant", "learning-rate schedule", choices=LR_SCHEDULES),
    HyperParameter("warmup_epochs", float, 0.0, "epochs of linear learning-rate warm-up from 0", 0.0, 100.0),
    HyperParameter("lr_step_epochs", int, 10, "step schedule: epochs between drops of the rate", 1, 1000),
    HyperParameter("lr_step_factor", float, 0.1, "step schedule: the rate is multiplied by this at each drop", 0.0,
                   1.0, low_open=True),
    HyperParameter("nesterov", bool, False, "Nesterov's accelerated gradient instead of plain momentum"),
    HyperParameter("reshuffle", bool, False, "shuffle the training set anew every epoch (the seed shuffles once)"),
    HyperParameter("augment_shift", float, 0.0, "augmentation: random shifts up to ± this many pixels", 0.0, 4.0),
    HyperParameter("augment_rotation", float, 0.0, "augmentation: random rotations up to ± this many degrees", 0.0,
                   45.0),
    HyperParameter("augment_scale", float, 0.0, "augmentation: random scaling by a factor within 1 ± this", 0.0, 0.5),
)
HYPER_PARAMETER = {spec.name: spec for spec in HYPER_PARAMETERS}

# The engine's view of them: a frozen dataclass whose defaults are the seed's.
HyperParams = make_dataclass("HyperParams", [(spec.name, spec.type, field(default=spec.default))
                                             for spec in HYPER_PARAMETERS], frozen=True)
HyperParams.__doc__ = "Training settings; every field defaults to the seed notebook's value."


def hyper_params(message: pb.HyperParameters) -> HyperParams:
    """The message's values, the seed's default for every absent field."""
    return HyperParams(**{spec.name: getattr(message, spec.name) for spec in HYPER_PARAMETERS
                          if message.HasField(spec.name)})


def hyper_parameters_message(values: HyperParams) -> pb.HyperParameters:
    """Every field set, so a stored record shows exactly what was used."""
    return pb.HyperParameters(**{spec.name: getattr(values, spec.name) for spec in HYPER_PARAMETERS})


# Named recipes: hyper-parameters that `lenet train --recipe NAME` (and a sweep's preset) start from; flags given
# beside one override its values. "seed" is the notebook's own. "better" keeps the seed's network and was chosen on
# the validation split: trained on the other 55,000 images it reached 0.9956 there after 15 epochs, against 0.9938
# with learning rate 0.1, and 0.9943 on test, scored once (BENCHMARKS.md, 'Recipe "better"').
RECIPES: dict[str, dict[str, int | float | bool | str]] = {
    "seed": {},
    "better": {
        "epochs": 15, "batch_size": 100, "learning_rate": 0.05, "momentum": 0.9, "nesterov": True,
        "weight_decay": 1e-4, "normalize": True, "input_mean": 0.1307, "input_std": 0.3081, "init_scale": 0.07,
        "lr_schedule": "cosine", "warmup_epochs": 1.0, "reshuffle": True,
        "augment_shift": 2.0, "augment_rotation": 10.0, "augment_scale": 0.1,
    },
}


# -- data ---------------------------------------------------------------------------------------------------
# "validation" is carved out of the training file: its last VALIDATION_SIZE images, validation index i being
# train index VALIDATION_START + i. A job validated on it trains on the train split's first VALIDATION_START images.
TRAIN_SPLIT, TEST_SPLIT, VALIDATION_SPLIT = "train", "test", "validation"
TRAINING_FILE_SIZE = 60_000
VALIDATION_SIZE = 5_000
VALIDATION_START = TRAINING_FILE_SIZE - VALIDATION_SIZE
SPLIT_SIZES = {TRAIN_SPLIT: TRAINING_FILE_SIZE, TEST_SPLIT: 10_000, VALIDATION_SPLIT: VALIDATION_SIZE}


def default_split(dataset_field: str) -> str:
    """The split an empty Dataset.split means: "train" for TrainRequest.train_data, "validation" for
    TrainRequest.validation_data, "test" everywhere else."""
    return {"train_data": TRAIN_SPLIT, "validation_data": VALIDATION_SPLIT}.get(dataset_field, TEST_SPLIT)


def holds_out_validation(request: pb.TrainRequest) -> bool:
    """Whether the request validates on the validation split, which its train split then leaves out."""
    validation = request.validation_data
    return request.HasField("validation_data") and not validation.HasField("images") and \
        (validation.split or VALIDATION_SPLIT) == VALIDATION_SPLIT


def train_split_size(request: pb.TrainRequest) -> int:
    """How many images of the train split the request may train on: all 60,000, or the first 55,000 while it
    holds out the validation split."""
    return VALIDATION_START if holds_out_validation(request) else SPLIT_SIZES[TRAIN_SPLIT]


# -- caret's statistics: its names, in its order, the message fields that carry them, and an Evaluation read by them
OVERALL_STATISTICS = {
    "Accuracy": "accuracy", "Kappa": "kappa", "AccuracyLower": "accuracy_lower", "AccuracyUpper": "accuracy_upper",
    "AccuracyNull": "accuracy_null", "AccuracyPValue": "accuracy_p_value", "McnemarPValue": "mcnemar_p_value",
}
CLASS_STATISTICS = {
    "Sensitivity": "sensitivity", "Specificity": "specificity", "Pos Pred Value": "pos_pred_value",
    "Neg Pred Value": "neg_pred_value", "Precision": "precision", "Recall": "recall", "F1": "f1",
    "Prevalence": "prevalence", "Detection Rate": "detection_rate", "Detection Prevalence": "detection_prevalence",
    "Balanced Accuracy": "balanced_accuracy",
}


def confusion_matrix(evaluation: pb.Evaluation) -> np.ndarray:
    """The k×k int64 counts, rows = prediction, columns = reference (caret's cm$table)."""
    k = len(evaluation.labels)
    return np.asarray(evaluation.confusion_matrix, dtype=np.int64).reshape(k, k)


def overall_statistics(evaluation: pb.Evaluation) -> dict[str, float]:
    """caret's cm$overall as {name: value}; NaN where R gives NaN."""
    return {name: getattr(evaluation.overall, field) for name, field in OVERALL_STATISTICS.items()}


def class_statistics(evaluation: pb.Evaluation) -> list[dict]:
    """caret's cm$byClass rows: {"Class": label, "Sensitivity": …, …, "Balanced Accuracy": …} per class."""
    return [{"Class": row.label, **{name: getattr(row, field) for name, field in CLASS_STATISTICS.items()}}
            for row in evaluation.by_class]


# -- exported and checkpoint file names ----------------------------------------------------------------------
def file_prefix(model_name: str) -> str:
    """The prefix of a model's exported file names: its name with anything but letters, digits, '.', '_' and '-'
    replaced, at most 64 characters, no leading '.' or '-' (so never hidden, an option or '..'); else "lenet"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", model_name)[:64].lstrip(".-") or "lenet"


def checkpoint_files(prefix: str, epoch: int = 0) -> tuple[str, str]:
    """(symbol, params) file names as mx.model.save_checkpoint writes and R's mx.model.load reads them."""
    return f"{prefix}-symbol.json", f"{prefix}-{epoch:04d}.params"


def onnx_file(prefix: str) -> str:
    return f"{prefix}.onnx"


# -- the gateway's address: HOST:PORT, the port GATEWAY_PORT when left out -----------------------------------------
GATEWAY_PORT = 50051


def gateway_address(address: str) -> str:
    """The address with the gateway's port added when it names only a host ("localhost", "[::1]"); URIs
    ("dns:///…", "unix:…") and addresses with a port are left as they are."""
    if "/" in address or address.startswith("unix:") or ":" in address.removeprefix("[").split("]")[-1]:
        return address
    return f"{address}:{GATEWAY_PORT}"


# -- limits: a request beyond one is RESOURCE_EXHAUSTED naming the field --------------------------------------------
MAX_MESSAGE_BYTES = 64 << 20       # any gRPC message, either way
MAX_IMAGES = 10_000                # uploaded images per request (≈ 31 MB of FLOAT32 pixels)
MAX_INDICES = max(SPLIT_SIZES.values())  # Dataset.indices per dataset
MAX_SAMPLES = 10_000               # GetSamples indices and Inspect samples per call
MAX_PAGE_SIZE = 1000               # ListJobs / ListModels page_size
DEFAULT_PAGE_SIZE = 100
INSPECT_BATCH_MAX = 2000           # InspectRequest.batch_size
INSPECT_BATCH_DEFAULT = 500
INSPECT_FIRST_BATCH = 32           # the first pass of a default Inspect: its chunks leave within milliseconds
CHUNK_BYTES = 4 << 20              # tensor data per TensorChunk
MAX_NAME_LENGTH = 64               # model names and aliases
MAX_KEY_LENGTH = 128               # idempotency keys
EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")  # a JobEvent.id
BATCH_EVENTS_KEPT = 200            # batch events a worker keeps while the store is away (JobEvent); beyond, thinned
USER = re.compile(r"[A-Za-z0-9._@-]{1,64}")    # a user name, as LENET_TOKENS gives them

# -- models: ids, names, versions, aliases, and the references that name one -----------------------------------------
# Ids the service makes: 16 lowercase hex digits. Where a model id is asked for, a unique prefix of at least
# MIN_ID_PREFIX digits, LATEST (the newest model the caller can see) or a name reference (below) also do.
ID = re.compile(r"[0-9a-f]{16}")
ID_PREFIX = re.compile(r"[0-9a-f]{1,16}")
MIN_ID_PREFIX = 4
LATEST = "latest"
# A model trained under a name becomes its next version (1, 2, 3 …); an alias of a name points at one version.
# A name may not be LATEST or only lowercase hex digits, which name ids and prefixes.
MODEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
ALIAS = MODEL_NAME
DEFAULT_MODEL_NAME = "lenet"       # the name of a model trained without one
PRODUCTION_ALIAS = "production"    # what NAME alone serves while it is set (else the newest version)
MAX_VERSION = 10**15 - 1           # versions are 1..MAX_VERSION (at most 15 digits)
# NAME, NAME/VERSION or NAME@ALIAS.
NAME_REFERENCE = re.compile(r"(?P<name>[A-Za-z0-9._-]{1,64})(?:/(?P<version>[1-9][0-9]{0,14})|"
                            r"@(?P<alias>[A-Za-z0-9._-]{1,64}))?")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a model name, or None."""
    if not MODEL_NAME.fullmatch(name):
        return f"use 1–{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-'"
    if name == LATEST or ID_PREFIX.fullmatch(name):
        return f"{name!r} would read as {'the newest model' if name == LATEST else 'a model id'}: " \
               f"add a letter other than a–f"
    return None


# -- jobs -----------------------------------------------------------------------------------------------------
FINAL_STATES = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.PRUNED})


# Every device has two lanes: "train" (training jobs, minutes long) and "serve" (what a caller waits on: Predict,
# Inspect, ONNX export, and evaluation jobs of stored models), each served by its own worker process, so nothing a
# user waits on sits behind a training epoch.
DEVICES = ("cpu", "gpu")
LANES = ("train", "serve")
ROLES = {"train": ("train",), "serve": ("serve",), "both": LANES}   # a worker's --role → the lanes it serves


def lane(device: str, lane_name: str) -> str:
    """A lane's name, e.g. "cpu.train": the Celery queue of its jobs (and, for "serve", its request list)."""
    if device not in DEVICES or lane_name not in LANES:
        raise ValueError(f"unknown lane {device}.{lane_name}: devices {DEVICES}, lanes {LANES}")
    return f"{device}.{lane_name}"


def job_lane(device: int, lane_name: str, live_lanes) -> str:
    """Where a job for `device` goes: GPU → the GPU lane; ANY → the GPU lane while a GPU worker serves it (it is
    in `live_lanes`), else the CPU lane; CPU or unset → the CPU lane."""
    gpu = lane("gpu", lane_name)
    return gpu if device == pb.GPU or device == pb.ANY and gpu in live_lanes else lane("cpu", lane_name)


# Stopping: what each part of a stack is given between SIGTERM and SIGKILL. A worker process exits within
# settings.stop_grace_seconds; whoever waits on processes that have a grace of their own gives them this margin more.
SERVER_STOP_SECONDS = 5.0   # the gateway (2 s for calls in flight) and the dashboard (3 s for its event streams)
STOP_MARGIN_SECONDS = 3.0
REDIS_STOP_SECONDS = 5.0


def node_stop_seconds(stop_grace_seconds: float) -> float:
    """How long a worker node's supervisor waits for its processes before it kills them."""
    return stop_grace_seconds + STOP_MARGIN_SECONDS


def stack_stop_seconds(stop_grace_seconds: float) -> float:
    """The most `lenet up` takes to stop: the servers, then the worker nodes, then Redis, each killed at its
    bound."""
    return SERVER_STOP_SECONDS + node_stop_seconds(stop_grace_seconds) + STOP_MARGIN_SECONDS + REDIS_STOP_SECONDS


# Celery tasks, sent by name by the gateway and run by workers; each takes one job id.
TASKS = {"train": "lenet.train", "evaluate": "lenet.evaluate"}
JOB_TASKS = {pb.TRAIN: "train", pb.EVALUATE: "evaluate"}


# -- pictures: what each layer is drawn as, and one meaning per colour in every drawing (clients/plots.py, the
# dashboard) ---------------------------------------------------------------------------------------------------
INPUT_NODE = "data"            # the network's input, as its graph names it
MAP_LAYERS = tuple(name for name, shape in LAYER_SHAPES.items() if len(shape) == 3)   # a grid of feature maps
BAR_LAYERS = tuple(name for name, shape in LAYER_SHAPES.items() if shape == (CLASSES,))  # one bar per class
STRIP_LAYERS = tuple(name for name in LAYERS if name not in MAP_LAYERS + BAR_LAYERS)    # a strip over units
PROBABILITY_LAYER = LAYERS[-1]  # class probabilities: its bars end at 1
# Class bars: the true class, a predicted class that is not the true one, every other class; training curves:
# training accuracy per epoch, running training accuracy per batch, test accuracy per epoch.
COLORS = {"true": "#2a9d4b", "predicted": "#d1495b", "other": "#9aa5b1",
          "train": "#3a6ea5", "batch": "#e09f3e", "test": "#d1495b"}
# A layer with any value < 0 is drawn on SIGNED_COLORS (matplotlib's RdBu_r: negative blue, 0 near white,
# positive red) centred on 0, any other on HEAT_COLORS (R's heat.colors(12), the seed's image() default: red low
# to pale yellow high) from 0; each map scaled to its own largest |value|.
SIGNED_COLORS = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582",
                 "#d6604d", "#b2182b", "#67001f")
HEAT_COLORS = ("#ff0000", "#ff2000", "#ff4000", "#ff6000", "#ff8000", "#ff9f00", "#ffbf00", "#ffdf00", "#ffff00",
               "#ffff2a", "#ffff80", "#ffffd4")
# Confusion-matrix counts on a log scale (matplotlib's Blues); a count's text is light on cells darker than
# COUNT_TEXT["dark_from"] of the scale, faint for zero.
COUNT_COLORS = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
COUNT_TEXT = {"light": "#ffffff", "dark": "#111111", "zero": "#bbbbbb", "dark_from": 0.6}
# The seed's graph.viz: node colours by operator; these operators drawn as ovals, the others as boxes.
OPERATOR_COLORS = {INPUT_NODE: "#8dd3c7", "Convolution": "#fb8072", "FullyConnected": "#fb8072",
                   "Activation": "#ffffb3", "Pooling": "#80b1d3", "Flatten": "#fdb462", "SoftmaxOutput": "#b3de69"}
ROUND_OPERATORS = (INPUT_NODE, "Pooling", "Flatten")


def browser_document() -> dict:
    """The contract's facts a browser draws and filters by, as one JSON-ready document: the dashboard puts it in
    every page, and its scripts read these facts from it, never from copies of their own."""
    def names(enum) -> list[str]:
        return [name for name in enum.keys() if enum.Value(name)]    # 0 is "unspecified": any
    return {
        "input": {"name": INPUT_NODE, "shape": list(INPUT_SHAPE)},
        "classes": list(CLASS_LABELS),
        "layers": [{"name": name, "shape": list(shape)} for name, shape in LAYER_SHAPES.items()],
        "layer_groups": {"maps": list(MAP_LAYERS), "strips": list(STRIP_LAYERS), "bars": list(BAR_LAYERS)},
        "probability_layer": PROBABILITY_LAYER,
        "colors": COLORS, "signed_colors": list(SIGNED_COLORS), "heat_colors": list(HEAT_COLORS),
        "count_colors": list(COUNT_COLORS), "count_text": COUNT_TEXT,
        "operator_colors": OPERATOR_COLORS, "round_operators": list(ROUND_OPERATORS),
        "job_kinds": names(pb.JobKind), "train_kind": pb.JobKind.Name(pb.TRAIN),
        "evaluate_kind": pb.JobKind.Name(pb.EVALUATE),
        "job_states": names(pb.JobState), "final_states": [pb.JobState.Name(s) for s in sorted(FINAL_STATES)],
        "running_state": pb.JobState.Name(pb.RUNNING), "succeeded_state": pb.JobState.Name(pb.SUCCEEDED),
        "pruned_state": pb.JobState.Name(pb.PRUNED),
        "sweep_final_states": [pb.SweepState.Name(s) for s in sorted(SWEEP_FINAL_STATES)],
        "sweep_succeeded_state": pb.SweepState.Name(pb.SWEEP_SUCCEEDED),
        "splits": list(SPLIT_SIZES), "default_split": TEST_SPLIT,
        "split_sizes": SPLIT_SIZES,
        "serving_lanes": [lane(device, "serve") for device in DEVICES],
        "class_statistics": list(CLASS_STATISTICS), "overall_statistics": list(OVERALL_STATISTICS),
        "id": ID.pattern, "model_id": f"[0-9a-f]{{{MIN_ID_PREFIX},16}}|{LATEST}",   # a job's; a model page's
        "production_alias": PRODUCTION_ALIAS,
    }


# -- sweeps: a search over the hyper-parameters whose trials are training jobs ------------------------------------
SWEEP_FINAL_STATES = frozenset({pb.SWEEP_SUCCEEDED, pb.SWEEP_FAILED, pb.SWEEP_CANCELLED})
MAX_TRIALS = 1000                  # Budget.trials
DEFAULT_TRIALS = 10                # Budget.trials of a non-grid sweep that gives none
MAX_PARALLELISM = 64               # Budget.parallelism
MAX_DIMENSIONS = 32                # SweepRequest.space
MAX_CHOICES = 1000                 # Choices.values
MAX_PRUNER_SETTING = 1000          # Pruner.startup_trials, warmup_epochs, min_epochs
MAX_REDUCTION_FACTOR = 100         # Pruner.reduction_factor
PRUNER_DEFAULTS = {"startup_trials": 1, "warmup_epochs": 0, "min_epochs": 1, "reduction_factor": 3}
# Trials wait on their lane's queue behind every other job (Celery priorities on Redis: 0 is served first), so a
# sweep never holds back another user's job for longer than one of its trials' epochs.
JOB_PRIORITY, TRIAL_PRIORITY = 0, 9


DEFAULT_OBJECTIVE = "validation_accuracy"   # a sweep chooses on validation; test is scored once, for the winner


def sweep_model_name(sweep_id: str) -> str:
    """The name a sweep's trial models are saved under when its request gives none."""
    return f"sweep-{sweep_id}"


# `lenet sweep --preset NAME` (and `make sweep`): a search's options as `lenet sweep` takes them (LenetClient.sweep's
# keywords, its space as NAME=VALUES). "better" searches the recipe's hyper-parameters for a model that beats the
# seed's on validation; hyper-parameters added to the contract join it by name.
SWEEP_PRESETS = {
    "better": {
        "recipe": "better",
        "space": ["learning_rate=0.02:0.2:log", "weight_decay=0.00001:0.001:log", "augment_rotation=0:15",
                  "augment_shift=0:2.5", "augment_scale=0:0.15", "lr_schedule=cosine,step"],
        "sampler": "tpe", "pruner": "median", "trials": 24, "parallelism": 2, "name": "better", "alias": "best",
    },
}
