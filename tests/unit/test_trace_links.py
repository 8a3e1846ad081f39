"""The dashboard links a job or an evaluation to its trace when the trace_url setting names a trace UI (e.g. Jaeger's
page of a trace), from the W3C trace context the job record carries; without either, no link."""
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.dashboard import payloads

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
JAEGER = "http://localhost:16686/trace/{trace_id}"


def test_a_traced_job_links_to_its_trace_in_the_configured_ui():
    job = pb.Job(id="ab" * 8, trace_context={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
    assert payloads.job(job, trace_url=JAEGER)["trace_url"] == f"http://localhost:16686/trace/{TRACE_ID}"
    assert payloads.trace_link(JAEGER, job) == f"http://localhost:16686/trace/{TRACE_ID}"


def test_no_link_without_a_template_or_a_trace():
    traced = pb.Job(trace_context={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
    assert "trace_url" not in payloads.job(traced)
    assert payloads.job(pb.Job(), trace_url=JAEGER)["trace_url"] == ""
    assert payloads.trace_link(JAEGER, pb.Job(trace_context={"traceparent": "garbage"})) == ""
