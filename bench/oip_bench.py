"""The Open Inference Protocol side by side with a peer: the same trained LeNet served by this gateway (MXNet on its
serving worker, the gateway's coalescer and the worker's dynamic batcher) and by MLServer (PyPI `mlserver`, its
adaptive batching on, the small runtime bench/mlserver/lenet_runtime.py over the project's ONNX export with
onnxruntime), in one run, loaded by the same generator: tritonclient gRPC in up to PROCESSES processes, each client
a thread calling ModelInfer with one image as soon as its previous call returns. MLServer gets a venv of its own
(out/bench/mlserver-venv, made on first use), as it pins its own protobuf and numpy. `python -m bench oip`.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import numpy as np

from bench import harness
from bench.table import RESULTS, Section
from lenet_services.store.redis_server import free_port

MLSERVER = "mlserver==1.7.1"
VENV = RESULTS / "mlserver-venv"
RUNTIME = Path(__file__).with_name("mlserver") / "lenet_runtime.py"
CLIENTS = (1, 8, 32, 64)
PROCESSES = 4               # load-generator processes at most; a row's clients are threads spread over them
BULK = 1000                 # images per call in the bulk row
MLSERVER_BATCH_SECONDS = 0.001   # MLServer's max_batch_time: adaptive batching waits this long for more requests
LONE_CALLS = 200


# -- the load generator (a spawned process; the same code for both servers) ----------------------------------------
def generate(address: str, model: str, threads: int, images: np.ndarray, start_at: float, seconds: float) -> dict:
    """`threads` clients calling ModelInfer with `images` from start_at (time.time()) for `seconds`: each call's
    latency, failures, and this process's CPU seconds meanwhile."""
    import tritonclient.grpc as triton

    client = triton.InferenceServerClient(address)
    latencies, failures, lock = [], [0], threading.Lock()

    def request():
        tensor = triton.InferInput("data", list(images.shape), "UINT8")
        tensor.set_data_from_numpy(images)
        return [tensor]

    client.infer(model, request())     # warm: the channel, and the model on the server

    def caller() -> None:
        inputs, mine = request(), []
        while time.time() < start_at + seconds:
            began = time.perf_counter()
            try:
                client.infer(model, inputs, client_timeout=60)
                mine.append(time.perf_counter() - began)
            except Exception:   # noqa: BLE001 — tritonclient raises its own exception for every failure; count it
                with lock:
                    failures[0] += 1
        with lock:
            latencies.extend(mine)

    time.sleep(max(0.0, start_at - time.time()))
    before = resource.getrusage(resource.RUSAGE_SELF)
    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    client.close()
    return {"latencies": latencies, "failures": failures[0],
            "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


def load(pool, address: str, model: str, clients: int, images: np.ndarray, seconds: float) -> dict:
    """One row: `clients` spread over the generator processes; calls/s, images/s, p50/p99 (ms), failures and the
    generator's share of the machine's CPU."""
    processes = min(clients, PROCESSES)
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    start_at = time.time() + 3.0     # every process connected and warm before the clock starts
    parts = [part.result() for part in [pool.submit(generate, address, model, threads, images, start_at, seconds)
                                        for threads in shares]]
    latencies = [latency for part in parts for latency in part["latencies"]]
    return {"rate": len(latencies) / seconds, "images": len(latencies) * len(images) / seconds,
            "p50": 1000 * harness.percentile(latencies, 0.5), "p99": 1000 * harness.percentile(latencies, 0.99),
            "failures": sum(part["failures"] for part in parts),
            "generator_cpu": sum(part["cpu"] for part in parts) / (seconds * (os.cpu_count() or 1))}


# -- MLServer ------------------------------------------------------------------------------------------------------
def mlserver_venv() -> Path:
    """MLServer's venv, made once (onnxruntime beside it); its bin folder."""
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", MLSERVER, "onnxruntime"], check=True)
        (VENV / ".installed").touch()
    return VENV / "bin"


class MLServer:
    """`mlserver start` over a folder with the ONNX model and the runtime; gRPC on a free loopback port."""

    def __init__(self, onnx: Path, batch_max: int):
        self.folder = Path(tempfile.mkdtemp(prefix="lenet-mlserver-"))
        shutil.copy(RUNTIME, self.folder)
        model = self.folder / "lenet"
        model.mkdir()
        shutil.copy(onnx, model / "model.onnx")
        (model / "model-settings.json").write_text(json.dumps({
            "name": "lenet", "implementation": "lenet_runtime.LenetOnnx", "max_batch_size": batch_max,
            "max_batch_time": MLSERVER_BATCH_SECONDS, "parameters": {"uri": "./model.onnx"}}))
        self.grpc_port = free_port()
        (self.folder / "settings.json").write_text(json.dumps({
            "host": "127.0.0.1", "http_port": free_port(), "grpc_port": self.grpc_port, "metrics_port": free_port(),
            "debug": False, "parallel_workers": 0}))   # its inference pool's workers die at start here (see run's note)
        self.address = f"127.0.0.1:{self.grpc_port}"
        self.bin = mlserver_venv()
        self.log = open(self.folder / "mlserver.log", "ab")
        self.process = subprocess.Popen([str(self.bin / "mlserver"), "start", str(self.folder)], stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 180) -> None:
        import tritonclient.grpc as triton

        client, deadline = triton.InferenceServerClient(self.address), time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                shutil.copy(self.folder / "mlserver.log", RESULTS / "mlserver.log")
                raise RuntimeError(f"mlserver exited; its log: {RESULTS / 'mlserver.log'}")
            try:
                if client.is_model_ready("lenet"):
                    return
            except Exception:   # noqa: BLE001 — not listening yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlserver not ready after {timeout:.0f} s; see {self.folder}/mlserver.log")
            time.sleep(0.5)

    def engine(self, onnx: Path, images: np.ndarray) -> dict:
        """onnxruntime's own time per call in MLServer's venv: one image, and BULK images."""
        code = ("import json, sys, time, numpy as np, onnxruntime\n"
                "s = onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
                "x = np.load(sys.argv[2]).astype(np.float32)[:, None]\n"
                "def t(batch, n):\n"
                "    s.run(['SoftM'], {'data': batch})\n"
                "    out = []\n"
                "    for _ in range(n):\n"
                "        b = time.perf_counter()\n"
                "        s.run(['SoftM'], {'data': batch})\n"
                "        out.append(time.perf_counter() - b)\n"
                "    return sorted(out)[len(out) // 2]\n"
                "print(json.dumps({'single': t(x[:1], 200), 'bulk': t(x, 10)}))\n")
        pixels = self.folder / "images.npy"
        np.save(pixels, images)
        done = subprocess.run([str(self.bin / "python"), "-c", code, str(onnx), str(pixels)], capture_output=True,
                              text=True, check=True)
        return json.loads(done.stdout)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- the run -------------------------------------------------------------------------------------------------------
def lone_calls(service, images: np.ndarray) -> dict:
    """Median latency (ms) of LONE_CALLS one-image Predicts and ModelInfers, alternating, one at a time."""
    import tritonclient.grpc as triton

    client = triton.InferenceServerClient(service.stack.address)
    tensor = triton.InferInput("data", [1, 28, 28], "UINT8")
    tensor.set_data_from_numpy(images[:1])
    predict, infer = [], []
    for _ in range(LONE_CALLS):
        predict.append(harness.timed(lambda: service.client.predict(service.model_id, images[:1])))
        infer.append(harness.timed(lambda: client.infer(service.model_id, [tensor])))
    client.close()
    return {"predict": 1000 * statistics.median(predict), "infer": 1000 * statistics.median(infer)}


def run(args, service) -> list[Section]:
    settings, model_id = service.stack.settings, service.model_id
    images, _ = service.client.samples(range(BULK))
    one = images[:1]
    measured = {"gateway": {}, "mlserver": {}}
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder, \
            futures.ProcessPoolExecutor(PROCESSES, mp_context=spawn) as pool:
        (onnx,) = service.client.export(model_id, folder, "onnx")
        symbol, params = service.client.export(model_id, folder)
        lone = lone_calls(service, images)
        for clients in CLIENTS:
            measured["gateway"][clients] = load(pool, service.stack.address, model_id, clients, one, args.seconds)
        measured["gateway"]["bulk"] = load(pool, service.stack.address, model_id, 1, images, args.seconds)
        mxnet = harness.child("engine_predict", symbol=str(symbol), params=str(params), calls=200, batch=BULK,
                              cores="all")
        peer = MLServer(Path(onnx), settings.batch_max)
        try:
            peer.wait_ready()
            for clients in CLIENTS:
                measured["mlserver"][clients] = load(pool, peer.address, "lenet", clients, one, args.seconds)
            measured["mlserver"]["bulk"] = load(pool, peer.address, "lenet", 1, images, args.seconds)
            onnxruntime = peer.engine(Path(onnx), images)
        finally:
            peer.stop()
    rows = []
    for key in (*CLIENTS, "bulk"):
        ours, theirs = measured["gateway"][key], measured["mlserver"][key]
        rate = "images" if key == "bulk" else "rate"
        rows.append([f"1 × {BULK:,} images" if key == "bulk" else key,
                     f"{ours[rate]:,.0f}", f"{ours['p50']:.1f}", f"{ours['p99']:.1f}",
                     f"{theirs[rate]:,.0f}", f"{theirs['p50']:.1f}", f"{theirs['p99']:.1f}",
                     f"{ours[rate] / theirs[rate]:.2f}×" if theirs[rate] else "—",
                     f"{ours['p99'] / theirs['p99']:.2f}" if theirs["p99"] else "—",
                     f"{100 * ours['generator_cpu']:.0f} % / {100 * theirs['generator_cpu']:.0f} %",
                     f"{ours['failures']} / {theirs['failures']}"])
    engines = [["lone call through the gateway: Predict (our API)", f"{lone['predict']:.2f}"],
               ["lone call through the gateway: ModelInfer (OIP gRPC)", f"{lone['infer']:.2f}"],
               ["MXNet engine alone (our worker's), 1 image", f"{1000 * statistics.median(mxnet['single']):.2f}"],
               [f"MXNet engine alone, {BULK:,} images", f"{1000 * statistics.median(mxnet['bulk']):.1f}"],
               ["onnxruntime alone (MLServer's runtime), 1 image", f"{1000 * onnxruntime['single']:.2f}"],
               [f"onnxruntime alone, {BULK:,} images", f"{1000 * onnxruntime['bulk']:.1f}"]]
    return [
        Section("Open Inference Protocol: this gateway and MLServer, side by side",
                ["clients", "ours: calls/s", "ours: p50 (ms)", "ours: p99 (ms)", "MLServer: calls/s",
                 "MLServer: p50 (ms)", "MLServer: p99 (ms)", "throughput ours / MLServer", "p99 ours / MLServer",
                 "load generator CPU (ours / MLServer runs)", "failed (ours / MLServer)"], rows,
                f"One image per ModelInfer (gRPC), {args.seconds:g} s per row, the clients threads in up to "
                f"{PROCESSES} tritonclient processes on this machine's cores with the servers (their CPU share of the "
                f"machine is shown); the last row is one client sending {BULK:,} images per call (images/s). Ours: "
                f"`lenet up`'s stack, one worker node, dynamic batching up to {settings.batch_max} images. MLServer "
                f"({MLSERVER}, its defaults but for parallel_workers 0: its inference pool's worker processes die "
                "at start here with \"There is no current event loop in thread 'MainThread'\", so the model runs in "
                f"the server's own process): adaptive batching up to {settings.batch_max} requests waiting "
                f"at most {1000 * MLSERVER_BATCH_SECONDS:g} ms, the model in onnxruntime (MXNet does not install "
                "beside MLServer's numpy), so the engines differ: their own times per call are in the next table. "
                "perf_analyzer needs glibc 2.38, newer than this machine's: it was not run here.",
                "python -m bench oip", measured | {"onnxruntime": onnxruntime, "mxnet": mxnet}),
        Section("Open Inference Protocol: a lone call, and each engine's own time", ["what", "median (ms)"], engines,
                f"{LONE_CALLS} one-image Predict and ModelInfer calls alternating, one at a time, on the same stack; "
                "the engines timed alone in their own processes after a warm-up.", "python -m bench oip",
                {"lone": lone})]
