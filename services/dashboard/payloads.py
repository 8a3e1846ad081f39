"""LenetService's answers as JSON documents for the browser: plain dicts, enums by name, arrays as base64.

Nothing here decides anything: the messages come from LenetService, which has applied every rule. Messages are
written by lenet_protos.documents, as the CLI's --json output is; statistics JSON cannot carry (NaN, where caret gives
NA) become null.
"""
import base64

import numpy as np

from lenet_protos import contract, tracing
from lenet_protos.contract import FINAL_STATES, class_statistics, confusion_matrix, overall_statistics
from lenet_protos.documents import jsonable, message_dict
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import from_tensor


def array(values: np.ndarray) -> dict:
    """An array for the browser: shape, dtype and its little-endian bytes in base64 (Float32Array/Uint8Array)."""
    values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    return {"shape": list(values.shape), "dtype": values.dtype.name,
            "data": base64.b64encode(values.tobytes()).decode()}


# -- jobs ------------------------------------------------------------------------------------------------
def progress(job: pb.Job, batch: pb.BatchProgress | None = None) -> dict:
    """How far a job is: `fraction` 0–1 (None when unknown) and a short `label`."""
    if job.state == pb.SUCCEEDED:
        return {"fraction": 1.0, "label": "done"}
    if job.state in FINAL_STATES:
        return {"fraction": None, "label": pb.JobState.Name(job.state).lower()}
    if job.state == pb.QUEUED:
        return {"fraction": 0.0, "label": f"waiting on {job.queue}"}
    if job.kind != pb.TRAIN:
        return {"fraction": None, "label": "evaluating"}
    epochs = job.train.hyper_parameters.epochs or 1
    if batch is not None and batch.batches_per_epoch:
        done = (batch.epoch - 1 + batch.batch / batch.batches_per_epoch) / epochs
        return {"fraction": min(done, 1.0), "label": f"epoch {batch.epoch}/{epochs}, batch {batch.batch}/"
                                                     f"{batch.batches_per_epoch}"}
    return {"fraction": job.metrics.epoch / epochs, "label": f"epoch {job.metrics.epoch}/{epochs}"}


def job(record: pb.Job, batch: pb.BatchProgress | None = None, trace_url: str = "") -> dict:
    """The record and its progress; with `trace_url` (the trace_url setting), the address of its trace."""
    document = {**message_dict(record), "progress": progress(record, batch)}
    return {**document, "trace_url": trace_link(trace_url, record)} if trace_url else document


def trace_link(template: str, record: pb.Job) -> str:
    """The trace UI's page of the job's trace ("" when the job carries no trace or no template is set)."""
    trace_id = tracing.trace_id_of(record.trace_context)
    return template.replace("{trace_id}", trace_id) if template and trace_id else ""


def event(record: pb.JobEvent) -> dict:
    return {**message_dict(record), "kind": record.WhichOneof("kind")}


# -- models ----------------------------------------------------------------------------------------------
def exports(model: pb.Model) -> list[dict]:
    """The files ExportModel gives for each format, by the contract's names."""
    prefix = contract.file_prefix(model.name)
    return [{"format": "mxnet", "files": list(contract.checkpoint_files(prefix))},
            {"format": "onnx", "files": [contract.onnx_file(prefix)]}]


def model_page(model: pb.Model, graph: pb.Graph) -> dict:
    return {"model": message_dict(model), "graph": message_dict(graph), "exports": exports(model)}


# -- evaluations -----------------------------------------------------------------------------------------
def evaluation(result: pb.Evaluation) -> dict:
    """The confusion matrix (rows prediction, columns reference, as caret), caret's statistics under caret's
    names, the sample indices of every error cell, and the probabilities of every misclassified sample."""
    dataset = result.dataset
    return jsonable({
        "job_id": result.job_id, "model_id": result.model_id, "samples": result.samples,
        "labels": list(result.labels),
        "split": "" if dataset.HasField("images") else dataset.split or contract.TEST_SPLIT,
        "matrix": confusion_matrix(result).tolist(),
        "overall": overall_statistics(result),
        "by_class": class_statistics(result),
        "worst": [[cell.prediction, cell.reference] for cell in result.worst],
        "errors": [{"prediction": cell.prediction, "reference": cell.reference, "indices": list(cell.indices)}
                   for cell in result.errors],
        "misclassified": {str(m.index): [round(float(p), 6) for p in m.probabilities] for m in result.misclassified},
    })


# -- samples and activations --------------------------------------------------------------------------------
def samples(result: pb.Samples) -> dict:
    return {"images": array(from_tensor(result.images)), "labels": list(result.labels)}


def activations(chunks: dict[str, list[np.ndarray]]) -> list[dict]:
    """Each layer's activations of one sample (its chunks joined), in the order they came."""
    layers = []
    for name, parts in chunks.items():
        values = np.concatenate(parts)[0].astype(np.float32)
        layers.append({"name": name, **array(values), "min": float(values.min()), "max": float(values.max())})
    return layers
