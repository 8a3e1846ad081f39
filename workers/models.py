"""Trained models as the worker uses them: loaded predictors (cached per process), graphs, device contexts."""
from functools import lru_cache

from protos.lenet.v1 import lenet_pb2 as pb
from services.errors import ServiceError
from services.store import Store
from workers.engine import devices, lenet
from workers.engine.inference import Predictor

context = devices.context


def predictor(store: Store, model_id: str, device: str = "cpu") -> Predictor:
    """The model's predictor; models never change once saved, so a loaded one is reused."""
    normalize = store.models.get(model_id).hyper_parameters.normalize
    try:
        return _load(store, model_id, device, normalize)
    except ServiceError:
        raise
    except Exception as error:  # a stored model MXNet cannot read is the service's fault (INTERNAL), not the caller's
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]  # MXNet prefixes a C++ trace
        raise ServiceError(f"model {model_id} cannot be loaded: {reason}") from error


@lru_cache(maxsize=4)
def _load(store: Store, model_id: str, device: str, normalize: bool) -> Predictor:
    symbol_json, params = store.models.files(model_id)
    return Predictor(symbol_json, params, ctx=context(device), normalize=normalize)


def graph(symbol_json: str) -> pb.Graph:
    import mxnet as mx

    symbol = mx.sym.load_json(symbol_json)
    layers = [pb.Layer(name=row["name"], op=row["op"], output_shape=row["output_shape"],
                       parameter_count=row["parameter_count"], attributes=row["attributes"])
              for row in lenet.layer_table(symbol)]
    return pb.Graph(dot=lenet.to_dot(symbol), layers=layers,
                    parameter_count=sum(layer.parameter_count for layer in layers))
