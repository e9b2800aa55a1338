"""The ONNX loader and its shape rules against what onnxruntime computed.

``scripts/make_onnx_fixtures.py`` exported small CNNs with ``torch.onnx.export`` (opsets
9, 13 with a dynamic batch axis, and the newest the exporter takes), wrote an IR 3 file
by hand with onnx.helper, and recorded onnxruntime's actual shape of every node output
on a random input. Weight values are checked against ``onnx.numpy_helper``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json, load_truth
from cnninspect.core.infer import infer_shapes
from cnninspect.core.model import Call, Operand
from cnninspect.core.ops import spec
from cnninspect.core.ops.base import RuleContext
from cnninspect.loaders import open_model

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

ONNX = FIXTURES / "onnx"
NAMES = ["cnn_opset9", "cnn_opset13_dynamic", "blocks_latest", "old_ir3", "nhwc_opset11", "upsample_opset9",
         "reduce_split_opset13"]


def _fails(result, status: int, *words: str) -> None:
    assert result.exit_code == status, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _arrays(name: str) -> dict[str, np.ndarray]:
    proto = onnx.load(str(ONNX / f"{name}.onnx"))
    return {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}


@pytest.mark.parametrize("name", NAMES)
def test_every_node_output_shape_matches_onnxruntime(name: str) -> None:
    truth = load_truth(ONNX / f"{name}.truth.json")
    (feed,) = truth["feed"].values()
    with open_model(ONNX / f"{name}.onnx") as model:
        result = infer_shapes(model.graph, batch=feed[0])
        assert len(model.graph.layers) == len(truth["nodes"]) + 1  # and the input layer
        layers = model.graph.layers[1:]
        for layer, node in zip(layers, truth["nodes"]):
            assert layer.type == node["op_type"]
            assert layer.name == (node["name"] or layer.name)
            for index, tensor in enumerate(node["outputs"]):
                if tensor in truth["tensors"]:
                    assert result.output_shapes(layer)[0][index] == tuple(truth["tensors"][tensor]), (layer.name, result.reason(layer))
        assert [result.reason(layer) for layer in layers] == [None] * len(layers)


@pytest.mark.parametrize("name", NAMES)
def test_initializers_are_weights_of_their_consumers(name: str) -> None:
    truth = load_truth(ONNX / f"{name}.truth.json")["initializers"]
    with open_model(ONNX / f"{name}.onnx") as model:
        weights = {w.name: w for w in model.weights()}
        assert sorted(weights) == sorted(truth)
        for key, t in truth.items():
            w = weights[key]
            assert (list(w.shape), w.dtype) == (t["shape"], t["dtype"])
            np.testing.assert_array_equal(np.asarray(w.read(()), np.float64).reshape(-1)[:6], t["first"])


def test_roles_and_layouts() -> None:
    with open_model(ONNX / "cnn_opset9.onnx") as model:
        conv = model.graph.layer("/conv2/Conv")
        assert [(w.role, w.layout.code) for w in conv.weights] == [("weight", "OIHW"), ("bias", "O")]
        assert conv.attrs["groups"] == 2 and conv.attrs["padding"] == [(1, 1), (2, 2)]
        gemm = model.graph.layer("/fc/Gemm")
        assert [(w.role, w.layout.code) for w in gemm.weights] == [("weight", "OI"), ("bias", "O")]  # transB=1
    with open_model(ONNX / "nhwc_opset11.onnx") as model:
        assert [w.role for w in model.graph.layer("resize").weights] == ["roi", "scales", "sizes"]
    with open_model(ONNX / "blocks_latest.onnx") as model:
        up = model.graph.layer("/up/ConvTranspose")
        assert up.op == "conv_transpose" and up.weight("weight").layout.code == "IOHW"
        matmul = model.graph.layer("/MatMul")
        assert matmul.op == "dense" and matmul.weight("weight").layout.code == "IO"
    with open_model(ONNX / "old_ir3.onnx") as model:
        assert model.graph.layer("Add_5").weights[0].role == "bias"
        (shape,) = model.graph.layer("Reshape_3").weights
        assert (shape.role, shape.trainable, shape.read(()).tolist()) == ("shape", False, [0, -1])
        assert model.graph.layer("MatMul_4").weight("weight").axes == ("in", "out")
        assert [r.layer for r in model.graph.inputs] == ["data"]
        assert any("also listed as graph inputs" in note for note in model.notes)


@pytest.mark.parametrize(
    "name, layer, weight, out",
    [
        ("cnn_opset9", "/conv1/Conv", "onnx::Conv_28", 5),
        ("cnn_opset13_dynamic", "/conv2/Conv", "conv2.weight", 11),
        ("blocks_latest", "/stem/Conv", "stem.weight", 7),
    ],
)
def test_filters_slice_conv_weights(name: str, layer: str, weight: str, out: int) -> None:
    array = _arrays(name)[weight]
    report = cli_json("filters", ONNX / f"{name}.onnx", "--layer", layer, "--out", str(out))
    assert report["native_slice"] == f"weight[{out}]"
    groups = 2 if layer == "/conv2/Conv" else 1
    first = (out // (array.shape[0] // groups)) * array.shape[1]
    assert [e["in"] for e in report["inputs"]] == list(range(first, first + array.shape[1]))
    for k, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), array[out, k])


def test_filters_of_gemm_and_matmul() -> None:
    fc = _arrays("cnn_opset9")["fc.weight"]  # (out, in): transB=1
    report = cli_json("filters", ONNX / "cnn_opset9.onnx", "--layer", "/fc/Gemm", "--out", "4")
    assert report["native_slice"] == "weight[4]"
    np.testing.assert_array_equal(np.array([e["filter"] for e in report["inputs"]], np.float32), fc[4])
    w2 = _arrays("old_ir3")["W2"]  # (in, out)
    report = cli_json("filters", ONNX / "old_ir3.onnx", "--layer", "MatMul_4", "--out", "3")
    assert report["native_slice"] == "weight[:, 3]"
    np.testing.assert_array_equal(np.array([e["filter"] for e in report["inputs"]], np.float32), w2[:, 3])


def test_symbolic_batch_stays_symbolic() -> None:
    report = cli_json("shapes", ONNX / "cnn_opset13_dynamic.onnx")
    assert report["inputs"] == [{"name": "input", "shape": [None, 3, 32, 32]}]
    layers = {x["name"]: x for x in report["layers"]}
    assert "dim 0 is 'batch'" in layers["input"]["notes"][0]
    assert layers["/Reshape"]["output_shapes"] == [[None, 192]]  # Shape, Gather, Unsqueeze, Concat folded
    assert report["outputs"][0]["shape"] == [None, 10]
    with open_model(ONNX / "cnn_opset13_dynamic.onnx") as model:
        assert model.graph.layer("input").attrs["dim_params"] == {0: "batch"}
    assert cli_json("shapes", ONNX / "cnn_opset13_dynamic.onnx", "--batch", "5")["outputs"][0]["shape"] == [5, 10]


def test_source_and_notes() -> None:
    report = cli_json("shapes", ONNX / "blocks_latest.onnx")
    assert report["source"]["format"] == "onnx" and report["source"]["library"] == "pytorch"
    assert report["notes"][0].startswith("ONNX IR version 11, opsets: ai.onnx ")
    assert report["architecture"] is True


def test_detected_by_content_and_not_claiming_others(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes((ONNX / "old_ir3.onnx").read_bytes())
    assert cli_json("shapes", path)["source"]["format"] == "onnx"
    other = tmp_path / "random.bin"
    other.write_bytes(b"\x08\x01\x99" + bytes(100))
    _fails(cli("shapes", other), 4)


def test_truncated_file_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "truncated.onnx"
    path.write_bytes((ONNX / "cnn_opset9.onnx").read_bytes()[:3000])
    _fails(cli("shapes", path), 5, "ONNX")


def test_reads_without_the_onnx_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("onnx", "google.protobuf"):
        monkeypatch.setitem(sys.modules, name, None)
    report = cli_json("shapes", ONNX / "cnn_opset9.onnx")
    assert report["source"]["format"] == "onnx" and report["outputs"][0]["shape"] == [1, 10]


def _save(model, path: Path, **kwargs) -> Path:
    onnx.save(model, str(path), **kwargs)
    return path


def test_reshape_to_a_runtime_shape_is_unknown_with_a_reason(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"), helper.make_node("Relu", ["y"], ["z"], name="relu")],
        "runtime_shape",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12]),
         helper.make_tensor_value_info("target", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )  # fmt: skip
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "dyn.onnx")
    layers = {x["name"]: x for x in cli_json("shapes", path)["layers"]}
    assert layers["reshape"]["output_shapes"] == [None]
    assert "computed at run time" in layers["reshape"]["unknown_reason"]
    assert "depends on 'reshape'" in layers["relu"]["unknown_reason"]
    assert layers["target"]["output_shapes"] == [[2]]


def test_gemm_without_transb_is_in_out(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    w = np.arange(12, dtype=np.float32).reshape(4, 3)  # (in, out): transB=0
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm")],
        "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])], initializer=[numpy_helper.from_array(w, "w")],
    )  # fmt: skip
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "gemm.onnx")
    report = cli_json("filters", path, "--layer", "gemm", "--out", "1")
    assert report["weight"]["layout"] == "IO" and report["native_slice"] == "weight[:, 1]"
    assert [e["filter"] for e in report["inputs"]] == w[:, 1].tolist()
    assert cli_json("shapes", path)["outputs"][0]["shape"] == [None, 3]


def test_other_protobufs_are_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "saved_model.pb"
    path.write_bytes(b"\x08\x01\x12\x04\x0a\x02ab")  # field 1 = 1, then a field 2 that is no ONNX producer name
    _fails(cli("shapes", path), 4)


def test_external_data_is_read_from_beside_the_model(tmp_path: Path) -> None:
    model = onnx.load(str(ONNX / "cnn_opset9.onnx"))
    path = _save(model, tmp_path / "ext.onnx", save_as_external_data=True, location="ext.data", size_threshold=0)
    fc = _arrays("cnn_opset9")["fc.weight"]
    report = cli_json("filters", path, "--layer", "/fc/Gemm", "--out", "2")
    np.testing.assert_array_equal(np.array([e["filter"] for e in report["inputs"]], np.float32), fc[2])
    (tmp_path / "ext.data").unlink()
    _fails(cli("filters", path, "--layer", "/fc/Gemm", "--out", "2"), 5, "ext.data")


# ---------------------------------------------------------------------------------------
# The rules on cases the fixtures do not reach, worked out by hand from the ONNX spec


def _rule(op: str, attrs: dict, *shapes, operands: list[Operand] | None = None, values: dict | None = None):
    """A rule applied with a context built by hand: no loader is involved."""
    return spec(op).shape(attrs, list(shapes), RuleContext(Call(), operands, values or {}))[0]


def test_pool_ceil_mode_never_starts_a_window_in_the_end_padding() -> None:
    attrs = {"rank": 1, "kernel_size": [2], "strides": [2], "dilation": [1], "padding": [(0, 0)], "ceil_mode": True}
    assert _rule("pool", attrs, (1, 3, 5)) == (1, 3, 3)
    attrs = {"rank": 1, "kernel_size": [3], "strides": [2], "dilation": [1], "padding": [(1, 1)], "ceil_mode": True}
    assert _rule("pool", attrs, (1, 3, 6)) == (1, 3, 4)  # the last window starts on the last element
    attrs = {"rank": 1, "kernel_size": [2], "strides": [2], "dilation": [1], "padding": [(1, 1)], "ceil_mode": True}
    assert _rule("pool", attrs, (1, 3, 5)) == (1, 3, 3)  # ceil(5/2)+1 = 4 would start in the end padding


def test_reshape_squeeze_pad_and_resize_by_value() -> None:
    values = {1: [0, -1, 4]}
    operands = [Operand("tensor", 0), Operand("const", shape=(3,))]
    assert _rule("reshape", {"batch_included": True}, (2, 3, 8), operands=operands, values=values) == (2, 6, 4)
    assert _rule("squeeze", {"axes": None}, (2, 1, 5, 1)) == (2, 5)
    assert _rule("pad", {"pads": [(0, 0), (0, 0), (1, 3), (2, 4)]}, (1, 2, 5, 5)) == (1, 2, 9, 11)
    assert _rule("resize", {"scales": [1, 1, 2.0, 0.5]}, (1, 2, 5, 6)) == (1, 2, 10, 3)
    assert _rule("unsqueeze", {"axes": [0, -1]}, (3, 4)) == (1, 3, 4, 1)
    assert _rule("transpose", {"perm": None}, (1, 2, 3)) == (3, 2, 1)
    assert _rule("flatten", {"axis": 2}, (2, 3, 4, 5)) == (6, 20)


def test_slice_by_attributes_and_by_values() -> None:
    assert _rule("slice_by", {"starts": [1], "ends": [10**9], "axes": [2]}, (1, 3, 8)) == (1, 3, 7)
    values = {1: [0, -1], 2: [9, 0], 3: [1, 3], 4: [2, -1]}
    operands = [Operand("tensor", 0)] + [Operand("const", shape=(2,))] * 4
    assert _rule("slice_by", {}, (1, 5, 4, 6), operands=operands, values=values) == (1, 3, 4, 5)
    with pytest.raises(Exception, match="computed at run time"):
        _rule("slice_by", {}, (1, 5), operands=operands)


def test_huge_initializer_is_listed_and_refused_on_read(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100000, 100000, 3, 3], raw_data=bytes(64))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "liar",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 100000, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w],
    )  # fmt: skip
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "liar.onnx")
    report = cli_json("shapes", path)
    assert report["layers"][1]["output_shapes"] == [[1, 100000, 6, 6]]
    _fails(cli("filters", path, "--layer", "conv", "--out", "1"), 5, "'w' cannot be read")


def test_conv_same_padding_and_transposed_output_shape() -> None:
    conv = {"rank": 2, "kernel_size": [3, 3], "strides": [2, 2], "dilation": [1, 1], "padding": "same",
            "filters": 4, "channels_last": False}
    assert _rule("conv", conv, (1, 3, 7, 8)) == (1, 4, 4, 4)
    up = {**conv, "padding": [(0, 0), (0, 0)], "output_padding": None, "output_shape": [None, 4, 15, 17]}
    assert _rule("conv_transpose", up, (1, 3, 7, 8)) == (1, 4, 15, 17)


def test_split_into_equal_parts_and_reduce_over_every_axis() -> None:
    attrs = {"axis": 1, "split": None, "outputs": 3}
    assert spec("split").shape(attrs, [(2, 7, 4)], RuleContext()) == [(2, 3, 4), (2, 3, 4), (2, 1, 4)]
    assert _rule("reduce", {"axes": None, "keepdims": 0}, (2, 3, 4)) == ()
    assert _rule("reduce", {"axes": None, "keepdims": 1, "noop_with_empty_axes": 1}, (2, 3)) == (2, 3)
