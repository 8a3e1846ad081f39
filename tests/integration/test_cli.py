"""The `lenet` command as a user runs it: `lenet up` in the foreground, `lenet train --wait --json` against it."""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from lenet_cli import LENET, run, strict_json, succeeded, write_idx
from PIL import Image

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import WorkerOptions
from lenet_services.store.redis_server import free_port


def test_up_with_dashboard_and_metrics_train_wait_json_and_clean_stop(data_dir, tmp_path):
    """`lenet up` as in a new shell after `make`: no LENET_DATA_DIR set, the data folder is the one make kept in
    .venv/lenet.env."""
    port, metrics_port, dashboard_port, http_port = free_port(), free_port(), free_port(), free_port()
    new_shell = {key: value for key, value in os.environ.items() if key != "LENET_DATA_DIR"}
    up = subprocess.Popen([LENET, "up", "--port", str(port), "--log-dir", str(tmp_path), "--metrics-port",
                           str(metrics_port), "--dashboard-port", str(dashboard_port), "--http-port", str(http_port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=new_shell)
    try:
        ready = up.stdout.readline()
        assert f"127.0.0.1:{port}" in ready, ready
        shown = re.search(r"Redis (redis://:\*\*\*@127\.0\.0\.1:\d+/0) \(the full URL in (\S+)\)", ready)
        assert shown, ready                                  # the password masked, and where to find it
        env_file = tmp_path / "redis.env"
        assert shown[2] == str(env_file) and env_file.stat().st_mode & 0o077 == 0
        full_url = env_file.read_text().strip().removeprefix("REDIS_URL=")
        assert full_url.replace(full_url.split("@")[0], "redis://:***") == shown[1] and full_url not in ready
        assert run("worker", "--check", REDIS_URL=full_url).returncode == 0   # another terminal, on that Redis
        announced = [up.stdout.readline().strip() for _ in range(4)]
        node_port = int(re.fullmatch(r"metrics of the worker cpu0: http://127\.0\.0\.1:(\d+)/metrics",
                                     announced[3])[1])
        assert node_port > metrics_port                      # the next free port after the gateway's
        assert announced[:3] == [f"Open Inference Protocol: gRPC 127.0.0.1:{port}, REST "
                                 f"http://127.0.0.1:{http_port}/v2", f"dashboard: http://127.0.0.1:{dashboard_port}/",
                                 f"metrics of the gateway: http://127.0.0.1:{metrics_port}/metrics"]
        assert urllib.request.urlopen(f"http://127.0.0.1:{dashboard_port}/healthz", timeout=10).status == 200
        address = f"127.0.0.1:{port}"
        done = run("train", "--epochs", "1", "--limit", "500", "--eval-limit", "200", "--wait", "--json",
                   gateway=address)
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["state"] == "SUCCEEDED" and job["model_id"] and 0 < job["metrics"]["test_accuracy"] <= 1
        listed = json.loads(run("jobs", "--json", gateway=address).stdout)
        assert [j["id"] for j in listed] == [job["id"]]
        missing = run("job", "deadbeefdeadbeef", gateway=address)
        assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
        gateway = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
        assert 'lenet_rpcs_total{code="OK",method="SubmitTraining"} 1.0' in gateway
        assert 'lenet_jobs{state="SUCCEEDED"} 1.0' in gateway
        node = urllib.request.urlopen(f"http://127.0.0.1:{node_port}/metrics", timeout=10).read().decode()
        assert 'lenet_worker_tasks_total{kind="train",outcome="succeeded"} 1.0' in node
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
    assert up.returncode == 0
    children = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert children == []


def test_gpu_worker_refuses_without_gpu(data_dir):
    result = subprocess.run([sys.executable, "-m", "lenet_workers", WorkerOptions(device="gpu").model_dump_json()],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1, result.stderr   # the refusing process's code, not the SIGTERM of its sibling
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
    assert not dest.exists()                      # not even the folder it made


# -- the client commands against the session's stack ----------------------------------------------------------------
SEED_HYPER_PARAMETERS = {"epochs": 20, "batch_size": 100, "learning_rate": 0.05, "momentum": 0.9,
                         "weight_decay": 1e-05, "seed": 42, "normalize": False, "init_scale": 0.01,
                         "input_mean": 0.0, "input_std": 1.0, "lr_schedule": "constant", "warmup_epochs": 0.0,
                         "lr_step_epochs": 10, "lr_step_factor": 0.1, "nesterov": False, "reshuffle": False,
                         "augment_shift": 0.0, "augment_rotation": 0.0, "augment_scale": 0.0}


@pytest.fixture(scope="module")
def waiting_jobs(client) -> list[str]:
    """Training jobs sent to the GPU queue, where nothing takes them here, then cancelled: jobs in a known final
    state."""
    ids = [client.train(device="gpu", epochs=1, limit=100).id for _ in range(5)]
    for job_id in ids:
        client.cancel(job_id)
    return ids


def test_zero_hyper_parameters_are_sent_stored_and_reported(stack, client):
    done = run("train", "--momentum", "0", "--weight-decay", "0", "--seed", "0", "--epochs", "1", "--limit", "500",
               "--wait", "--json", gateway=stack.address)
    job = strict_json(succeeded(done))
    assert job["state"] == "SUCCEEDED"
    assert "accuracy" not in job            # an evaluation's figure: absent, not 0.0, on a training job
    reported = job["train"]["hyper_parameters"]
    assert reported == {**SEED_HYPER_PARAMETERS, "epochs": 1, "momentum": 0, "weight_decay": 0, "seed": 0}
    assert type(reported["seed"]) is int and type(reported["momentum"]) is float
    for stored in (client.job(job["id"]).train.hyper_parameters, client.model(job["model_id"]).hyper_parameters):
        assert stored.HasField("momentum") and stored.momentum == 0
        assert stored.HasField("weight_decay") and stored.weight_decay == 0
        assert stored.HasField("seed") and stored.seed == 0


def test_hyper_parameters_left_out_take_the_seeds_values_and_the_job_prints_once(stack, client):
    job = strict_json(succeeded(run("train", "--limit", "500", "--json", gateway=stack.address)))
    client.cancel(job["id"])
    assert job["train"]["hyper_parameters"] == SEED_HYPER_PARAMETERS
    stored = client.job(job["id"]).train.hyper_parameters
    assert (stored.epochs, stored.batch_size, stored.learning_rate, stored.momentum, stored.weight_decay,
            stored.seed) == (20, 100, 0.05, 0.9, 1e-05, 42)
    client.wait(job["id"])

    done = run("train", "--device", "gpu", "--limit", "500", gateway=stack.address)
    text = succeeded(done)
    job_id = text.split()[0]
    client.cancel(job_id)
    assert text.count(job_id) == 1 and text.count("\n") == 1
    assert done.stderr == f"lenet: job {job_id} trains 20 epochs on 500 images, each scored on 10,000 test images; " \
                          f"no finished training on gpu.train to estimate its time from\n"


def test_train_says_the_jobs_size_and_an_estimate_from_the_last_training(stack, client, trained_model):
    done = run("train", gateway=stack.address)
    job_id = succeeded(done).split()[0]
    client.cancel(job_id)
    client.wait(job_id)                           # ended before the next test lists jobs
    said = done.stderr
    assert said.startswith(f"lenet: job {job_id} trains 20 epochs on 60,000 images, each scored on 10,000 test "
                           f"images: about "), said
    assert " at the pace of job " in said and " images/s)" in said


def test_global_options_go_before_or_after_the_command(stack, client, waiting_jobs):
    nowhere = f"127.0.0.1:{free_port()}"   # $LENET_GATEWAY; the options override it
    before = run("--gateway", stack.address, "--json", "jobs", gateway=nowhere)
    after = run("jobs", "--gateway", stack.address, "--json", gateway=nowhere)
    mixed = run("--json", "jobs", "--timeout", "60", "--gateway", stack.address, gateway=nowhere)
    assert succeeded(before) == succeeded(after) == succeeded(mixed)
    assert [job["id"] for job in strict_json(before.stdout)] == [job.id for job in client.jobs(20)]


def test_version():
    from importlib.metadata import version

    assert succeeded(run("--version")) == f"lenet {version('lenet-service')}\n"


def test_a_closed_pipe_ends_quietly(stack, client, trained_model, tmp_path):
    """`head -1` goes away while lenet still writes. One large write (`jobs --json`) loses its tail without an
    error; many writes after the reader left (a line per image from `predict`) meet a broken pipe, which must end
    lenet quietly too."""
    write_idx(tmp_path / "many-idx3-ubyte.gz", np.repeat(client.samples([0])[0], 3000, axis=0))
    predict = f"{LENET} predict {trained_model.model_id} {tmp_path / 'many-idx3-ubyte.gz'}"
    assert len(succeeded(run(*predict.split()[1:], gateway=stack.address))) > 2 * 65536   # more than a pipe holds
    for command, first_word, exit_code in ((f"{LENET} jobs --json", "[", 0), (f"{LENET} models", "ID", 0),
                                           (predict, "image", 1)):
        piped = subprocess.run(f"{command} | head -1; echo lenet exit ${{PIPESTATUS[0]}} >&2", shell=True,
                               env={**os.environ, "LENET_GATEWAY": stack.address}, executable="/bin/bash",
                               capture_output=True, text=True, timeout=120)
        assert piped.stdout.split()[0] == first_word
        assert piped.stderr == f"lenet exit {exit_code}\n", command   # no traceback, no "Exception ignored"


def test_json_types_are_the_same_in_every_command(stack, client, trained_model, waiting_jobs, tmp_path):
    models = strict_json(succeeded(run("models", "--json", gateway=stack.address)))
    graph = strict_json(succeeded(run("graph", trained_model.model_id, "--json", gateway=stack.address)))
    for count in [model["parameter_count"] for model in models] + [graph["parameter_count"]]:
        assert count == 431_080 and type(count) is int
    assert all(type(model["train_samples"]) is int for model in models)
    assert all(type(n) is int for layer in graph["layers"] for n in [layer["parameter_count"], *layer["output_shape"]])

    queued = strict_json(succeeded(run("job", waiting_jobs[0], "--json", gateway=stack.address)))
    assert (queued["kind"], queued["state"], queued["device"]) == ("TRAIN", "CANCELLED", "GPU")   # enums by name
    assert (queued["started_at"], queued["worker"], queued["attempts"],
            queued["cancel_requested"]) == ("", "", 0, False)                                      # zero values there
    assert "accuracy" not in queued                                     # an evaluation's: absent, not 0, on training

    one = strict_json(succeeded(run("evaluate", trained_model.model_id, "--limit", "1", "--json",
                                    gateway=stack.address)))
    assert one["labels"] == list(range(10)) and [row["label"] for row in one["by_class"]] == list(range(10))
    assert one["samples"] == 1 and all(type(count) is int for count in one["confusion_matrix"])
    reference = one["confusion_matrix"].index(1) % 10    # one image: 9 classes have no reference sample at all
    assert [row["sensitivity"] is None for row in one["by_class"]] == [k != reference for k in range(10)]

    Image.fromarray(client.samples([0])[0][0]).save(tmp_path / "seven.png")
    predicted = strict_json(succeeded(run("predict", trained_model.model_id, str(tmp_path / "seven.png"), "--json",
                                          gateway=stack.address)))["predictions"][0]
    assert type(predicted["label"]) is int and all(type(p) is float for p in predicted["probabilities"])


def test_piped_tables_neither_wrap_nor_cut_ids(stack, client, waiting_jobs):
    narrow = {"COLUMNS": "40"}
    for command, expected in ((["models"], [model.id for model in client.models(20)]),
                              (["jobs", "--limit", "30"], [job.id for job in client.jobs(30)])):
        lines = succeeded(run(*command, gateway=stack.address, **narrow)).splitlines()
        assert [line.split()[0] for line in lines] == ["ID", *expected]
        assert not any("\x1b[" in line for line in lines)   # no colour either


def test_jobs_filters_by_state_and_kind(stack, client, waiting_jobs):
    cancelled = strict_json(succeeded(run("jobs", "--state", "cancelled", "--kind", "train", "--limit", "1000",
                                          "--json", gateway=stack.address)))
    assert {(job["state"], job["kind"]) for job in cancelled} == {("CANCELLED", "TRAIN")}
    assert set(waiting_jobs) <= {job["id"] for job in cancelled}
    finished = strict_json(succeeded(run("jobs", "--state", "SUCCEEDED", "--json", gateway=stack.address)))
    assert finished and {job["state"] for job in finished} == {"SUCCEEDED"}
    evaluations = strict_json(succeeded(run("jobs", "--kind", "evaluate", "--json", gateway=stack.address)))
    assert evaluations and {job["kind"] for job in evaluations} == {"EVALUATE"}
    assert all(("accuracy" in job) == (job["state"] == "SUCCEEDED") for job in evaluations)
    three = strict_json(succeeded(run("jobs", "--limit", "3", "--json", gateway=stack.address)))
    assert [job["id"] for job in three] == [job.id for job in client.jobs(3)]
    refused = run("jobs", "--state", "sleeping", gateway=stack.address)
    assert refused.returncode == 2 and "sleeping" in refused.stderr


def test_latest_and_unique_prefixes_name_models_and_output_shows_the_id(stack, client, trained_model, tmp_path):
    newest, small = client.models(1)[0], trained_model.model_id
    assert strict_json(succeeded(run("graph", "latest", "--json", gateway=stack.address)))["model_id"] == newest.id
    assert strict_json(succeeded(run("graph", "small/1", "--json", gateway=stack.address)))["model_id"] == small
    assert strict_json(succeeded(run("graph", small[:8], "--json", gateway=stack.address)))["model_id"] == small
    evaluation = strict_json(succeeded(run("evaluate", small[:6], "--limit", "20", "--json", gateway=stack.address)))
    assert evaluation["model_id"] == small
    Image.fromarray(client.samples([0])[0][0]).save(tmp_path / "seven.png")
    text = succeeded(run("predict", "latest", str(tmp_path / "seven.png"), gateway=stack.address))
    assert text.splitlines()[-1] == f"model {newest.id} ({newest.name}/{newest.version})"
    assert f"model {small}:" in succeeded(run("inspect", small[:5], "--sample", "3", "--layers", "SoftM",
                                              gateway=stack.address))


def test_nan_hyper_parameters_are_refused_by_the_gateway_naming_the_field(stack):
    refused = run("train", "--momentum", "nan", "--epochs", "1", gateway=stack.address)
    assert refused.returncode == 1 and refused.stderr == \
        "lenet: INVALID_ARGUMENT: hyper_parameters.momentum: must be a number in [0, 1), got NaN\n"


def test_share_on_an_open_gateway_says_sharing_means_nothing_there(stack, trained_model):
    refused = run("share", trained_model.model_id, "--with", "bob", gateway=stack.address)
    assert refused.returncode == 1 and refused.stderr.startswith("lenet: FAILED_PRECONDITION: sharing means nothing "
                                                                 "on an open gateway")


def test_rm_deletes_jobs_and_models(stack, client):
    job = client.wait(client.train(epochs=1, limit=500, eval_limit=100).id)
    deleted = strict_json(succeeded(run("rm", job.id, "--json", gateway=stack.address)))
    assert deleted == [{"kind": "job", "id": job.id}]
    assert succeeded(run("rm", "--model", job.model_id[:8], gateway=stack.address)) == \
        f"deleted model {job.model_id}\n"
    assert job.model_id not in [model.id for model in client.models()]
    again = run("rm", job.id, job.model_id, gateway=stack.address)
    assert again.returncode == 1 and again.stderr.count("NOT_FOUND") == 2


def test_predict_names_doubtful_images_and_takes_options_anywhere(stack, client, trained_model, tmp_path):
    images = client.samples([0, 1])[0]
    Image.fromarray(images[0]).save(tmp_path / "mnist-style.png")
    for i in range(2):
        Image.fromarray(255 - images[i]).save(tmp_path / f"drawn-{i}.png")   # dark on light, as drawn on paper
    doubtful = run("predict", trained_model.model_id, str(tmp_path / "drawn-0.png"), str(tmp_path / "mnist-style.png"),
                   gateway=stack.address)
    assert doubtful.returncode == 0
    warning, hint = doubtful.stderr.splitlines()
    assert warning.startswith("lenet: warning: drawn-0.png is mostly light")
    assert hint == "lenet: hint: digits drawn dark on light paper need --invert"
    inverted = run("predict", trained_model.model_id, str(tmp_path / "drawn-0.png"), "--invert",
                   str(tmp_path / "drawn-1.png"), gateway=stack.address)
    assert [line.split()[0] for line in succeeded(inverted).splitlines()[1:3]] == ["drawn-0.png", "drawn-1.png"]
    assert inverted.stderr == ""


def interrupt(stack, *command: str) -> tuple[str, str]:
    """Start `lenet COMMAND`, wait for its first line (it is following the job by then), press Ctrl-C; the first
    line and stderr."""
    following = subprocess.Popen([LENET, *command], env={**os.environ, "LENET_GATEWAY": stack.address},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_line = following.stdout.readline()
    following.send_signal(signal.SIGINT)
    _, stderr = following.communicate(timeout=60)
    assert following.returncode == 130 and "Traceback" not in stderr, stderr
    return first_line, stderr


def test_ctrl_c_while_following_leaves_the_job_and_says_how_to_get_back(stack, client):
    """A GPU job waits on its queue here (no GPU worker), so the CLI is surely still following it when interrupted."""
    first_line, train_said = interrupt(stack, "train", "--device", "gpu", "--epochs", "1", "--limit", "500", "--wait")
    job_id = first_line.split()[1]   # "submitted ID train QUEUED …"
    _, watch_said = interrupt(stack, "watch", job_id)
    for said in (train_said, watch_said):
        assert f"`lenet watch {job_id}` follows it again" in said and f"`lenet cancel {job_id}` cancels it" in said
    job = client.job(job_id)
    assert job.state == pb.QUEUED and not job.cancel_requested
    client.cancel(job_id)


def test_cancel_wait_returns_once_the_job_has_stopped(stack, client):
    job = client.train(device="gpu", epochs=1, limit=100)   # waits on the GPU queue here
    cancelled = strict_json(succeeded(run("cancel", job.id, "--wait", "--json", gateway=stack.address)))
    assert cancelled["state"] == "CANCELLED"
    assert succeeded(run("rm", job.id, gateway=stack.address)).strip() == f"deleted job {job.id}"


def test_health_workers_and_their_json(stack):
    assert succeeded(run("health", gateway=stack.address)).strip() == f"{stack.address}: SERVING"
    down = run("health", "--gateway", f"127.0.0.1:{free_port()}", "--timeout", "3", gateway=stack.address)
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1 and "UNAVAILABLE" in down.stderr
    listed = strict_json(succeeded(run("workers", "--json", gateway=stack.address)))
    assert sorted(worker["lane"] for worker in listed["workers"]) == ["cpu.serve", "cpu.serve", "cpu.train",
                                                                      "cpu.train"]
    assert all(isinstance(worker["pid"], int) and worker["device"] == "CPU" for worker in listed["workers"])
    assert {lane["name"] for lane in listed["lanes"]} == {"cpu.train", "cpu.serve", "gpu.train", "gpu.serve"}
    text = succeeded(run("workers", gateway=stack.address))
    assert text.splitlines()[0].split() == ["NAME", "LANE", "HOST", "PID", "THREADS", "JOB", "REQUESTS", "LAST",
                                            "SEEN"]
