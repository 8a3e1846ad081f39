"""The work a benchmark times in a fresh interpreter: `python -m bench.children TASK JSON_ARGUMENTS` prints one JSON
line. A fresh process per run because MXNet fixes its thread count when imported (workers/engine/threads.py).

Training runs: `images` training images for one epoch at the seed's batch and SGD settings (SEED), after a warm-up
epoch of 1,000 images in the same process; "rate" is training images per second.
"""
import json
import os
import sys
import time

import numpy as np

from lenet_protos import mnist
from lenet_protos.contract import CLASS_LABELS, INPUT_NODE, INPUT_SHAPE, LAYER_SHAPES, HyperParams
from lenet_protos.settings import ServiceSettings, load

WARM_UP = 1000
SEED = HyperParams()   # the seed notebook's batch, SGD settings and initial scale, as the engine uses them


def data(split: str):
    return mnist.load_split(split, load(ServiceSettings).data_dir)


def threads(cores) -> dict:
    """use_cores(cores) before mxnet is imported; None leaves MXNet's default (one thread per two processors)."""
    if cores is None:
        return {"OMP_NUM_THREADS": "MXNet's default"}
    from lenet_workers.engine.threads import use_cores
    return use_cores(None if cores == "all" else cores)


def engine_train(images: int, eval_images: int = 10_000, epochs: int = 1, cores=None, warm_up: bool = True,
                 bulk_exec: bool = True, options: dict | None = None) -> dict:
    """lenet_workers.engine.training.train as the worker calls it, scoring `eval_images` test images after each epoch;
    `bulk_exec=False`: MXNET_EXEC_BULK_EXEC_TRAIN=0; `options`: hyper-parameters over the seed's (e.g. augmentation,
    whose cost is in "rate": it runs at the start of the epoch)."""
    settings = threads(cores)
    if not bulk_exec:
        os.environ["MXNET_EXEC_BULK_EXEC_TRAIN"] = "0"   # before mxnet is imported
    from lenet_workers.engine.training import train

    (x, y), (tx, ty) = data("train"), data("test")
    if warm_up:
        train(HyperParams(epochs=1), x[:WARM_UP], y[:WARM_UP], tx[:500], ty[:500])
    progress = []
    started = time.perf_counter()
    result = train(HyperParams(**{**(options or {}), "epochs": epochs}), x[:images], y[:images], tx[:eval_images],
                   ty[:eval_images], on_batch=progress.append, batch_event_every=10 ** 9)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rate": progress[-1].samples_per_second, "accuracy": result.history[-1].test_accuracy,
            "threads": settings}


def recipe_run(recipe: str, epochs: int | None = None, cores="all") -> dict:
    """A named recipe (contract.RECIPES) as a sweep's trial runs it: trained on the train split outside the validation
    split, validated after every epoch, never shown the test set; then the last epoch's model is scored on the test
    split once."""
    settings = threads(cores)
    from lenet_protos.contract import RECIPES, VALIDATION_START
    from lenet_workers.engine.inference import Predictor
    from lenet_workers.engine.lenet import Pixels
    from lenet_workers.engine.training import train

    hp = HyperParams(**{**RECIPES[recipe], **({"epochs": epochs} if epochs else {})})
    (x, y), (vx, vy), (tx, ty) = data("train"), data("validation"), data("test")
    loads, started = [os.getloadavg()[0]], time.perf_counter()
    result = train(hp, x[:VALIDATION_START], y[:VALIDATION_START], None, None, validation_x=vx, validation_y=vy,
                   on_epoch=lambda epoch: loads.append(os.getloadavg()[0]))
    seconds = time.perf_counter() - started
    predicted = Predictor(result.symbol_json, result.params, pixels=Pixels.of(hp)).predict(tx).argmax(axis=1)
    return {"validation": [epoch.validation_accuracy for epoch in result.history],
            "epoch_seconds": [epoch.elapsed_seconds for epoch in result.history], "seconds": seconds,
            "test": float((predicted == ty).mean()), "loads": loads, "threads": settings}


def _bare_module(x, y):
    """A bare mx.mod.Module of the seed's LeNet and SGD, bound for the seed's batch; returns a function that trains it
    one epoch on the first `count` images (an NDArrayIter; forward_backward and update per batch, nothing else) and
    returns the seconds it took."""
    import mxnet as mx

    from lenet_workers.engine.lenet import LABEL, lenet

    module = mx.mod.Module(lenet(), label_names=[LABEL])
    size = SEED.batch_size
    module.bind([(INPUT_NODE, (size, *INPUT_SHAPE))], [(LABEL, (size,))])
    module.init_params(mx.init.Uniform(SEED.init_scale))
    module.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": SEED.learning_rate,
                                                             "momentum": SEED.momentum, "wd": SEED.weight_decay,
                                                             "rescale_grad": 1 / size})

    def epoch(count: int) -> float:
        batches = mx.io.NDArrayIter(x[:count].astype(np.float32)[:, None], y[:count].astype(np.float32), size,
                                    label_name=LABEL)
        started = time.perf_counter()
        for batch in batches:
            module.forward_backward(batch)
            module.update()
        mx.nd.waitall()
        return time.perf_counter() - started

    return epoch


def _torch_net(x, y):
    """The same network, batch and optimizer in PyTorch on the CPU (its default threads: one per core); returns a
    function that trains it one epoch on the first `count` images and returns the seconds it took."""
    import torch
    from torch import nn

    (conv1, *_), (conv2, *_) = LAYER_SHAPES["Conv1"], LAYER_SHAPES["Conv2"]
    (flat,), (full1,), (classes,) = LAYER_SHAPES["Flat"], LAYER_SHAPES["Full1"], LAYER_SHAPES["Full2"]
    net = nn.Sequential(nn.Conv2d(INPUT_SHAPE[0], conv1, 5), nn.Tanh(), nn.MaxPool2d(2, 2), nn.Conv2d(conv1, conv2, 5),
                        nn.Tanh(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(flat, full1), nn.Tanh(),
                        nn.Linear(full1, classes))
    optimizer = torch.optim.SGD(net.parameters(), lr=SEED.learning_rate, momentum=SEED.momentum,
                                weight_decay=SEED.weight_decay)
    loss = nn.CrossEntropyLoss()
    pixels, labels = torch.from_numpy(x.astype(np.float32)[:, None]), torch.from_numpy(y.astype(np.int64))

    def epoch(count: int) -> float:
        started = time.perf_counter()
        for start in range(0, count, SEED.batch_size):
            optimizer.zero_grad()
            stop = start + SEED.batch_size
            loss(net(pixels[start:stop]), labels[start:stop]).backward()
            optimizer.step()
        return time.perf_counter() - started

    return epoch


def module_train(images: int, cores=None) -> dict:
    """A bare MXNet Module (_bare_module)."""
    settings = threads(cores)
    epoch = _bare_module(*data("train"))
    epoch(WARM_UP)
    seconds = epoch(images)
    return {"seconds": seconds, "rate": images / seconds, "threads": settings}


def torch_train(images: int) -> dict:
    """PyTorch (_torch_net)."""
    import torch

    epoch = _torch_net(*data("train"))
    epoch(WARM_UP)
    seconds = epoch(images)
    return {"seconds": seconds, "rate": images / seconds, "threads": {"torch": torch.get_num_threads()},
            "version": torch.__version__}


def _predictor(symbol: str, params: str):
    from lenet_workers.engine.inference import Predictor
    return Predictor(open(symbol).read(), open(params, "rb").read())


def engine_inspect(symbol: str, params: str, limit: int, repeats: int, cores=None) -> dict:
    """The worker's Inspect work without transport: forward passes (as the worker runs them: a short first pass,
    then passes of the default size) and the copy of every chunk into a buffer; "first": seconds to the first
    chunk copied."""
    threads(cores)
    from lenet_protos.contract import CHUNK_BYTES, INSPECT_BATCH_DEFAULT, INSPECT_FIRST_BATCH, LAYERS
    from lenet_services import memory
    from lenet_workers.serving import row_ranges

    memory.reuse_freed_memory()  # as the worker does
    images, predictor, results = data("test")[0][:limit], _predictor(symbol, params), {}
    buffer = np.empty(CHUNK_BYTES, np.uint8)
    for dtype in (np.dtype(np.float32), np.dtype(np.float16)):
        runs = []
        for _ in range(repeats + 1):  # the first run binds the executors
            started, nbytes, first = time.perf_counter(), 0, None
            for batch in predictor.batches(images, LAYERS, INSPECT_BATCH_DEFAULT, dtype, INSPECT_FIRST_BATCH):
                for layer in LAYERS:
                    for start, stop in row_ranges(batch.shape(layer), dtype.itemsize):
                        rows = (stop - start, *batch.shape(layer)[1:])
                        out = buffer[:int(np.prod(rows)) * dtype.itemsize].view(dtype).reshape(rows)
                        batch.copy_rows(layer, start, stop, out)
                        nbytes += out.nbytes
                        first = first or time.perf_counter() - started
            runs.append({"seconds": time.perf_counter() - started, "bytes": nbytes, "first": first})
        results[dtype.name] = sorted(runs[1:], key=lambda run: run["seconds"])[len(runs[1:]) // 2]
    return results


def time_predicts(predict, images, calls: int, batch: int, pause: float = 0.0) -> dict:
    """After a warm-up predict of 1 image and one of `batch`: the seconds of `calls` one-image predicts (the images in
    turn; `pause` seconds before each, untimed) and of 5 predicts of the first `batch` images. predict(images) is
    the engine's or the service's."""
    predict(images[:1])
    predict(images[:batch])   # bind the executors first (through the service: the worker also loads the model)
    single, bulk = [], []
    for i in range(calls):
        time.sleep(pause)
        started = time.perf_counter()
        predict(images[i % len(images):i % len(images) + 1])
        single.append(time.perf_counter() - started)
    for _ in range(5):
        started = time.perf_counter()
        predict(images[:batch])
        bulk.append(time.perf_counter() - started)
    return {"single": single, "bulk": bulk}


def engine_predict(symbol: str, params: str, calls: int, batch: int, cores=None, pause: float = 0.0,
                   wait_policy: str = "") -> dict:
    """The engine's Predictor alone; `pause` and `wait_policy` (OMP_WAIT_POLICY) as a serving process meets a lone
    client's calls: its OpenMP threads asleep since the last one (lenet_workers.__main__)."""
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    threads(cores)
    images, predictor = data("test")[0], _predictor(symbol, params)
    return time_predicts(predictor.predict, images, calls, batch, pause)


def engine_evaluate(symbol: str, params: str, limit: int, repeats: int, cores=None) -> dict:
    """What an Evaluate job computes on the worker: probabilities, then caret's tables and statistics."""
    threads(cores)
    from lenet_workers.engine import stats

    (images, labels), predictor = data("test"), _predictor(symbol, params)
    images, labels = images[:limit], labels[:limit]
    predictor.predict(images)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        predicted = predictor.predict(images).argmax(axis=1)
        table = stats.confusion_table(predicted, labels)
        stats.overall(table)
        stats.by_class(table, list(CLASS_LABELS))
        seconds.append(time.perf_counter() - started)
    return {"seconds": seconds}


def serve_load(symbol: str, params: str, stop_file: str, cores=None) -> dict:
    """A serving process's work until `stop_file` exists: a one-image Predict, then a 500-image one, again and
    again; returns the one-image latencies' median and the images per second of the large calls."""
    threads(cores)
    images, predictor = data("test")[0], _predictor(symbol, params)
    predictor.predict(images[:1])
    predictor.predict(images[:500])
    single, bulk, bulk_seconds = [], 0, 0.0
    while not os.path.exists(stop_file):
        started = time.perf_counter()
        predictor.predict(images[:1])
        single.append(time.perf_counter() - started)
        started = time.perf_counter()
        predictor.predict(images[:500])
        bulk, bulk_seconds = bulk + 500, bulk_seconds + time.perf_counter() - started
    return {"latency": float(np.median(single)) if single else None, "rate": bulk / bulk_seconds if bulk else None}


def _per_batch_minimum(durations: dict[str, list[float]], batches: int) -> dict[str, float]:
    """Milliseconds per batch of each op: an op that runs k times a batch (e.g. two convolutions of different
    shapes) has k positions; each position's minimum over the batches (robust to other load), summed."""
    result = {}
    for name, values in durations.items():
        per_batch = len(values) // batches
        if per_batch:
            result[name] = sum(min(values[k::per_batch]) for k in range(per_batch)) / 1000
    return dict(sorted(result.items(), key=lambda item: -item[1]))


def mxnet_op_profile(batches: int = 30, cores=None) -> dict:
    """MXNet's profiler over `batches` training batches of a bare Module (bulk execution off, so every op is seen)."""
    settings = threads(cores)
    os.environ["MXNET_EXEC_BULK_EXEC_TRAIN"] = "0"   # before mxnet is imported
    import tempfile

    import mxnet as mx

    epoch = _bare_module(*data("train"))
    epoch(batches * 100)
    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "trace.json")
        mx.profiler.set_config(profile_all=True, filename=trace)
        mx.profiler.set_state("run")
        epoch(batches * 100)
        mx.profiler.set_state("stop")
        mx.profiler.dump()
        events = json.load(open(trace))["traceEvents"]
    durations, started = {}, {}
    for event in events:
        if event.get("cat") != "operator":
            continue
        key = (event["name"], event.get("tid"))
        if event["ph"] == "B":
            started.setdefault(key, []).append(event["ts"])
        elif event["ph"] == "E" and started.get(key):
            durations.setdefault(event["name"], []).append(event["ts"] - started[key].pop())
    return {"ops": _per_batch_minimum(durations, batches), "threads": settings}


def torch_op_profile(batches: int = 30) -> dict:
    """PyTorch's profiler over the same training batches: its kernels (aten ops called by the autograd engine)."""
    from torch.profiler import ProfilerActivity, profile

    epoch = _torch_net(*data("train"))
    epoch(batches * 100)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        epoch(batches * 100)
    kernels = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::max_pool2d_with_indices",
               "aten::max_pool2d_with_indices_backward", "aten::tanh", "aten::tanh_backward", "aten::addmm",
               "aten::mm", "aten::_log_softmax", "aten::_log_softmax_backward_data", "aten::_foreach_add_")
    durations = {}
    for event in profiler.events():
        if event.name in kernels:
            durations.setdefault(event.name, []).append(event.cpu_time_total)
    return {"ops": _per_batch_minimum(durations, batches)}


def chunk_frame_bytes(scale: int = 1) -> bytes:
    """One Inspect chunk as the worker sends it: Conv1 rows of float32, as many as fit in `scale` × CHUNK_BYTES."""
    from lenet_protos.contract import CHUNK_BYTES, LAYER_SHAPES
    from lenet_protos.lenet.v1 import lenet_pb2 as pb
    from lenet_protos.tensors import chunk_frame

    shape = LAYER_SHAPES["Conv1"]
    rows = scale * CHUNK_BYTES // (int(np.prod(shape)) * 4)
    frame, values = chunk_frame(pb.TensorChunk(layer="Conv1", sample_count=rows, total_samples=10_000),
                                (rows, *shape), pb.FLOAT32)
    values[:] = np.random.default_rng(0).random(values.shape, np.float32)
    return bytes(frame)


def redis_writer(url: str, request_id: str, count: int, scale: int = 1) -> dict:
    """The worker's side of a chunk stream alone: `count` chunks (`scale` × the worker's size) through
    Requests.push_chunk, then the end."""
    from lenet_services import memory
    from lenet_services.store import Store

    memory.reuse_freed_memory()
    store, frame = Store(url), memoryview(chunk_frame_bytes(scale))
    for _ in range(count):
        store.requests.push_chunk(request_id, frame, idle_seconds=60)
    store.requests.end_chunks(request_id)
    return {"bytes": len(frame) * count}


def grpc_chunks(port_file: str, count: int) -> dict:
    """A gRPC server whose Inspect yields `count` ready chunks, as the gateway relays them (bytes, unparsed)."""
    import threading

    import grpc

    from lenet_services.gateway.grpc_server import OPTIONS, SERVICE, serialize

    frame, done = chunk_frame_bytes(), threading.Event()

    def inspect(request, context):
        for _ in range(count):
            yield frame
        done.set()

    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=OPTIONS)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE.full_name, {
        "Inspect": grpc.unary_stream_rpc_method_handler(inspect, request_deserializer=lambda data: data,
                                                        response_serializer=serialize)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(port_file, "w") as out:
        out.write(str(port))
    done.wait(600)
    server.stop(5).wait()
    return {"bytes": len(frame) * count}


def relay_writer(url: str, address: str, request: str, count: int) -> dict:
    """A serving worker's side of a relay stream alone: `count` chunks through the worker's RelaySink to the
    gateway's Relay at `address` (`request`: the LaneRequest, hex-serialized, naming it), then the end."""
    from lenet_protos.lenet.v1 import lenet_pb2 as pb
    from lenet_services import memory
    from lenet_services.store import Store
    from lenet_workers.chunk_sinks import Sinks

    memory.reuse_freed_memory()
    frame = memoryview(chunk_frame_bytes())
    sink = Sinks(Store(url).requests, idle_seconds=60).open(pb.LaneRequest.FromString(bytes.fromhex(request)))
    for _ in range(count):
        sink.send(frame)
    sink.finish()
    return {"bytes": len(frame) * count}


def shared_memory_writer(reference: bytes, size: int, count: int, filled) -> None:
    """bench/transport_bench.py's shared-memory writer (a multiprocessing child): `count` chunks of `size` bytes
    into the ring's next free slot, as a worker writes them, each announced on `filled`, then None."""
    from lenet_protos.lenet.v1 import lenet_pb2 as pb
    from lenet_protos.shared_memory import RingWriter

    ring, rows = RingWriter.attach(pb.SharedMemoryRing.FromString(reference)), bytes(range(256)) * (size // 256)
    for _ in range(count):
        while (slot := ring.take_next()) is None:
            time.sleep(20e-6)
        ring.data(slot, size)[:] = rows
        filled.put(slot)
    filled.put(None)
    ring.close()


def parse_chunks(count: int, reuse_freed_memory: bool) -> dict:
    """What the client library does with each chunk it receives: TensorChunk.FromString and a numpy view."""
    from lenet_protos.lenet.v1 import lenet_pb2 as pb
    from lenet_protos.tensors import from_tensor
    from lenet_services import memory

    if reuse_freed_memory:
        memory.reuse_freed_memory()
    frame, nbytes = chunk_frame_bytes(), 0
    started = time.perf_counter()
    for _ in range(count):
        nbytes += from_tensor(pb.TensorChunk.FromString(frame).tensor).nbytes
    return {"rate": nbytes / (time.perf_counter() - started) / 1e6}


def unsampled_tracing(calls: int) -> dict:
    """The microseconds of CPU tracing adds to a call the 1 % sampler leaves out, each piece timed alone: the
    gateway's server span (the maintained interceptor and ours, wrapping a handler that does nothing), the spans a
    Predict opens on the gateway, and those a lane request records on the serving worker."""
    import timeit
    from collections import namedtuple

    import grpc
    from opentelemetry.instrumentation.grpc import server_interceptor

    os.environ.update({"OTEL_TRACES_EXPORTER": "none", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                       "OTEL_TRACES_SAMPLER_ARG": "0.01"})
    from lenet_protos import tracing
    from lenet_protos.settings import TracingSettings
    from lenet_services.gateway.server_spans import ServerSpans
    tracing.start("lenet-bench", TracingSettings())
    entry = namedtuple("Metadatum", "key value")
    metadata = (entry("user-agent", "grpc-python/1.76"), entry("authorization", "Bearer token"))

    class Call:
        """What a handler is given about its call: enough of grpc.ServicerContext for the two interceptors."""
        def invocation_metadata(self): return metadata
        def peer(self): return "ipv4:127.0.0.1:50000"
        def code(self): return None
        def details(self): return None

    details = namedtuple("Details", "method invocation_metadata")("/lenet.v1.Lenet/Predict", metadata)
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)

    def served(interceptor):
        return lambda: interceptor.intercept_service(lambda _: handler, details).unary_unary(None, Call())

    def predict_spans():   # what LenetService.predict and the coalescer open (service.py, coalescer.py)
        caller = tracing.current()
        with tracing.span("validate"), tracing.span("serve lane"), tracing.span("lane round trip", caller, [caller]):
            tracing.carrier()
        with tracing.span("reply read"):
            tracing.trace_id(sampled=True)

    def request_spans():   # what the serving worker records for one lane request (workers/serving.py, batcher.py)
        context, now = tracing.context_of({}), time.time_ns()
        for stage in ("lane wait", "claim", "batch wait", "forward", "reply write"):
            tracing.record(stage, now, now, context)
        with tracing.span("predict", context):
            pass

    def per_call(work) -> float:
        return min(timeit.repeat(work, number=calls, repeat=5)) / calls * 1e6
    return {"maintained server interceptor": per_call(served(server_interceptor())),
            "lenet server spans": per_call(served(ServerSpans())),
            "a Predict's spans on the gateway": per_call(predict_spans),
            "a lane request's spans on the serving worker": per_call(request_spans)}


# The tasks `python -m bench.children TASK` runs, by name (bench/harness.py's child).
TASKS = {task.__name__: task for task in (engine_train, module_train, torch_train, engine_inspect, engine_predict,
                                          engine_evaluate, serve_load, mxnet_op_profile, torch_op_profile,
                                          redis_writer, relay_writer, grpc_chunks, parse_chunks, recipe_run,
                                          unsampled_tracing)}

if __name__ == "__main__":
    task, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(TASKS[task](**arguments)))
