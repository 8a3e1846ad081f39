"""Inspect and GetGraph end to end: activations computed by a real worker, relayed to the gateway over gRPC,
compared with MXNet run here on the exported checkpoint; cancelling, flow control, errors, and the CLI."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import matplotlib.image as mpimg
import mxnet as mx
import numpy as np
import pytest
from lenet_cli import run

from lenet_protos.contract import LAYERS
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.shared_memory import PAGE, SHM_DIR, SLOTS, Ring
from lenet_protos.tensors import from_tensor
from lenet_services.store import Store
from lenet_protos.contract import CHUNK_BYTES

SHAPES = {"Conv1": (20, 24, 24), "Act1": (20, 24, 24), "Pool1": (20, 12, 12), "Conv2": (50, 8, 8),
          "Act2": (50, 8, 8), "Pool2": (50, 4, 4), "Flat": (800,), "Full1": (500,), "Act3": (500,), "Full2": (10,),
          "SoftM": (10,)}
INDICES = np.random.default_rng(4).choice(10_000, size=150, replace=False)  # scattered over the test split
BATCH = 32  # five forward passes, so every layer comes in several chunks


@pytest.fixture(scope="module")
def model_id(trained_model) -> str:
    return trained_model.model_id


@pytest.fixture(scope="module")
def images(client) -> np.ndarray:
    return client.samples(INDICES.tolist())[0]


@pytest.fixture(scope="module")
def direct(client, model_id, images, tmp_path_factory) -> dict[str, np.ndarray]:
    """Every layer for INDICES computed here: MXNet on the ExportModel checkpoint, all images in one pass."""
    folder = tmp_path_factory.mktemp("checkpoint")
    client.export(model_id, folder)
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(folder / "small"), 0)
    internals = symbol.get_internals()
    group = mx.sym.Group([internals[f"{name}_output"] for name in LAYERS])
    # grad_req="write": "null" turns on MXNet 1.9.1's MKLDNN fusion, whose grouped Act outputs lack their tanh.
    executor = group.simple_bind(mx.cpu(), grad_req="write", data=(len(images), 1, 28, 28))
    executor.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    assert not client.model(model_id).hyper_parameters.normalize  # the seed's raw 0–255 pixels
    executor.forward(is_train=False, data=images[:, None].astype(np.float32))
    return {name: out.asnumpy() for name, out in zip(LAYERS, executor.outputs)}


@pytest.fixture(scope="module")
def streamed_chunks(client, model_id) -> list[tuple[pb.TensorChunk, np.ndarray]]:
    return list(client.inspect_chunks(model_id, INDICES.tolist(), batch_size=BATCH))


def test_streamed_float32_activations_equal_a_direct_forward_pass(client, model_id, direct):
    streamed = client.inspect(model_id, INDICES.tolist(), batch_size=BATCH)
    assert list(streamed) == list(LAYERS)
    for name in LAYERS:
        assert streamed[name].shape == (len(INDICES), *SHAPES[name]) and streamed[name].dtype == np.float32, name
        assert np.abs(streamed[name] - direct[name]).max() <= 1e-5, name
    # The forward pass itself is right (MKLDNN's fusion bug would corrupt both sides alike):
    for act, before in (("Act1", "Conv1"), ("Act2", "Conv2"), ("Act3", "Full1")):
        np.testing.assert_allclose(streamed[act], np.tanh(streamed[before]), atol=1e-5)
    np.testing.assert_array_equal(streamed["Flat"], streamed["Pool2"].reshape(len(INDICES), 800))
    np.testing.assert_allclose(streamed["SoftM"].sum(axis=1), 1, atol=1e-5)


def test_chunks_come_batch_by_batch_and_tile_each_layer(streamed_chunks):
    by_layer: dict[str, list[pb.TensorChunk]] = {}
    for chunk, rows in streamed_chunks:
        by_layer.setdefault(chunk.layer, []).append(chunk)
        assert chunk.tensor.name == chunk.layer and chunk.tensor.dtype == pb.FLOAT32
        assert rows.shape == (chunk.sample_count, *SHAPES[chunk.layer]) and chunk.total_samples == len(INDICES)
    assert list(by_layer) == list(LAYERS)
    for name, chunks in by_layer.items():
        assert [c.sample_start for c in chunks] == list(range(0, len(INDICES), BATCH)), name
        assert sum(c.sample_count for c in chunks) == len(INDICES)
    first_batch = [chunk.layer for chunk, _ in streamed_chunks[:len(LAYERS)]]
    assert first_batch == list(LAYERS)  # the first batch's layers all come before the second batch starts


def test_float16_is_the_float32_result_rounded(client, model_id, direct):
    streamed = client.inspect(model_id, INDICES.tolist(), dtype="float16", batch_size=BATCH)
    for name in LAYERS:
        half = streamed[name]
        assert half.dtype == np.float16 and half.shape == direct[name].shape, name
        # within one float16 step of the float32 value, and mostly exactly its rounding
        np.testing.assert_allclose(half.astype(np.float32), direct[name], rtol=2 ** -10, atol=1e-5, err_msg=name)
        assert np.mean(half == direct[name].astype(np.float16)) > 0.99, name


def lent_rings() -> set[str]:
    return {name for name in os.listdir(SHM_DIR) if name.startswith("lenet-")}


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_worker_on_the_clients_host_writes_the_rows_into_its_shared_memory(client, model_id, direct, dtype):
    before = lent_rings()
    assembled, slots = {}, []
    for chunk, rows in client.inspect_chunks(model_id, INDICES.tolist(), batch_size=BATCH, dtype=dtype,
                                             shared_memory=True):
        assert chunk.HasField("shared_memory_slot") and not chunk.tensor.data   # the bytes never crossed gRPC
        assert lent_rings() == before   # its name went with the first chunk: a killed client leaves nothing
        assert not rows.flags.writeable
        slots.append(chunk.shared_memory_slot)
        assembled.setdefault(chunk.layer, []).append(rows.copy())   # a view into the ring until the next chunk
    assert slots[:2 * SLOTS] == 2 * list(range(SLOTS))   # the ring's slots in order, each freed and used again
    inline = client.inspect(model_id, INDICES.tolist(), batch_size=BATCH, dtype=dtype)   # rows in the chunks
    for name in LAYERS:
        np.testing.assert_allclose(np.concatenate(assembled[name]), inline[name], rtol=2 ** -10, atol=1e-5,
                                   err_msg=name)


def test_a_ring_the_worker_cannot_find_leaves_the_rows_in_the_chunks(client, model_id):
    """As when the worker runs on another host: it finds no such object, and the chunks carry the rows."""
    ring = pb.SharedMemoryRing(name="lenet-on-another-host", secret=b"s" * 32)
    request = pb.InspectRequest(model_id=model_id, samples=pb.Dataset(indices=[5, 6]), layers=["Pool2"],
                                shared_memory=ring)
    (chunk,) = list(client.stub.Inspect(request))
    assert not chunk.HasField("shared_memory_slot")
    np.testing.assert_allclose(from_tensor(chunk.tensor), client.inspect(model_id, [5, 6], layers=["Pool2"])["Pool2"],
                               atol=1e-5)


def test_uploaded_images_and_a_subset_of_layers(client, model_id, images, direct):
    picked = [3, 0, 7]
    streamed = client.inspect(model_id, images=images[picked], layers=["SoftM", "Pool2"])
    assert list(streamed) == ["SoftM", "Pool2"]
    for name in ("SoftM", "Pool2"):
        assert np.abs(streamed[name] - direct[name][picked]).max() <= 1e-5


def test_large_layers_are_split_into_bounded_chunks(client, model_id):
    sizes = [(chunk.sample_start, chunk.sample_count, len(chunk.tensor.data))
             for chunk, _ in client.inspect_chunks(model_id, limit=500, layers=["Conv1"])]
    row_bytes = 20 * 24 * 24 * 4
    assert all(size <= CHUNK_BYTES and size == count * row_bytes for _, count, size in sizes)
    assert len(sizes) > 1 and sum(count for _, count, _ in sizes) == 500  # one batch of 500, in several chunks


def test_a_slow_reader_holds_the_worker_back_and_cancelling_stops_it(client, stack, model_id):
    store = Store(stack.redis_url)
    before = store.requests.open_requests()
    gateway_before = resident_mb(stack.gateway.pid)
    chunks = client.inspect_chunks(model_id, limit=3000)  # ~420 MB in ~150 chunks: far more than any window
    next(chunks)
    (request_id,) = store.requests.open_requests() - before
    time.sleep(2)  # the client reads nothing more; gRPC's flow control holds the relaying worker back
    assert store.requests.pending_chunks(request_id) == 0        # relayed: nothing goes through Redis
    assert store.requests.claimed_by(request_id)  # blocked, not finished: the first chunk came long before
    assert resident_mb(stack.gateway.pid) - gateway_before < 100  # the gateway holds a few chunks, not the stream

    chunks.close()  # cancels the call
    for _ in range(300):  # the worker notices within a credit wait and clears the stream
        if request_id not in store.requests.open_requests():
            break
        time.sleep(0.1)
    assert store.requests.leftovers(request_id) == 0 and store.requests.claimed_by(request_id) is None

    # Both workers answer again (the one that was streaming too): two Inspects at once complete.
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.inspect(model_id, [1, 2], layers=["SoftM"])))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2 and all(r["SoftM"].shape == (2, 10) for r in results)
    assert store.requests.open_requests() == before
    store.close()


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_bad_requests_name_the_field_or_limit(client, model_id):
    error = rpc_error(lambda: client.inspect(model_id, [0], layers=["Conv1", "Conv9"]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "layers" in error.details() and "Conv9" in error.details()
    error = rpc_error(lambda: client.inspect("feedfacefeedface", [0]))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "feedfacefeedface" in error.details()
    error = rpc_error(lambda: client.inspect(model_id, split="train", limit=20_000))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "samples" in error.details()
    error = rpc_error(lambda: client.inspect(model_id, [10_000]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "samples.indices" in error.details()
    request = pb.InspectRequest(model_id=model_id, samples=pb.Dataset(indices=[0]), dtype=pb.UINT8)
    error = rpc_error(lambda: list(client.stub.Inspect(request)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "dtype" in error.details()
    error = rpc_error(lambda: client.inspect(model_id, [0], batch_size=-1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "batch_size" in error.details()
    with pytest.raises(ValueError, match="dtype"):
        client.inspect(model_id, [0], dtype="int8")
    request.dtype, request.shared_memory.name, request.shared_memory.secret = pb.FLOAT32, "../passwd", b"s" * 16
    error = rpc_error(lambda: list(client.stub.Inspect(request)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "shared_memory" in error.details()


def test_a_ring_named_with_the_wrong_secret_is_refused(client, model_id):
    ring, reference = Ring.create()
    try:
        reference.secret = b"not the ring's secret, guessed!!"
        request = pb.InspectRequest(model_id=model_id, samples=pb.Dataset(indices=[0]), shared_memory=reference)
        error = rpc_error(lambda: list(client.stub.Inspect(request)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not this request's ring" in error.details()
        assert ring.memory[PAGE:].count(0) == len(ring.memory) - PAGE   # nothing was written into it
    finally:
        ring.close()


def test_graph_lists_the_layers_mxnet_infers(client, model_id, tmp_path):
    graph = client.graph(model_id)
    assert [layer.name for layer in graph.layers] == list(LAYERS)
    assert {layer.name: tuple(layer.output_shape) for layer in graph.layers} == SHAPES
    client.export(model_id, tmp_path)
    symbol, arg_params, _ = mx.model.load_checkpoint(str(tmp_path / "small"), 0)
    counts = {layer.name: layer.parameter_count for layer in graph.layers}
    for name in LAYERS:
        assert counts[name] == sum(arg_params[f"{name}_{p}"].size for p in ("weight", "bias")
                                   if f"{name}_{p}" in arg_params), name
    assert graph.parameter_count == sum(counts.values()) == client.model(model_id).parameter_count == 431_080
    ops = {layer.name: layer.op for layer in graph.layers}
    assert (ops["Conv1"], ops["Act1"], ops["Pool2"], ops["Flat"], ops["SoftM"]) == \
        ("Convolution", "Activation", "Pooling", "Flatten", "SoftmaxOutput")
    chain = ("data", *LAYERS)
    assert "rankdir=LR" in graph.dot and all(f'"{a}" -> "{b}";' in graph.dot for a, b in zip(chain, chain[1:]))


def test_cli_inspect_writes_npz_plots_and_json(stack, client, model_id, tmp_path):
    done = run("inspect", model_id, "--sample", "5", "--dtype", "f16", "--npz", str(tmp_path / "a.npz"),
               "--plots", str(tmp_path / "plots"), "--json", gateway=stack.address)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["samples"] == [5] and document["dtype"] == "float16"
    assert [layer["name"] for layer in document["layers"]] == list(LAYERS)
    saved = np.load(tmp_path / "a.npz")
    assert saved["Conv1"].shape == (1, 20, 24, 24) and saved["Conv1"].dtype == np.float16
    reference = client.inspect(model_id, [5])
    np.testing.assert_allclose(saved["SoftM"].astype(np.float32), reference["SoftM"], rtol=2 ** -10, atol=1e-4)
    prediction = document["predictions"][0]
    assert prediction["predicted"] == int(reference["SoftM"][0].argmax()) and prediction["label"] == saved["labels"][0]
    pictures = {path.name for path in (tmp_path / "plots").iterdir()}
    assert pictures == {"input.png", *(f"layer-{name}.png" for name in LAYERS), "layer-Full2-bars.png",
                        "layer-SoftM-bars.png"}
    assert mpimg.imread(tmp_path / "plots" / "layer-Conv2.png").shape[1] > 800  # 50 maps, 10 per row


def test_cli_graph_table_dot_and_png(stack, model_id, tmp_path):
    done = run("graph", model_id, "--dot", str(tmp_path / "g.dot"), "--png", str(tmp_path / "g.png"),
               gateway=stack.address)
    assert done.returncode == 0, done.stderr
    assert "Conv1" in done.stdout and "400,500" in done.stdout and "431,080" in done.stdout
    assert (tmp_path / "g.dot").read_text().startswith("digraph LeNet")
    picture = mpimg.imread(tmp_path / "g.png")
    assert picture.shape[1] > 1000 and picture[..., :3].std() > 0.05
    listed = json.loads(run("graph", model_id, "--json", gateway=stack.address).stdout)
    assert listed["parameter_count"] == 431_080 and [layer["name"] for layer in listed["layers"]] == list(LAYERS)
    missing = run("graph", "feedfacefeedface", gateway=stack.address)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_example_consumer_writes_npy_files_as_chunks_arrive(stack, client, model_id, tmp_path):
    example = Path(__file__).resolve().parents[2] / "clients/examples/stream_to_npy.py"
    done = subprocess.run([sys.executable, str(example), model_id, "--gateway", stack.address, "--limit", "40",
                           "--dtype", "float16", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected = client.inspect(model_id, limit=40, dtype="float16")
    assert sorted(report["layers"]) == sorted(LAYERS)
    for name in LAYERS:
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), expected[name])
        assert report["layers"][name]["max"] == pytest.approx(float(expected[name].max()))
    assert report["bytes"] == sum(array.nbytes for array in expected.values())
