from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_UNSPECIFIED: _ClassVar[Device]
    CPU: _ClassVar[Device]
    GPU: _ClassVar[Device]
    ANY: _ClassVar[Device]

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    FLOAT16: _ClassVar[DType]
    UINT8: _ClassVar[DType]
    INT64: _ClassVar[DType]

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    TRAIN: _ClassVar[JobKind]
    EVALUATE: _ClassVar[JobKind]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]
    PRUNED: _ClassVar[JobState]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    MXNET: _ClassVar[ExportFormat]
    ONNX: _ClassVar[ExportFormat]

class Sampler(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLER_UNSPECIFIED: _ClassVar[Sampler]
    GRID: _ClassVar[Sampler]
    RANDOM: _ClassVar[Sampler]
    TPE: _ClassVar[Sampler]

class PrunerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRUNER_UNSPECIFIED: _ClassVar[PrunerKind]
    NO_PRUNER: _ClassVar[PrunerKind]
    MEDIAN: _ClassVar[PrunerKind]
    SUCCESSIVE_HALVING: _ClassVar[PrunerKind]

class SweepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWEEP_STATE_UNSPECIFIED: _ClassVar[SweepState]
    SWEEP_RUNNING: _ClassVar[SweepState]
    SWEEP_SCORING: _ClassVar[SweepState]
    SWEEP_SUCCEEDED: _ClassVar[SweepState]
    SWEEP_FAILED: _ClassVar[SweepState]
    SWEEP_CANCELLED: _ClassVar[SweepState]
DEVICE_UNSPECIFIED: Device
CPU: Device
GPU: Device
ANY: Device
DTYPE_UNSPECIFIED: DType
FLOAT32: DType
FLOAT16: DType
UINT8: DType
INT64: DType
JOB_KIND_UNSPECIFIED: JobKind
TRAIN: JobKind
EVALUATE: JobKind
JOB_STATE_UNSPECIFIED: JobState
QUEUED: JobState
RUNNING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState
PRUNED: JobState
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
MXNET: ExportFormat
ONNX: ExportFormat
SAMPLER_UNSPECIFIED: Sampler
GRID: Sampler
RANDOM: Sampler
TPE: Sampler
PRUNER_UNSPECIFIED: PrunerKind
NO_PRUNER: PrunerKind
MEDIAN: PrunerKind
SUCCESSIVE_HALVING: PrunerKind
SWEEP_STATE_UNSPECIFIED: SweepState
SWEEP_RUNNING: SweepState
SWEEP_SCORING: SweepState
SWEEP_SUCCEEDED: SweepState
SWEEP_FAILED: SweepState
SWEEP_CANCELLED: SweepState

class Tensor(_message.Message):
    __slots__ = ("name", "shape", "dtype", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: DType
    data: bytes
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[_Union[DType, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("split", "limit", "indices", "images", "labels", "size")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    split: str
    limit: int
    indices: _containers.RepeatedScalarFieldContainer[int]
    images: Tensor
    labels: Tensor
    size: int
    def __init__(self, split: _Optional[str] = ..., limit: _Optional[int] = ..., indices: _Optional[_Iterable[int]] = ..., images: _Optional[_Union[Tensor, _Mapping]] = ..., labels: _Optional[_Union[Tensor, _Mapping]] = ..., size: _Optional[int] = ...) -> None: ...

class HyperParameters(_message.Message):
    __slots__ = ("epochs", "batch_size", "learning_rate", "momentum", "weight_decay", "seed", "normalize", "init_scale", "input_mean", "input_std", "lr_schedule", "warmup_epochs", "lr_step_epochs", "lr_step_factor", "nesterov", "reshuffle", "augment_shift", "augment_rotation", "augment_scale")
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    INPUT_MEAN_FIELD_NUMBER: _ClassVar[int]
    INPUT_STD_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    WARMUP_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LR_STEP_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    LR_STEP_FACTOR_FIELD_NUMBER: _ClassVar[int]
    NESTEROV_FIELD_NUMBER: _ClassVar[int]
    RESHUFFLE_FIELD_NUMBER: _ClassVar[int]
    AUGMENT_SHIFT_FIELD_NUMBER: _ClassVar[int]
    AUGMENT_ROTATION_FIELD_NUMBER: _ClassVar[int]
    AUGMENT_SCALE_FIELD_NUMBER: _ClassVar[int]
    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    weight_decay: float
    seed: int
    normalize: bool
    init_scale: float
    input_mean: float
    input_std: float
    lr_schedule: str
    warmup_epochs: float
    lr_step_epochs: int
    lr_step_factor: float
    nesterov: bool
    reshuffle: bool
    augment_shift: float
    augment_rotation: float
    augment_scale: float
    def __init__(self, epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., momentum: _Optional[float] = ..., weight_decay: _Optional[float] = ..., seed: _Optional[int] = ..., normalize: _Optional[bool] = ..., init_scale: _Optional[float] = ..., input_mean: _Optional[float] = ..., input_std: _Optional[float] = ..., lr_schedule: _Optional[str] = ..., warmup_epochs: _Optional[float] = ..., lr_step_epochs: _Optional[int] = ..., lr_step_factor: _Optional[float] = ..., nesterov: _Optional[bool] = ..., reshuffle: _Optional[bool] = ..., augment_shift: _Optional[float] = ..., augment_rotation: _Optional[float] = ..., augment_scale: _Optional[float] = ...) -> None: ...

class TrainMetrics(_message.Message):
    __slots__ = ("epoch", "train_accuracy", "test_accuracy", "elapsed_seconds", "validation_accuracy")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    TEST_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    train_accuracy: float
    test_accuracy: float
    elapsed_seconds: float
    validation_accuracy: float
    def __init__(self, epoch: _Optional[int] = ..., train_accuracy: _Optional[float] = ..., test_accuracy: _Optional[float] = ..., elapsed_seconds: _Optional[float] = ..., validation_accuracy: _Optional[float] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("hyper_parameters", "train_data", "eval_data", "device", "model_name", "idempotency_key", "validation_data", "validation_only")
    HYPER_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_DATA_FIELD_NUMBER: _ClassVar[int]
    EVAL_DATA_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_DATA_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ONLY_FIELD_NUMBER: _ClassVar[int]
    hyper_parameters: HyperParameters
    train_data: Dataset
    eval_data: Dataset
    device: Device
    model_name: str
    idempotency_key: str
    validation_data: Dataset
    validation_only: bool
    def __init__(self, hyper_parameters: _Optional[_Union[HyperParameters, _Mapping]] = ..., train_data: _Optional[_Union[Dataset, _Mapping]] = ..., eval_data: _Optional[_Union[Dataset, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., model_name: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., validation_data: _Optional[_Union[Dataset, _Mapping]] = ..., validation_only: _Optional[bool] = ...) -> None: ...

class EvaluationRequest(_message.Message):
    __slots__ = ("model_id", "dataset", "device", "idempotency_key")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    dataset: Dataset
    device: Device
    idempotency_key: str
    def __init__(self, model_id: _Optional[str] = ..., dataset: _Optional[_Union[Dataset, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "kind", "state", "device", "queue", "created_at", "started_at", "finished_at", "error", "model_id", "train", "evaluation", "metrics", "accuracy", "cancel_requested", "worker", "attempts", "owner", "trace_context", "sweep_id", "trial")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: JobKind
    state: JobState
    device: Device
    queue: str
    created_at: str
    started_at: str
    finished_at: str
    error: str
    model_id: str
    train: TrainRequest
    evaluation: EvaluationRequest
    metrics: TrainMetrics
    accuracy: float
    cancel_requested: bool
    worker: str
    attempts: int
    owner: str
    trace_context: _containers.ScalarMap[str, str]
    sweep_id: str
    trial: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., device: _Optional[_Union[Device, str]] = ..., queue: _Optional[str] = ..., created_at: _Optional[str] = ..., started_at: _Optional[str] = ..., finished_at: _Optional[str] = ..., error: _Optional[str] = ..., model_id: _Optional[str] = ..., train: _Optional[_Union[TrainRequest, _Mapping]] = ..., evaluation: _Optional[_Union[EvaluationRequest, _Mapping]] = ..., metrics: _Optional[_Union[TrainMetrics, _Mapping]] = ..., accuracy: _Optional[float] = ..., cancel_requested: _Optional[bool] = ..., worker: _Optional[str] = ..., attempts: _Optional[int] = ..., owner: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., sweep_id: _Optional[str] = ..., trial: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("kind", "state", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: JobKind
    state: JobState
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[JobKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "after_event_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_event_id: str
    def __init__(self, job_id: _Optional[str] = ..., after_event_id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("id", "job_id", "time", "state", "batch", "epoch", "log", "evaluating")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    EVALUATING_FIELD_NUMBER: _ClassVar[int]
    id: str
    job_id: str
    time: str
    state: StateChange
    batch: BatchProgress
    epoch: TrainMetrics
    log: str
    evaluating: Evaluating
    def __init__(self, id: _Optional[str] = ..., job_id: _Optional[str] = ..., time: _Optional[str] = ..., state: _Optional[_Union[StateChange, _Mapping]] = ..., batch: _Optional[_Union[BatchProgress, _Mapping]] = ..., epoch: _Optional[_Union[TrainMetrics, _Mapping]] = ..., log: _Optional[str] = ..., evaluating: _Optional[_Union[Evaluating, _Mapping]] = ...) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    message: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class BatchProgress(_message.Message):
    __slots__ = ("epoch", "batch", "batches_per_epoch", "train_accuracy", "samples_per_second")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    BATCHES_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    batches_per_epoch: int
    train_accuracy: float
    samples_per_second: float
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., batches_per_epoch: _Optional[int] = ..., train_accuracy: _Optional[float] = ..., samples_per_second: _Optional[float] = ...) -> None: ...

class Evaluating(_message.Message):
    __slots__ = ("epoch", "samples")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    samples: int
    def __init__(self, epoch: _Optional[int] = ..., samples: _Optional[int] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "name", "job_id", "created_at", "hyper_parameters", "train_data", "train_samples", "metrics", "device", "owner", "parameter_count", "history", "shared_with", "version", "aliases")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    HYPER_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_DATA_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    job_id: str
    created_at: str
    hyper_parameters: HyperParameters
    train_data: Dataset
    train_samples: int
    metrics: TrainMetrics
    device: Device
    owner: str
    parameter_count: int
    history: _containers.RepeatedCompositeFieldContainer[TrainMetrics]
    shared_with: _containers.RepeatedScalarFieldContainer[str]
    version: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., job_id: _Optional[str] = ..., created_at: _Optional[str] = ..., hyper_parameters: _Optional[_Union[HyperParameters, _Mapping]] = ..., train_data: _Optional[_Union[Dataset, _Mapping]] = ..., train_samples: _Optional[int] = ..., metrics: _Optional[_Union[TrainMetrics, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., owner: _Optional[str] = ..., parameter_count: _Optional[int] = ..., history: _Optional[_Iterable[_Union[TrainMetrics, _Mapping]]] = ..., shared_with: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "name")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    name: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ShareModelRequest(_message.Message):
    __slots__ = ("model_id", "add", "remove")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    add: _containers.RepeatedScalarFieldContainer[str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., add: _Optional[_Iterable[str]] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class SetModelAliasRequest(_message.Message):
    __slots__ = ("name", "alias", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    version: int
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DeleteModelAliasRequest(_message.Message):
    __slots__ = ("name", "alias")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ...) -> None: ...

class DeleteModelAliasResponse(_message.Message):
    __slots__ = ("name", "alias", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    alias: str
    version: int
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ExportModelRequest(_message.Message):
    __slots__ = ("model_id", "format")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    format: ExportFormat
    def __init__(self, model_id: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportedFile(_message.Message):
    __slots__ = ("name", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: bytes
    def __init__(self, name: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ExportModelResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[ExportedFile]
    def __init__(self, files: _Optional[_Iterable[_Union[ExportedFile, _Mapping]]] = ...) -> None: ...

class GetGraphRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("name", "op", "output_shape", "parameter_count", "attributes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    op: str
    output_shape: _containers.RepeatedScalarFieldContainer[int]
    parameter_count: int
    attributes: str
    def __init__(self, name: _Optional[str] = ..., op: _Optional[str] = ..., output_shape: _Optional[_Iterable[int]] = ..., parameter_count: _Optional[int] = ..., attributes: _Optional[str] = ...) -> None: ...

class Graph(_message.Message):
    __slots__ = ("dot", "layers", "parameter_count")
    DOT_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    dot: str
    layers: _containers.RepeatedCompositeFieldContainer[Layer]
    parameter_count: int
    def __init__(self, dot: _Optional[str] = ..., layers: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ..., parameter_count: _Optional[int] = ...) -> None: ...

class GetEvaluationRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class OverallStatistics(_message.Message):
    __slots__ = ("accuracy", "kappa", "accuracy_lower", "accuracy_upper", "accuracy_null", "accuracy_p_value", "mcnemar_p_value")
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    KAPPA_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_LOWER_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_UPPER_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_NULL_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    MCNEMAR_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    accuracy: float
    kappa: float
    accuracy_lower: float
    accuracy_upper: float
    accuracy_null: float
    accuracy_p_value: float
    mcnemar_p_value: float
    def __init__(self, accuracy: _Optional[float] = ..., kappa: _Optional[float] = ..., accuracy_lower: _Optional[float] = ..., accuracy_upper: _Optional[float] = ..., accuracy_null: _Optional[float] = ..., accuracy_p_value: _Optional[float] = ..., mcnemar_p_value: _Optional[float] = ...) -> None: ...

class ClassStatistics(_message.Message):
    __slots__ = ("label", "sensitivity", "specificity", "pos_pred_value", "neg_pred_value", "precision", "recall", "f1", "prevalence", "detection_rate", "detection_prevalence", "balanced_accuracy")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    SPECIFICITY_FIELD_NUMBER: _ClassVar[int]
    POS_PRED_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEG_PRED_VALUE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    F1_FIELD_NUMBER: _ClassVar[int]
    PREVALENCE_FIELD_NUMBER: _ClassVar[int]
    DETECTION_RATE_FIELD_NUMBER: _ClassVar[int]
    DETECTION_PREVALENCE_FIELD_NUMBER: _ClassVar[int]
    BALANCED_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    label: str
    sensitivity: float
    specificity: float
    pos_pred_value: float
    neg_pred_value: float
    precision: float
    recall: float
    f1: float
    prevalence: float
    detection_rate: float
    detection_prevalence: float
    balanced_accuracy: float
    def __init__(self, label: _Optional[str] = ..., sensitivity: _Optional[float] = ..., specificity: _Optional[float] = ..., pos_pred_value: _Optional[float] = ..., neg_pred_value: _Optional[float] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., f1: _Optional[float] = ..., prevalence: _Optional[float] = ..., detection_rate: _Optional[float] = ..., detection_prevalence: _Optional[float] = ..., balanced_accuracy: _Optional[float] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("prediction", "reference", "count", "indices")
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    prediction: int
    reference: int
    count: int
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, prediction: _Optional[int] = ..., reference: _Optional[int] = ..., count: _Optional[int] = ..., indices: _Optional[_Iterable[int]] = ...) -> None: ...

class Misclassified(_message.Message):
    __slots__ = ("index", "prediction", "reference", "probabilities")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    index: int
    prediction: int
    reference: int
    probabilities: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, index: _Optional[int] = ..., prediction: _Optional[int] = ..., reference: _Optional[int] = ..., probabilities: _Optional[_Iterable[float]] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("job_id", "model_id", "dataset", "samples", "labels", "confusion_matrix", "overall", "by_class", "worst", "errors", "misclassified")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_MATRIX_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    BY_CLASS_FIELD_NUMBER: _ClassVar[int]
    WORST_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    MISCLASSIFIED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    model_id: str
    dataset: Dataset
    samples: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    confusion_matrix: _containers.RepeatedScalarFieldContainer[int]
    overall: OverallStatistics
    by_class: _containers.RepeatedCompositeFieldContainer[ClassStatistics]
    worst: _containers.RepeatedCompositeFieldContainer[Cell]
    errors: _containers.RepeatedCompositeFieldContainer[Cell]
    misclassified: _containers.RepeatedCompositeFieldContainer[Misclassified]
    def __init__(self, job_id: _Optional[str] = ..., model_id: _Optional[str] = ..., dataset: _Optional[_Union[Dataset, _Mapping]] = ..., samples: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., confusion_matrix: _Optional[_Iterable[int]] = ..., overall: _Optional[_Union[OverallStatistics, _Mapping]] = ..., by_class: _Optional[_Iterable[_Union[ClassStatistics, _Mapping]]] = ..., worst: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ..., misclassified: _Optional[_Iterable[_Union[Misclassified, _Mapping]]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("model_id", "images")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    images: Tensor
    def __init__(self, model_id: _Optional[str] = ..., images: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("probabilities", "labels", "warnings", "model_id", "model_name", "model_version")
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    probabilities: Tensor
    labels: _containers.RepeatedScalarFieldContainer[int]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    model_id: str
    model_name: str
    model_version: int
    def __init__(self, probabilities: _Optional[_Union[Tensor, _Mapping]] = ..., labels: _Optional[_Iterable[int]] = ..., warnings: _Optional[_Iterable[str]] = ..., model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ...) -> None: ...

class InspectRequest(_message.Message):
    __slots__ = ("model_id", "samples", "layers", "dtype", "batch_size", "shared_memory")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    samples: Dataset
    layers: _containers.RepeatedScalarFieldContainer[str]
    dtype: DType
    batch_size: int
    shared_memory: SharedMemoryRing
    def __init__(self, model_id: _Optional[str] = ..., samples: _Optional[_Union[Dataset, _Mapping]] = ..., layers: _Optional[_Iterable[str]] = ..., dtype: _Optional[_Union[DType, str]] = ..., batch_size: _Optional[int] = ..., shared_memory: _Optional[_Union[SharedMemoryRing, _Mapping]] = ...) -> None: ...

class SharedMemoryRing(_message.Message):
    __slots__ = ("name", "secret")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    secret: bytes
    def __init__(self, name: _Optional[str] = ..., secret: _Optional[bytes] = ...) -> None: ...

class TensorChunk(_message.Message):
    __slots__ = ("layer", "sample_start", "sample_count", "total_samples", "tensor", "shared_memory_slot")
    LAYER_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_START_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_SLOT_FIELD_NUMBER: _ClassVar[int]
    layer: str
    sample_start: int
    sample_count: int
    total_samples: int
    tensor: Tensor
    shared_memory_slot: int
    def __init__(self, layer: _Optional[str] = ..., sample_start: _Optional[int] = ..., sample_count: _Optional[int] = ..., total_samples: _Optional[int] = ..., tensor: _Optional[_Union[Tensor, _Mapping]] = ..., shared_memory_slot: _Optional[int] = ...) -> None: ...

class GetSamplesRequest(_message.Message):
    __slots__ = ("split", "indices")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    split: str
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, split: _Optional[str] = ..., indices: _Optional[_Iterable[int]] = ...) -> None: ...

class Samples(_message.Message):
    __slots__ = ("images", "labels")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    images: Tensor
    labels: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, images: _Optional[_Union[Tensor, _Mapping]] = ..., labels: _Optional[_Iterable[int]] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Worker(_message.Message):
    __slots__ = ("name", "device", "lane", "host", "pid", "threads", "started_at", "last_seen", "job_id", "requests")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    device: Device
    lane: str
    host: str
    pid: int
    threads: int
    started_at: str
    last_seen: str
    job_id: str
    requests: int
    def __init__(self, name: _Optional[str] = ..., device: _Optional[_Union[Device, str]] = ..., lane: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., threads: _Optional[int] = ..., started_at: _Optional[str] = ..., last_seen: _Optional[str] = ..., job_id: _Optional[str] = ..., requests: _Optional[int] = ...) -> None: ...

class Lane(_message.Message):
    __slots__ = ("name", "jobs_waiting", "requests_waiting", "workers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOBS_WAITING_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_WAITING_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    jobs_waiting: int
    requests_waiting: int
    workers: int
    def __init__(self, name: _Optional[str] = ..., jobs_waiting: _Optional[int] = ..., requests_waiting: _Optional[int] = ..., workers: _Optional[int] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers", "lanes")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    LANES_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[Worker]
    lanes: _containers.RepeatedCompositeFieldContainer[Lane]
    def __init__(self, workers: _Optional[_Iterable[_Union[Worker, _Mapping]]] = ..., lanes: _Optional[_Iterable[_Union[Lane, _Mapping]]] = ...) -> None: ...

class LaneRequest(_message.Message):
    __slots__ = ("request_id", "predict", "inspect", "export", "deadline", "relay_address", "relay_secret", "relay_tls", "trace_context", "sent_at")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICT_FIELD_NUMBER: _ClassVar[int]
    INSPECT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    RELAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RELAY_SECRET_FIELD_NUMBER: _ClassVar[int]
    RELAY_TLS_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    predict: PredictRequest
    inspect: InspectRequest
    export: ExportModelRequest
    deadline: float
    relay_address: str
    relay_secret: str
    relay_tls: bool
    trace_context: _containers.ScalarMap[str, str]
    sent_at: float
    def __init__(self, request_id: _Optional[str] = ..., predict: _Optional[_Union[PredictRequest, _Mapping]] = ..., inspect: _Optional[_Union[InspectRequest, _Mapping]] = ..., export: _Optional[_Union[ExportModelRequest, _Mapping]] = ..., deadline: _Optional[float] = ..., relay_address: _Optional[str] = ..., relay_secret: _Optional[str] = ..., relay_tls: _Optional[bool] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., sent_at: _Optional[float] = ...) -> None: ...

class TrainingCheckpoint(_message.Message):
    __slots__ = ("epoch", "history")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    history: _containers.RepeatedCompositeFieldContainer[TrainMetrics]
    def __init__(self, epoch: _Optional[int] = ..., history: _Optional[_Iterable[_Union[TrainMetrics, _Mapping]]] = ...) -> None: ...

class WorkerReply(_message.Message):
    __slots__ = ("payload", "error_code", "error_message")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    error_code: str
    error_message: str
    def __init__(self, payload: _Optional[bytes] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class Pruner(_message.Message):
    __slots__ = ("kind", "startup_trials", "warmup_epochs", "min_epochs", "reduction_factor")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TRIALS_FIELD_NUMBER: _ClassVar[int]
    WARMUP_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MIN_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    kind: PrunerKind
    startup_trials: int
    warmup_epochs: int
    min_epochs: int
    reduction_factor: int
    def __init__(self, kind: _Optional[_Union[PrunerKind, str]] = ..., startup_trials: _Optional[int] = ..., warmup_epochs: _Optional[int] = ..., min_epochs: _Optional[int] = ..., reduction_factor: _Optional[int] = ...) -> None: ...

class Choices(_message.Message):
    __slots__ = ("values", "names")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[float]] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class FloatRange(_message.Message):
    __slots__ = ("low", "high", "log", "step")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    log: bool
    step: float
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., log: _Optional[bool] = ..., step: _Optional[float] = ...) -> None: ...

class IntRange(_message.Message):
    __slots__ = ("low", "high", "log", "step")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    low: int
    high: int
    log: bool
    step: int
    def __init__(self, low: _Optional[int] = ..., high: _Optional[int] = ..., log: _Optional[bool] = ..., step: _Optional[int] = ...) -> None: ...

class Dimension(_message.Message):
    __slots__ = ("name", "fixed", "fixed_name", "choices", "float_range", "int_range")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIXED_FIELD_NUMBER: _ClassVar[int]
    FIXED_NAME_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    FLOAT_RANGE_FIELD_NUMBER: _ClassVar[int]
    INT_RANGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    fixed: float
    fixed_name: str
    choices: Choices
    float_range: FloatRange
    int_range: IntRange
    def __init__(self, name: _Optional[str] = ..., fixed: _Optional[float] = ..., fixed_name: _Optional[str] = ..., choices: _Optional[_Union[Choices, _Mapping]] = ..., float_range: _Optional[_Union[FloatRange, _Mapping]] = ..., int_range: _Optional[_Union[IntRange, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("trials", "parallelism", "max_seconds")
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    trials: int
    parallelism: int
    max_seconds: float
    def __init__(self, trials: _Optional[int] = ..., parallelism: _Optional[int] = ..., max_seconds: _Optional[float] = ...) -> None: ...

class Objective(_message.Message):
    __slots__ = ("metric", "minimize")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    MINIMIZE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    minimize: bool
    def __init__(self, metric: _Optional[str] = ..., minimize: _Optional[bool] = ...) -> None: ...

class SweepRequest(_message.Message):
    __slots__ = ("train", "space", "sampler", "seed", "pruner", "budget", "objective", "alias", "test_data", "idempotency_key")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PRUNER_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    TEST_DATA_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    train: TrainRequest
    space: _containers.RepeatedCompositeFieldContainer[Dimension]
    sampler: Sampler
    seed: int
    pruner: Pruner
    budget: Budget
    objective: Objective
    alias: str
    test_data: Dataset
    idempotency_key: str
    def __init__(self, train: _Optional[_Union[TrainRequest, _Mapping]] = ..., space: _Optional[_Iterable[_Union[Dimension, _Mapping]]] = ..., sampler: _Optional[_Union[Sampler, str]] = ..., seed: _Optional[int] = ..., pruner: _Optional[_Union[Pruner, _Mapping]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., objective: _Optional[_Union[Objective, _Mapping]] = ..., alias: _Optional[str] = ..., test_data: _Optional[_Union[Dataset, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("number", "job_id", "hyper_parameters", "state", "epoch", "value", "curve", "worker", "model_id")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    HYPER_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    number: int
    job_id: str
    hyper_parameters: HyperParameters
    state: JobState
    epoch: int
    value: float
    curve: _containers.RepeatedScalarFieldContainer[float]
    worker: str
    model_id: str
    def __init__(self, number: _Optional[int] = ..., job_id: _Optional[str] = ..., hyper_parameters: _Optional[_Union[HyperParameters, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., epoch: _Optional[int] = ..., value: _Optional[float] = ..., curve: _Optional[_Iterable[float]] = ..., worker: _Optional[str] = ..., model_id: _Optional[str] = ...) -> None: ...

class Winner(_message.Message):
    __slots__ = ("trial", "value", "model_id", "model_name", "model_version", "alias", "evaluation_job_id", "test_accuracy")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEST_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    trial: int
    value: float
    model_id: str
    model_name: str
    model_version: int
    alias: str
    evaluation_job_id: str
    test_accuracy: float
    def __init__(self, trial: _Optional[int] = ..., value: _Optional[float] = ..., model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., alias: _Optional[str] = ..., evaluation_job_id: _Optional[str] = ..., test_accuracy: _Optional[float] = ...) -> None: ...

class Sweep(_message.Message):
    __slots__ = ("id", "state", "request", "owner", "created_at", "finished_at", "error", "trials", "trials_finished", "trials_pruned", "trials_in_flight", "winner", "importances", "cancel_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FINISHED_FIELD_NUMBER: _ClassVar[int]
    TRIALS_PRUNED_FIELD_NUMBER: _ClassVar[int]
    TRIALS_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCES_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: SweepState
    request: SweepRequest
    owner: str
    created_at: str
    finished_at: str
    error: str
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    trials_finished: int
    trials_pruned: int
    trials_in_flight: int
    winner: Winner
    importances: _containers.RepeatedCompositeFieldContainer[ParameterImportance]
    cancel_requested: bool
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[SweepState, str]] = ..., request: _Optional[_Union[SweepRequest, _Mapping]] = ..., owner: _Optional[str] = ..., created_at: _Optional[str] = ..., finished_at: _Optional[str] = ..., error: _Optional[str] = ..., trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ..., trials_finished: _Optional[int] = ..., trials_pruned: _Optional[int] = ..., trials_in_flight: _Optional[int] = ..., winner: _Optional[_Union[Winner, _Mapping]] = ..., importances: _Optional[_Iterable[_Union[ParameterImportance, _Mapping]]] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class ParameterImportance(_message.Message):
    __slots__ = ("name", "importance")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    importance: float
    def __init__(self, name: _Optional[str] = ..., importance: _Optional[float] = ...) -> None: ...

class GetSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class ListSweepsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSweepsResponse(_message.Message):
    __slots__ = ("sweeps", "next_page_token")
    SWEEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sweeps: _containers.RepeatedCompositeFieldContainer[Sweep]
    next_page_token: str
    def __init__(self, sweeps: _Optional[_Iterable[_Union[Sweep, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class CancelSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class DeleteSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class DeleteSweepResponse(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...
