"""services/dashboard/live.py: what a job page's event stream sends, over a stand-in LenetService."""
import json

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.dashboard import live
from lenet_services.gateway.service import Caller


class OneJob:
    """get_job gives the record of the moment; watch_job gives `events`, the job running from the first."""

    def __init__(self, events: list[pb.JobEvent]):
        self.events = events
        self.job = pb.Job(id="0123456789abcdef", kind=pb.TRAIN, state=pb.QUEUED, queue="cpu.train",
                          train=pb.TrainRequest(hyper_parameters=pb.HyperParameters(epochs=2)))

    def get_job(self, request, caller):
        record = pb.Job()
        record.CopyFrom(self.job)
        return record

    def watch_job(self, request, caller):
        self.job.state = pb.RUNNING
        yield from self.events


def sent(events: list[pb.JobEvent]) -> list[tuple[str, dict]]:
    stream = live.job_events(OneJob(events), "0123456789abcdef", "")(Caller())
    return [(message.name, json.loads(json.dumps(message.document))) for message in stream]


def test_a_batch_event_carries_the_jobs_progress_at_that_batch():
    batch = pb.JobEvent(id="1-0", batch=pb.BatchProgress(epoch=2, batch=5, batches_per_epoch=20))
    messages = sent([pb.JobEvent(id="0-0", state=pb.StateChange(state=pb.RUNNING)), batch])
    assert [name for name, _ in messages] == ["job", "event", "job", "event", "end"]
    assert messages[0][1]["progress"]["label"] == "waiting on cpu.train"
    assert messages[2][1]["state"] == "RUNNING"
    event = messages[3][1]
    assert event["kind"] == "batch" and event["batch"]["batch"] == 5
    assert event["progress"] == {"fraction": (1 + 5 / 20) / 2, "label": "epoch 2/2, batch 5/20"}
    assert "progress" not in messages[1][1]          # only batch events carry one


class Workers:
    """list_workers gives one worker whose heartbeat moves on every second call."""

    def __init__(self):
        self.calls = 0

    def list_workers(self, request, caller):
        self.calls += 1
        return pb.ListWorkersResponse(workers=[pb.Worker(name="cpu-1@host.serve", lane="cpu.serve",
                                                         last_seen=f"2024-01-01T00:00:{self.calls // 2:02d}Z")])


def test_the_workers_table_is_sent_again_when_a_heartbeat_moves_the_last_seen_time(monkeypatch):
    monkeypatch.setattr(live, "pause", lambda caller: None)
    polls = iter(range(4))
    caller = Caller(active=lambda: next(polls, None) is not None)
    messages = list(live.worker_table(Workers())(caller))
    assert [message and message.document["workers"][0]["last_seen"] for message in messages] == [
        "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", None, "2024-01-01T00:00:02Z"]
