"""Trained models as the worker uses them: loaded predictors (cached per process), graphs, device contexts."""
from contextlib import contextmanager
from functools import lru_cache

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import ServiceError
from lenet_services.store import Store
from lenet_workers import worker_metrics as metrics
from lenet_workers.context import WorkerContext
from lenet_workers.engine import devices, lenet
from lenet_workers.engine.inference import Predictor
from lenet_workers.engine.lenet import Pixels

context = devices.context


@contextmanager
def reading(model_id: str, action: str = "loaded"):
    """A stored model MXNet cannot read is the service's fault (INTERNAL), not the caller's: report it as such,
    with the last line of MXNet's message (it prefixes a C++ trace)."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise ServiceError(f"model {model_id} cannot be {action}: {reason}") from error


def predictor(worker: WorkerContext, model_id: str) -> Predictor:
    """The model's predictor; models never change once saved, so a loaded one is reused."""
    with reading(model_id):
        misses = _load.cache_info().misses
        predictor = _load(worker.store, model_id, worker.device, worker.settings.gpu)
        metrics.MODEL_CACHE.labels("miss" if _load.cache_info().misses > misses else "hit").inc()
        return predictor


@lru_cache(maxsize=8)
def _load(store: Store, model_id: str, device: str, gpu: int) -> Predictor:
    pixels = model_pixels(store.models.get(model_id))
    symbol_json, params = store.models.files(model_id)
    return Predictor(symbol_json, params, ctx=context(device, gpu), pixels=pixels)


def model_pixels(model: pb.Model) -> Pixels:
    """How the model's input pixels are scaled: as in its training (the seed's defaults for fields it predates)."""
    return Pixels.of(contract.hyper_params(model.hyper_parameters))


def graph(symbol_json: str) -> pb.Graph:
    import mxnet as mx

    symbol = mx.sym.load_json(symbol_json)
    layers = [pb.Layer(name=row["name"], op=row["op"], output_shape=row["output_shape"],
                       parameter_count=row["parameter_count"], attributes=row["attributes"])
              for row in lenet.layer_table(symbol)]
    return pb.Graph(dot=lenet.to_dot(symbol), layers=layers,
                    parameter_count=sum(layer.parameter_count for layer in layers))
