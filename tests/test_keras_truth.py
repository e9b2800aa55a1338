"""``shapes`` against what Keras 3 and tf-keras themselves reported when they wrote the
fixtures (scripts/make_keras_fixtures.py): output shapes of every call, params, weights.

Every container of the same model must give the same answers: the legacy ``.h5``, the
``.keras`` archive, a Keras 3 ``.weights.h5`` and a tf-keras ``save_weights`` file each
with its architecture passed as ``--config``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnninspect.loaders import open_model
from cnninspect.reports.shapes import shapes_report

import zipfile

from conftest import SAMPLES, TRUTH_FILES, cli_json, load_truth, truth_id


def _variants() -> list:
    out = []
    for path in TRUTH_FILES:
        stem = path.name.removesuffix(".truth.json")
        for suffix, config in ((".h5", None), (".keras", None), (".weights.h5", ".keras"), (".weights_only.h5", ".json")):
            if path.with_name(stem + suffix).exists():
                out.append(pytest.param((path, stem + suffix, config), id=f"{truth_id(path)}{suffix}"))
    return out


@pytest.fixture(params=_variants())
def truth_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A truth file and the cnninspect arguments that open one container of its model."""
    path, name, config = request.param
    args = [str(path.with_name(name))]
    if config == ".keras":  # the architecture a Keras 3 user keeps beside model.weights.h5
        target = tmp_path_factory.mktemp("config") / "config.json"
        with zipfile.ZipFile(path.with_name(name.replace(".weights.h5", ".keras"))) as zf:
            target.write_bytes(zf.read("config.json"))
        args += ["--config", str(target)]
    elif config == ".json":
        args += ["--config", str(path.with_name(name.replace(".weights_only.h5", ".json")))]
    return path, args


def _report(case: tuple[Path, list[str]]) -> tuple[dict, dict]:
    path, args = case
    return load_truth(path), cli_json("shapes", *args)


def _expected_shapes(layer: dict) -> list:
    """The shapes of every call the parent graph makes (a container's node 0 is its
    own construction, not a call)."""
    nodes = layer["nodes"][1:] if layer["internal_first_node"] else layer["nodes"]
    return [shape for node in nodes for shape in node["output_shapes"]]


def test_output_shapes_match_the_library(truth_path: tuple[Path, list[str]]) -> None:
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        got = ours[layer["path"]]
        assert got["type"] == layer["class_name"]
        assert got["output_shapes"] == _expected_shapes(layer), layer["path"]
        assert got["unknown_reason"] is None


def test_params_match_the_library(truth_path: tuple[Path, list[str]]) -> None:
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        got = ours[layer["path"]]
        assert got["params"] == layer["params"], layer["path"]
        assert got["trainable_params"] == layer["trainable_params"], layer["path"]
    for key in ("params", "trainable_params", "non_trainable_params"):
        assert report["totals"][key] == truth["totals"][key], key


def test_weights_match_the_library(truth_path: tuple[Path, list[str]]) -> None:
    """Every weight the library lists for a leaf layer, with its shape, its role (the
    last part of the library's name for it) and whether it trains. Where the file keeps
    names, the stored name ends with the library's; Keras 3 ``.weights.h5`` and ``.keras`` keep only
    creation order, so there the roles come from the class's known order."""
    truth, report = _report(truth_path)
    ours = {layer["path"]: layer for layer in report["layers"]}
    named = not truth_path[1][0].endswith((".weights.h5", ".keras"))
    for layer in truth["layers"]:
        if any(other["path"].startswith(layer["path"] + "/") for other in truth["layers"]):
            continue  # a container: its weights are listed under its own layers
        got = ours[layer["path"]]["weights"]

        def role(name: str) -> str:
            return name.split("/")[-1].split(":")[0]

        expected = sorted((role(w["name"]), w["shape"], w["trainable"]) for w in layer["weights"])
        assert sorted((role(w["role"]), w["shape"], w["trainable"]) for w in got) == expected, layer["path"]
        if named:
            assert all(any(w["name"].endswith(t["name"]) for t in layer["weights"]) for w in got), layer["path"]
        assert all(len(w["axes"]) == len(w["shape"]) for w in got)


def test_every_truth_layer_is_listed_in_order(truth_path: tuple[Path, list[str]]) -> None:
    """Rows come depth-first in the model's order; the only extra rows are inputs that
    Keras keeps out of ``model.layers`` and the operations Keras 3 records."""
    truth, report = _report(truth_path)
    paths = [layer["path"] for layer in report["layers"]]
    expected = [layer["path"] for layer in truth["layers"]]
    assert [p for p in paths if p in expected] == expected
    extra = [layer for layer in report["layers"] if layer["path"] not in expected]
    assert all(layer["op"] == "input" or layer["type"] in ("Add", "Multiply", "GetItem", "Reshape") for layer in extra)


def test_model_inputs_and_outputs(truth_path: tuple[Path, list[str]]) -> None:
    truth, report = _report(truth_path)
    assert [i["shape"] for i in report["inputs"]] == truth["inputs"]
    expected = truth["outputs"]
    assert [o["shape"] for o in report["outputs"]] == expected


def test_source_names_the_writer(truth_path: tuple[Path, list[str]]) -> None:
    truth, report = _report(truth_path)
    assert report["schema"] == "cnninspect.shapes/1"
    assert report["architecture"] is True
    name = Path(truth_path[1][0]).name
    fmt = {".keras": "keras-archive", ".weights.h5": "keras3-weights-h5", ".weights_only.h5": "keras-h5-weights"}
    assert report["source"]["format"] == next((f for s, f in fmt.items() if name.endswith(s)), "keras-h5")
    if not name.endswith(".weights.h5"):  # a Keras 3 weights file records no version
        assert report["source"]["library_version"] == truth["writer"]["keras"]


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
