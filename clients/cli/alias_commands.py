"""Aliases of model names: `lenet alias set|rm`. `lenet models` shows them; NAME@ALIAS names the version."""
import click

from lenet_clients.cli.output import answer, client_options, connect


@click.group("alias")
def alias() -> None:
    """Point names at versions: NAME@ALIAS serves the version an alias points at, and NAME alone the one its
    "production" alias points at (else the newest version)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(1))
@client_options
def set_alias(name: str, alias_name: str, version: int) -> int:
    """Point ALIAS of model name NAME at VERSION, creating or moving it (calls use it at once)."""
    with connect() as client:
        model = client.set_alias(name, alias_name, version)
    answer(model, f"{name}@{alias_name} → {name}/{model.version} (model {model.id})")
    return 0


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@client_options
def remove_alias(name: str, alias_name: str) -> int:
    """Remove ALIAS of model name NAME (the version it pointed at stays)."""
    with connect() as client:
        version = client.delete_alias(name, alias_name)
    answer({"name": name, "alias": alias_name, "version": version},
           f"removed {name}@{alias_name} (it pointed at {name}/{version})")
    return 0


COMMANDS = [alias]
