"""The `lenet` command. Each module here adds its subcommands; `main` wires them together."""
import argparse
import sys

import grpc

from clients.cli import demo, evaluate_commands, export_commands, inspect_commands, job_commands, server_commands

COMMAND_MODULES = [demo, server_commands, job_commands, evaluate_commands, export_commands, inspect_commands]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lenet", description="LeNet-as-a-service: train, evaluate and inspect "
                                     "the MNIST LeNet of the seed notebook through a gRPC gateway.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except grpc.RpcError as error:
        print(f"lenet: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
