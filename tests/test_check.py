"""The architecture checked against the stored weights (issue 11): every check's verdict
held to the writing library's own (its shapes, or the error it raises on the twin that
contradicts itself), the usage errors a user's --input-shape or --config brings, and the
unknowns the weights resolve, each labelled with its evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cnninspect.errors import UsageError
from cnninspect.loaders import OpenOptions, open_model
from cnninspect.render.check import check_view
from cnninspect.reports.check import SCHEMA, check_report, exit_code
from cnninspect.reports.shapes import shapes_report
from conftest import FIXTURES, SAMPLES, cli, cli_json
from test_every_fixture import FILES

HERE = FIXTURES / "consistency"
TORCH = FIXTURES / "torch"
MNIST = SAMPLES / "mnist_cnn.h5"
# The deliberately inconsistent twins: each must be flagged.
TWINS = {"cnn_wrong_input.h5", "grouped_bad_state.pt", "lenet5_bad_module.pt", "keras1_lambda_th_bad.h5"}


def report(path: Path, input_shape: tuple | None = None, config: Path | None = None) -> dict[str, Any]:
    with open_model(path, OpenOptions(config=config)) as model:
        return check_report(model, [(None, *input_shape)] if input_shape else None)


def truth(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text())


def text(document: dict[str, Any]) -> str:
    console = Console(width=400, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for part in check_view(document):
        console.print(part)
    return console.export_text()


# ---------------------------------------------------------------------------------------
# Every sound fixture agrees with itself


SOUND = [p for p in FILES if p.name not in TWINS]


def test_no_sound_fixture_reports_a_mismatch() -> None:
    checked = resolved = 0
    failing = {}
    for path in SOUND:
        document = report(path)
        checked += document["checked"]
        resolved += len(document["resolved"])
        if document["mismatches"]:
            failing[str(path)] = document["mismatches"][:2]
    assert not failing, failing
    assert checked > 2000 and resolved >= 5  # the counts the report to the lead gives


# ---------------------------------------------------------------------------------------
# A family written by tf-keras: a sound CNN, its own architecture edited to 3 input
# channels (tf-keras refuses to load it), and its weights with the wrong --config


def test_sound_cnn_agrees_with_tf_keras() -> None:
    expected = truth("cnn.truth.json")
    doc = report(HERE / "cnn.h5")
    assert doc["schema"] == SCHEMA and doc["mismatches"] == [] and doc["checked"] == doc["agree"] > 10
    assert exit_code(doc) == 0
    assert f"{doc['checked']} checks, {doc['agree']} agree" in text(doc)
    with open_model(HERE / "cnn.h5") as model:
        layers = {layer["name"]: layer for layer in shapes_report(model)["layers"]}
    for name, shape in expected["output_shapes"].items():
        assert layers[name]["output_shapes"] == [shape]
        assert layers[name]["params"] == expected["params"][name]


def test_an_architecture_that_contradicts_its_own_weights_is_flagged_and_exits_5() -> None:
    assert truth("cnn_wrong_input.truth.json")["loads"] is False  # tf-keras refuses it too
    doc = report(HERE / "cnn_wrong_input.h5")
    assert exit_code(doc) == 5
    first = doc["mismatches"][0]
    assert (first["layer"], first["what"], first["expected"], first["stored"]) == ("conv2d", "input channels", 3, 1)
    assert "MISMATCH conv2d: input channels" in text(doc)
    with open_model(HERE / "cnn_wrong_input.h5") as model:
        shapes = shapes_report(model)
    assert len(shapes["layers"]) == 6 and shapes["consistency"]["mismatches"] == doc["mismatches"]
    flagged = {layer["name"]: layer["consistency"] for layer in shapes["layers"]}
    assert flagged["conv2d"] and not flagged["dense"]
    assert exit_code(shapes) == 5


def test_the_right_config_fits_and_the_wrong_one_is_a_usage_error() -> None:
    assert report(HERE / "cnn.weights_only.h5", config=HERE / "cnn.json")["mismatches"] == []
    assert truth("other.truth.json")["loads"] is False
    with pytest.raises(UsageError, match=r"--config does not fit the weights.*conv2d: input channels.*gives 3.*hold 1"):
        report(HERE / "cnn.weights_only.h5", config=HERE / "other.json")
    result = cli("shapes", str(FIXTURES / "tfkeras" / "convs.weights_only.h5"), "--config", str(FIXTURES / "tfkeras" / "mnist_cnn.json"))
    assert result.exit_code == 2 and "--config does not fit the weights" in result.stderr


def test_an_input_shape_the_weights_refute_is_a_usage_error_naming_both_numbers() -> None:
    result = cli("shapes", str(MNIST), "--input-shape", "28,28,3")
    assert result.exit_code == 2
    assert "conv2d's kernel (3,3,1,32) takes 1 input channel; --input-shape 28,28,3 gives 3" in result.stderr
    deeper = cli("shapes", str(MNIST), "--input-shape", "32,32,1")
    assert deeper.exit_code == 2 and "dense's kernel (6272,64) takes 6272 input features" in deeper.stderr
    assert "--input-shape 32,32,1 gives 8192 at its input" in deeper.stderr
    assert cli_json("shapes", str(MNIST), "--input-shape", "28,28,1")["consistency"]["mismatches"] == []


# ---------------------------------------------------------------------------------------
# Lambdas without output_shape


def test_a_normalising_lambda_is_taken_as_shape_preserving_because_the_conv_agrees() -> None:
    expected = truth("lambda_norm.truth.json")
    doc = report(HERE / "lambda_norm.h5")
    (fact,) = doc["resolved"]
    assert (fact["layer"], fact["what"], fact["inferred_from"]) == ("lambda", "output shape", "weights")
    assert fact["value"] == expected["output_shapes"]["lambda"]
    with open_model(HERE / "lambda_norm.h5") as model:
        shapes = shapes_report(model)
    assert shapes["outputs"][0]["shape"] == expected["output_shapes"]["dense"]


def test_a_lambda_that_changes_the_channels_stays_unknown_with_the_reason() -> None:
    expected = truth("lambda_slice.truth.json")
    assert expected["output_shapes"]["lambda"][-1] == 1  # tf-keras: the Lambda keeps one channel of three
    doc = report(HERE / "lambda_slice.h5")
    assert doc["resolved"] == [] and doc["mismatches"] == []
    (left,) = doc["unresolved"]
    assert left["layer"] == "lambda" and "contradicts the weights downstream" in left["reason"]
    with open_model(HERE / "lambda_slice.h5") as model:
        layers = {layer["name"]: layer for layer in shapes_report(model)["layers"]}
    assert layers["lambda"]["output_shapes"] == [None] and "kernel (3,3,1,4)" in layers["lambda"]["unknown_reason"]


def test_keras1_on_theano_gives_a_lambda_its_input_shape() -> None:
    expected = truth("keras1_lambda_th.expected.json")
    doc = report(HERE / "keras1_lambda_th.h5")
    assert doc["mismatches"] == [] and doc["resolved"][0]["inferred_from"] == "library"
    with open_model(HERE / "keras1_lambda_th.h5") as model:
        layers = {layer["name"]: layer for layer in shapes_report(model)["layers"]}
    for layer in expected["layers"]:
        assert layers[layer["name"]]["output_shapes"] == layer["output_shapes"], layer["name"]


def test_keras1_lambda_twin_whose_conv_takes_two_channels_is_flagged() -> None:
    doc = report(HERE / "keras1_lambda_th_bad.h5")
    assert exit_code(doc) == 5
    first = doc["mismatches"][0]
    assert (first["layer"], first["what"], first["expected"], first["stored"]) == ("convolution2d_1", "input channels", 1, 2)


def test_keras1_on_tensorflow_ran_the_function_so_its_lambda_stays_unknown() -> None:
    doc = report(FIXTURES / "legacy" / "keras1_lambda.h5")
    assert doc["resolved"] == [] and [u["layer"] for u in doc["unresolved"]] == ["lambda_1"]


# ---------------------------------------------------------------------------------------
# PyTorch: groups of a state dict, the implicit flatten of a module pickle


def test_state_dict_groups_resolved_so_filters_name_the_right_input_maps() -> None:
    expected = json.loads((TORCH / "small_cnn.truth.json").read_text())
    groups = expected["slices"]["features/2"]["groups"]
    assert groups == 2
    doc = report(TORCH / "small_cnn_state.pt")
    (fact,) = doc["resolved"]
    assert (fact["layer"], fact["what"], fact["value"], fact["inferred_from"]) == ("features.2", "groups", groups, "weights")
    out, per_group = 5, 4
    group = out // (8 // groups)
    inputs = cli_json("filters", str(TORCH / "small_cnn_state.pt"), "--layer", "features.2", "--out", str(out))["inputs"]
    assert [e["in"] for e in inputs] == list(range(group * per_group, (group + 1) * per_group)) == [4, 5, 6, 7]


def test_a_state_dict_conv_that_cannot_take_the_maps_before_it_is_flagged() -> None:
    expected = truth("grouped_bad_state.truth.json")
    assert expected["runs"] is False and "8 channels" in expected["error"]
    doc = report(HERE / "grouped_bad_state.pt")
    assert exit_code(doc) == 5
    first = doc["mismatches"][0]
    assert (first["layer"], first["expected"], first["stored"]) == ("2", 8, 3)


def test_lenet_module_flattens_where_fc1_in_features_say() -> None:
    expected = json.loads((TORCH / "graphs" / "lenet5.graph_truth.json").read_text())
    in_features = expected["parameters"]["fc1.weight"][1]
    doc = report(TORCH / "graphs" / "lenet5_module.pt", (1, 32, 32))
    (fact,) = doc["resolved"]
    assert (fact["layer"], fact["what"], fact["value"]) == ("fc1", "flattened input", in_features)
    assert "16 channels" in fact["evidence"]
    with open_model(TORCH / "graphs" / "lenet5_module.pt") as model:
        shapes = shapes_report(model, [(None, 1, 32, 32)])
    layers = {layer["name"]: layer for layer in shapes["layers"]}
    assert layers["fc1"]["output_shapes"] == [[None, expected["leaf_output_shapes"]["fc1"][1]]]
    assert shapes["outputs"][0]["shape"] == [None, *expected["output_shape"][1:]]


def test_lenet_twin_whose_fc1_takes_399_is_flagged() -> None:
    expected = truth("lenet5_bad_module.truth.json")
    assert expected["runs"] is False and "399" in expected["error"]
    doc = report(HERE / "lenet5_bad_module.pt", (1, 32, 32))
    assert exit_code(doc) == 5
    assert any(m["layer"] == "fc1" and m["stored"] == 399 for m in doc["mismatches"])


def test_registration_order_refuted_by_a_kernel_leaves_the_shape_unknown() -> None:
    with open_model(TORCH / "graphs" / "branches_module.pt") as model:
        layers = {layer["name"]: layer for layer in shapes_report(model, [(None, 3, 15, 15)])["layers"]}
    assert layers["right"]["output_shapes"] == [None]
    assert "takes 3" in layers["right"]["unknown_reason"] and "makes 4 maps" in layers["right"]["unknown_reason"]


# ---------------------------------------------------------------------------------------
# Every check can fail: one stored axis changed by one, and exactly that check says so


# The kinds of check each tf-keras fixture has (every kind appears at least once).
KINDS = {
    "convs.h5": {"filters", "input channels", "kernel size"},
    "depthwise_separable.h5": {"depth multiplier", "depthwise maps", "filters", "input channels", "kernel size", "output maps"},
    "norm_act.h5": {"channels", "input features", "units"},
    "rnn.h5": {"input dim", "input features", "output dim", "units"},
    "transposed.h5": {"filters", "input channels", "kernel size"},
    "dense_only.h5": {"input features", "units"},
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_check_fails_when_its_axis_is_off_by_one(name: str) -> None:
    from cnninspect.core.consistency import AGREE, check_graph
    from cnninspect.core.infer import infer_shapes

    with open_model(FIXTURES / "tfkeras" / name) as model:
        inferred = infer_shapes(model.graph)
        base = check_graph(model.graph, inferred)
        assert base.consistent
        rows = {row.path: row.layer for row in model.rows()}
        tried = set()
        for fact in base.facts:
            if fact.verdict != AGREE or not fact.axis or (fact.layer, fact.weight, fact.axis) in tried:
                continue
            tried.add((fact.layer, fact.weight, fact.axis))
            weight = next(w for w in rows[fact.layer].weights if f"{w.role} ({','.join(map(str, w.shape))})" == fact.weight)
            stored = weight.shape
            at = weight.axes.index(fact.axis)
            weight.shape = (*stored[:at], stored[at] + 1, *stored[at + 1 :])
            try:
                failed = check_graph(model.graph, inferred).mismatches
            finally:
                weight.shape = stored
            assert any(f.layer == fact.layer and f.what == fact.what and f.axis == fact.axis for f in failed), fact
            assert any(f.layer == fact.layer and f.what == "params" for f in failed), fact
        assert {f.what for f in base.facts if (f.layer, f.weight, f.axis) in tried} == KINDS[name]


def _torch_with_input_shapes() -> list[tuple[Path, tuple]]:
    """Every PyTorch fixture with the input shape its truth was computed on."""
    pairs = []
    for truth_path in [*TORCH.glob("*.truth.json"), *(TORCH / "graphs").glob("*.graph_truth.json")]:
        shape = json.loads(truth_path.read_text()).get("input_shape")
        if shape:
            shape = shape[1:] if "graph_truth" in truth_path.name else shape  # graph truths hold the batch
            pairs += [(p, tuple(shape)) for p in truth_path.parent.glob(truth_path.name.split(".")[0] + "*.pt*")]
    return sorted(pairs)


@pytest.mark.parametrize("path, shape", _torch_with_input_shapes(), ids=lambda x: x.name if isinstance(x, Path) else "")
def test_torch_fixtures_agree_with_the_input_they_were_run_on(path: Path, shape: tuple) -> None:
    assert report(path, shape)["mismatches"] == []
