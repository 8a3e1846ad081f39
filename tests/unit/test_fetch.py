"""Downloading MNIST from mirrors, served here from a loopback HTTP server with small synthetic files."""
import gzip
import hashlib
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lenet_protos import mnist
from lenet_protos.mnist import DatasetError


def idx_gz(array: np.ndarray) -> bytes:
    return gzip.compress(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
                         + array.tobytes())


rng = np.random.default_rng(0)
FILES = {
    "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
    "train-labels-idx1-ubyte.gz": idx_gz(np.array([5, 0, 4], np.uint8)),
    "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)),
    "t10k-labels-idx1-ubyte.gz": idx_gz(np.array([7, 2], np.uint8)),
}
SHA256 = {name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}


class Mirrors(BaseHTTPRequestHandler):
    """/good/ serves the files, /corrupt/ wrong bytes, /short/ half of each file with a matching length,
    /cut/ a Content-Length promising the whole file before the connection drops; anything else is a 404."""
    requests = []

    def do_GET(self):
        Mirrors.requests.append(self.path)
        kind, _, name = self.path.strip("/").partition("/")
        data = FILES.get(name)
        if data is None or kind not in ("good", "corrupt", "short", "cut"):
            self.send_error(404)
            return
        body = {"good": data, "corrupt": data[::-1], "short": data[:len(data) // 2], "cut": data[:10]}[kind]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) if kind == "cut" else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Mirrors)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    Mirrors.requests = []
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def fetch(dest, mirrors, log=None, sha256=SHA256):
    return mnist.fetch(dest, mirrors=mirrors, sha256=sha256, timeout=10, log=log or (lambda message: None))


def test_fetch_verifies_and_places_every_file(server, tmp_path):
    paths = fetch(tmp_path / "mnist", [f"{server}/good/"])
    assert [p.name for p in paths] == list(FILES)
    assert {p.name: p.read_bytes() for p in paths} == FILES
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(FILES)
    images, labels = mnist.load_split("train", tmp_path / "mnist")
    assert images.shape == (3, 28, 28) and labels.tolist() == [5, 0, 4]


def test_a_corrupt_mirror_is_refused_and_the_next_one_used(server, tmp_path):
    messages = []
    paths = fetch(tmp_path, [f"{server}/corrupt/", f"{server}/good/"], log=messages.append)
    assert {p.name: p.read_bytes() for p in paths} == FILES
    assert any("refused" in m and "/corrupt/" in m and "sha256" in m for m in messages)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)


def test_truncated_downloads_everywhere_fail_and_leave_nothing_behind(server, tmp_path):
    mirrors = [f"{server}/short/", f"{server}/cut/", f"{server}/missing/"]
    with pytest.raises(DatasetError, match="could not fetch train-images-idx3-ubyte.gz") as error:
        fetch(tmp_path, mirrors)
    for reason in ("/short/train-images-idx3-ubyte.gz: sha256",
                   "/cut/train-images-idx3-ubyte.gz: download cut short: 10 of",
                   "/missing/train-images-idx3-ubyte.gz: HTTP Error 404"):
        assert reason in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_file_with_the_right_checksum_must_still_be_idx(server, tmp_path):
    not_idx = FILES["train-images-idx3-ubyte.gz"][::-1]  # what /corrupt/ serves
    sha256 = {"train-images-idx3-ubyte.gz": hashlib.sha256(not_idx).hexdigest()}
    with pytest.raises(DatasetError, match="could not fetch train-images-idx3-ubyte.gz: .*/corrupt/.*IDX"):
        fetch(tmp_path, [f"{server}/corrupt/"], sha256=sha256)
    assert list(tmp_path.iterdir()) == []


def test_files_already_present_are_not_downloaded_again_and_others_replaced_only_by_force(server, tmp_path):
    fetch(tmp_path, [f"{server}/good/"])
    assert len(Mirrors.requests) == 4
    fetch(tmp_path, [f"{server}/good/"])
    assert len(Mirrors.requests) == 4
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(b"damaged")
    with pytest.raises(mnist.NotOfficial) as refused:
        fetch(tmp_path, [f"{server}/good/"])
    assert refused.value.paths == [damaged] and str(damaged) in str(refused.value)
    assert len(Mirrors.requests) == 4 and damaged.read_bytes() == b"damaged"
    mnist.fetch(tmp_path, mirrors=[f"{server}/good/"], sha256=SHA256, timeout=10, log=lambda _: None, force=True)
    assert Mirrors.requests[4:] == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert damaged.read_bytes() == FILES["t10k-labels-idx1-ubyte.gz"]


def test_a_fetch_that_places_nothing_leaves_no_folder_behind(server, tmp_path):
    with pytest.raises(DatasetError):
        fetch(tmp_path / "cache" / "lenet" / "mnist", [f"{server}/missing/"])
    assert list(tmp_path.iterdir()) == []
