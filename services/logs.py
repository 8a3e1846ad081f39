"""Log lines of the service's processes: text or JSON (the log_format setting), each carrying the job and the
request it is about, so one job can be followed through the gateway and the workers (`grep job=ID`, or a JSON
query on job_id), and, when the process traces, the trace it was written in (trace=ID, trace_id)."""
import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

from lenet_protos import tracing

JOB = contextvars.ContextVar("job_id", default="")
REQUEST = contextvars.ContextVar("request_id", default="")
TEXT = "%(asctime)s %(levelname)s %(name)s [job=%(job_id)s request=%(request_id)s trace=%(trace_id)s] %(message)s"


class _Context(logging.Filter):
    """Stamps every record with the current job, request and trace ids ("-" when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = getattr(record, "job_id", "") or JOB.get() or "-"
        record.request_id = getattr(record, "request_id", "") or REQUEST.get() or "-"
        record.trace_id = tracing.trace_id() or "-"
        return True


def configure(log_format: str = "text", level: str | int = logging.INFO) -> None:
    """One handler on stderr for the whole process, in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(job_id)s %(request_id)s %(trace_id)s "
                                       "%(message)s",
                                       rename_fields={"levelname": "level", "name": "logger", "asctime": "time"})
                         if log_format == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@contextmanager
def about(job_id: str = "", request_id: str = "") -> Iterator[None]:
    """Log lines written inside the block name this job and request."""
    tokens = [(var, var.set(value)) for var, value in ((JOB, job_id), (REQUEST, request_id)) if value]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
