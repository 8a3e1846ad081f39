"""The pieces of the Inspect stream: chunk frames written in place and the engine's batches (the chunk stream's
protocol in Redis: tests/unit/test_serve_lane.py)."""

import numpy as np
import pytest

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import chunk_frame, from_tensor, to_tensor


@pytest.mark.parametrize("dtype", [pb.FLOAT32, pb.FLOAT16])
@pytest.mark.parametrize("rows", [1, 91, 3000])  # lengths whose varints take 1, 3 and 4 bytes
def test_a_frame_is_the_usual_serialization(dtype, rows):
    values = np.random.default_rng(rows).normal(size=(rows, 5, 4)).astype(np.float32)
    chunk = pb.TensorChunk(layer="Pool2", sample_start=128, sample_count=rows, total_samples=10_000)
    frame, data = chunk_frame(chunk, values.shape, dtype)
    data[...] = values
    expected = pb.TensorChunk(layer="Pool2", sample_start=128, sample_count=rows, total_samples=10_000,
                              tensor=to_tensor(values, "Pool2", dtype))
    assert bytes(frame) == expected.SerializeToString()
    parsed = pb.TensorChunk.FromString(bytes(frame))
    np.testing.assert_array_equal(from_tensor(parsed.tensor), values.astype(data.dtype))


def test_a_frame_reuses_a_large_enough_buffer_and_refuses_a_set_tensor():
    buffer = bytearray(1 << 16)
    frame, data = chunk_frame(pb.TensorChunk(layer="SoftM"), (2, 10), pb.FLOAT32, buffer)
    assert frame.obj is buffer and len(frame) < len(buffer)
    data[...] = 0.5
    assert from_tensor(pb.TensorChunk.FromString(bytes(frame)).tensor).tolist() == [[0.5] * 10] * 2
    small, _ = chunk_frame(pb.TensorChunk(layer="SoftM"), (2000, 10), pb.FLOAT32, bytearray(10))
    assert len(small.obj) == len(small)
    with pytest.raises(ValueError, match="without one"):
        chunk_frame(pb.TensorChunk(layer="SoftM", tensor=pb.Tensor(name="x")), (1,), pb.FLOAT32)


def test_batches_copy_rows_into_any_buffer_and_overlap_passes():
    mx = pytest.importorskip("mxnet")
    from lenet_workers.engine.checkpoint import params_to_bytes
    from lenet_workers.engine.inference import Predictor
    from lenet_workers.engine.lenet import lenet

    symbol = lenet()
    shapes = dict(zip(symbol.list_arguments(), symbol.infer_shape(data=(1, 1, 28, 28))[0]))
    rng = np.random.default_rng(0)
    params = {name: mx.nd.array(rng.uniform(-0.05, 0.05, shape)) for name, shape in shapes.items()
              if name not in ("data", "SoftM_label")}
    predictor = Predictor(symbol.tojson(), params_to_bytes(params, {}))
    images = rng.integers(0, 256, (23, 28, 28), dtype=np.uint8)
    whole = next(predictor.activations(images, batch_size=23))[1]
    batches = list(predictor.batches(images, ("Pool1", "SoftM"), batch_size=10, dtype=np.float16))
    assert [(batch.start, len(batch)) for batch in batches] == [(0, 10), (10, 10), (20, 3)]
    # kept Batch objects still hold their own executor's outputs: the two slots alternate
    for batch in batches[:2]:
        out = np.empty((4, 20, 12, 12), np.float16)
        batch.copy_rows("Pool1", 3, 7, out)
        np.testing.assert_array_equal(out, whole["Pool1"][batch.start + 3:batch.start + 7].astype(np.float16))
    with pytest.raises(ValueError, match="C-contiguous float16"):
        batches[0].copy_rows("SoftM", 0, 2, np.empty((2, 10), np.float32))
    with pytest.raises(ValueError, match="float32 or float16"):
        predictor.batches(images, dtype=np.float64)
    # a short first pass, then full ones: the same rows
    batches = [(batch.start, len(batch), batch.numpy()["SoftM"])
               for batch in predictor.batches(images, ("SoftM",), batch_size=10, first_batch=4)]
    assert [(start, size) for start, size, _ in batches] == [(0, 4), (4, 10), (14, 9)]
    np.testing.assert_allclose(np.concatenate([rows for _, _, rows in batches]), whole["SoftM"], atol=1e-6)
