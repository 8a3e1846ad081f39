"""Answer synchronous requests: Predict and ONNX export (one reply each), Inspect (a flow-controlled chunk stream)."""
from collections.abc import Callable

import numpy as np
from google.protobuf.message import Message

from protos.contract import CHUNK_BYTES, LAYERS, file_prefix, onnx_file
from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import NUMPY_DTYPES, chunk_frame, to_tensor
from services.errors import ServiceError
from services.store import Store
from services.store.requests import Cancelled
from workers import model_cache
from workers.context import WorkerContext
from workers.datasets import resolve, uploaded_images
from workers.engine import onnx_export


def answer(store: Store, request_id: str, compute: Callable[[bytes], Message]) -> None:
    """Send `compute`'s result for the request, or the error it raised with its status code, as the one reply."""
    try:
        reply = pb.WorkerReply(payload=compute(store.requests.input(request_id)).SerializeToString())
    except Exception as error:
        reply = error_reply(error)
    store.requests.reply(request_id, reply)


def answer_predict(worker: WorkerContext, request_id: str) -> None:
    def predict(data: bytes) -> pb.PredictResponse:
        request = pb.PredictRequest.FromString(data)
        images = uploaded_images(request.images, "images")
        probabilities = model_cache.predictor(worker, request.model_id).predict(images)
        return pb.PredictResponse(probabilities=to_tensor(probabilities, "probabilities"),
                                  labels=probabilities.argmax(axis=1).tolist())

    answer(worker.store, request_id, predict)


def answer_export(worker: WorkerContext, request_id: str) -> None:
    """The model as ONNX (converting needs MXNet, hence here; the gateway serves MXNet checkpoints itself)."""
    store = worker.store

    def convert(data: bytes) -> pb.ExportModelResponse:
        model = store.models.get(pb.ExportModelRequest.FromString(data).model_id)
        symbol_json, params = store.models.files(model.id)
        with model_cache.reading(model.id, "exported"):
            onnx_model = onnx_export.to_onnx(symbol_json, params, normalize=model.hyper_parameters.normalize)
        return pb.ExportModelResponse(files=[pb.ExportedFile(name=onnx_file(file_prefix(model.name)),
                                                             data=onnx_model)])

    answer(store, request_id, convert)


def stream_inspect(worker: WorkerContext, request_id: str) -> None:
    """Forward passes in batches; every layer's rows go out as chunks of at most CHUNK_BYTES, each written by
    MXNet straight into its message buffer (protos.tensors.chunk_frame), one buffer reused for all chunks."""
    requests = worker.store.requests
    try:
        request = pb.InspectRequest.FromString(requests.start_stream(request_id))
        selection = resolve(request.samples, worker.data_dir, "samples")
        layers, dtype = list(request.layers) or list(LAYERS), request.dtype
        predictor = model_cache.predictor(worker, request.model_id)
        total, buffer = len(selection.images), None
        for batch in predictor.batches(selection.images, layers, request.batch_size, NUMPY_DTYPES[dtype]):
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
