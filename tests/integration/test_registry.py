"""Registered models through the real gateway and workers, as the README shows them: `lenet train --name digits`
twice gives versions 1 and 2, `lenet alias set digits production 1` makes `digits` serve version 1, and moving
the alias to 2 serves version 2 from the next call on, with no restart."""
import grpc
import numpy as np
import pytest
from lenet_cli import run, strict_json, succeeded, write_idx

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import from_tensor, to_tensor

TRAIN = ["--epochs", "1", "--limit", "1000", "--eval-limit", "200", "--init-scale", "0.07", "--wait"]


def lenet(stack, *args: str):
    """`lenet ARGS --json` against the stack: its JSON document."""
    return strict_json(succeeded(run(*args, "--json", gateway=stack.address)))


@pytest.fixture(scope="module")
def digits(stack) -> list[dict]:
    """The README's two trainings under the name "digits", one after the other: their jobs."""
    return [lenet(stack, "train", "--name", "digits", "--seed", str(seed), *TRAIN) for seed in (1, 2)]


def served_version(stack, images_file) -> int:
    return lenet(stack, "predict", "digits", str(images_file))["model_version"]


def test_train_twice_alias_and_move_it_as_the_readme_shows(stack, client, digits, tmp_path):
    assert [job["state"] for job in digits] == ["SUCCEEDED", "SUCCEEDED"]
    versions = {model["version"]: model for model in lenet(stack, "models", "--name", "digits")}
    assert sorted(versions) == [1, 2]
    assert [versions[1]["id"], versions[2]["id"]] == [job["model_id"] for job in digits]
    images_file = write_idx(tmp_path / "digits-idx3-ubyte.gz", client.samples(range(5))[0])

    assert served_version(stack, images_file) == 2                        # no alias yet: the newest version
    moved = lenet(stack, "alias", "set", "digits", "production", "1")
    assert (moved["id"], moved["aliases"]) == (versions[1]["id"], ["production"])
    assert served_version(stack, images_file) == 1
    lenet(stack, "alias", "set", "digits", "production", "2")
    assert served_version(stack, images_file) == 2                        # at once, no restart
    listed = {model["version"]: model["aliases"] for model in lenet(stack, "models", "--name", "digits")}
    assert listed == {1: [], 2: ["production"]}
    table = succeeded(run("models", "--name", "digits", gateway=stack.address)).splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "VERSION", "ALIASES"]
    assert [line.split()[:4] for line in table[1:]] == [[versions[2]["id"], "digits", "2", "production"],
                                                        [versions[1]["id"], "digits", "1", "-"]]


def test_predict_by_name_says_which_version_answered_and_follows_the_alias(stack, client, digits):
    images = client.samples(range(20))[0]

    def request(reference: str) -> pb.PredictRequest:
        return pb.PredictRequest(model_id=reference, images=to_tensor(images, "images"))
    by_version = {version: client.stub.Predict(request(f"digits/{version}"), timeout=60) for version in (1, 2)}
    assert not np.allclose(*(from_tensor(answer.probabilities) for answer in by_version.values()))
    for version in (1, 2, 1):
        client.set_alias("digits", "production", version)
        for reference in ("digits", "digits@production", digits[version - 1]["model_id"]):
            answer = client.stub.Predict(request(reference), timeout=60)
            assert (answer.model_name, answer.model_version) == ("digits", version)
            np.testing.assert_array_equal(from_tensor(answer.probabilities),
                                          from_tensor(by_version[version].probabilities))


def test_an_aliased_version_cannot_be_deleted_until_the_alias_goes(stack, client, digits):
    client.set_alias("digits", "production", 2)
    refused = run("rm", "digits/2", gateway=stack.address)
    assert refused.returncode == 1
    assert "FAILED_PRECONDITION" in refused.stderr and "'production'" in refused.stderr
    assert client.model("digits/2").id == digits[1]["model_id"]
    assert lenet(stack, "alias", "rm", "digits", "production") == {"name": "digits", "alias": "production",
                                                                   "version": 2}
    with pytest.raises(grpc.RpcError) as missing:
        client.model("digits@production")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    bad = run("alias", "set", "digits", "no spaces", "1", gateway=stack.address)
    assert bad.returncode == 1 and bad.stderr.startswith("lenet: INVALID_ARGUMENT: alias:")
