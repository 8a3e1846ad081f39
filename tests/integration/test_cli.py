"""The `lenet` command as a user runs it: `lenet up` in the foreground, `lenet train --wait --json` against it."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from services.store.redis_server import free_port

LENET = str(Path(sys.executable).parent / "lenet")


def test_up_train_wait_json_and_clean_stop(data_dir, tmp_path):
    port = free_port()
    up = subprocess.Popen([LENET, "up", "--port", str(port), "--log-dir", str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        ready = up.stdout.readline()
        assert f"127.0.0.1:{port}" in ready, ready
        env = {**os.environ, "LENET_GATEWAY": f"127.0.0.1:{port}"}
        done = subprocess.run([LENET, "train", "--epochs", "1", "--limit", "500", "--eval-limit", "200", "--wait",
                               "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["state"] == "SUCCEEDED" and job["model_id"] and 0 < job["metrics"]["test_accuracy"] <= 1
        listed = json.loads(subprocess.run([LENET, "jobs", "--json"], env=env, capture_output=True, text=True,
                                           timeout=60).stdout)
        assert [j["id"] for j in listed] == [job["id"]]
        missing = subprocess.run([LENET, "job", "deadbeefdeadbeef"], env=env, capture_output=True, text=True,
                                 timeout=60)
        assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
    assert up.returncode == 0
    children = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert children == []


def test_gpu_worker_refuses_without_gpu(data_dir):
    result = subprocess.run([sys.executable, "-m", "workers", "--device", "gpu"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode != 0
    assert "refused to start" in result.stderr and "GPU" in result.stderr


def test_data_fetch_refuses_files_whose_checksum_is_not_official(data_dir, tmp_path):
    """The shared development copy is not byte-identical to the official archives (see its README): served
    as a mirror on loopback, every file must be refused, and nothing may be left in the destination."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(data_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "mnist"
        result = subprocess.run([LENET, "data", "fetch", "--dir", str(dest), "--mirror",
                                 f"http://127.0.0.1:{server.server_address[1]}/"], capture_output=True, text=True,
                                timeout=120)
    finally:
        server.shutdown()
    assert result.returncode != 0
    assert "sha256" in result.stderr and "Traceback" not in result.stderr
    assert list(dest.iterdir()) == []
