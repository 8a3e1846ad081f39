"""The client host of test_multihost.py. Run in its own network namespace, it uses the client library against the
gateway (LENET_GATEWAY, LENET_TOKEN: the client settings) and prints one JSON object a line for the test to read.

    python multihost_client.py train EPOCHS LIMIT   # submit a training job, print each of its events as it comes
                                                    # (batch progress left out), then the finished job
    python multihost_client.py use MODEL            # evaluate, predict and inspect the model; a call without a
                                                    # token is refused
"""
import json
import sys

import grpc
import numpy as np

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.settings import ClientSettings


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def train(client: LenetClient, epochs: int, limit: int) -> None:
    job = client.train(epochs=epochs, limit=limit, eval_limit=500, init_scale=0.07, model_name="multihost")
    say(kind="submitted", job_id=job.id)
    for event in client.watch(job.id):
        kind = event.WhichOneof("kind")
        if kind in ("batch", "evaluating"):
            continue
        fields = {"kind": kind, "id": event.id, "ms": int(event.id.split("-")[0])}   # Redis's clock, milliseconds
        if kind == "state":
            fields.update(state=pb.JobState.Name(event.state.state), message=event.state.message)
        elif kind == "epoch":
            fields.update(epoch=event.epoch.epoch, worker=client.job(job.id).worker)
        else:
            fields.update(log=event.log)
        say(**fields)
    done = client.job(job.id)
    say(kind="job", state=pb.JobState.Name(done.state), attempts=done.attempts, worker=done.worker,
        model_id=done.model_id, error=done.error)


def use(client: LenetClient, model_id: str) -> None:
    evaluation = client.evaluate_and_wait(model_id, limit=1000)
    images, labels = client.samples(range(200))
    _probabilities, predicted = client.predict(model_id, images)
    layers = client.inspect(model_id, [0, 1])
    history = [metrics.epoch for metrics in client.model(model_id).history]
    try:
        LenetClient(client.address, settings=ClientSettings(token="")).model(model_id)
        refused = "OK"
    except grpc.RpcError as error:
        refused = error.code().name
    say(kind="use", evaluated=evaluation.samples, accuracy=evaluation.overall.accuracy,
        predict_accuracy=float(np.mean(predicted == labels)), predicted=len(predicted),
        layers={name: list(array.shape) for name, array in layers.items()}, history=history,
        without_token=refused)


def main() -> None:
    command, *args = sys.argv[1:]
    with LenetClient(timeout=120) as client:
        if command == "train":
            train(client, int(args[0]), int(args[1]))
        else:
            use(client, args[0])


if __name__ == "__main__":
    main()
