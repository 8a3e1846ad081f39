"""Answer synchronous requests: Predict and ONNX export (one reply each), Inspect (a flow-controlled chunk stream)."""
from collections.abc import Callable

import numpy as np
from google.protobuf.message import Message

from protos.contract import file_prefix
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import NUMPY_DTYPES, chunk_frame, to_tensor
from services.errors import ServiceError
from services.store import Store
from services.store.requests import Cancelled
from workers import models
from workers.datasets import resolve, uploaded_images
from workers.engine import export
from workers.engine.lenet import LAYERS

CHUNK_BYTES = 4 << 20   # upper bound of one chunk's tensor data
BATCH_SIZE = 500        # images per forward pass when the request leaves it to us


def answer(store: Store, request_id: str, compute: Callable[[bytes], Message]) -> None:
    """Send `compute`'s result for the request, or the error it raised with its status code, as the one reply."""
    try:
        reply = pb.WorkerReply(payload=compute(store.requests.input(request_id)).SerializeToString())
    except Exception as error:
        reply = error_reply(error)
    store.requests.reply(request_id, reply)


def answer_predict(store: Store, request_id: str, device: str) -> None:
    def predict(data: bytes) -> pb.PredictResponse:
        request = pb.PredictRequest.FromString(data)
        images = uploaded_images(request.images, "images")
        probabilities = models.predictor(store, request.model_id, device).predict(images)
        return pb.PredictResponse(probabilities=to_tensor(probabilities, "probabilities"),
                                  labels=probabilities.argmax(axis=1).tolist())

    answer(store, request_id, predict)


def answer_export(store: Store, request_id: str) -> None:
    """The model as ONNX (converting needs MXNet, hence here; the gateway serves MXNet checkpoints itself)."""
    def convert(data: bytes) -> pb.ExportModelResponse:
        model = store.models.get(pb.ExportModelRequest.FromString(data).model_id)
        symbol_json, params = store.models.files(model.id)
        with models.reading(model.id, "exported"):
            onnx_model = export.to_onnx(symbol_json, params, normalize=model.hyper_parameters.normalize)
        return pb.ExportModelResponse(files=[pb.ExportedFile(name=f"{file_prefix(model.name)}.onnx",
                                                             data=onnx_model)])

    answer(store, request_id, convert)


def stream_inspect(store: Store, request_id: str, device: str) -> None:
    """Forward passes in batches; every layer's rows go out as chunks of at most CHUNK_BYTES, each written by
    MXNet straight into its message buffer (protos.tensors.chunk_frame), one buffer reused for all chunks."""
    requests = store.requests
    try:
        request = pb.InspectRequest.FromString(requests.start_stream(request_id))
        selection = resolve(request.samples, "test", "samples")
        layers = list(request.layers) or list(LAYERS)
        dtype = request.dtype or pb.FLOAT32
        predictor = models.predictor(store, request.model_id, device)
        total, buffer = len(selection.images), None
        for batch in predictor.batches(selection.images, layers, request.batch_size or BATCH_SIZE,
                                       NUMPY_DTYPES[dtype]):
            for layer in layers:
                for start, stop in row_ranges(batch.shape(layer), NUMPY_DTYPES[dtype].itemsize):
                    chunk = pb.TensorChunk(layer=layer, sample_start=batch.start + start, sample_count=stop - start,
                                           total_samples=total)
                    frame, data = chunk_frame(chunk, (stop - start, *batch.shape(layer)[1:]), dtype, buffer)
                    batch.copy_rows(layer, start, stop, data)
                    requests.push_chunk(request_id, frame)
                    buffer = frame.obj  # sent: reuse its memory for the next chunk
        requests.end_chunks(request_id)
    except Cancelled:
        requests.close(request_id)
    except Exception as error:
        requests.end_chunks(request_id, error_reply(error))


def row_ranges(shape: tuple, itemsize: int):
    """(start, stop) row ranges of an array of `shape`, each at most CHUNK_BYTES (at least one row)."""
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    step = max(1, CHUNK_BYTES // max(row_bytes, 1))
    for start in range(0, shape[0], step):
        yield start, min(start + step, shape[0])


def error_reply(error: Exception) -> pb.WorkerReply:
    code = error.code if isinstance(error, ServiceError) else \
        "INVALID_ARGUMENT" if isinstance(error, ValueError) else "INTERNAL"
    return pb.WorkerReply(error_code=code, error_message=str(error))
