"""MXNet's thread count and cores, set before it is imported (each case runs in a fresh interpreter)."""
import json
import os
import subprocess
import sys

import pytest

RUN = """
import json, os, sys
from lenet_workers.engine.threads import use_cores
try:
    settings = use_cores(json.loads(sys.argv[1]))
except ValueError as error:
    print(json.dumps({"error": str(error)}))
    sys.exit()
import mxnet as mx
x = mx.nd.ones((100, 20, 24, 24))
for _ in range(3):
    mx.nd.Convolution(x, mx.nd.ones((50, 20, 5, 5)), no_bias=True, kernel=(5, 5), num_filter=50).wait_to_read()
print(json.dumps({"settings": settings, "threads": len(os.listdir("/proc/self/task")),
                  "affinity": sorted(os.sched_getaffinity(0))}))
"""


def run(cores) -> dict:
    output = subprocess.run([sys.executable, "-c", RUN, json.dumps(cores)], capture_output=True, text=True,
                            check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_a_core_count_sets_mxnets_openmp_threads():
    one, two = run(1), run(2)
    assert one["settings"]["OMP_NUM_THREADS"] == "1" and two["settings"]["OMP_NUM_THREADS"] == "2"
    assert two["settings"]["pinned"] == "false" and two["affinity"] == sorted(os.sched_getaffinity(0))
    assert two["threads"] > one["threads"]  # MXNet starts threads by the count it read: OpenMP's, its own pools


def test_chosen_cores_pin_the_process():
    first = min(os.sched_getaffinity(0))
    result = run([first])
    assert result["affinity"] == [first]
    assert result["settings"] == {"cpus": str(first), "pinned": "true", "OMP_NUM_THREADS": "1",
                                  "MXNET_OMP_MAX_THREADS": "1"}


@pytest.mark.parametrize("cores, message", [(0, "at least 1"), ([], "CPU ids among"), ([4096], "CPU ids among")])
def test_bad_cores_are_refused(cores, message):
    assert message in run(cores)["error"]


def test_too_late_once_mxnet_is_imported():
    code = "import mxnet; from lenet_workers.engine.threads import use_cores; use_cores(2)"
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert failed.returncode != 0 and "must run before `import mxnet`" in failed.stderr


SHARE = """
import json, os, sys
from lenet_workers.__main__ import share_cores
share_cores(sys.argv[1], 1, None)
print(json.dumps(os.environ.get("OMP_WAIT_POLICY")))
"""


@pytest.mark.parametrize("role, preset, expected", [("serve", None, "PASSIVE"), ("train", None, None),
                                                    ("serve", "ACTIVE", "ACTIVE")])
def test_the_serving_processs_openmp_threads_sleep_between_passes_unless_told_otherwise(role, preset, expected):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    output = subprocess.run([sys.executable, "-c", SHARE, role], capture_output=True, text=True, check=True,
                            env=env).stdout
    assert json.loads(output.strip().splitlines()[-1]) == expected
