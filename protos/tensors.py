"""numpy ⇄ lenet.v1.Tensor: the contract's array encoding (little-endian, C order)."""
from collections.abc import Iterable

import numpy as np

from lenet_protos.lenet.v1 import lenet_pb2 as pb

NUMPY_DTYPES = {pb.FLOAT32: np.dtype("<f4"), pb.FLOAT16: np.dtype("<f2"), pb.UINT8: np.dtype("u1"),
                pb.INT64: np.dtype("<i8")}
PROTO_DTYPES = {dtype: code for code, dtype in NUMPY_DTYPES.items()}


def to_tensor(array: np.ndarray, name: str = "", dtype: int | None = None) -> pb.Tensor:
    """Encode an array, converting it to `dtype` (a lenet.v1.DType) when given."""
    target = NUMPY_DTYPES[dtype] if dtype else np.dtype(array.dtype).newbyteorder("<")
    if target not in PROTO_DTYPES:
        raise ValueError(f"dtype {array.dtype} has no lenet.v1.DType")
    data = np.ascontiguousarray(array, dtype=target)
    return pb.Tensor(name=name, shape=data.shape, dtype=PROTO_DTYPES[target], data=data.tobytes())


def from_tensor(tensor: pb.Tensor, data=None) -> np.ndarray:
    """Decode a tensor, checking that its bytes match its shape and dtype (ValueError otherwise); `data`, when
    given, holds the bytes instead of tensor.data (e.g. a shared-memory slot)."""
    expected, dtype, shape = tensor_bytes(tensor), NUMPY_DTYPES[tensor.dtype], tuple(tensor.shape)
    if data is None:
        data = tensor.data  # read once: each read of a bytes field copies it (upb)
    if len(data) != expected:
        raise ValueError(f"shape {list(shape)} of {dtype.name} needs {expected} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def tensor_bytes(tensor: pb.Tensor) -> int:
    """How many bytes of data the tensor's shape and dtype need (ValueError for an unknown dtype or a negative
    dimension)."""
    if tensor.dtype not in NUMPY_DTYPES:
        raise ValueError(f"unknown dtype {tensor.dtype}")
    if any(d < 0 for d in tensor.shape):
        raise ValueError(f"negative dimension in shape {list(tensor.shape)}")
    return int(np.prod(tuple(tensor.shape), dtype=np.int64)) * NUMPY_DTYPES[tensor.dtype].itemsize


def images_from_tensor(tensor: pb.Tensor) -> np.ndarray:
    """Uploaded images as N×28×28 uint8 or float32; ValueError for any other dtype or shape."""
    images = from_tensor(tensor)
    if images.dtype not in (np.uint8, np.float32):
        raise ValueError(f"dtype must be UINT8 or FLOAT32, not {images.dtype}")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"shape must be N×28×28 or N×1×28×28 with N ≥ 1, not {list(tensor.shape)}")
    return images


def assemble(pieces: Iterable[tuple[pb.TensorChunk, np.ndarray]]) -> dict[str, np.ndarray]:
    """Inspect's stream as one array per layer, samples first, from (chunk, rows) pairs, `rows` being the chunk's
    tensor as an array. Each piece is copied into place as it comes, so the pieces are never held twice;
    RuntimeError when the stream ended with a layer incomplete."""
    arrays, filled = {}, {}
    for chunk, rows in pieces:
        if chunk.layer not in arrays:
            arrays[chunk.layer] = np.empty((chunk.total_samples, *rows.shape[1:]), rows.dtype)
            filled[chunk.layer] = 0
        arrays[chunk.layer][chunk.sample_start:chunk.sample_start + chunk.sample_count] = rows
        filled[chunk.layer] += chunk.sample_count
    short = {layer: count for layer, count in filled.items() if count != len(arrays[layer])}
    if short:
        raise RuntimeError(f"the stream ended with layers incomplete: {short}")
    return arrays


# -- TensorChunk frames: serialized chunks whose tensor data is written in place -------------------------------
# A serialized TensorChunk is its small fields, then field 5 (tensor) holding Tensor's small fields and field 4
# (data) last. Building it as one buffer with a hole for the data lets the producer write the activations
# straight into the message: no tobytes(), no protobuf copy, no serialization copy. Parsers see a normal message.
_CHUNK_TENSOR_TAG = bytes([5 << 3 | 2])   # TensorChunk.tensor, wire type LEN
_TENSOR_DATA_TAG = bytes([4 << 3 | 2])    # Tensor.data, wire type LEN


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def chunk_frame(chunk: pb.TensorChunk, shape, dtype: int, buffer: bytearray | None = None
                ) -> tuple[memoryview, np.ndarray]:
    """(frame, data): `frame` is the serialized `chunk` (which must not have its tensor set) carrying a tensor
    named after chunk.layer of `shape` and `dtype` (a lenet.v1.DType); `data` is a writable array over that
    tensor's bytes inside the frame, to fill before the frame is sent. `buffer` is reused when large enough."""
    if chunk.HasField("tensor"):
        raise ValueError("chunk_frame builds the tensor itself; pass a chunk without one")
    element = NUMPY_DTYPES[dtype]
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * element.itemsize
    tensor_head = pb.Tensor(name=chunk.layer, shape=shape, dtype=dtype).SerializeToString() + \
        _TENSOR_DATA_TAG + _varint(nbytes)
    head = chunk.SerializeToString() + _CHUNK_TENSOR_TAG + _varint(len(tensor_head) + nbytes) + tensor_head
    size = len(head) + nbytes
    if buffer is None or len(buffer) < size:
        buffer = bytearray(size)
    frame = memoryview(buffer)[:size]
    frame[:len(head)] = head
    data = np.frombuffer(buffer, dtype=element, count=count, offset=len(head)).reshape(shape)
    return frame, data
