"""`lenet demo --quick` as a new user runs it: no gateway is given and none answers at the default address, so it
brings up the embedded stack itself, then writes a report with every figure and table of the seed notebook
(tests/integration/test_report.py looks at the report itself)."""
import os
import re
import socket
import subprocess

import matplotlib.image as mpimg
import pytest
from lenet_cli import LENET

from lenet_protos.contract import LAYERS

FIGURES = ["digits.png", "training-curve.png", "graph.png", "confusion.png", "worst-digits.png",
           "worst-probabilities.png", *[f"layer-{layer}.png" for layer in LAYERS], "layer-Full2-bars.png",
           "layer-SoftM-bars.png"]


def listening_at_the_default_address() -> list[str]:
    """The loopback addresses where something accepts connections on the demo's default port (localhost:50051)."""
    found = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.settimeout(3)
                probe.connect((host, 50051))
        except OSError:
            continue
        found.append(host)
    return found


def test_quick_demo_writes_the_whole_report(data_dir, tmp_path):
    if taken := listening_at_the_default_address():
        pytest.fail(f"something accepts connections on port 50051 at {', '.join(taken)}: `lenet demo` would use it as "
                    f"the default gateway instead of starting its own stack; stop it (`lenet up` of another run?) "
                    f"and run again")
    out = tmp_path / "report"
    env = {name: value for name, value in os.environ.items() if name != "LENET_GATEWAY"}   # no gateway given
    run = subprocess.run([LENET, "demo", "--quick", "--out", str(out)], env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "starting the embedded stack" in run.stdout
    assert f"report: {out / 'report.html'}" in run.stdout.replace("\n", "")
    for printed in ("Labels: 5, 0, 4, 1, 9", "Reference", "Prediction", "AccuracyPValue", "McnemarPValue",
                    "Statistics by Class", "Balanced Accuracy", "431,080 parameters", "Inside the network"):
        assert printed in run.stdout, printed

    page = (out / "report.html").read_text()
    for section in ("The data", "Training", "The network", "Evaluation", "Inside the network"):
        assert f"<h2>{section}</h2>" in page, section
    for text in ("Kappa", "AccuracyLower", "Sensitivity", "Conv1", "Pool2", "SoftmaxOutput", "test accuracy"):
        assert text in page, text
    embedded = re.findall(r'<figure id="fig-([^"]+)"><img src="data:image/png;base64,', page)
    assert sorted(f"{name}.png" for name in embedded) == sorted(FIGURES)   # embedded, and each saved beside it
    for name in FIGURES:
        pixels = mpimg.imread(out / name)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.01, name
    assert (out / "lenet.dot").read_text().startswith("digraph")
