"""The odd corners of ONNX (issue 12) against what onnxruntime computed.

``scripts/make_onnx_extra_fixtures.py`` wrote each graph with onnx.helper and recorded
onnxruntime's shape of every node output on random inputs (every graph input fed, the
weights declared as inputs too): weights fed as graph inputs, weights made at run time by
ConstantOfShape from stored shape vectors, DepthToSpace, SpaceToDepth, Tile, Expand,
InstanceNormalization, LRN, Einsum, Pad in every form and mode, Upsample at opsets 7 and
9, Resize at opset 10, and ops with no rule whose shapes only the file's value_info gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURES, cli, load_truth
from cnninspect.core.infer import infer_shapes
from cnninspect.errors import SelectionError
from cnninspect.loaders import open_model
from cnninspect.loaders.onnx_files import _matmul_form

DIR = FIXTURES / "onnx_extra"
NAMES = sorted(p.stem for p in DIR.glob("*.onnx"))


def _open(name: str):
    model = open_model(DIR / f"{name}.onnx")
    infer_shapes(model.graph)
    return model


def test_the_fixtures_are_there() -> None:
    assert len(NAMES) == 10


@pytest.mark.parametrize("name", NAMES)
def test_every_node_output_shape_matches_onnxruntime(name: str) -> None:
    truth = load_truth(DIR / f"{name}.truth.json")
    with _open(name) as model:
        layers = {layer.name: layer for layer in model.graph.layers}
        for node in truth["nodes"]:
            layer = layers[node["name"]]
            assert layer.type == node["op_type"]
            assert layer.unknown_reason is None, (layer.name, layer.unknown_reason)
            for index, tensor in enumerate(node["outputs"]):
                assert layer.output_shapes[0][index] == tuple(truth["tensors"][tensor]), layer.name


def test_weights_fed_as_graph_inputs_take_their_declared_shapes() -> None:
    truth = load_truth(DIR / "weights_as_inputs.truth.json")
    declared = truth["weights"]
    with _open("weights_as_inputs") as model:
        assert [ref.layer for ref in model.graph.inputs] == list(truth["feed"])[:1] == ["x"]
        weights = {w.name: w for w in model.weights()}
        assert {k: list(w.shape) for k, w in weights.items()} == declared
        assert model.graph.params == sum(int(np.prod(s)) for s in declared.values())
        conv = model.graph.layer("conv")
        assert [(w.role, w.layout.code) for w in conv.weights] == [("weight", "OIHW"), ("bias", "O")]
        assert [w.role for w in model.graph.layer("bn").weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
        assert model.graph.layer("fc").attrs["units"] == declared["G"][1]
        assert any("fed at run time" in n for n in conv.notes)
        assert any("11 graph input(s) are weights" in n for n in model.notes)
        with pytest.raises(SelectionError, match="no values in the file"):
            weights["W"].read(())


def test_a_weight_fed_at_run_time_has_no_values_to_show() -> None:
    result = cli("filters", DIR / "weights_as_inputs.onnx", "--layer", "conv", "--out", "0")
    assert result.exit_code == 6
    assert "fed at run time" in result.stderr and result.stderr.count("\n") == 1


def test_weights_made_by_constant_of_shape_are_the_layers_weights() -> None:
    truth = load_truth(DIR / "constant_of_shape_weights.truth.json")
    with _open("constant_of_shape_weights") as model:
        owners = {"W1": "conv1", "B1": "conv1", "W2": "conv2", "Wfc": "fc"}
        for name, shape in truth["weights"].items():
            layer = model.graph.layer(owners[name])
            (w,) = [w for w in layer.weights if w.name == name]
            assert list(w.shape) == shape
            value = w.read(())
            np.testing.assert_array_equal(value, np.full(shape, truth["fill"][name], dtype=np.float32))
            assert w.read((0,)).shape == tuple(shape[1:])
            assert any(f"'{name}' is made at run time by ConstantOfShape" in n for n in layer.notes)
        assert model.graph.layer("conv2").attrs["filters"] == truth["weights"]["W2"][0]
        assert model.graph.layer("fc").attrs["units"] == truth["weights"]["Wfc"][1]


def test_a_huge_constant_of_shape_is_never_made(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    dims = np.array([1 << 20, 1 << 20], dtype=np.int64)  # 4 TiB of float32
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["dims"], ["W"], name="make"),
         helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
        "huge", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1 << 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[numpy_helper.from_array(dims, "dims")],
    )
    path = tmp_path / "huge.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with open_model(path) as model:
        infer_shapes(model.graph)
        mm = model.graph.layer("mm")
        assert [w.shape for w in mm.weights] == [(1 << 20, 1 << 20)]
        assert mm.output_shapes == [[(1, 1 << 20)]]


def test_new_rules_store_their_weights_by_role() -> None:
    with _open("new_ops") as model:
        assert [w.role for w in model.graph.layer("inorm").weights] == ["gamma", "beta"]
        dense = model.graph.layer("einsum_dense")
        assert (dense.op, dense.attrs["units"]) == ("dense", 5)
        assert [(w.role, w.axes) for w in dense.weights] == [("weight", ("in", "out"))]
        assert model.graph.layer("einsum_gram").op == "matmul"
        assert [w.role for w in model.graph.layer("tile").weights] == ["repeats"]
        assert [w.role for w in model.graph.layer("expand").weights] == ["shape"]


EINSUMS = [
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("ij,jk->ik", (3, 4), (4, 5)),
    ("bhwc,cd->bhwd", (2, 3, 4, 5), (5, 6)),
    ("...ij,jk->...ik", (2, 3, 4), (4, 5)),
    ("ij,kj->ik", (3, 4), (5, 4)),
    ("bij,bkj->bik", (2, 3, 4), (2, 5, 4)),
    ("ij,jk->ki", (3, 4), (4, 5)),
    ("ij,jk->ijk", (3, 4), (4, 5)),
    ("ij,ij->ij", (3, 4), (3, 4)),
    ("ii,ij->ij", (4, 4), (4, 5)),
]


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    try:
        return a @ b
    except ValueError:
        return None


@pytest.mark.parametrize(("equation", "shape_a", "shape_b"), EINSUMS)
def test_an_einsum_is_a_matrix_product_exactly_when_numpy_agrees(equation: str, shape_a: tuple, shape_b: tuple) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    got = np.einsum(equation, a, b)
    products = {"ab": _product(a, b), "bt": _product(a, np.swapaxes(b, -1, -2))}
    form = _matmul_form(equation)
    if form is not None:
        np.testing.assert_allclose(got, products[form])
    else:
        assert all(p is None or p.shape != got.shape or not np.allclose(p, got) for p in products.values())


def test_pad_keeps_its_mode() -> None:
    onnx = pytest.importorskip("onnx")
    for name in ("pad_opset7", "pad_opset13", "pad_opset19"):
        proto = onnx.load(str(DIR / f"{name}.onnx"))
        with _open(name) as model:
            for node in proto.graph.node:
                mode = next(a.s.decode() for a in node.attribute if a.name == "mode")
                assert model.graph.layer(node.name).attrs["mode"] == mode


def test_shapes_only_the_file_records_are_a_labelled_last_resort() -> None:
    truth = load_truth(DIR / "value_info_fallback.truth.json")
    assert truth["declared"]["c"][2] == "height"  # the file declares less than the rule knows
    with _open("value_info_fallback") as model:
        conv = model.graph.layer("conv")
        assert conv.output_shapes == [[tuple(truth["tensors"]["c"])]]
        assert not any("recorded" in n for n in conv.notes)
        for name in ("topk", "cumsum", "trilu"):
            layer = model.graph.layer(name)
            assert layer.op == "recorded"
            assert any("recorded by the file" in n for n in layer.notes)
        assert model.graph.layer("relu").op == "activation"


def test_shapes_command_on_every_fixture() -> None:
    for name in NAMES:
        result = cli("shapes", "--json", DIR / f"{name}.onnx")
        assert result.exit_code == 0, (name, result.stderr)


# Forward kernels the forward engine does not have yet (cnninspect/forward/layers.py).
NO_FORWARD_YET = {
    ("new_ops", "inorm"): "InstanceNormalization has no forward",
    ("new_ops", "lrn"): "LRN has no forward",
    ("new_ops", "einsum_gram"): "the matmul kind has no forward",
    **{("pad_opset19", node): "no 'wrap' pad mode (the other pads read its output)" for node in ("wrap", "reflect", "constant")},
}
COMPUTABLE = [n for n in NAMES if n not in ("weights_as_inputs", "value_info_fallback")]  # fed weights; no rules


def _run(name: str, nodes: set[str]) -> dict:
    from cnninspect.forward.run import run_network

    truth = load_truth(DIR / f"{name}.truth.json")
    inputs = [np.asarray(v, dtype=np.float32) for v in truth["feed_values"].values()]
    with open_model(DIR / f"{name}.onnx") as model:
        return run_network(model, inputs, keep={(node, 0) for node in nodes})


@pytest.mark.parametrize("name", COMPUTABLE)
def test_every_node_output_value_matches_onnxruntime(name: str) -> None:
    """The forward pass of every node computed (folded constants are values already)."""
    truth = load_truth(DIR / f"{name}.truth.json")
    with open_model(DIR / f"{name}.onnx") as model:
        computed = {layer.name for layer in model.graph.layers if layer.op != "constant" and (name, layer.name) not in NO_FORWARD_YET}
    got = _run(name, computed)
    for node in (n for n in truth["nodes"] if n["name"] in computed):
        for index, tensor in enumerate(node["outputs"]):
            value, want = got[(node["name"], 0)][index], truth["values"][tensor]
            assert list(value.shape) == truth["tensors"][tensor], node["name"]
            np.testing.assert_allclose(np.ravel(value)[:6], want["first"], rtol=1e-4, atol=1e-5, err_msg=node["name"])
            np.testing.assert_allclose(float(np.sum(value, dtype=np.float64)), want["sum"], rtol=1e-4, atol=1e-3, err_msg=node["name"])


@pytest.mark.parametrize(("name", "node"), sorted(NO_FORWARD_YET))
@pytest.mark.xfail(strict=True, raises=ValueError, reason="a forward kernel cnninspect.forward does not have yet")
def test_forward_kernels_still_missing(name: str, node: str) -> None:
    truth = load_truth(DIR / f"{name}.truth.json")
    (tensor,) = [n["outputs"][0] for n in truth["nodes"] if n["name"] == node]
    value = _run(name, {node})[(node, 0)][0]
    np.testing.assert_allclose(float(np.sum(value, dtype=np.float64)), truth["values"][tensor]["sum"], rtol=1e-4)
