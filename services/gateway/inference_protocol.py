"""The Open Inference Protocol (KServe v2, with Triton's model configuration, statistics and repository index) over
LenetService, for its gRPC and REST front ends — as KServe's DataPlane serves both of its.

Nothing here is below LenetService: an inference is a Predict (the serve lane's dynamic batcher, with every Predict
call) when it asks for SoftM alone, else an Inspect of the requested layers, so every rule (owners, limits,
deadlines, digit warnings) is theirs. What is OIP's lives here: model_name/model_version, input tensors to images,
requested outputs to layers, metadata, configuration and statistics. Descriptions are dicts in the protocol's JSON
shape, which the gRPC front end parses into its messages; tensors are numpy arrays.
"""
from dataclasses import dataclass

import numpy as np

from lenet_protos import contract, mnist
from lenet_protos.contract import LAYER_SHAPES, LAYERS
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import assemble, from_tensor
from lenet_services.errors import InvalidArgument, ServiceError
from lenet_services.gateway import validation as check
from lenet_services.gateway.inference_statistics import InferenceStatistics
from lenet_services.gateway.service import Caller, LenetService

SERVER = {"name": "lenet", "version": "0.1.0",
          "extensions": ["model_configuration", "statistics", "model_repository", "binary_tensor_data"]}
PLATFORM = "mxnet"
INPUT = "data"                # the input's name in metadata; a request may call it anything
DEFAULT_OUTPUT = "SoftM"
DATATYPES = {"UINT8": np.dtype("u1"), "FP32": np.dtype("<f4")}   # pixels 0–255, as Predict takes them
LENET_DTYPES = {"UINT8": pb.UINT8, "FP32": pb.FLOAT32}
OUTPUT_DATATYPE = "FP32"
CONFIG_TYPES = {"UINT8": "TYPE_UINT8", "FP32": "TYPE_FP32"}
VERSION = "1"                 # the version of a model saved before the registry (it has none)


@dataclass
class InputTensor:
    """One input as a request carries it: bytes (raw or binary contents) or values (typed contents, JSON data)."""
    name: str
    datatype: str
    shape: list[int]
    raw: bytes | None = None
    values: object = None


@dataclass
class Inference:
    """An answer: the model as named and the version served, each requested output, the digit warnings."""
    model_name: str
    model_version: str
    outputs: list[tuple[str, np.ndarray]]
    warnings: list[str]


class InferenceProtocol:
    def __init__(self, service: LenetService):
        self.service = service
        self.statistics = InferenceStatistics()

    # -- health and metadata ---------------------------------------------------------------------------------
    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        """Ready when the store answers and a serving worker is alive (a ServiceError, the store's Unavailable
        among them: not)."""
        try:
            return self.service.serving()
        except ServiceError:
            return False

    def model_ready(self, name: str, version: str, caller: Caller) -> bool:
        self.model(name, version, caller)
        return self.ready()

    def metadata(self, name: str, version: str, caller: Caller) -> dict:
        """The model's name, versions, platform, its input `data` and its outputs: SoftM first (the default),
        then every other layer, each with a variable first dimension (-1: the images)."""
        model = self.model(name, version, caller)
        return {"name": name, "versions": [self.version_of(model)], "platform": PLATFORM,
                "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, *contract.IMAGE_SHAPE]}],
                "outputs": [{"name": layer, "datatype": OUTPUT_DATATYPE, "shape": [-1, *LAYER_SHAPES[layer]]}
                            for layer in self.output_order()]}

    def config(self, name: str, version: str, caller: Caller) -> dict:
        """Triton's model configuration: batching on (max_batch_size: the images one request may carry) with
        dynamic batching as the serving workers do it; dims exclude the batch dimension."""
        self.model(name, version, caller)
        settings = self.service.settings
        return {"name": name, "platform": PLATFORM, "max_batch_size": contract.MAX_IMAGES,
                "input": [{"name": INPUT, "data_type": CONFIG_TYPES["FP32"], "dims": list(contract.IMAGE_SHAPE)}],
                "output": [{"name": layer, "data_type": "TYPE_FP32", "dims": list(LAYER_SHAPES[layer])}
                           for layer in self.output_order()],
                "dynamic_batching": {"preferred_batch_size": [settings.batch_max],
                                     "max_queue_delay_microseconds": int(settings.batch_delay_ms * 1000)}}

    def model_statistics(self, name: str, version: str, caller: Caller) -> dict:
        """Counts and times of this gateway's inferences: of one model when named, else of every model the caller
        can see that this gateway has served."""
        if name:
            model = self.model(name, version, caller)
            return {"model_stats": [self.statistics.of(model.id, name, self.version_of(model))]}
        return {"model_stats": [self.statistics.of(model.id, model.id, self.version_of(model))
                                for model in self.visible_models(caller) if model.id in self.statistics]}

    def repository_index(self, caller: Caller) -> list[dict]:
        """The models the caller can see, newest first, READY while a serving worker is alive."""
        state = "READY" if self.ready() else "UNAVAILABLE"
        return [{"name": model.id, "version": self.version_of(model), "state": state}
                for model in self.visible_models(caller)]

    # -- inference -------------------------------------------------------------------------------------------
    def infer(self, name: str, version: str, inputs: list[InputTensor], outputs: list[str],
              caller: Caller) -> Inference:
        """Each requested output (SoftM when none is) for the one input's images."""
        images = self.images(inputs)
        layers = self.layers(outputs)
        model = self.model(name, version, caller)
        with self.statistics.timing(model.id, images.shape[0]):
            arrays = self.compute(model, images, layers, caller)
        return Inference(name, self.version_of(model), [(layer, arrays[layer]) for layer in layers],
                         mnist.digit_warnings(from_tensor(images)))

    def compute(self, model: pb.Model, images: pb.Tensor, layers: list[str], caller: Caller) -> dict:
        if layers == [DEFAULT_OUTPUT]:
            response = self.service.predict(pb.PredictRequest(model_id=model.id, images=images), caller)
            return {DEFAULT_OUTPUT: from_tensor(response.probabilities)}
        request = pb.InspectRequest(model_id=model.id, samples=pb.Dataset(images=images), layers=layers)
        return assemble((chunk, from_tensor(chunk.tensor))
                        for chunk in map(pb.TensorChunk.FromString, self.service.inspect(request, caller)))

    @staticmethod
    def images(inputs: list[InputTensor]) -> pb.Tensor:
        """The one input as Predict's images tensor, checked by Predict's rules (naming the input)."""
        if len(inputs) != 1:
            raise InvalidArgument("inputs", f"give exactly one input tensor (the images), got {len(inputs)}")
        tensor, field = inputs[0], "inputs[0]"
        if tensor.datatype not in DATATYPES:
            raise InvalidArgument(f"{field}.datatype", f"must be UINT8 or FP32 (pixels 0–255), "
                                                       f"got {check.shown(tensor.datatype)}")
        shape = [int(d) for d in tensor.shape]
        if shape and shape[0] > contract.MAX_IMAGES:
            check.at_most(shape[0], contract.MAX_IMAGES, f"{field}.shape", "images")
        if len(shape) not in (3, 4) or any(d < 0 for d in shape):
            raise InvalidArgument(f"{field}.shape", f"must be [N,28,28] or [N,1,28,28], got {shape}")
        dtype = DATATYPES[tensor.datatype]
        if tensor.raw is not None:
            data = tensor.raw
        else:
            data = values_bytes(tensor.values, dtype, int(np.prod(shape)), f"{field}.contents")
        images = pb.Tensor(name="images", shape=shape, dtype=LENET_DTYPES[tensor.datatype], data=data)
        check.uploaded_images(images, field)
        return images

    @staticmethod
    def layers(outputs: list[str]) -> list[str]:
        """The requested outputs as layers, in the order asked; SoftM when none is."""
        for i, name in enumerate(outputs):
            if name not in LAYERS:
                raise InvalidArgument(f"outputs[{i}].name", f"unknown output {check.shown(name)}; choose from "
                                                            f"{', '.join(LAYERS)}")
            if outputs.index(name) != i:
                raise InvalidArgument(f"outputs[{i}].name", f"{name} asked more than once")
        return list(outputs) or [DEFAULT_OUTPUT]

    # -- models ------------------------------------------------------------------------------------------------
    def model(self, name: str, version: str, caller: Caller) -> pb.Model:
        """The model model_name and model_version name: any model reference (an id, a unique prefix, latest,
        NAME, NAME/VERSION, NAME@ALIAS) with, for a plain NAME or an id, a version number."""
        return self.service.resolve_model(caller, name, version, field="model_name")

    @staticmethod
    def version_of(model: pb.Model) -> str:
        return str(model.version or VERSION)

    def visible_models(self, caller: Caller) -> list[pb.Model]:
        return list(self.service.list_models(pb.ListModelsRequest(page_size=contract.MAX_PAGE_SIZE), caller).models)

    @staticmethod
    def output_order() -> list[str]:
        return [DEFAULT_OUTPUT, *(layer for layer in LAYERS if layer != DEFAULT_OUTPUT)]


def values_bytes(values, dtype: np.dtype, count: int, field: str) -> bytes:
    """Typed contents (a flat or nested list of numbers) as `count` little-endian values of `dtype`."""
    try:
        array = np.asarray(values if values is not None else [], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InvalidArgument(field, "must be numbers") from None
    if array.size != count:
        raise InvalidArgument(field, f"the shape needs {count:,} values, got {array.size:,}")
    if dtype == np.uint8 and array.size and (array.min() < 0 or array.max() > 255 or (array % 1).any()):
        raise InvalidArgument(field, "UINT8 pixels must be whole numbers 0..255")
    return array.astype(dtype).tobytes()
