"""The Open Inference Protocol over HTTP/REST (`/v2/…`): one short handler per endpoint, turning JSON (and Triton's
binary tensor extension) into InferenceProtocol calls and the answers back, with errors as {"error": "…"}.

It runs in the gateway's process, on its own port beside the gRPC one, over the same InferenceProtocol and so the
same LenetService: REST, gRPC and Predict calls for one model travel to the worker together, and the statistics
count them all. Tokens as on gRPC (`Authorization: Bearer`); the health endpoints answer without one.
"""
import json
import socket
import ssl
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lenet_services import entry_point
from lenet_services.errors import InvalidArgument, ServiceError
from lenet_services.gateway.auth import Auth
from lenet_services.gateway.inference_protocol import OUTPUT_DATATYPE, SERVER, InferenceProtocol, InputTensor
from lenet_services.gateway.service import Caller
from lenet_services.gateway.status_codes import http_status_of

HEADER_LENGTH = "Inference-Header-Content-Length"   # Triton's binary extension: the JSON part's length in bytes


class InferenceHttp:
    def __init__(self, protocol: InferenceProtocol, auth: Auth):
        self.protocol, self.auth = protocol, auth

    def caller(self, request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        user = self.auth.user_of(header[7:] if header.lower().startswith("bearer ") else "")
        return Caller(user, self.auth.secured, self.auth.is_admin(user))

    def call(self, request: Request, method: str, *args):
        """InferenceProtocol.`method`(*args, caller) in a worker thread (its calls wait on Redis and workers)."""
        return run_in_threadpool(getattr(self.protocol, method), *args, self.caller(request))

    @staticmethod
    def model(request: Request) -> tuple[str, str]:
        return request.path_params["name"], request.path_params.get("version", "")

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": self.protocol.live()})

    async def ready(self, request: Request) -> Response:
        ready = await run_in_threadpool(self.protocol.ready)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        self.caller(request)
        return JSONResponse(SERVER)

    async def model_metadata(self, request: Request) -> Response:
        return JSONResponse(await self.call(request, "metadata", *self.model(request)))

    async def model_ready(self, request: Request) -> Response:
        name, version = self.model(request)
        ready = await self.call(request, "model_ready", name, version)
        return JSONResponse({"name": name, "ready": ready}, status_code=200 if ready else 503)

    async def model_config(self, request: Request) -> Response:
        return JSONResponse(await self.call(request, "config", *self.model(request)))

    async def model_statistics(self, request: Request) -> Response:
        name, version = request.path_params.get("name", ""), request.path_params.get("version", "")
        return JSONResponse(await self.call(request, "model_statistics", name, version))

    async def repository_index(self, request: Request) -> Response:
        return JSONResponse(await self.call(request, "repository_index"))

    async def infer(self, request: Request) -> Response:
        """JSON tensors, or Triton's binary extension: the JSON header of Inference-Header-Content-Length bytes,
        then each input's bytes in order (`binary_data_size` in its parameters). Outputs come back binary when the
        request asks so (`binary_data_output`, or `binary_data` on an output), else as JSON data."""
        body = await request.body()
        document, binary = split_body(body, request.headers.get(HEADER_LENGTH))
        inputs, offset = [], 0
        for i, tensor in enumerate(document.get("inputs") or []):
            size = (tensor.get("parameters") or {}).get("binary_data_size")
            raw = None
            if size is not None:
                raw, offset = binary[offset:offset + int(size)], offset + int(size)
            inputs.append(InputTensor(str(tensor.get("name", "")), str(tensor.get("datatype", "")),
                                      shape_of(tensor, i), raw=raw, values=tensor.get("data")))
        requested = document.get("outputs") or []
        name, version = self.model(request)
        inference = await self.call(request, "infer", name, version, inputs,
                                    [str(output.get("name", "")) for output in requested])
        all_binary = bool((document.get("parameters") or {}).get("binary_data_output"))
        binary_of = {str(o.get("name")): bool((o.get("parameters") or {}).get("binary_data", all_binary))
                     for o in requested}
        outputs, chunks = [], []
        for layer, array in inference.outputs:
            output = {"name": layer, "datatype": OUTPUT_DATATYPE, "shape": list(array.shape)}
            if binary_of.get(layer, all_binary):
                data = array.astype("<f4").tobytes()
                output["parameters"] = {"binary_data_size": len(data)}
                chunks.append(data)
            else:
                output["data"] = array.ravel().tolist()
            outputs.append(output)
        answer = {"model_name": inference.model_name, "model_version": inference.model_version, "outputs": outputs}
        if "id" in document:
            answer["id"] = document["id"]
        if inference.warnings:
            answer["parameters"] = {"warnings": "\n".join(inference.warnings)}
        header = json.dumps(answer).encode()
        if not chunks:
            return Response(header, media_type="application/json")
        return Response(b"".join([header, *chunks]), media_type="application/octet-stream",
                        headers={HEADER_LENGTH: str(len(header))})


def split_body(body: bytes, header_length: str | None) -> tuple[dict, bytes]:
    """The request's JSON document and the binary data after it."""
    try:
        length = len(body) if header_length is None else int(header_length)
        if not 0 <= length <= len(body):
            raise ValueError(f"{HEADER_LENGTH} {length} is not within the body's {len(body)} bytes")
        document = json.loads(body[:length])
    except ValueError as error:
        raise InvalidArgument("body", f"not an inference request: {str(error)[:80]}") from None
    if not isinstance(document, dict):
        raise InvalidArgument("body", "must be a JSON object")
    return document, body[length:]


def shape_of(tensor: dict, index: int) -> list[int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        raise InvalidArgument(f"inputs[{index}].shape", "must be a list of integers")
    return shape


async def error(request: Request, error: ServiceError) -> Response:
    """The protocol's error body, with our status code's HTTP status."""
    _, status, message = http_status_of(error)
    return JSONResponse({"error": message}, status_code=status)


def build(protocol: InferenceProtocol, auth: Auth) -> Starlette:
    h = InferenceHttp(protocol, auth)
    model = ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"]
    routes = [Route("/v2/health/live", h.live), Route("/v2/health/ready", h.ready), Route("/v2", h.server_metadata),
              Route("/v2/models/stats", h.model_statistics),
              Route("/v2/repository/index", h.repository_index, methods=["POST"])]
    for path in model:
        routes += [Route(path, h.model_metadata), Route(f"{path}/ready", h.model_ready),
                   Route(f"{path}/config", h.model_config), Route(f"{path}/stats", h.model_statistics),
                   Route(f"{path}/infer", h.infer, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers={ServiceError: error})


def serve(protocol: InferenceProtocol, auth: Auth, settings, host: str, port: int) -> tuple[uvicorn.Server, int]:
    """Serve the REST side in a background thread of this process, with the gateway's TLS settings; returns the
    server (set should_exit to stop it) and the port bound (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family)
    tls = {}
    if settings.tls_cert and settings.tls_key:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        if settings.tls_client_ca:
            tls |= {"ssl_ca_certs": str(settings.tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    app = entry_point.traced(build(protocol, auth))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", **tls))
    threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="oip-http", daemon=True).start()
    return server, listener.getsockname()[1]
