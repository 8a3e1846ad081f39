"""Server-sent event streams: what the browser sees change without reloading.

LenetService is synchronous (its waits are Redis blocking reads of at most a second), so each stream's generator
runs in worker threads, one step at a time, and its Caller stays active only while the browser is connected:
once it goes, the generator notices within a second and ends (as the gRPC servicer's streams do).
"""
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from lenet_protos.documents import message_dict
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.dashboard import payloads
from lenet_services.gateway.service import Caller, LenetService
from lenet_services.gateway.status_codes import status_of

POLL_SECONDS = 1.0       # how often a table stream reads its page again
TABLE_SIZE = 50          # jobs a live table shows (the newest first)
KEEPALIVE = ": keepalive\n\n"


class Message:
    """One server-sent event: a name, a JSON document and, where the browser may resume from it, an id."""

    def __init__(self, name: str, document, event_id: str = ""):
        self.name, self.document, self.event_id = name, document, event_id

    def encode(self) -> str:
        lines = [f"id: {self.event_id}"] if self.event_id else []
        return "\n".join([*lines, f"event: {self.name}", f"data: {json.dumps(self.document)}", "", ""])


def response(stream: Callable[[Caller], Iterator[Message | None]], caller: Caller) -> StreamingResponse:
    """An event-stream response over `stream(caller)`, whose Caller turns inactive when the browser leaves.
    The generator yields Message, or None for "nothing new" (sent as a keep-alive comment)."""
    connected = threading.Event()
    connected.set()
    caller = dataclasses.replace(caller, active=connected.is_set)

    async def events():
        iterator = stream(caller)
        try:
            while True:
                item = await run_in_threadpool(next, iterator, StopIteration)
                if item is StopIteration:
                    return
                yield KEEPALIVE if item is None else item.encode()
        except Exception as error:  # told to the page as the gateway tells it, not dropped
            code, message = status_of(error)
            yield Message("failure", {"message": message, "code": code.name}).encode()
        finally:
            connected.clear()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def pause(caller: Caller, seconds: float = POLL_SECONDS) -> None:
    end = time.monotonic() + seconds
    while caller.active() and time.monotonic() < end:
        time.sleep(0.1)


# -- one job -------------------------------------------------------------------------------------------------
def job_events(service: LenetService, job_id: str, after_event_id: str,
               trace_url: str = "") -> Callable[[Caller], Iterator]:
    """The job record, then its events as WatchJob gives them (resuming after `after_event_id`), then the
    record again once it has ended and "end", after which the page stops listening. A batch event carries the
    job's progress at that batch (payloads.progress of the record last sent); records link to their trace with
    `trace_url` (the setting)."""
    def stream(caller: Caller) -> Iterator[Message]:
        job = service.get_job(pb.GetJobRequest(job_id=job_id), caller)
        yield Message("job", payloads.job(job, trace_url=trace_url))
        request = pb.WatchJobRequest(job_id=job_id, after_event_id=after_event_id)
        for event in service.watch_job(request, caller):
            document = payloads.event(event)
            if document["kind"] == "batch":
                document["progress"] = payloads.progress(job, event.batch)
            yield Message("event", document, event.id)
            if document["kind"] in ("state", "epoch"):
                job = service.get_job(pb.GetJobRequest(job_id=job_id), caller)
                yield Message("job", payloads.job(job, trace_url=trace_url))
        if caller.active():
            yield Message("end", {})
    return stream


# -- one sweep -----------------------------------------------------------------------------------------------
def sweep_changes(service: LenetService, sweep_id: str) -> Callable[[Caller], Iterator]:
    """The sweep each time it changes (as WatchSweep gives it), then once it has ended the sweep with Optuna's
    parameter importances, and "end"."""
    def stream(caller: Caller) -> Iterator[Message]:
        for sweep in service.sweeps.watch(pb.WatchSweepRequest(sweep_id=sweep_id), caller):
            yield Message("sweep", message_dict(sweep))
        if caller.active():
            yield Message("sweep", message_dict(service.sweeps.get(pb.GetSweepRequest(sweep_id=sweep_id), caller)))
            yield Message("end", {})
    return stream


# -- the jobs table ------------------------------------------------------------------------------------------
class BatchFollower:
    """The latest BatchProgress of each running training job on a page, each followed through WatchJob in a
    thread of its own for as long as the page's stream is open and the job runs."""

    def __init__(self, service: LenetService, caller: Caller):
        self.service, self.caller = service, caller
        self.latest: dict[str, pb.BatchProgress] = {}
        self.followed: set[str] = set()

    def follow(self, jobs: list[pb.Job]) -> None:
        for job in jobs:
            if job.kind == pb.TRAIN and job.state == pb.RUNNING and job.id not in self.followed:
                self.followed.add(job.id)
                threading.Thread(target=self._watch, args=(job.id,), daemon=True, name=f"follow-{job.id}").start()

    def _watch(self, job_id: str) -> None:
        try:
            for event in self.service.watch_job(pb.WatchJobRequest(job_id=job_id), self.caller):
                if event.WhichOneof("kind") == "batch":
                    self.latest[job_id] = event.batch
        except Exception:  # the job went away (deleted, expired): the table shows what the record says
            pass


def on_change(caller: Caller, name: str, read: Callable[[], dict]) -> Iterator[Message | None]:
    """`read()` every POLL_SECONDS while the caller is there, sent as event `name` whenever it has changed."""
    last = None
    while caller.active():
        document = read()
        yield Message(name, document) if document != last else None
        last = document
        pause(caller)


def job_table(service: LenetService, kind: int, state: int) -> Callable[[Caller], Iterator]:
    """The newest jobs (filtered by kind and state) with their progress, sent whenever they change."""
    request = pb.ListJobsRequest(kind=kind, state=state, page_size=TABLE_SIZE)

    def stream(caller: Caller) -> Iterator[Message | None]:
        batches = BatchFollower(service, caller)

        def read() -> dict:
            page = service.list_jobs(request, caller)
            batches.follow(list(page.jobs))
            return {"jobs": [payloads.job(job, batches.latest.get(job.id)) for job in page.jobs],
                    "more": bool(page.next_page_token)}
        return on_change(caller, "jobs", read)
    return stream


# -- workers and lanes ---------------------------------------------------------------------------------------
def worker_table(service: LenetService) -> Callable[[Caller], Iterator]:
    """ListWorkers (live workers, and what waits on each lane), sent whenever it changes: a heartbeat too, as the
    page shows each worker's last one (a few small events a heartbeat period)."""
    def stream(caller: Caller) -> Iterator[Message | None]:
        return on_change(caller, "workers",
                         lambda: message_dict(service.list_workers(pb.ListWorkersRequest(), caller)))
    return stream
