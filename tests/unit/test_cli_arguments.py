"""How `lenet` reads its command line (parsing only, no service): options that take several values, and the
training flags made from lenet_protos.contract.HYPER_PARAMETERS."""
import click
import pytest

from lenet_clients.cli.inspect_commands import inspect
from lenet_clients.cli.job_commands import train
from lenet_protos.contract import HYPER_PARAMETERS


def parsed(command: click.Command, *args: str) -> dict:
    return command.make_context(command.name, list(args)).params


def test_sample_and_layers_take_several_values_as_they_always_could():
    params = parsed(inspect, "0123456789abcdef", "--sample", "5", "6", "7", "--layers", "Conv1", "Pool2",
                    "--dtype", "f16")
    assert params["samples"] == (5, 6, 7) and params["layers"] == ("Conv1", "Pool2") and params["dtype"] == "f16"
    assert parsed(inspect, "--layers", "SoftM", "--sample", "3", "latest")["model_id"] == "latest"
    assert parsed(inspect, "--sample", "3", "--", "1234")["model_id"] == "1234"   # a model after "--" stays one
    with pytest.raises(click.BadParameter):
        parsed(inspect, "latest", "--sample", "3", "--layers", "Conv9")


def test_every_hyper_parameter_has_a_flag_and_absent_flags_are_none():
    params = parsed(train)
    assert {spec.name for spec in HYPER_PARAMETERS} <= set(params)
    assert all(params[spec.name] is None for spec in HYPER_PARAMETERS)   # not sent: the service's default


def test_zero_is_a_value_and_bounds_come_from_the_contract():
    params = parsed(train, "--momentum", "0", "--weight-decay", "0", "--seed", "0", "--no-normalize")
    assert (params["momentum"], params["weight_decay"], params["seed"], params["normalize"]) == (0, 0, 0, False)
    for flag, value in (("--momentum", "1"), ("--learning-rate", "0"), ("--epochs", "1001"), ("--seed", "-1")):
        with pytest.raises(click.BadParameter):
            parsed(train, flag, value)


def test_recipe_validation_and_schedule_flags():
    params = parsed(train, "--recipe", "better", "--validate", "--validation-limit", "300", "--validation-only",
                    "--lr-schedule", "cosine", "--nesterov", "--augment-shift", "2")
    assert (params["recipe"], params["validate"], params["validation_limit"], params["validation_only"]) == \
        ("better", True, 300, True)
    assert (params["lr_schedule"], params["nesterov"], params["augment_shift"]) == ("cosine", True, 2.0)
    assert parsed(train)["recipe"] == "seed"
    for flag, value in (("--lr-schedule", "linear"), ("--recipe", "worse"), ("--augment-shift", "5")):
        with pytest.raises(click.BadParameter):
            parsed(train, flag, value)
