"""The dashboard's HTTP side: one short handler per page, API call or event stream, each turning the request into a
LenetService call with the caller's Caller and its answer into JSON (as the gRPC servicer does for gRPC).

Every rule (validation, ownership, paging, limits) is LenetService's; its errors become HTTP statuses in one place
below. When the service has tokens, a caller is known by a bearer token: the `Authorization: Bearer` header, or
the HttpOnly cookie the login form sets.
"""
import base64
import binascii
import json
from pathlib import Path
from urllib.parse import parse_qs, quote

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lenet_protos.contract import IMAGE_SHAPE, browser_document
from lenet_protos.documents import message_dict
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import from_tensor, to_tensor
from lenet_services.dashboard import live, payloads
from lenet_services.errors import InvalidArgument, ServiceError, Unauthenticated
from lenet_services.gateway.auth import Auth
from lenet_services.gateway.service import Caller, LenetService
from lenet_services.gateway.status_codes import http_status_of

STATIC = Path(__file__).with_name("static")
# The contract's facts, in every page as a JSON data block (never run, so the CSP allows it): the scripts read
# them as they load, with no request of their own. "<" is written as JSON's \u003c, so no value can close it.
CONTRACT_JSON = json.dumps(browser_document(), sort_keys=True).replace("<", "\\u003c")
COOKIE = "lenet_token"
COOKIE_SECONDS = 7 * 24 * 3600
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}


class Dashboard:
    """The handlers, over one LenetService and the service's tokens."""

    def __init__(self, service: LenetService, auth: Auth):
        self.service, self.auth = service, auth

    # -- who calls -------------------------------------------------------------------------------------------
    def caller(self, request: Request) -> Caller:
        """The caller the request's token names (Unauthenticated without a known one, when tokens are set)."""
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        user = self.auth.user_of(token or "")
        return Caller(user, self.auth.secured, self.auth.is_admin(user))

    def call(self, request: Request, method: str, message):
        """LenetService.`method`(message, caller) in a worker thread (its calls wait on Redis)."""
        return run_in_threadpool(getattr(self.service, method), message, self.caller(request))

    # -- pages -----------------------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        try:
            self.caller(request)
        except Unauthenticated:
            return RedirectResponse("/login", status_code=303)
        return page("index.html")

    async def login_page(self, request: Request) -> Response:
        if not self.auth.secured:
            return RedirectResponse("/", status_code=303)
        return page("login.html")

    async def login(self, request: Request) -> Response:
        """The login form's POST: a known token goes into an HttpOnly cookie; anything else back to the form."""
        token = parse_qs((await request.body()).decode(errors="replace")).get("token", [""])[0].strip()
        try:
            self.auth.user_of(token)
        except Unauthenticated:
            return RedirectResponse("/login?failed=1", status_code=303)
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(COOKIE, token, max_age=COOKIE_SECONDS, httponly=True, samesite="strict",
                          secure=request.url.scheme == "https")
        return answer

    async def logout(self, request: Request) -> Response:
        answer = RedirectResponse("/login" if self.auth.secured else "/", status_code=303)
        answer.delete_cookie(COOKIE)
        return answer

    async def health(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    async def me(self, request: Request) -> Response:
        caller = self.caller(request)
        return JSONResponse({"user": caller.user, "secured": caller.secured})

    # -- jobs ------------------------------------------------------------------------------------------------
    async def jobs(self, request: Request) -> Response:
        query = request.query_params
        page = await self.call(request, "list_jobs", pb.ListJobsRequest(
            kind=enum(pb.JobKind, query.get("kind")), state=enum(pb.JobState, query.get("state")),
            page_size=number(query.get("page_size", "0"), "page_size"), page_token=query.get("page_token", "")))
        return JSONResponse({"jobs": [payloads.job(job) for job in page.jobs],
                             "next_page_token": page.next_page_token})

    async def job(self, request: Request) -> Response:
        job = await self.call(request, "get_job", pb.GetJobRequest(job_id=request.path_params["job_id"]))
        return JSONResponse(payloads.job(job, trace_url=self.service.settings.trace_url))

    async def cancel(self, request: Request) -> Response:
        job = await self.call(request, "cancel_job", pb.CancelJobRequest(job_id=request.path_params["job_id"]))
        return JSONResponse(payloads.job(job, trace_url=self.service.settings.trace_url))

    async def job_stream(self, request: Request) -> Response:
        after = request.headers.get("last-event-id") or request.query_params.get("after", "")
        stream = live.job_events(self.service, request.path_params["job_id"], after, self.service.settings.trace_url)
        return live.response(stream, self.caller(request))

    async def jobs_stream(self, request: Request) -> Response:
        query = request.query_params
        stream = live.job_table(self.service, enum(pb.JobKind, query.get("kind")),
                                enum(pb.JobState, query.get("state")))
        return live.response(stream, self.caller(request))

    # -- models ----------------------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        page = await self.call(request, "list_models", pb.ListModelsRequest(
            page_size=number(request.query_params.get("page_size", "0"), "page_size"),
            page_token=request.query_params.get("page_token", ""), name=request.query_params.get("name", "")))
        return JSONResponse({"models": [message_dict(model) for model in page.models],
                             "next_page_token": page.next_page_token})

    async def model(self, request: Request) -> Response:
        model = await self.call(request, "get_model", pb.GetModelRequest(model_id=request.path_params["model_id"]))
        graph = await self.call(request, "get_graph", pb.GetGraphRequest(model_id=model.id))
        return JSONResponse(payloads.model_page(model, graph))

    async def graph_dot(self, request: Request) -> Response:
        graph = await self.call(request, "get_graph", pb.GetGraphRequest(model_id=request.path_params["model_id"]))
        return download(graph.dot.encode(), "lenet.dot", "text/vnd.graphviz")

    async def export(self, request: Request) -> Response:
        """One file of ExportModel's answer (MXNet checkpoint: symbol JSON or params; ONNX: the model)."""
        name, kind = request.path_params["name"], request.path_params["format"].upper()
        if kind not in pb.ExportFormat.keys():
            raise InvalidArgument("format", f"must be mxnet or onnx, got {kind.lower()[:20]!r}")
        answer = await self.call(request, "export_model", pb.ExportModelRequest(
            model_id=request.path_params["model_id"], format=pb.ExportFormat.Value(kind)))
        for file in answer.files:
            if file.name == name:
                return download(file.data, file.name, "application/octet-stream")
        raise InvalidArgument("name", f"the {kind.lower()} export has {', '.join(f.name for f in answer.files)}")

    async def evaluate(self, request: Request) -> Response:
        body = await json_body(request)
        job = await self.call(request, "submit_evaluation", pb.EvaluationRequest(
            model_id=request.path_params["model_id"],
            dataset=pb.Dataset(split=str(body.get("split", "")), limit=number(body.get("limit", 0), "limit"))))
        return JSONResponse(payloads.job(job))

    # -- evaluations, samples, activations, workers ------------------------------------------------------------
    async def evaluation(self, request: Request) -> Response:
        result = await self.call(request, "get_evaluation", pb.GetEvaluationRequest(
            job_id=request.path_params["job_id"]))
        job = await self.call(request, "get_job", pb.GetJobRequest(job_id=result.job_id))
        return JSONResponse({**payloads.evaluation(result),
                             "trace_url": payloads.trace_link(self.service.settings.trace_url, job)})

    async def samples(self, request: Request) -> Response:
        query = request.query_params
        indices = [number(i, "indices") for i in query.get("indices", "").split(",") if i.strip()]
        result = await self.call(request, "get_samples", pb.GetSamplesRequest(split=query.get("split", ""),
                                                                              indices=indices))
        return JSONResponse(payloads.samples(result))

    async def inspect(self, request: Request) -> Response:
        """Every layer for one test digit (`index`) or one drawn 28×28 image (`image`: base64 uint8 pixels),
        through the serving path: LenetService.inspect's TensorChunks, joined per layer."""
        body = await json_body(request)
        if body.get("image"):
            pixels = drawn_image(body["image"])
            samples = pb.Dataset(images=to_tensor(pixels[None], "images"))
        else:
            pixels = None
            samples = pb.Dataset(split=str(body.get("split", "")), indices=[number(body.get("index"), "index")])
        caller = self.caller(request)
        inspect = pb.InspectRequest(model_id=str(body.get("model_id", "")), samples=samples)
        layers = await run_in_threadpool(self.activations, inspect, caller)
        if pixels is None:
            digit = await self.call(request, "get_samples", pb.GetSamplesRequest(split=samples.split,
                                                                                 indices=samples.indices))
            pixels, label = from_tensor(digit.images)[0], digit.labels[0]
        else:
            label = None
        return JSONResponse({"model_id": inspect.model_id, "layers": layers, "label": label,
                             "input": payloads.array(pixels)})

    def activations(self, request: pb.InspectRequest, caller: Caller) -> list[dict]:
        chunks: dict[str, list[np.ndarray]] = {}
        for data in self.service.inspect(request, caller):
            chunk = pb.TensorChunk.FromString(data)
            chunks.setdefault(chunk.layer, []).append(from_tensor(chunk.tensor))
        return payloads.activations(chunks)

    # -- sweeps ----------------------------------------------------------------------------------------------
    async def sweeps(self, request: Request) -> Response:
        page = await self.sweep_call(request, "list", pb.ListSweepsRequest(
            page_size=number(request.query_params.get("page_size", "0"), "page_size"),
            page_token=request.query_params.get("page_token", "")))
        return JSONResponse({"sweeps": [message_dict(sweep) for sweep in page.sweeps],
                             "next_page_token": page.next_page_token})

    async def sweep(self, request: Request) -> Response:
        sweep = await self.sweep_call(request, "get", pb.GetSweepRequest(sweep_id=request.path_params["sweep_id"]))
        return JSONResponse(message_dict(sweep))

    async def cancel_sweep(self, request: Request) -> Response:
        sweep = await self.sweep_call(request, "cancel",
                                      pb.CancelSweepRequest(sweep_id=request.path_params["sweep_id"]))
        return JSONResponse(message_dict(sweep))

    async def sweep_stream(self, request: Request) -> Response:
        return live.response(live.sweep_changes(self.service, request.path_params["sweep_id"]), self.caller(request))

    def sweep_call(self, request: Request, method: str, message):
        """LenetService.sweeps.`method`(message, caller) in a worker thread."""
        return run_in_threadpool(getattr(self.service.sweeps, method), message, self.caller(request))

    async def workers(self, request: Request) -> Response:
        return JSONResponse(message_dict(await self.call(request, "list_workers", pb.ListWorkersRequest())))

    async def workers_stream(self, request: Request) -> Response:
        return live.response(live.worker_table(self.service), self.caller(request))


# -- request pieces ----------------------------------------------------------------------------------------------
def enum(kind, name: str | None) -> int:
    """A lenet.v1 enum value by name ("" or absent: 0, "any")."""
    if not name:
        return 0
    if name not in kind.keys():
        raise InvalidArgument(kind.DESCRIPTOR.name, f"unknown value {name[:20]!r}")
    return kind.Value(name)


def number(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(field, f"must be a whole number, got {str(value)[:20]!r}") from None


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidArgument("body", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgument("body", "must be a JSON object")
    return body


def drawn_image(text: str) -> np.ndarray:
    """A drawn digit: base64 of 28×28 uint8 pixels, white on black as MNIST."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("image", "must be base64") from None
    size = int(np.prod(IMAGE_SHAPE))
    if len(data) != size:
        raise InvalidArgument("image", f"must be {size} bytes (28×28 uint8 pixels), got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(IMAGE_SHAPE)


def page(name: str) -> Response:
    """A page of STATIC with the contract in its head."""
    contract = f'<script type="application/json" id="contract">{CONTRACT_JSON}</script>'
    html = (STATIC / name).read_text().replace("</head>", f"  {contract}\n</head>", 1)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def download(data: bytes, name: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


# -- errors ------------------------------------------------------------------------------------------------------
async def service_error(request: Request, error: ServiceError) -> Response:
    """A ServiceError (a store outage among them) with the gateway's status code and message (status_of), as the
    HTTP status of HTTP_STATUS (500 for the rest); a page (not the API) without a known token goes to the login
    form."""
    code, status, message = http_status_of(error)
    if status == 401 and not request.url.path.startswith("/api/"):
        return RedirectResponse("/login", status_code=303)
    return JSONResponse({"code": code.name, "message": message}, status_code=status)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response: the pages load only the dashboard's own files."""

    def __init__(self, app):
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)
        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def build(service: LenetService, auth: Auth) -> Starlette:
    """The dashboard application over `service`, for uvicorn."""
    d = Dashboard(service, auth)
    api = [
        Route("/me", d.me), Route("/jobs", d.jobs), Route("/jobs/stream", d.jobs_stream),
        Route("/jobs/{job_id}", d.job), Route("/jobs/{job_id}/cancel", d.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/events", d.job_stream),
        Route("/models", d.models), Route("/models/{model_id}", d.model),
        Route("/models/{model_id}/graph.dot", d.graph_dot),
        Route("/models/{model_id}/export/{format}/{name}", d.export),
        Route("/models/{model_id}/evaluate", d.evaluate, methods=["POST"]),
        Route("/evaluations/{job_id}", d.evaluation), Route("/samples", d.samples),
        Route("/inspect", d.inspect, methods=["POST"]),
        Route("/workers", d.workers), Route("/workers/stream", d.workers_stream),
        Route("/sweeps", d.sweeps), Route("/sweeps/{sweep_id}", d.sweep),
        Route("/sweeps/{sweep_id}/cancel", d.cancel_sweep, methods=["POST"]),
        Route("/sweeps/{sweep_id}/stream", d.sweep_stream),
    ]
    routes = [
        Route("/", d.index), Route("/login", d.login_page), Route("/login", d.login, methods=["POST"]),
        Route("/logout", d.logout, methods=["POST"]), Route("/healthz", d.health),
        Mount("/api", routes=api), Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={ServiceError: service_error})
    app.add_middleware(SecurityHeaders)
    return app
