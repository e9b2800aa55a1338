"""``shapes`` against what Keras 3 and tf-keras themselves reported when they wrote the
fixtures (scripts/make_keras_fixtures.py): output shapes of every call, params, weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnninspect.loaders import open_model
from cnninspect.reports.shapes import shapes_report

from conftest import SAMPLES, TRUTH_FILES, cli_json, load_truth, truth_id


def _report(truth_path: Path) -> tuple[dict, dict]:
    truth = load_truth(truth_path)
    return truth, cli_json("shapes", truth_path.with_name(truth["file"]))


def _expected_shapes(layer: dict) -> list:
    """The shapes of every call the parent graph makes (a container's node 0 is its
    own construction, not a call)."""
    nodes = layer["nodes"][1:] if layer["internal_first_node"] else layer["nodes"]
    return [shape for node in nodes for shape in node["output_shapes"]]


def _unknowable(truth: dict, layer: dict) -> bool:
    """tf-keras records no tensor shapes: a Lambda without output_shape, and what
    follows it, can only be unknown."""
    return truth["writer"]["api"] == "tf_keras" and truth["file"] == "lambda.h5" and layer["name"] in ("lambda", "dense")


def test_output_shapes_match_the_library(truth_path: Path) -> None:
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        got = ours[layer["path"]]
        assert got["type"] == layer["class_name"]
        if _unknowable(truth, layer):
            assert got["output_shapes"] == [None]
            assert got["unknown_reason"]
            continue
        assert got["output_shapes"] == _expected_shapes(layer), layer["path"]
        assert got["unknown_reason"] is None


def test_params_match_the_library(truth_path: Path) -> None:
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        got = ours[layer["path"]]
        assert got["params"] == layer["params"], layer["path"]
        assert got["trainable_params"] == layer["trainable_params"], layer["path"]
    for key in ("params", "trainable_params", "non_trainable_params"):
        assert report["totals"][key] == truth["totals"][key], key


def test_weights_match_the_library(truth_path: Path) -> None:
    """Every weight the library lists for a leaf layer, in its order, with its shape;
    the stored name ends with the name the library gives it."""
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        if any(other["path"].startswith(layer["path"] + "/") for other in truth["layers"]):
            continue  # a container: its weights are listed under its own layers
        got = ours[layer["path"]]["weights"]
        expected = sorted((w["name"], w["shape"], w["trainable"]) for w in layer["weights"])
        found = sorted(
            (next(t["name"] for t in layer["weights"] if w["name"].endswith(t["name"])), w["shape"], w["trainable"])
            for w in got
        )
        assert found == expected, layer["path"]
        assert all(len(w["axes"]) == len(w["shape"]) for w in got)


def test_every_truth_layer_is_listed_in_order(truth_path: Path) -> None:
    """Rows come depth-first in the model's order; the only extra rows are inputs that
    Keras keeps out of ``model.layers`` and the operations Keras 3 records."""
    truth, report = _report(truth_path)
    paths = [layer["path"] for layer in report["layers"]]
    expected = [layer["path"] for layer in truth["layers"]]
    assert [p for p in paths if p in expected] == expected
    extra = [layer for layer in report["layers"] if layer["path"] not in expected]
    assert all(layer["op"] == "input" or layer["type"] in ("Add", "Multiply", "GetItem", "Reshape") for layer in extra)


def test_model_inputs_and_outputs(truth_path: Path) -> None:
    truth, report = _report(truth_path)
    assert [i["shape"] for i in report["inputs"]] == truth["inputs"]
    expected = truth["outputs"]
    if truth["writer"]["api"] == "tf_keras" and truth["file"] == "lambda.h5":
        expected = [None, *expected[1:]]  # the output after the Lambda: see _unknowable
    assert [o["shape"] for o in report["outputs"]] == expected


def test_source_names_the_writer(truth_path: Path) -> None:
    truth, report = _report(truth_path)
    assert report["schema"] == "cnninspect.shapes/1"
    assert report["source"]["format"] == "keras-h5"
    assert report["source"]["library_version"] == truth["writer"]["keras"]
    assert report["source"]["backend"] == truth["writer"]["backend"]


@pytest.mark.parametrize("path", [p for p in TRUTH_FILES if p.parent.name == "keras3"], ids=truth_id)
def test_inferred_shapes_agree_with_keras3_records(path: Path) -> None:
    """Keras 3 records the shape of every tensor a call receives. Our inference (which
    does not use those records unless a rule is missing) must agree with all of them."""
    truth = load_truth(path)
    with open_model(path.with_name(truth["file"])) as model:
        shapes_report(model)
        checked = 0
        for row in model.rows():
            graph_layers = {layer.name: layer for layer in _graph_of(model, row.path).layers}
            for call in row.layer.calls:
                for ref, recorded in zip(call.tensor_inputs, call.recorded_shapes):
                    producer = graph_layers[ref.layer]
                    if recorded is None or producer.notes:
                        continue
                    assert producer.output_shapes[ref.call][ref.index] == recorded, (row.path, ref)
                    checked += 1
    if checked == 0:
        assert truth["layers"] and '"inbound_nodes"' not in _config_text(path.with_name(truth["file"]))
        pytest.skip("a Sequential config records no tensor shapes")


def _config_text(path: Path) -> str:
    import h5py

    with h5py.File(path, "r") as f:
        value = f.attrs["model_config"]
    return value.decode() if isinstance(value, bytes) else str(value)


def _graph_of(model, path: str):
    graph = model.graph
    for part in path.split("/")[:-1]:
        graph = graph.layer(part).graph
    return graph


def test_the_question_that_started_it_all() -> None:
    """Two 3x3 'same' convolutions with 32 filters on 28x28x1 give 28x28x32, not
    28x28x32x32: each output map sums over all input maps."""
    truth = load_truth(SAMPLES / "mnist_cnn.truth.json")
    report = cli_json("shapes", SAMPLES / "mnist_cnn.h5")
    convs = [layer for layer in report["layers"] if layer["type"] == "Conv2D"]
    assert [c["output_shapes"] for c in convs] == [[[None, 28, 28, 32]]] * 2
    expected = [layer["nodes"][0]["output_shapes"] for layer in truth["layers"] if layer["class_name"] == "Conv2D"]
    assert [c["output_shapes"] for c in convs] == expected
