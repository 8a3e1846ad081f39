"""`lenet` when something is wrong: one line on stderr naming the problem and a non-zero exit code, never a
traceback; shell completion. No stack: nothing answers where these commands look."""
import os
import subprocess
from pathlib import Path

from lenet_cli import LENET, run

from lenet_services.store.redis_server import free_port


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("lenet: "), done.stderr
    return done.stderr


def nowhere() -> str:
    return f"127.0.0.1:{free_port()}"


def test_an_unreachable_or_malformed_gateway_is_one_line_naming_the_address_and_how_to_choose_another():
    given, configured = nowhere(), nowhere()
    for said, address, source in ((one_line_error(run("--gateway", given, "jobs")), given, "from --gateway"),
                                  (one_line_error(run("models", LENET_GATEWAY=configured)), configured,
                                   "from LENET_GATEWAY")):
        assert said.startswith(f"lenet: UNAVAILABLE: no gateway answers at {address} ({source}; Connection refused)")
        assert "--gateway HOST:PORT or LENET_GATEWAY" in said and "failed to connect" not in said
    assert "not an address" in one_line_error(run("jobs", "--gateway", "not an address"))


def test_a_gateway_without_a_port_is_dialled_on_50051():
    """Whether or not a gateway answers there on this machine, the address dialled is named."""
    for done in (run("health", "--gateway", "127.0.0.1", "--timeout", "5"), run("health", LENET_GATEWAY="127.0.0.1")):
        assert "127.0.0.1:50051" in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_malformed_setting_is_one_line_naming_it():
    assert one_line_error(run("jobs", LENET_TIMEOUT="soon")).startswith("lenet: bad setting: LENET_TIMEOUT:")
    assert one_line_error(run("up", LENET_HEARTBEAT_SECONDS="-1")).startswith(
        "lenet: bad setting: LENET_HEARTBEAT_SECONDS:")


def test_a_bad_redis_url_is_one_line_before_anything_starts(data_dir):
    port = free_port()
    for command in (["up", "--port", str(port)], ["gateway", "--port", str(port)], ["worker"]):
        for url in ("nonsense", f"redis://{nowhere()}/0"):
            said = one_line_error(run(*command, REDIS_URL=url))
            assert said.startswith(f"lenet: cannot use Redis at {url} (REDIS_URL): "), said


def test_up_without_mnist_says_where_it_looked_and_how_to_get_it(tmp_path):
    said = one_line_error(run("up", "--port", str(free_port()), LENET_DATA_DIR=str(tmp_path)))
    assert str(tmp_path) in said and "`lenet data fetch`" in said and "LENET_DATA_DIR" in said


def test_demo_with_a_gateway_that_does_not_answer_fails_rather_than_start_its_own(tmp_path):
    address = nowhere()
    for done in (run("demo", "--gateway", address, "--out", str(tmp_path)),
                 run("demo", "--out", str(tmp_path), LENET_GATEWAY=address)):
        assert one_line_error(done).startswith(f"lenet: no gateway answers at {address}")
    assert list(tmp_path.iterdir()) == []


def test_data_fetch_keeps_files_that_are_not_the_official_ones_unless_forced(data_dir, tmp_path):
    """The development copy's training images are rebuilt (see its README): not the official archive."""
    kept = tmp_path / "train-images-idx3-ubyte.gz"
    kept.write_bytes(Path(data_dir, kept.name).read_bytes())
    said = one_line_error(run("data", "fetch", "--dir", str(tmp_path), "--mirror", f"http://{nowhere()}/"))
    assert said.startswith(f"lenet: {kept}: not the official file (sha256 differs): refusing to replace it; "
                           f"`lenet data fetch --force`"), said
    assert kept.read_bytes() == Path(data_dir, kept.name).read_bytes() and list(tmp_path.iterdir()) == [kept]


def test_demo_without_data_or_network_is_one_line_and_leaves_no_folder_behind(tmp_path):
    """In a network namespace of its own (only loopback, where no gateway answers): the embedded stack needs MNIST,
    which cannot be downloaded."""
    environment = {key: value for key, value in os.environ.items() if key != "LENET_GATEWAY"}
    environment["LENET_DATA_DIR"] = str(tmp_path / "cache" / "mnist")
    done = subprocess.run(["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', LENET, "demo",
                           "--quick", "--out", str(tmp_path / "report")], env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"lenet: no MNIST in {tmp_path}/cache/mnist, "
                                                                    f"and could not fetch "), done.stderr
    assert "`lenet data fetch`" in done.stderr and list(tmp_path.iterdir()) == []


def test_usage_errors_name_the_option():
    refused = run("train", "--momentum", "1")   # [0, 1)
    assert refused.returncode == 2 and "--momentum" in refused.stderr and "Traceback" not in refused.stderr


def test_shell_completion():
    script = run("completion", "bash")
    assert script.returncode == 0 and "_LENET_COMPLETE=bash_complete" in script.stdout
    completed = run(_LENET_COMPLETE="bash_complete", COMP_WORDS="lenet jobs --state ca", COMP_CWORD="3")
    assert completed.stdout.split() == ["plain,cancelled"]
