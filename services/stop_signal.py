"""Waiting in a process's main thread for SIGINT or SIGTERM so that the signal always ends the wait.

Linux hands a signal sent to a process to any one of its threads. When that is not the main thread, CPython only
notes it for the main thread, which runs the handler the next time it runs Python code: an untimed Event.wait()
there never does, so the process went on serving (seen in CI: a gateway kept its ports after SIGTERM, and the
tests after it could not bind them). Waiting in slices of WAKE_SECONDS lets the handler run within one slice."""
import signal
import threading
from collections.abc import Callable

WAKE_SECONDS = 0.5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop(handler: Callable[[int, object], None]) -> None:
    """Call `handler(signum, frame)` on SIGINT and SIGTERM (from the main thread, as Python runs handlers)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def wait(event: threading.Event) -> None:
    """event.wait() that a stop signal's handler, setting the event, always ends."""
    while not event.wait(WAKE_SECONDS):
        pass


def event() -> threading.Event:
    """An event that SIGINT or SIGTERM sets from now on (wait for it with `wait`)."""
    stopped = threading.Event()
    on_stop(lambda *_: stopped.set())
    return stopped
