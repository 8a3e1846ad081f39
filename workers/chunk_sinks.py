"""Where a serving worker writes the chunks of an Inspect answer: straight to the gateway waiting on the request,
over its Relay (protos/lenet/internal/v1/relay.proto), when the request names one this worker can reach; else to
the request's chunk stream in the store. Either way `send` raises Cancelled when the reader went away or took
nothing for the idle bound, and an error reaches the reader through the store.

Channels to gateways are opened here, in the serving process, after it started (never before a fork), and kept
per address and TLS. Measured in BENCHMARKS.md ("Inspect transport"): the relay moves chunks several times
faster than the store, whose single thread copies every byte in and out."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import grpc

from lenet_clients.client import open_channel
from lenet_protos.lenet.internal.v1 import relay_pb2
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ClientSettings
from lenet_services.gateway.relay import REQUEST_ID, SECRET, SERVICE
from lenet_services.mailbox import Ended, Mailbox
from lenet_services.store.requests import Cancelled, Requests

log = logging.getLogger(__name__)
CONNECT_SECONDS = 2.0    # how long a worker tries to reach a gateway's Relay before answering through the store
UNREACHABLE_SECONDS = 60.0   # after which a Relay it could not reach is tried again (meanwhile: the store at once)
SEND_WINDOW = 1          # chunks waiting for gRPC's sending thread, beyond the one it sends
WAIT_SLICE_SECONDS = 0.5  # how often a waiting send checks whether its call has ended
POLL_MIN_SECONDS, POLL_MAX_SECONDS = 20e-6, 0.0005  # a wait for a free shared-memory slot polls this often


class StoreSink:
    """The request's chunk stream in the store, flow-controlled by credits (lenet_services.store.requests)."""

    def __init__(self, requests: Requests, request_id: str, idle_seconds: float):
        self.requests, self.request_id, self.idle_seconds = requests, request_id, idle_seconds

    def send(self, frame) -> None:
        self.requests.push_chunk(self.request_id, frame, self.idle_seconds)

    def wait_for(self, ready: Callable[[], bool]) -> None:
        """Until ready() says the reader made room outside the stream (freed a shared-memory slot), polling with a
        pause that grows to POLL_MAX_SECONDS; Cancelled as `send` would be: the reader left, or took nothing for
        the idle bound."""
        now = time.monotonic()
        deadline, checked, pause = now + self.idle_seconds, now, POLL_MIN_SECONDS
        while not ready():
            now = time.monotonic()
            if now >= deadline:
                self.give_up()
            if now - checked >= WAIT_SLICE_SECONDS:
                if self.reader_left():
                    raise Cancelled(self.request_id)
                checked = now
            time.sleep(pause)
            pause = min(2 * pause, POLL_MAX_SECONDS)

    def reader_left(self) -> bool:
        return self.requests.cancelled(self.request_id)

    def give_up(self) -> None:
        raise Cancelled(self.request_id)

    def finish(self) -> None:
        self.requests.end_chunks(self.request_id)

    def fail(self, error: pb.WorkerReply) -> None:
        self.requests.end_chunks(self.request_id, error)


class RelaySink(StoreSink):
    """One SendChunks call to the waiting gateway: gRPC's sending thread takes the chunks from a Mailbox, so a
    gateway that reads slowly (its client does) leaves the Mailbox full and `send` waiting, for at most the idle
    bound. The call ending early (the reader left, the gateway died) stops the next `send` at once."""

    def __init__(self, requests: Requests, request: pb.LaneRequest, idle_seconds: float, channel: grpc.Channel):
        super().__init__(requests, request.request_id, idle_seconds)
        self.mailbox = Mailbox(SEND_WINDOW)
        send_chunks = channel.stream_unary(f"/{SERVICE.full_name}/SendChunks",   # frames are sent as they are
                                           response_deserializer=relay_pb2.Relayed.FromString)
        self.call = send_chunks.future(
            self._frames(), timeout=max(0.1, request.deadline - time.time()) if request.deadline else None,
            metadata=[(REQUEST_ID, request.request_id), (SECRET, request.relay_secret)])
        self.call.add_done_callback(lambda _call: self.mailbox.end("call ended"))

    def _frames(self):
        while True:
            try:
                yield self.mailbox.get(None)
            except Ended:
                return

    def send(self, frame) -> None:
        data = bytes(frame)   # gRPC keeps it until sent; the frame's buffer is reused for the next chunk
        deadline = time.monotonic() + self.idle_seconds
        try:
            while not self.mailbox.put(data, min(WAIT_SLICE_SECONDS, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    self.give_up()
        except Ended:
            raise Cancelled(self.request_id) from None

    def reader_left(self) -> bool:
        return self.call.done()

    def give_up(self) -> None:
        self.call.cancel()   # the reader took nothing for the idle bound
        super().give_up()

    def finish(self) -> None:
        """The empty chunk ends the stream complete; Cancelled when the gateway did not take it all."""
        self.send(b"")
        self.mailbox.end("complete")
        try:
            self.call.result(timeout=self.idle_seconds)
        except (grpc.RpcError, grpc.FutureTimeoutError, grpc.FutureCancelledError):
            self.call.cancel()
            raise Cancelled(self.request_id) from None
        finally:
            self.requests.close(self.request_id)

    def fail(self, error: pb.WorkerReply) -> None:
        """The error goes to the store first; the stream then ends without its empty chunk, so the gateway reads
        it there."""
        super().fail(error)
        self.mailbox.end("failed")


class Sinks:
    """Opens the sink for each Inspect request, keeping one channel per gateway."""

    def __init__(self, requests: Requests, idle_seconds: float):
        self.requests, self.idle_seconds = requests, idle_seconds
        self.settings = ClientSettings()   # TLS to a gateway: LENET_CA, LENET_TLS_SERVER_NAME, client certificate
        self.channels: dict[tuple[str, bool], grpc.Channel] = {}
        self.unreachable: dict[tuple[str, bool], float] = {}   # Relays not reached, until when to skip them
        self.lock = threading.Lock()

    def open(self, request: pb.LaneRequest) -> StoreSink:
        gateway = (request.relay_address, request.relay_tls)
        if request.relay_address and self.unreachable.get(gateway, 0.0) < time.monotonic():
            try:
                channel = self._channel(*gateway)
                grpc.channel_ready_future(channel).result(timeout=CONNECT_SECONDS)
                return RelaySink(self.requests, request, self.idle_seconds, channel)
            except grpc.FutureTimeoutError:
                self.unreachable[gateway] = time.monotonic() + UNREACHABLE_SECONDS
                log.warning("cannot reach the gateway's relay at %s within %.0f s: its requests answer through the "
                            "store for %.0f s (set LENET_RELAY_ADDRESS on the gateway to an address workers reach)",
                            request.relay_address, CONNECT_SECONDS, UNREACHABLE_SECONDS)
        return StoreSink(self.requests, request.request_id, self.idle_seconds)

    def _channel(self, address: str, tls: bool) -> grpc.Channel:
        with self.lock:
            if (address, tls) not in self.channels:
                settings = self.settings.model_copy(update={"tls": tls} if tls else
                                                    {"tls": False, "ca": None, "client_cert": None})
                self.channels[address, tls] = open_channel(address, settings)
            return self.channels[address, tls]
