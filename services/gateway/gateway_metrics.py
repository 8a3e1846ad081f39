"""The gateway's Prometheus metrics: every RPC by method and status code with its latency, the open streams, and
what the store holds — jobs by state, work waiting on each lane, live workers — read when scraped (each one
counter read, whatever the history)."""
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services import exposure
from lenet_services.store import Store

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class GatewayMetrics:
    def __init__(self, store: Store):
        self.registry = CollectorRegistry()
        self.rpcs = Counter("lenet_rpcs", "RPCs answered, by method and status code", ["method", "code"],
                            registry=self.registry)
        self.seconds = Histogram("lenet_rpc_seconds", "Time from call to answer (streams: to their end)",
                                 ["method"], buckets=SECONDS, registry=self.registry)
        self.streams = Gauge("lenet_open_streams", "WatchJob and Inspect streams open now", registry=self.registry)
        self.registry.register(StoreCollector(store))

    def serve(self, port: int, host: str = "127.0.0.1", metrics_open: bool = False) -> None:
        """Serve them at http://HOST:PORT/metrics; exposure.Refused beyond loopback unless `metrics_open`."""
        exposure.check_metrics("gateway metrics", host, metrics_open=metrics_open)
        start_http_server(port, host, registry=self.registry)


class StoreCollector:
    """Gauges read from the store at scrape time."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self):
        jobs = GaugeMetricFamily("lenet_jobs", "Jobs in the store by state (ended ones until their retention ends)",
                                 labels=["state"])
        for state in pb.JobState.values():
            if state:
                jobs.add_metric([pb.JobState.Name(state)], self.store.jobs.count(state=state))
        waiting = GaugeMetricFamily("lenet_lane_waiting", "Work queued on a lane and not yet taken by a worker",
                                    labels=["lane", "kind"])
        workers = GaugeMetricFamily("lenet_workers", "Live worker processes by lane", labels=["lane"])
        live = self.store.workers.lanes()
        for device in contract.DEVICES:
            for name in contract.LANES:
                lane = contract.lane(device, name)
                queued_jobs, queued_requests = self.store.workers.waiting(lane)
                waiting.add_metric([lane, "jobs"], queued_jobs)
                waiting.add_metric([lane, "requests"], queued_requests)
                workers.add_metric([lane], live.get(lane, 0))
        yield from (jobs, waiting, workers)
