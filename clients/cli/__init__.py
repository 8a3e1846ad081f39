"""The `lenet` command: a click group whose commands live one module per group of them; `main` runs it.

Every failure ends as one line on stderr (`lenet: …`) and an exit code: 1 for errors, 2 for usage, 130 for
Ctrl-C. A reader of stdout that goes away (`lenet jobs | head -1`) ends it quietly with 1, as click and rich do.
"""
import os
import sys

import click
import grpc
from click.shell_completion import get_completion_class

from lenet_clients.cli import (alias_commands, demo, evaluate_commands, export_commands, inspect_commands, job_commands,
                         server_commands, sweep_commands)
from lenet_clients.cli.output import Failure, GlobalOptions, client_options, rpc_message

COMMAND_MODULES = [demo, server_commands, job_commands, alias_commands, evaluate_commands, export_commands,
                   inspect_commands, sweep_commands]
COMPLETION_SHELLS = ["bash", "zsh", "fish"]
DRAWING_MODULES = {"matplotlib", "PIL"}   # lenet-client's `images` extra: figures, and image files as input


class LenetGroup(click.Group):
    def invoke(self, ctx: click.Context):
        """Run the command; its gRPC errors become one line, and a closed stdout (`| head`) a quiet exit."""
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()   # here, so that a reader gone away is noticed here and not while Python exits
            return result
        except grpc.RpcError as error:
            raise Failure(rpc_message(error)) from None
        except ModuleNotFoundError as error:
            if error.name not in DRAWING_MODULES:
                raise
            raise Failure(f"this command needs {error.name}, which comes with lenet-client's images extra: "
                          f"pip install 'lenet-client[images]'") from None
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # what is still buffered goes nowhere
            return 1


@click.group(cls=LenetGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(package_name="lenet-client", prog_name="lenet", message="%(prog)s %(version)s")
@client_options
def cli() -> None:
    """LeNet-as-a-service: train, evaluate and inspect the MNIST LeNet of the seed notebook through a gRPC
    gateway. The options here may also follow the command."""


@cli.command()
@click.argument("shell", type=click.Choice(COMPLETION_SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script.

    eval "$(lenet completion bash)" turns it on (put that line in ~/.bashrc to keep it)."""
    click.echo(get_completion_class(shell)(cli, {}, "lenet", "_LENET_COMPLETE").source())


for module in COMMAND_MODULES:
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """`lenet ARGS…`: the command's exit code."""
    try:
        return cli.main(args=argv, prog_name="lenet", standalone_mode=False, obj=GlobalOptions()) or 0
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:   # Ctrl-C
        return 130
