"""What the gateway does for each sweep RPC, with the same rules as for jobs: validation first, a caller sees and
changes only their own sweeps (an admin: all), and what they may not see is NOT_FOUND.

The sweep itself moves on in lenet_services.sweep_driver, called here on submit and cancel and by whoever ends one
of its jobs.
"""
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

from lenet_protos import contract
from lenet_protos.contract import FINAL_STATES, SWEEP_FINAL_STATES
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition, NotFound
from lenet_services.gateway import validation as check
from lenet_services.store import Store
from lenet_services.store.idempotency import Idempotency
from lenet_services.sweep_driver import SweepDriver
from lenet_services.task_queue import TaskSender

WATCH_POLL_SECONDS = 1.0    # how often WatchSweep looks for a change


class SweepService:
    def __init__(self, store: Store, tasks: TaskSender):
        self.store = store
        self.driver = SweepDriver(store, tasks)

    def submit(self, request: pb.SweepRequest, caller) -> pb.Sweep:
        sweep_id = uuid.uuid4().hex[:16]
        request = check.sweep(request, contract.sweep_model_name(sweep_id))
        sweep, created = self.store.sweeps.create(pb.Sweep(id=sweep_id, request=request, owner=caller.user),
                                                  Idempotency.of("SubmitSweep", request.idempotency_key, request))
        if created:
            sweep = self.driver.start(sweep)
        return self.driver.view(sweep)

    def _sweep(self, sweep_id: str, caller) -> pb.Sweep:
        sweep = self.store.sweeps.get(check.sweep_id(sweep_id))
        if not caller.owns(sweep.owner):
            raise NotFound(f"sweep {sweep_id!r} not found")
        return sweep

    def get(self, request: pb.GetSweepRequest, caller) -> pb.Sweep:
        return self.driver.view(self._sweep(request.sweep_id, caller), importances=True)

    def list(self, request: pb.ListSweepsRequest, caller) -> pb.ListSweepsResponse:
        page_size, page_token = check.page(request.page_size, request.page_token)
        page = self.store.sweeps.page(caller.scope, page_size, page_token)
        shown = []
        for sweep in page.items:
            sweep = self.driver.view(sweep)
            del sweep.trials[:]
            shown.append(sweep)
        return pb.ListSweepsResponse(sweeps=shown, next_page_token=page.next_page_token)

    def watch(self, request: pb.WatchSweepRequest, caller) -> Iterator[pb.Sweep]:
        """The sweep now, then again each time it changes, until it is in a final state (or the caller goes)."""
        sweep_id, last = self._sweep(request.sweep_id, caller).id, None
        while caller.active():
            sweep = self.driver.view(self.store.sweeps.get(sweep_id))
            if sweep != last:
                yield sweep
                last = sweep
            if sweep.state in SWEEP_FINAL_STATES:
                return
            time.sleep(WATCH_POLL_SECONDS)

    def cancel(self, request: pb.CancelSweepRequest, caller) -> pb.Sweep:
        sweep = self._sweep(request.sweep_id, caller)
        if sweep.state in SWEEP_FINAL_STATES:
            raise FailedPrecondition(f"sweep {sweep.id} already ended as {pb.SweepState.Name(sweep.state)}")
        self.store.sweeps.update(sweep.id, lambda stored: setattr(stored, "cancel_requested", True))
        return self.driver.view(self.driver.advance(sweep.id) or self.store.sweeps.get(sweep.id))

    def before_deleting(self, job: pb.Job) -> None:
        """An ended job of a sweep is about to be deleted: the sweep first writes down how it ended (else it would
        take the missing job for one its creator never made, and run the trial, or score the winner, again)."""
        if job.sweep_id and job.state in FINAL_STATES:
            with suppress(NotFound):   # the sweep is gone already
                self.driver.advance(job.sweep_id)

    def delete(self, request: pb.DeleteSweepRequest, caller) -> pb.DeleteSweepResponse:
        sweep = self._sweep(request.sweep_id, caller)
        self.store.sweeps.delete(sweep.id, self.store.studies.keys(sweep.id))
        return pb.DeleteSweepResponse(sweep_id=sweep.id)
