"""protos/contract.py is the one home of the shared facts; the proto's comments restate them for other languages.
These tests fail when the two disagree, or when a fact drifts from the generated code."""
import numpy as np
import pytest

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from proto_text import elements

PROTO = elements()


def comment(name: str) -> str:
    return PROTO[name].comment


def number(value: int) -> str:
    return f"{value:,}"


def default_text(spec: contract.HyperParameter) -> str:
    return str(spec.default).lower() if spec.type is bool else f"{spec.default:g}" if spec.type is float \
        else str(spec.default)


def test_every_hyper_parameter_is_an_optional_field_with_the_contracts_bounds_and_default():
    fields = pb.HyperParameters.DESCRIPTOR.fields_by_name
    assert list(fields) == [spec.name for spec in contract.HYPER_PARAMETERS]
    for spec in contract.HYPER_PARAMETERS:
        assert fields[spec.name].has_presence, f"HyperParameters.{spec.name} must be optional"
        assert PROTO[f"HyperParameters.{spec.name}"].optional
        text = comment(f"HyperParameters.{spec.name}")
        bounded = spec.low is not None or spec.choices
        expected = f"{spec.bounds()} [{default_text(spec)}]" if bounded else f"[{default_text(spec)}]"
        assert text.startswith(expected), f"HyperParameters.{spec.name}: comment {text!r} should start {expected!r}"


@pytest.mark.parametrize("spec", contract.HYPER_PARAMETERS, ids=lambda spec: spec.name)
def test_bounds_accept_the_default_and_refuse_what_lies_outside(spec):
    assert spec.problem(spec.default) is None
    if spec.low is not None:
        step = 1 if spec.type is int else 1e-9
        assert spec.problem(spec.low - step) and spec.problem(spec.high + step)
        assert (spec.problem(spec.low) is not None) == spec.low_open
        assert (spec.problem(spec.high) is not None) == spec.high_open


def test_absent_hyper_parameters_take_the_seeds_defaults_and_zero_is_kept():
    seed = contract.hyper_params(pb.HyperParameters())
    assert (seed.epochs, seed.batch_size, seed.learning_rate, seed.momentum, seed.weight_decay, seed.seed,
            seed.normalize, seed.init_scale) == (20, 100, 0.05, 0.9, 1e-5, 42, False, 0.01)
    zero = contract.hyper_params(pb.HyperParameters(momentum=0, weight_decay=0, seed=0))
    assert (zero.momentum, zero.weight_decay, zero.seed) == (0, 0, 0)
    full = contract.hyper_parameters_message(zero)
    assert all(full.HasField(spec.name) for spec in contract.HYPER_PARAMETERS)


def test_layers_and_shapes():
    assert contract.LAYERS == ("Conv1", "Act1", "Pool1", "Conv2", "Act2", "Pool2", "Flat", "Full1", "Act3", "Full2",
                               "SoftM")
    assert " ".join(contract.LAYERS) in comment("InspectRequest.layers")
    assert number(contract.PARAMETER_COUNT) in comment("Model.parameter_count")
    assert contract.INPUT_SHAPE == (1, *contract.IMAGE_SHAPE) == (1, 28, 28)
    assert "×".join(map(str, contract.LAYER_SHAPES["Conv1"])) in comment("Layer.attributes") or \
        "20 filters" in comment("Layer.attributes")


def test_splits_and_their_defaults():
    text = comment("Dataset.split")
    for name, size in contract.SPLIT_SIZES.items():
        assert f'"{name}" ({number(size)} images)' in text
    assert contract.default_split("train_data") == "train" and '"train" for TrainRequest.train_data' in text
    assert contract.default_split("eval_data") == contract.default_split("dataset") == "test"
    assert contract.default_split("validation_data") == "validation" and '"validation" for' in text
    assert f"the last {number(contract.VALIDATION_SIZE)} of \"train\"" in text
    assert f"train index {number(contract.VALIDATION_START)} + i" in text
    assert contract.VALIDATION_START + contract.VALIDATION_SIZE == contract.SPLIT_SIZES["train"]
    assert f"first {number(contract.VALIDATION_START)} images" in comment("TrainRequest.validation_data")
    assert '(empty: "test")' in comment("GetSamplesRequest.split")


@pytest.mark.parametrize("field, limit", [
    ("Dataset.indices", contract.MAX_INDICES), ("Dataset.images", contract.MAX_IMAGES),
    ("PredictRequest.images", contract.MAX_IMAGES), ("InspectRequest.samples", contract.MAX_SAMPLES),
    ("GetSamplesRequest.indices", contract.MAX_SAMPLES), ("TrainRequest.idempotency_key", contract.MAX_KEY_LENGTH),
    ("EvaluationRequest.idempotency_key", contract.MAX_KEY_LENGTH),
])
def test_every_limit_is_stated_beside_its_field(field, limit):
    assert f"at most {number(limit)}" in comment(field).lower()


@pytest.mark.parametrize("field", ["ListJobsRequest.page_size", "ListModelsRequest.page_size"])
def test_page_sizes(field):
    assert f"0..{contract.MAX_PAGE_SIZE} (0: {contract.DEFAULT_PAGE_SIZE})" in comment(field)


def test_inspect_and_chunk_limits():
    assert f"0..{contract.INSPECT_BATCH_MAX}" in comment("InspectRequest.batch_size")
    assert str(contract.INSPECT_BATCH_DEFAULT) in comment("InspectRequest.batch_size")
    assert f"at most {contract.CHUNK_BYTES >> 20} MiB" in comment("TensorChunk")
    assert f"1–{contract.MAX_NAME_LENGTH}" in comment("TrainRequest.model_name")
    assert contract.DEFAULT_MODEL_NAME in comment("TrainRequest.model_name")


def test_statistics_names_map_to_fields_in_carets_order():
    assert list(contract.OVERALL_STATISTICS.values()) == list(pb.OverallStatistics.DESCRIPTOR.fields_by_name)
    assert list(contract.CLASS_STATISTICS.values()) == list(pb.ClassStatistics.DESCRIPTOR.fields_by_name)[1:]


def test_an_evaluation_read_by_carets_names():
    """The matrix rows are predictions, columns references; the statistics come out under caret's names, in its
    order, NaN kept (as R's NaN)."""
    evaluation = pb.Evaluation(labels=["0", "1", "2"], confusion_matrix=[5, 1, 0, 2, 7, 0, 0, 0, 9],
                               overall=pb.OverallStatistics(accuracy=0.875, mcnemar_p_value=float("nan")),
                               by_class=[pb.ClassStatistics(label=label, sensitivity=0.5) for label in "012"])
    matrix = contract.confusion_matrix(evaluation)
    assert matrix.dtype == np.int64 and matrix.tolist() == [[5, 1, 0], [2, 7, 0], [0, 0, 9]]
    overall = contract.overall_statistics(evaluation)
    assert list(overall) == list(contract.OVERALL_STATISTICS) and overall["Accuracy"] == 0.875
    assert np.isnan(overall["McnemarPValue"])
    rows = contract.class_statistics(evaluation)
    assert [row["Class"] for row in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["Class", *contract.CLASS_STATISTICS] and rows[2]["Sensitivity"] == 0.5


def test_final_states_are_the_ones_the_proto_names():
    names = {pb.JobState.Name(state) for state in contract.FINAL_STATES}
    assert names == {"SUCCEEDED", "FAILED", "CANCELLED", "PRUNED"}
    assert "final state (SUCCEEDED, FAILED, CANCELLED, PRUNED)" in comment("JobState")


def test_the_batch_events_a_worker_keeps_through_a_store_outage():
    assert f"beyond {contract.BATCH_EVENTS_KEPT} kept during one outage" in comment("JobEvent")


def test_file_names_and_ids():
    assert contract.checkpoint_files("lenet") == ("lenet-symbol.json", "lenet-0000.params")
    assert contract.onnx_file("lenet") == "lenet.onnx"
    assert "16 lowercase hex digits" in comment("Job.id") and "16 lowercase hex digits" in comment("Model.id")
    assert contract.ID.fullmatch("0123456789abcdef") and not contract.ID.fullmatch("0123456789abcdef:events")
    reference = comment("GetModelRequest.model_id")
    assert "unique prefix" in reference and contract.LATEST in reference


def test_names_versions_aliases_and_references():
    assert contract.PRODUCTION_ALIAS in comment("SetModelAliasRequest.alias")
    assert f"1..{contract.MAX_VERSION:,}" in comment("SetModelAliasRequest.version")
    assert f'"{contract.DEFAULT_MODEL_NAME}"' in comment("Model.name")
    assert all(form in comment("GetModelRequest.model_id") for form in ("NAME", "NAME/VERSION", "NAME@ALIAS"))
    assert contract.name_problem("digits") is None and contract.name_problem("Cafe") is None
    for taken in ("latest", "cafe", "2024", "0123456789abcdef", "no spaces", "x" * 65, ""):
        assert contract.name_problem(taken), taken
    assert contract.NAME_REFERENCE.fullmatch("digits/999999999999999")["version"] == str(contract.MAX_VERSION)
    assert not contract.NAME_REFERENCE.fullmatch("digits/1000000000000000")
    assert contract.NAME_REFERENCE.fullmatch("digits@production")["alias"] == "production"
