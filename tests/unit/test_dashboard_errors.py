"""The dashboard tells LenetService's errors and store outages as the gateway does (status_of): the API as HTTP
statuses with the gRPC code's name, an event stream as a "failure" event."""
import asyncio
import json

import pytest
from starlette.requests import Request

from lenet_services import errors
from lenet_services.dashboard import live, web
from lenet_services.gateway.service import Caller
from lenet_services.store import Unavailable


def answer(path: str, error: Exception) -> tuple[int, dict]:
    request = Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""})
    response = asyncio.run(web.service_error(request, error))
    body = json.loads(response.body) if response.media_type == "application/json" else response.headers["location"]
    return response.status_code, body


@pytest.mark.parametrize("error, status, code", [
    (errors.InvalidArgument("job_id", "bad"), 400, "INVALID_ARGUMENT"), (errors.NotFound("gone"), 404, "NOT_FOUND"),
    (errors.PermissionDenied("no"), 403, "PERMISSION_DENIED"), (errors.Unauthenticated("who"), 401, "UNAUTHENTICATED"),
    (errors.FailedPrecondition("not yet"), 409, "FAILED_PRECONDITION"),
    (errors.ResourceExhausted("too many"), 429, "RESOURCE_EXHAUSTED"), (errors.Unavailable("down"), 503, "UNAVAILABLE"),
    (errors.DeadlineExceeded("late"), 504, "DEADLINE_EXCEEDED"), (errors.ServiceError("bug"), 500, "INTERNAL"),
    (errors.from_code("NOT_FOUND", "gone"), 404, "NOT_FOUND"),
])
def test_service_errors_become_http_statuses(error, status, code):
    assert answer("/api/jobs", error) == (status, {"code": code, "message": str(error)})


def test_a_store_outage_is_unavailable():
    assert answer("/api/jobs", Unavailable(ConnectionError("refused"))) == (
        503, {"code": "UNAVAILABLE", "message": "store unavailable: refused"})


def test_a_page_without_a_known_token_goes_to_the_login_form():
    assert answer("/", errors.Unauthenticated("who")) == (303, "/login")


def failure(error: Exception) -> dict:
    """The last event of a stream that fails with `error` after one message."""
    def stream(caller):
        yield live.Message("first", {})
        raise error

    async def events():
        return [part async for part in live.response(stream, Caller()).body_iterator]
    *_, last = asyncio.run(events())
    name, data = last.strip().split("\n")
    assert name == "event: failure"
    return json.loads(data.removeprefix("data: "))


def test_a_stream_tells_its_error_as_the_gateway_does():
    assert failure(errors.NotFound("job gone")) == {"message": "job gone", "code": "NOT_FOUND"}
    assert failure(Unavailable(ConnectionError("refused"))) == {"message": "store unavailable: refused",
                                                                "code": "UNAVAILABLE"}
    assert failure(ValueError("a bug")) == {"message": "internal error: ValueError: a bug", "code": "INTERNAL"}
