"""Answer synchronous requests: Predict and ONNX export (one reply each), Inspect (a flow-controlled chunk stream)."""
import numpy as np

from protos.contract import file_prefix
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import to_tensor
from services.errors import ServiceError
from services.store import Store
from services.store.requests import Cancelled
from workers import models
from workers.datasets import resolve, uploaded_images
from workers.engine import export
from workers.engine.lenet import LAYERS

CHUNK_BYTES = 4 << 20   # upper bound of one chunk's tensor data


def answer_predict(store: Store, request_id: str, device: str) -> None:
    try:
        request = pb.PredictRequest.FromString(store.requests.input(request_id))
        images = uploaded_images(request.images, "images")
        probabilities = models.predictor(store, request.model_id, device).predict(images)
        reply = pb.WorkerReply(payload=pb.PredictResponse(
            probabilities=to_tensor(probabilities, "probabilities"),
            labels=probabilities.argmax(axis=1).tolist()).SerializeToString())
    except Exception as error:
        reply = error_reply(error)
    store.requests.reply(request_id, reply)


def answer_export(store: Store, request_id: str) -> None:
    """The model as ONNX (converting needs MXNet, hence here; the gateway serves MXNet checkpoints itself)."""
    try:
        request = pb.ExportModelRequest.FromString(store.requests.input(request_id))
        model = store.models.get(request.model_id)
        symbol_json, params = store.models.files(model.id)
        onnx_model = export.to_onnx(symbol_json, params, normalize=model.hyper_parameters.normalize)
        reply = pb.WorkerReply(payload=pb.ExportModelResponse(files=[
            pb.ExportedFile(name=f"{file_prefix(model.name)}.onnx", data=onnx_model)]).SerializeToString())
    except Exception as error:
        reply = error_reply(error)
    store.requests.reply(request_id, reply)


def stream_inspect(store: Store, request_id: str, device: str) -> None:
    try:
        request = pb.InspectRequest.FromString(store.requests.input(request_id))
        selection = resolve(request.samples, "test", "samples")
        layers = list(request.layers) or list(LAYERS)
        dtype = request.dtype or pb.FLOAT32
        predictor = models.predictor(store, request.model_id, device)
        total = len(selection.images)
        for start, outputs in predictor.activations(selection.images, layers, request.batch_size or 500):
            for layer in layers:
                for offset, piece in split_rows(outputs[layer], dtype):
                    store.requests.push_chunk(request_id, pb.TensorChunk(
                        layer=layer, sample_start=start + offset, sample_count=len(piece), total_samples=total,
                        tensor=to_tensor(piece, layer, dtype)).SerializeToString())
        store.requests.end_chunks(request_id)
    except Cancelled:
        store.requests.close(request_id)
    except Exception as error:
        store.requests.end_chunks(request_id, error_reply(error))


def split_rows(array: np.ndarray, dtype: int):
    """(row offset, rows) pieces of at most CHUNK_BYTES each once converted to `dtype`."""
    row_bytes = max(1, array[0].size * (2 if dtype == pb.FLOAT16 else 4)) if len(array) else 1
    step = max(1, CHUNK_BYTES // row_bytes)
    for offset in range(0, len(array), step):
        yield offset, array[offset:offset + step]


def error_reply(error: Exception) -> pb.WorkerReply:
    code = error.code if isinstance(error, ServiceError) else \
        "INVALID_ARGUMENT" if isinstance(error, ValueError) else "INTERNAL"
    return pb.WorkerReply(error_code=code, error_message=str(error))
