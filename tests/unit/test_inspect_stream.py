"""The pieces of the Inspect stream: chunk frames written in place, the engine's batches, and who clears a chunk
stream in Redis after a cancel (real redis-server)."""
import threading

import numpy as np
import pytest

from protos.lenet.v1 import lenet_pb2 as pb
from protos.tensors import chunk_frame, from_tensor, to_tensor
from services.store.requests import Cancelled


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
    from workers.engine.checkpoint import params_to_bytes
    from workers.engine.inference import Predictor
    from workers.engine.lenet import lenet

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


def test_open_requests_and_pending_chunks(store):
    first = store.requests.open(b"request", window=4)
    second = store.requests.open(b"request")
    assert store.requests.open_requests() == {first, second}
    store.requests.push_chunk(first, b"a")
    store.requests.push_chunk(first, memoryview(b"--b--")[2:3])
    assert store.requests.pending_chunks(first) == 2
    entries = store.requests.take_chunks(first, "0-0", block_ms=100)
    assert [data for _, _, data in entries] == [b"a", b"b"] and store.requests.pending_chunks(first) == 0
    store.requests.close(first)
    store.requests.close(second)
    assert store.requests.open_requests() == set()


def test_cancel_while_the_writer_runs_leaves_clearing_to_the_writer(store):
    request_id = store.requests.open(b"request", window=1)
    assert store.requests.start_stream(request_id) == b"request"
    store.requests.push_chunk(request_id, b"first")
    blocked = threading.Event()

    def writer():
        try:
            store.requests.push_chunk(request_id, b"second")  # no credit left: waits
        except Cancelled:
            blocked.set()
            store.requests.close(request_id)  # what workers.requests.stream_inspect does

    thread = threading.Thread(target=writer)
    thread.start()
    store.requests.cancel(request_id)
    thread.join(5)
    assert blocked.is_set() and store.requests.leftovers(request_id) == 0
    assert request_id not in store.requests.open_requests()


def test_cancel_after_the_writer_ended_clears_at_once(store):
    request_id = store.requests.open(b"request", window=2)
    store.requests.start_stream(request_id)
    store.requests.push_chunk(request_id, b"only")
    store.requests.end_chunks(request_id)
    assert not store.requests.writer_running(request_id) and store.requests.leftovers(request_id) == 2
    store.requests.cancel(request_id)
    assert store.requests.leftovers(request_id) == 0


def test_a_cancelled_request_never_starts_and_a_silent_reader_is_given_up(store):
    request_id = store.requests.open(b"request", window=1)
    store.requests.cancel(request_id)
    with pytest.raises(Cancelled):
        store.requests.start_stream(request_id)
    assert store.requests.leftovers(request_id) == 0

    silent = store.requests.open(b"request", window=1)
    store.requests.push_chunk(silent, b"first")
    with pytest.raises(Cancelled):
        store.requests.push_chunk(silent, b"second", timeout=1.5)
