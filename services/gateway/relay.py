"""The gateway's end of the direct answer path (protos/lenet/internal/v1/relay.proto): a serving worker that took
one of this gateway's Inspect requests from a serve lane streams the chunks here, straight into the call waiting
for them, instead of through the store (issue 21: the store's single thread copying every byte in and out was
the service's bottleneck).

Each waiting Inspect call expects one relay stream: a random secret, put in its LaneRequest, admits it once. The
chunks cross to the Inspect call through a Mailbox of RELAY_WINDOW chunks, so a client that reads slowly stops
the handler reading, and gRPC's flow control then stops the worker; the call leaving ends the Mailbox, which ends
the relay stream, which stops the worker at once."""
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc

from lenet_protos.lenet.internal.v1 import relay_pb2
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import Unavailable
from lenet_services.mailbox import Ended, Mailbox

REQUEST_ID, SECRET = "lenet-request-id", "lenet-relay-secret"     # the relay stream's metadata
RELAY_WINDOW = 2          # chunks (≤ 4 MiB each) a stream may hold in the gateway beyond gRPC's own buffers
PUT_SLICE_SECONDS = 1.0   # how often a handler waiting for room checks that its worker is still there
SERVICE = relay_pb2.DESCRIPTOR.services_by_name["Relay"]
WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


@dataclass
class Expected:
    """One Inspect call's relay stream, as the call sees it: `connected` once its worker has come."""
    secret: str
    mailbox: Mailbox = field(default_factory=lambda: Mailbox(RELAY_WINDOW))
    connected: bool = False


class Relay:
    """Relay streams this gateway expects, and the handler that takes them. `address` (HOST:PORT, "" when workers
    cannot reach this gateway: answers go through the store) and `tls` are set once the server is bound; `locate`,
    when set, finds the address on first use instead (it may need the store, which may not answer yet)."""

    def __init__(self):
        self.located: str | None = ""
        self.locate: Callable[[], str] | None = None
        self.tls = False
        self.expected: dict[str, Expected] = {}
        self.lock = threading.Lock()

    @property
    def address(self) -> str:
        if self.locate is not None:
            try:
                self.located, self.locate = self.locate(), None
            except Unavailable:
                return ""   # the store does not answer: this call's answer goes through it anyway, or fails
        return self.located

    @address.setter
    def address(self, address: str) -> None:
        self.located, self.locate = address, None

    @contextmanager
    def expect(self, lane_request: pb.LaneRequest) -> Iterator[Expected]:
        """While the block runs, admit one relay stream for `lane_request`, which is told where to send it."""
        expected = Expected(secrets.token_hex(16))
        lane_request.relay_address, lane_request.relay_secret, lane_request.relay_tls = \
            self.address, expected.secret, self.tls
        with self.lock:
            self.expected[lane_request.request_id] = expected
        try:
            yield expected
        finally:
            with self.lock:
                self.expected.pop(lane_request.request_id, None)
            expected.mailbox.end("left")

    def SendChunks(self, request_iterator, context):
        """Admit the stream by its secret (once), then hand each chunk to the waiting call; the empty chunk says
        the stream is complete, any other end that it broke."""
        metadata = dict(context.invocation_metadata())
        with self.lock:
            expected = self.expected.get(metadata.get(REQUEST_ID, ""))
            if expected is not None and not expected.connected and \
                    hmac.compare_digest(expected.secret, metadata.get(SECRET, "")):
                expected.connected = True
            else:
                expected = None
        if expected is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no such relay stream is expected")
        ending = "broken"
        try:
            for frame in request_iterator:
                if not frame:
                    ending = "complete"
                    break
                while not expected.mailbox.put(frame, PUT_SLICE_SECONDS):
                    if not context.is_active():
                        return relay_pb2.Relayed()
        except Ended:
            pass     # the call left: ending this stream stops the worker
        except Exception:   # the worker went away mid-stream (grpc.RpcError, or the call's cancellation)
            pass
        finally:
            expected.mailbox.end(ending)
        return relay_pb2.Relayed()


def handler(relay: Relay) -> grpc.GenericRpcHandler:
    """The Relay service's handler for a gRPC server: chunks arrive as the bytes they were sent as."""
    return grpc.method_handlers_generic_handler(SERVICE.full_name, {"SendChunks": grpc.stream_unary_rpc_method_handler(
        relay.SendChunks, response_serializer=relay_pb2.Relayed.SerializeToString)})


def advertised(host: str, port: int, route: tuple[str, str] | None) -> str:
    """Where serving workers reach a gateway listening on host:port, given `route` (this host's and the store's
    addresses on a connection to the store, None: a Unix socket): a wildcard listener by the address that leads to
    the store, which workers reach too; a loopback listener only when the store is on this host too; else its own
    address. "": nowhere."""
    if host in WILDCARDS:
        host = route[0] if route else "127.0.0.1"
    elif _loopback(host) and route is not None and not _loopback(route[1]):
        return ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
