"""Python client for the LeNet service: typed protobuf results, numpy wherever arrays appear.

    with LenetClient() as lenet:      # the gateway of $LENET_GATEWAY (else localhost:50051), its token, …
        job = lenet.wait(lenet.train(epochs=1, limit=2000).id)
        probabilities, labels = lenet.predict(job.model_id, images)

It needs grpcio, protobuf and numpy only (no MXNet, Celery or server code).
"""
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np

from lenet_protos import tracing
from lenet_protos.contract import (FINAL_STATES, HYPER_PARAMETER, MAX_MESSAGE_BYTES, RECIPES, VALIDATION_SPLIT,
                                   gateway_address)
from lenet_protos.contract import class_statistics, confusion_matrix, overall_statistics  # noqa: F401  (re-exported)
from lenet_protos.documents import brief
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_protos.settings import ClientSettings
from lenet_protos.shared_memory import Ring
from lenet_protos.tensors import assemble, from_tensor, tensor_bytes, to_tensor

DEVICES = {"cpu": pb.CPU, "gpu": pb.GPU, "any": pb.ANY}
INSPECT_DTYPES = {"float32": pb.FLOAT32, "f32": pb.FLOAT32, "float16": pb.FLOAT16, "f16": pb.FLOAT16}
RECONNECT_SECONDS = (0.1, 5.0)  # first and longest wait between reconnection attempts of watch()


# Results print in a line (print(evaluation.worst), a REPL): repr() is lenet_protos.documents.brief for every message of
# the contract; str() stays protobuf's text format, the whole message.
for _descriptor in pb.DESCRIPTOR.message_types_by_name.values():
    getattr(pb, _descriptor.name).__repr__ = brief


class GatewayLost(ConnectionError):
    """watch() gave up: the gateway did not answer for `seconds` (the reconnect_seconds setting). The job goes on;
    watch(job_id, after_event_id) resumes following it."""

    def __init__(self, address: str, job_id: str, after_event_id: str, seconds: float):
        super().__init__(f"the gateway at {address} has not answered for {seconds:g} s")
        self.address, self.job_id, self.after_event_id, self.seconds = address, job_id, after_event_id, seconds


class DigitWarning(UserWarning):
    """Predict was given an image that does not look like an MNIST digit; its prediction means little."""


def dataset(split: str = "", limit: int = 0, indices: Sequence[int] = (), images: np.ndarray | None = None,
            labels: np.ndarray | None = None) -> pb.Dataset:
    """A Dataset message: a split's first `limit` samples, chosen `indices`, or uploaded images (+labels)."""
    message = pb.Dataset(split=split, limit=limit, indices=list(indices))
    if images is not None:
        message.images.CopyFrom(to_tensor(np.asarray(images), "images"))
    if labels is not None:
        message.labels.CopyFrom(to_tensor(np.asarray(labels, dtype=np.int64), "labels"))
    return message


PRUNERS = {"none": pb.NO_PRUNER, "median": pb.MEDIAN, "halving": pb.SUCCESSIVE_HALVING, "asha": pb.SUCCESSIVE_HALVING}


def dimension(text: str) -> pb.Dimension:
    """One hyper-parameter of a sweep's space from "NAME=VALUE" (fixed), "NAME=A,B,C" (choices), "NAME=LOW:HIGH"
    (a range: integer for integer hyper-parameters), "NAME=LOW:HIGH:log" (log scale) or "NAME=LOW:HIGH:STEP";
    ValueError names what is wrong. Booleans are written true/false; a hyper-parameter that takes names takes
    "NAME=A" or "NAME=A,B"."""
    name, equals, values = text.partition("=")
    spec = HYPER_PARAMETER.get(name.strip())
    if not equals or spec is None:
        raise ValueError(f"{text!r}: write NAME=VALUES with NAME one of {', '.join(HYPER_PARAMETER)}")
    if spec.type is str:
        names = [value.strip() for value in values.split(",")]
        return pb.Dimension(name=spec.name, choices=pb.Choices(names=names)) if len(names) > 1 else \
            pb.Dimension(name=spec.name, fixed_name=names[0])

    def number(word: str) -> float:
        word = word.strip().lower()
        return float({"true": 1, "false": 0}.get(word, word))
    try:
        if ":" in values:
            low, high, *rest = values.split(":")
            log = rest == ["log"]
            step = 0 if log or not rest else number(rest[0])
            if len(rest) > 1 or rest and not log and rest[0].strip().lower() == "log":
                raise ValueError("too many parts")
            if spec.type is int:
                return pb.Dimension(name=spec.name, int_range=pb.IntRange(low=int(number(low)), high=int(number(high)),
                                                                          log=log, step=int(step)))
            return pb.Dimension(name=spec.name, float_range=pb.FloatRange(low=number(low), high=number(high),
                                                                          log=log, step=step))
        if "," in values:
            return pb.Dimension(name=spec.name, choices=pb.Choices(values=[number(v) for v in values.split(",")]))
        return pb.Dimension(name=spec.name, fixed=number(values))
    except ValueError:
        raise ValueError(f"{text!r}: write {name}=VALUE, {name}=A,B,C, {name}=LOW:HIGH, {name}=LOW:HIGH:log or "
                         f"{name}=LOW:HIGH:STEP") from None


def _pixels(images: np.ndarray | None) -> np.ndarray | None:
    """Images as sent: N×28×28 (one 28×28 becomes N=1); uint8 as is, floats as float32."""
    if images is None:
        return None
    images = np.asarray(images)
    images = images[None] if images.ndim == 2 else images
    return images.astype(np.float32) if images.dtype.kind == "f" else images


def misclassified(evaluation: pb.Evaluation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The wrongly predicted samples as arrays: (indices, predictions, references, probabilities N×k)."""
    rows = evaluation.misclassified
    k = len(evaluation.labels)
    return (np.array([m.index for m in rows], dtype=np.int64), np.array([m.prediction for m in rows], dtype=np.int64),
            np.array([m.reference for m in rows], dtype=np.int64),
            np.array([m.probabilities for m in rows], dtype=np.float32).reshape(len(rows), k))


def open_channel(address: str, settings: ClientSettings) -> grpc.Channel:
    """A channel to the gateway: TLS when the settings ask for it (tls, or a CA, or a client certificate to
    present), verified against their CA or the system's; else plaintext."""
    options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               # a gateway back after an outage is reached within RECONNECT_SECONDS[1], not gRPC's default 2 min
               ("grpc.initial_reconnect_backoff_ms", int(RECONNECT_SECONDS[0] * 1000)),
               ("grpc.max_reconnect_backoff_ms", int(RECONNECT_SECONDS[1] * 1000))]
    if not (settings.tls or settings.ca or settings.client_cert):
        return grpc.insecure_channel(address, options=options)
    if bool(settings.client_cert) != bool(settings.client_key):
        raise ValueError("a client certificate needs both LENET_CLIENT_CERT and LENET_CLIENT_KEY")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=settings.ca.read_bytes() if settings.ca else None,
        private_key=settings.client_key.read_bytes() if settings.client_key else None,
        certificate_chain=settings.client_cert.read_bytes() if settings.client_cert else None)
    if settings.tls_server_name:
        options.append(("grpc.ssl_target_name_override", settings.tls_server_name))
    return grpc.secure_channel(address, credentials, options=options)


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer TOKEN` to every call (gateways started with $LENET_TOKENS require it)."""

    def __init__(self, token: str):
        self.header = ("authorization", f"Bearer {token}")

    def _with_token(self, details):
        return details._replace(metadata=[*(details.metadata or ()), self.header])

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


class LenetClient:
    def __init__(self, address: str | None = None, timeout: float | None = None, token: str | None = None,
                 settings: ClientSettings | None = None):
        """Arguments given override `settings` (default: ClientSettings(), read from the environment).
        `timeout` bounds each unary call (None: no deadline); `token` is sent as a bearer token when set."""
        settings = settings or ClientSettings()
        self.address = gateway_address(address) if address else settings.gateway
        self.timeout = timeout if timeout is not None else settings.timeout
        self.reconnect_seconds = settings.reconnect_seconds
        self.channel = open_channel(self.address, settings)
        token = token or settings.token
        channel = grpc.intercept_channel(self.channel, BearerToken(token)) if token else self.channel
        self.stub = pb_grpc.LenetStub(tracing.channel(channel))   # the current trace travels with each call

    def __enter__(self) -> "LenetClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    # -- training and jobs ---------------------------------------------------------------------------
    def train(self, *, limit: int = 0, eval_limit: int = 0, device: str = "cpu", model_name: str = "",
              idempotency_key: str = "", recipe: str = "seed", validation_limit: int | None = None,
              validation_only: bool = False, **hyper_parameters) -> pb.Job:
        """Submit a training job. Hyper-parameters (lenet_protos.contract.HYPER_PARAMETERS: epochs, batch_size,
        learning_rate, …, augment_scale) given as keywords are sent, zero included; those left out or None take the
        `recipe`'s values (lenet_protos.contract.RECIPES), else the seed's defaults. `limit`/`eval_limit`: the first
        N training / test images (0: all). `validation_limit`: score the first N images of the validation split
        every epoch (0: all 5,000), which training then leaves out; None: no validation. `validation_only`: do
        not score the test images every epoch."""
        request = self._train_request(limit, eval_limit, device, model_name, idempotency_key, recipe,
                                      validation_limit, validation_only, hyper_parameters)
        return self.stub.SubmitTraining(request, timeout=self.timeout)

    @staticmethod
    def _train_request(limit: int, eval_limit: int, device: str, model_name: str, idempotency_key: str, recipe: str,
                       validation_limit: int | None, validation_only: bool, hyper_parameters: dict
                       ) -> pb.TrainRequest:
        unknown = set(hyper_parameters) - set(HYPER_PARAMETER)
        if unknown:
            raise TypeError(f"unknown hyper-parameter(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(HYPER_PARAMETER)}")
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
        given = {**RECIPES[recipe], **{k: v for k, v in hyper_parameters.items() if v is not None}}
        request = pb.TrainRequest(
            hyper_parameters=pb.HyperParameters(**given), train_data=dataset("train", limit),
            eval_data=dataset("test", eval_limit), device=DEVICES[device], model_name=model_name,
            idempotency_key=idempotency_key, validation_only=validation_only)
        if validation_limit is not None:
            request.validation_data.CopyFrom(dataset(VALIDATION_SPLIT, validation_limit))
        return request

    def job(self, job_id: str) -> pb.Job:
        return self.stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=self.timeout)

    def jobs_page(self, kind: int = 0, state: int = 0, page_size: int = 0, page_token: str = ""
                  ) -> pb.ListJobsResponse:
        """One page of jobs, newest first (kind, state: lenet.v1 enum values, 0 for any)."""
        return self.stub.ListJobs(pb.ListJobsRequest(kind=kind, state=state, page_size=page_size,
                                                     page_token=page_token), timeout=self.timeout)

    def jobs(self, limit: int = 100, kind: int = 0, state: int = 0) -> list[pb.Job]:
        """Up to `limit` jobs, newest first, reading as many pages as that takes."""
        return _collect(lambda token, size: self.jobs_page(kind, state, size, token), "jobs", limit)

    def cancel(self, job_id: str) -> pb.Job:
        return self.stub.CancelJob(pb.CancelJobRequest(job_id=job_id), timeout=self.timeout)

    def delete_job(self, job_id: str) -> str:
        """Delete an ended job with its events and results; returns its id."""
        return self.stub.DeleteJob(pb.DeleteJobRequest(job_id=job_id), timeout=self.timeout).job_id

    def delete_model(self, model_id: str) -> str:
        """Delete a model (any model reference: an id, a unique prefix, "latest", NAME, NAME/VERSION or
        NAME@ALIAS); returns its id."""
        return self.stub.DeleteModel(pb.DeleteModelRequest(model_id=model_id), timeout=self.timeout).model_id

    def watch(self, job_id: str, after_event_id: str = "",
              on_outage: Callable[[str], None] | None = None) -> Iterator[pb.JobEvent]:
        """The job's events until it ends. When the gateway does not answer (stopped, restarting, its store away)
        it retries, waiting longer each time up to 5 s, and resumes after the last event seen; after
        reconnect_seconds without an answer it raises GatewayLost. `on_outage` is told, in a line, when the gateway
        stops answering (how often and until when it retries) and when it answers again."""
        pause, outage = RECONNECT_SECONDS[0], None   # outage: time.monotonic() when the gateway stopped answering
        while True:
            try:
                for event in self.stub.WatchJob(pb.WatchJobRequest(job_id=job_id, after_event_id=after_event_id)):
                    if outage is not None and on_outage:
                        on_outage(f"the gateway at {self.address} answers again: following job {job_id} on")
                    after_event_id, pause, outage = event.id, RECONNECT_SECONDS[0], None
                    yield event
                    if event.WhichOneof("kind") == "state" and event.state.state in FINAL_STATES:
                        return
                # The stream ended before the job did (a gateway shutting down ends it so), unless the job had
                # ended before this watch resumed.
                if self.job(job_id).state in FINAL_STATES:
                    return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                if outage is None:
                    outage = time.monotonic()
                    if on_outage:
                        until = time.strftime("%H:%M:%S", time.localtime(time.time() + self.reconnect_seconds))
                        on_outage(f"the gateway at {self.address} is not answering ({_reason(error)}): retrying "
                                  f"every {RECONNECT_SECONDS[1]:g} s or sooner until {until} "
                                  f"({self.reconnect_seconds:g} s, LENET_RECONNECT_SECONDS)")
                left = outage + self.reconnect_seconds - time.monotonic()
                if left <= 0:
                    raise GatewayLost(self.address, job_id, after_event_id, self.reconnect_seconds) from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, RECONNECT_SECONDS[1])

    def wait(self, job_id: str, on_event: Callable[[pb.JobEvent], None] | None = None,
             on_outage: Callable[[str], None] | None = None) -> pb.Job:
        """Follow the job to its end and return it (on_outage: as for watch)."""
        for event in self.watch(job_id, on_outage=on_outage):
            if on_event:
                on_event(event)
        return self.job(job_id)

    # -- sweeps --------------------------------------------------------------------------------------
    def sweep(self, space: Sequence[pb.Dimension | str], *, sampler: str = "tpe", trials: int = 0,
              parallelism: int = 0, max_seconds: float = 0, pruner: str = "none", sampler_seed: int = 0,
              limit: int = 0, eval_limit: int = 0, test_limit: int = 0, device: str = "cpu", model_name: str = "",
              alias: str = "", objective: str = "", idempotency_key: str = "", recipe: str = "seed",
              validation_limit: int | None = 0, validation_only: bool = True, **hyper_parameters) -> pb.Sweep:
        """Submit a sweep over `space` (Dimension messages, or "NAME=…" strings as `dimension` reads them); the
        other hyper-parameters given as keywords (and the `recipe`'s) are every trial's. Trials are scored on the
        validation split (`validation_limit` as for train; None: not at all) and, unless `validation_only`, on
        the first `eval_limit` test images after every epoch. `trials`, `parallelism`, 0: the service's defaults;
        `test_limit`: score the winner on the first N test images (0: all)."""
        base = self._train_request(limit, eval_limit, device, model_name, "", recipe, validation_limit,
                                   validation_only, hyper_parameters)
        request = pb.SweepRequest(
            train=base, space=[d if isinstance(d, pb.Dimension) else dimension(d) for d in space],
            sampler=pb.Sampler.Value(sampler.upper()), seed=sampler_seed, pruner=pb.Pruner(kind=PRUNERS[pruner]),
            budget=pb.Budget(trials=trials, parallelism=parallelism, max_seconds=max_seconds),
            objective=pb.Objective(metric=objective), alias=alias, test_data=dataset("test", test_limit),
            idempotency_key=idempotency_key)
        return self.submit_sweep(request)

    def submit_sweep(self, request: pb.SweepRequest) -> pb.Sweep:
        return self.stub.SubmitSweep(request, timeout=self.timeout)

    def get_sweep(self, sweep_id: str) -> pb.Sweep:
        """The sweep with its trials and Optuna's parameter importances."""
        return self.stub.GetSweep(pb.GetSweepRequest(sweep_id=sweep_id), timeout=self.timeout)

    def sweeps(self, limit: int = 100) -> list[pb.Sweep]:
        """Up to `limit` sweeps, newest first (without their trials)."""
        return _collect(lambda token, size: self.stub.ListSweeps(
            pb.ListSweepsRequest(page_size=size, page_token=token), timeout=self.timeout), "sweeps", limit)

    def watch_sweep(self, sweep_id: str) -> Iterator[pb.Sweep]:
        """The sweep each time it changes, until it has ended."""
        yield from self.stub.WatchSweep(pb.WatchSweepRequest(sweep_id=sweep_id))

    def wait_sweep(self, sweep_id: str, on_change: Callable[[pb.Sweep], None] | None = None) -> pb.Sweep:
        """Follow the sweep to its end; the ended sweep with its importances."""
        for sweep in self.watch_sweep(sweep_id):
            if on_change:
                on_change(sweep)
        return self.get_sweep(sweep_id)

    def cancel_sweep(self, sweep_id: str) -> pb.Sweep:
        return self.stub.CancelSweep(pb.CancelSweepRequest(sweep_id=sweep_id), timeout=self.timeout)

    def delete_sweep(self, sweep_id: str) -> str:
        return self.stub.DeleteSweep(pb.DeleteSweepRequest(sweep_id=sweep_id), timeout=self.timeout).sweep_id

    # -- models --------------------------------------------------------------------------------------
    def model(self, model_id: str) -> pb.Model:
        return self.stub.GetModel(pb.GetModelRequest(model_id=model_id), timeout=self.timeout)

    def models_page(self, page_size: int = 0, page_token: str = "", name: str = "") -> pb.ListModelsResponse:
        return self.stub.ListModels(pb.ListModelsRequest(page_size=page_size, page_token=page_token, name=name),
                                    timeout=self.timeout)

    def models(self, limit: int = 100, name: str = "") -> list[pb.Model]:
        """Up to `limit` models, newest first; with `name`, that name's versions, highest first."""
        return _collect(lambda token, size: self.models_page(size, token, name), "models", limit)

    def set_alias(self, name: str, alias: str, version: int) -> pb.Model:
        """Point alias `alias` of model name `name` at version `version` (creating or moving it); returns that
        version with its aliases."""
        return self.stub.SetModelAlias(pb.SetModelAliasRequest(name=name, alias=alias, version=version),
                                       timeout=self.timeout)

    def delete_alias(self, name: str, alias: str) -> int:
        """Remove alias `alias` of model name `name`; returns the version it pointed at."""
        return self.stub.DeleteModelAlias(pb.DeleteModelAliasRequest(name=name, alias=alias),
                                          timeout=self.timeout).version

    def share_model(self, model_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> pb.Model:
        """Share a model read-only with the users in `add`, and stop sharing it with those in `remove` (only its
        owner may); returns the model with its new shared_with."""
        return self.stub.ShareModel(pb.ShareModelRequest(model_id=model_id, add=add, remove=remove),
                                    timeout=self.timeout)

    def graph(self, model_id: str) -> pb.Graph:
        return self.stub.GetGraph(pb.GetGraphRequest(model_id=model_id), timeout=self.timeout)

    def export(self, model_id: str, out_dir: str | Path, format: str = "mxnet") -> list[Path]:
        """Write the model's files into out_dir and return their paths: format "mxnet" gives PREFIX-symbol.json
        and PREFIX-0000.params (mx.model.load_checkpoint, R's mx.model.load), "onnx" gives PREFIX.onnx."""
        response = self.stub.ExportModel(pb.ExportModelRequest(model_id=model_id,
                                                                format=pb.ExportFormat.Value(format.upper())),
                                         timeout=self.timeout)
        unsafe = [file.name for file in response.files
                  if file.name.startswith(".") or Path(file.name).name != file.name]
        if unsafe:
            raise ValueError(f"refusing to write exported files outside {out_dir}: {unsafe}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for file in response.files:
            (out / file.name).write_bytes(file.data)
        return [out / file.name for file in response.files]

    # -- evaluation, prediction, inspection ----------------------------------------------------------
    def evaluate(self, model_id: str, limit: int = 0, split: str = "test", indices: Sequence[int] = (),
                 images: np.ndarray | None = None, labels: np.ndarray | None = None, device: str = "",
                 idempotency_key: str = "") -> pb.Job:
        """Submit an evaluation job (device "": the model's); read its result with evaluation(job.id) once it
        has SUCCEEDED, or use evaluate_and_wait."""
        return self.stub.SubmitEvaluation(pb.EvaluationRequest(
            model_id=model_id, dataset=dataset("" if images is not None else split, limit, indices, images, labels),
            device=DEVICES.get(device, pb.DEVICE_UNSPECIFIED), idempotency_key=idempotency_key),
            timeout=self.timeout)

    def evaluation(self, job_id: str) -> pb.Evaluation:
        """A finished evaluation; FAILED_PRECONDITION (with the job's error) unless the job SUCCEEDED."""
        return self.stub.GetEvaluation(pb.GetEvaluationRequest(job_id=job_id), timeout=self.timeout)

    def evaluate_and_wait(self, model_id: str, **dataset_options) -> pb.Evaluation:
        """Submit an evaluation, follow it to its end and return its result (see evaluate for the options)."""
        job = self.evaluate(model_id, **dataset_options)
        self.wait(job.id)
        return self.evaluation(job.id)

    def predict(self, model_id: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities N×10, predicted labels N) for images N×28×28 (or one 28×28), uint8 pixels 0–255 or
        floats on the same scale (sent as float32). Images that do not look like MNIST digits issue a DigitWarning
        (Python warnings: shown once by default, or filtered, or turned into errors as you choose)."""
        response = self.stub.Predict(pb.PredictRequest(model_id=model_id, images=to_tensor(_pixels(images), "images")),
                                     timeout=self.timeout)
        for warning in response.warnings:
            warnings.warn(warning, DigitWarning, stacklevel=2)
        return from_tensor(response.probabilities), np.asarray(response.labels)

    def inspect_chunks(self, model_id: str, indices: Sequence[int] = (), *, split: str = "test", limit: int = 0,
                       images: np.ndarray | None = None, layers: Sequence[str] = (), dtype: str = "float32",
                       batch_size: int = 0, shared_memory: bool = False
                       ) -> Iterator[tuple[pb.TensorChunk, np.ndarray]]:
        """The activation stream as it arrives: (chunk, rows) pairs, `rows` being the chunk's tensor as a
        read-only array (chunk.sample_count × the layer's per-sample shape), for consumers that forward or reduce
        activations without holding them all. Chunks come batch by batch, each batch's layers in request order.

        Samples: `indices` into `split`, or its first `limit` images, or uploaded `images` (N×28×28, pixels 0–255).
        `dtype` "float32" or "float16"; `batch_size` images per forward pass (0: the service's choice).
        `shared_memory`: lend the worker a ring in /dev/shm (lenet_protos.shared_memory); a worker on this host
        writes the rows there and only their place crosses the network, several times faster. `rows` is then a
        view into the ring, valid until the next chunk is asked for (copy it to keep it). Without /dev/shm, or
        with the worker on another host, the chunks carry the rows as usual.
        Leaving the loop early cancels the call, which stops the worker."""
        if dtype not in INSPECT_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(INSPECT_DTYPES)}, got {dtype!r}")
        request = pb.InspectRequest(model_id=model_id, samples=dataset(split, limit, indices, _pixels(images)),
                                    layers=list(layers), batch_size=batch_size, dtype=INSPECT_DTYPES[dtype])
        ring = None
        if shared_memory:
            try:
                ring, reference = Ring.create()
                request.shared_memory.CopyFrom(reference)
            except OSError:
                pass   # no /dev/shm here: the chunks carry the rows
        call = self.stub.Inspect(request, timeout=self.timeout)
        try:
            for chunk in call:
                if ring is not None:
                    ring.remove()   # the worker has opened it by now, or never will
                if not chunk.HasField("shared_memory_slot"):
                    yield chunk, from_tensor(chunk.tensor)
                    continue
                if ring is None:
                    raise ValueError("a chunk names a shared-memory slot though no ring was lent")
                slot = chunk.shared_memory_slot
                yield chunk, from_tensor(chunk.tensor, ring.data(slot, tensor_bytes(chunk.tensor)).toreadonly())
                ring.free(slot)
        finally:
            call.cancel()  # a no-op once the stream has ended
            if ring is not None:
                ring.close()

    def inspect(self, model_id: str, indices: Sequence[int] = (), **options) -> dict[str, np.ndarray]:
        """Every requested layer's activations as one array per layer, samples first, e.g. Conv1 N×20×24×24,
        Pool2 N×50×4×4, Flat N×800, SoftM N×10; options as for inspect_chunks. Each chunk is copied into place as
        it arrives, so the client holds the result and one chunk, never the pieces twice."""
        return assemble(self.inspect_chunks(model_id, indices, **options))

    def workers(self) -> pb.ListWorkersResponse:
        """The live workers, and what waits on each lane."""
        return self.stub.ListWorkers(pb.ListWorkersRequest(), timeout=self.timeout)

    def samples(self, indices: Sequence[int], split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """Images (uint8 N×28×28) and labels from the service's dataset."""
        response = self.stub.GetSamples(pb.GetSamplesRequest(split=split, indices=list(indices)),
                                        timeout=self.timeout)
        return from_tensor(response.images), np.asarray(response.labels)


def _reason(error: grpc.RpcError) -> str:
    """The last part of gRPC's details ("… Connection refused"), or its code."""
    return (error.details() or "").rsplit(": ", 1)[-1] or error.code().name


def _collect(read_page: Callable[[str, int], object], field: str, limit: int) -> list:
    """Up to `limit` items from consecutive pages (read_page(token, page_size) → a List…Response)."""
    items, token = [], ""
    while len(items) < limit:
        page = read_page(token, min(limit - len(items), 1000))
        items += getattr(page, field)
        token = page.next_page_token
        if not token:
            break
    return items
