"""A short chaos soak (`python -m bench chaos`, issue 19): one worker node under mixed load while a training
process, a serving process, the node, the gateway and Redis are each killed once; nothing acknowledged is lost,
no job, model or epoch event is there twice, every failed call was retryable, and every fault was recovered from."""
import json
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ["training process", "serving process", "worker node", "gateway", "redis"]


def test_a_short_chaos_soak_loses_nothing():
    soak = subprocess.Popen([sys.executable, "-m", "bench", "chaos", "--minutes", "0.5", "--faults", "1",
                             "--nodes", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = soak.communicate(timeout=500)   # within pytest-timeout's 600 s
    except subprocess.TimeoutExpired:
        soak.send_signal(signal.SIGINT)    # the soak stops its stack as it ends, leaving no process behind
        stdout, stderr = soak.communicate()
    print(stdout, stderr[-3000:])
    assert soak.returncode == 0, stderr[-3000:]
    lost, recovery, _calls = json.loads((ROOT / "out" / "bench" / "latest.json").read_text())
    assert lost["figures"]["problems"] == []
    figures = lost["figures"]["figures"]
    for figure in ["jobs lost", "duplicated or misordered epoch events", "jobs with more than one model",
                   "jobs in the store not acknowledged", "jobs failed without a reason", "calls failed, other status",
                   "models of succeeded jobs not readable or not equal", "jobs without exactly one final event",
                   "events a follower saw twice", "succeeded jobs missing an epoch event"]:
        assert figures.get(figure, 0) == 0, figure
    assert figures["training jobs succeeded"] >= 1 and figures["calls answered"] > 0
    faults = recovery["figures"]["faults"]
    assert sorted(fault["kind"] for fault in faults) == sorted(FAULTS)
    assert all(fault["recovered"] is not None for fault in faults), faults
