"""Stored operands are not parameters, and layers that only compute shapes can be hidden
(issue 12), against Keras' count_params and the graphs' own structure."""

from __future__ import annotations

from conftest import FIXTURES, cli, cli_json, load_truth
from cnninspect.loaders import open_model


def test_tflite_params_are_the_layers_weights_as_keras_counts() -> None:
    truth = load_truth(FIXTURES / "tflite_extra" / "operands.truth.json")
    with open_model(FIXTURES / "tflite_extra" / "operands.tflite") as model:
        assert model.graph.params == truth["keras_params"]
    doc = cli_json("shapes", FIXTURES / "tflite_extra" / "operands.tflite")
    assert doc["totals"]["params"] == truth["keras_params"]
    assert sum(layer["params"] for layer in doc["layers"]) == truth["keras_params"]


def test_shape_ops_are_flagged_and_hidden_when_they_outnumber_the_layers() -> None:
    path = FIXTURES / "onnx_extra" / "constant_of_shape_weights.onnx"
    doc = cli_json("shapes", path)
    only = {layer["name"] for layer in doc["layers"] if layer["shape_only"]}
    assert {"w1_dims", "n_out", "b1_shape", "range", "n16", "in8", "make_w1", "make_b1"} <= only
    assert not only & {"x", "conv1", "conv2", "flatten", "fc"}
    default = cli("shapes", path).stdout
    shown = cli("shapes", path, "--show-shape-ops").stdout
    hidden = cli("shapes", path, "--hide-shape-ops").stdout
    assert default == hidden and " w1_dims " not in default and " w1_dims " in shown and " conv1 " in default
    assert f"not shown: {len(only)}" in default
    few = FIXTURES / "onnx" / "cnn_opset9.onnx"  # a Shape chain shorter than the network: shown
    assert cli("shapes", few).stdout == cli("shapes", few, "--show-shape-ops").stdout
