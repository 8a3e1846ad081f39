"""`lenet demo`: the seed notebook through the service, on the embedded stack when no gateway answers."""
import contextlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.cli.output import console, follow
from clients.client import LenetClient, gateway_address
from protos.lenet.v1 import lenet_pb2 as pb


def register(commands) -> None:
    demo = commands.add_parser("demo", help="run the seed notebook through the service (starts a stack if needed)")
    demo.add_argument("--gateway", default=None, help="use this gateway instead of starting the embedded stack")
    demo.add_argument("--quick", action="store_true", help="train 2 epochs on 10,000 images instead of the seed's "
                                                            "20 epochs on 60,000")
    demo.set_defaults(run=run_demo)


def answers(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            return True
        except grpc.RpcError:
            return False


def ensure_mnist() -> None:
    """The embedded stack reads MNIST from $LENET_DATA_DIR: download the official files there when missing."""
    from workers.engine import mnist

    folder = mnist.data_dir()
    try:
        for split in mnist.SPLITS:
            mnist.find_split_files(split, folder)
    except mnist.DatasetError:
        console.print(f"MNIST is not in {folder}: downloading the four official files …")
        mnist.fetch(folder, log=console.print)


@contextlib.contextmanager
def service(address: str | None):
    """The given or default gateway when it answers, else a private embedded stack for the demo's duration."""
    address = gateway_address(address)
    if answers(address):
        console.print(f"using the gateway at {address}")
        yield address
        return
    from services.stack import Stack

    ensure_mnist()
    console.print("no gateway answers: starting the embedded stack (Redis, one CPU worker, gateway) …")
    with Stack() as stack:
        console.print(f"stack ready: gateway {stack.address}, logs in {stack.log_dir}")
        yield stack.address


def run_demo(args) -> int:
    with service(args.gateway) as address, LenetClient(address) as client:
        options = dict(epochs=2, limit=10_000) if args.quick else {}
        console.rule("Training LeNet (seed hyper-parameters)")
        job = follow(client, client.train(**options))
        console.print(f"final test accuracy {job.metrics.test_accuracy:.4f} (the seed reports 0.9901 after 20 "
                      f"epochs); model {job.model_id}")
        return 0 if job.state == pb.SUCCEEDED else 1
