"""What a user of the Python client sees of its results and where it connects: results print in one short line,
and LenetClient() takes the environment's gateway (the README's snippet hard-codes no address)."""
import numpy as np

from lenet_clients.client import LenetClient
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.tensors import to_tensor


def test_results_print_in_one_short_line():
    evaluation = pb.Evaluation(job_id="0123456789abcdef", labels=list("0123456789"), confusion_matrix=range(100))
    evaluation.worst.add(prediction=3, reference=5, count=600, indices=range(600))
    assert str(evaluation.worst) == "[Cell(prediction=3, reference=5, count=600, indices=[600 values])]"
    assert repr(evaluation) == ("Evaluation(job_id='0123456789abcdef', labels=['0', '1', '2', '3', '4', '5', '6', '7', "
                                "'8', '9'], "
                                "confusion_matrix=[100 values], worst=[1 Cell])")
    job = pb.Job(id="0123456789abcdef", state=pb.SUCCEEDED, train=pb.TrainRequest(
        hyper_parameters=pb.HyperParameters(epochs=2), train_data=pb.Dataset(images=to_tensor(np.zeros((9, 28, 28),
                                                                                                     np.uint8)))))
    assert repr(job) == ("Job(id='0123456789abcdef', state=SUCCEEDED, train=TrainRequest(hyper_parameters="
                         "HyperParameters(epochs=2), train_data=Dataset(images=Tensor(shape=[9, 28, 28], dtype=UINT8,"
                         " data=<7,056 bytes>))))")
    assert "indices: 599" in str(evaluation)          # str() is still the whole message, as protobuf prints it


def test_the_client_takes_the_environments_gateway_and_its_default_port(monkeypatch):
    monkeypatch.setenv("LENET_GATEWAY", "gateway.example")
    with LenetClient() as client:
        assert client.address == "gateway.example:50051"
    with LenetClient("[::1]") as client:
        assert client.address == "[::1]:50051"
