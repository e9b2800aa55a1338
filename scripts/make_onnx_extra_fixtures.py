"""Write the ONNX fixtures of the odd corners (issue 12) with onnx.helper, and their truth
with onnxruntime.

Run with a Python that has onnx and onnxruntime (CI never runs this):

    /work/venv-tf/bin/python scripts/make_onnx_extra_fixtures.py

Writes to tests/fixtures/onnx_extra/, for each graph ``<name>.onnx`` and
``<name>.truth.json``:
- ``weights_as_inputs``: as conformance graphs and older exporters wrote them, the weights
  of a Conv, a BatchNormalization, a PRelu, a ConvTranspose and a Gemm are graph inputs
  with full declared shapes and no initializer;
- ``constant_of_shape_weights``: as "light" models are distributed, weights made at run
  time by ConstantOfShape from stored int64 shape vectors, the vectors themselves made by
  Constant, Cast, Concat, Shape, Gather, Unsqueeze, Slice and Range; one of them (a Gemm
  weight) too big to be folded to values;
- ``new_ops``: DepthToSpace (DCR and CRD), SpaceToDepth, InstanceNormalization, LRN,
  Tile, Expand and Einsum as a matrix product (against a stored weight, and of two
  tensors);
- ``pad_opset7``, ``pad_opset13``, ``pad_opset19``: Pad in each of its forms (pads as an
  attribute, as an input, with an axes input) and each mode (constant, reflect, edge,
  wrap), negative pads included;
- ``upsample_opset7`` (scales attribute, nearest and linear), ``upsample_opset9`` (scales
  made by a Constant node), ``resize_opset10`` (Resize's scales input);
- ``value_info_fallback``: ops cnninspect has no rule for (TopK, CumSum, Trilu), with
  the shapes onnx's shape inference declares in ``value_info`` and the graph outputs, and
  a symbolic declared shape on a tensor whose shape is computable.

The truth is what onnxruntime computed: a copy of each graph with every node output made
a graph output runs on random inputs (every graph input fed, weights included; the
values fed are stored too), and each tensor's actual shape is recorded, with its sum and first
values; with the weights-as-inputs and ConstantOfShape-made weights' shapes, and the
declared shapes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx_extra"
FLOAT = TensorProto.FLOAT
ANY4 = ["n", "c", "h", "w"]  # a declared output of rank 4, its sizes left to the rules


def _value(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, FLOAT, shape)


def _model(nodes: list, name: str, inputs: list, outputs: list, inits: dict, opset: int, ir: int,
           infer: bool = False) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, producer_name="onnx.helper", producer_version=onnx.__version__,
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir
    if infer:  # value_info and the outputs' shapes as onnx's shape inference declares them
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def weights_as_inputs() -> tuple[onnx.ModelProto, dict]:
    weights = {"W": [6, 3, 3, 3], "B": [6], "scale": [6], "bias": [6], "mean": [6], "var": [6], "slope": [6, 1, 1],
               "Wt": [6, 4, 2, 2], "Bt": [4], "G": [4, 5], "C": [5]}
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["n"], name="bn"),
        helper.make_node("PRelu", ["n", "slope"], ["r"], name="prelu"),
        helper.make_node("ConvTranspose", ["r", "Wt", "Bt"], ["u"], kernel_shape=[2, 2], strides=[2, 2], name="up"),
        helper.make_node("GlobalAveragePool", ["u"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "G", "C"], ["y"], name="fc"),
    ]
    inputs = [_value("x", [1, 3, 10, 10])] + [_value(k, v) for k, v in weights.items()]
    model = _model(nodes, "conformance_style", inputs, [_value("y", [1, 5])], {}, 13, 7)
    return model, {"weights": weights}


def constant_of_shape_weights() -> tuple[onnx.ModelProto, dict]:
    i64 = TensorProto.INT64
    inits = {
        "kernel_hw_in": np.array([3, 3, 3], dtype=np.int32),  # cast to int64 before use
        "axes0": np.array([0], dtype=np.int64),
        "first": np.array([0], dtype=np.int64),
        "second": np.array([1], dtype=np.int64),
        "k33": np.array([3, 3], dtype=np.int64),
        "fc_shape": np.array([400, 12], dtype=np.int64),  # 4,800 elements: too many to fold
    }

    def scalar(name: str, v: int) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, dtype=np.int64)), name=name)

    def fill(name: str, value: float) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array([value], dtype=np.float32), name)

    nodes = [
        helper.make_node("Constant", [], ["out8"], value=numpy_helper.from_array(np.array([8], dtype=np.int64)), name="out8"),
        helper.make_node("Cast", ["kernel_hw_in"], ["khw"], to=i64, name="cast_shape"),
        helper.make_node("Concat", ["out8", "khw"], ["w1_shape"], axis=0, name="w1_shape"),
        helper.make_node("ConstantOfShape", ["w1_shape"], ["W1"], value=fill("v", 0.05), name="make_w1"),
        helper.make_node("Shape", ["W1"], ["w1_dims"], name="w1_dims"),
        scalar("zero", 0),
        helper.make_node("Gather", ["w1_dims", "zero"], ["n_out"], axis=0, name="n_out"),
        helper.make_node("Unsqueeze", ["n_out", "axes0"], ["b1_shape"], name="b1_shape"),
        helper.make_node("ConstantOfShape", ["b1_shape"], ["B1"], value=fill("v", 0.1), name="make_b1"),
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
        scalar("start", 0),
        scalar("limit", 16),
        scalar("delta", 1),
        helper.make_node("Range", ["start", "limit", "delta"], ["r16"], name="range"),
        helper.make_node("Shape", ["r16"], ["n16"], name="n16"),
        helper.make_node("Slice", ["w1_dims", "first", "second"], ["in8"], name="in8"),
        helper.make_node("Concat", ["n16", "in8", "k33"], ["w2_shape"], axis=0, name="w2_shape"),
        helper.make_node("ConstantOfShape", ["w2_shape"], ["W2"], value=fill("v", -0.02), name="make_w2"),
        helper.make_node("Conv", ["c1", "W2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], name="conv2"),
        helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
        helper.make_node("ConstantOfShape", ["fc_shape"], ["Wfc"], value=fill("v", 0.5), name="make_wfc"),
        helper.make_node("Gemm", ["f", "Wfc"], ["y"], name="fc"),
    ]
    model = _model(nodes, "constant_of_shape", [_value("x", [1, 3, 12, 12])], [_value("y", [1, 12])], inits, 13, 7)
    made = {"W1": [8, 3, 3, 3], "B1": [8], "W2": [16, 8, 3, 3], "Wfc": [400, 12]}
    return model, {"weights": made, "fill": {"W1": 0.05, "B1": 0.1, "W2": -0.02, "Wfc": 0.5}}


def new_ops() -> tuple[onnx.ModelProto, dict]:
    rng = np.random.default_rng(5)
    inits = {
        "in_scale": rng.standard_normal(2).astype(np.float32),
        "in_bias": rng.standard_normal(2).astype(np.float32),
        "repeats": np.array([1, 2, 1, 1], dtype=np.int64),
        "expand_to": np.array([2, 1, 4, 1, 12], dtype=np.int64),
        "Wd": rng.standard_normal((4, 5)).astype(np.float32),
        "shape3": np.array([2, 144, 5], dtype=np.int64),
    }
    nodes = [
        helper.make_node("DepthToSpace", ["x"], ["d2s"], blocksize=2, mode="DCR", name="d2s_dcr"),
        helper.make_node("SpaceToDepth", ["d2s"], ["s2d"], blocksize=3, name="s2d"),
        helper.make_node("DepthToSpace", ["s2d"], ["crd"], blocksize=3, mode="CRD", name="d2s_crd"),
        helper.make_node("InstanceNormalization", ["crd", "in_scale", "in_bias"], ["inorm"], epsilon=1e-5, name="inorm"),
        helper.make_node("LRN", ["inorm"], ["lrn"], size=3, name="lrn"),
        helper.make_node("Tile", ["crd", "repeats"], ["tiled"], name="tile"),
        helper.make_node("Expand", ["tiled", "expand_to"], ["wide"], name="expand"),
        helper.make_node("ReduceMean", ["wide"], ["back"], axes=[0], keepdims=0, name="mean0"),
        helper.make_node("Transpose", ["back"], ["nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Einsum", ["nhwc", "Wd"], ["proj"], equation="bhwc,cd->bhwd", name="einsum_dense"),
        helper.make_node("Reshape", ["proj", "shape3"], ["rows"], name="rows"),
        helper.make_node("Transpose", ["rows"], ["cols"], perm=[0, 2, 1], name="cols"),
        helper.make_node("Einsum", ["rows", "cols"], ["gram"], equation="bij,bjk->bik", name="einsum_gram"),
    ]
    outputs = [_value("gram", [2, 144, 144]), _value("lrn", [2, 2, 12, 12])]
    model = _model(nodes, "new_ops", [_value("x", [2, 8, 6, 6])], outputs, inits, 13, 7)
    return model, {}


def pad_opset7() -> tuple[onnx.ModelProto, dict]:
    nodes = [
        helper.make_node("Pad", ["x"], ["p1"], pads=[0, 0, 1, 2, 0, 0, 3, 0], mode="constant", value=1.5, name="constant"),
        helper.make_node("Pad", ["p1"], ["p2"], pads=[0, 0, 2, 1, 0, 0, 0, 2], mode="reflect", name="reflect"),
        helper.make_node("Pad", ["p2"], ["p3"], pads=[0, 0, 4, 4, 0, 0, 1, 1], mode="edge", name="edge"),
    ]
    return _model(nodes, "pad2", [_value("x", [1, 2, 5, 6])], [_value("p3", ANY4)], {}, 7, 3), {}


def pad_opset13() -> tuple[onnx.ModelProto, dict]:
    inits = {
        "pads_c": np.array([0, 1, 1, 2, 0, 0, 3, 0], dtype=np.int64),
        "fill": np.array(2.0, dtype=np.float32),
        "pads_r": np.array([0, 0, 2, 1, 0, 0, 0, 2], dtype=np.int64),
        "pads_e": np.array([0, 0, -1, 4, 0, 0, 1, -2], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Pad", ["x", "pads_c", "fill"], ["p1"], mode="constant", name="constant"),
        helper.make_node("Pad", ["p1", "pads_r"], ["p2"], mode="reflect", name="reflect"),
        helper.make_node("Pad", ["p2", "pads_e"], ["p3"], mode="edge", name="edge"),
    ]
    return _model(nodes, "pad13", [_value("x", [1, 2, 5, 6])], [_value("p3", ANY4)], inits, 13, 7), {}


def pad_opset19() -> tuple[onnx.ModelProto, dict]:
    inits = {
        "pads_w": np.array([2, 1, 1, 3], dtype=np.int64),
        "axes_hw": np.array([2, 3], dtype=np.int64),
        "pads_r": np.array([1, 2], dtype=np.int64),
        "axes_w": np.array([-1], dtype=np.int64),
        "pads_c": np.array([1, -1, 0, 2], dtype=np.int64),
        "axes_cw": np.array([1, 3], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Pad", ["x", "pads_w", "", "axes_hw"], ["p1"], mode="wrap", name="wrap"),
        helper.make_node("Pad", ["p1", "pads_r", "", "axes_w"], ["p2"], mode="reflect", name="reflect"),
        helper.make_node("Pad", ["p2", "pads_c", "", "axes_cw"], ["p3"], mode="constant", name="constant"),
    ]
    return _model(nodes, "pad19", [_value("x", [1, 2, 5, 6])], [_value("p3", ANY4)], inits, 19, 9), {}


def upsample_opset7() -> tuple[onnx.ModelProto, dict]:
    nodes = [
        helper.make_node("Upsample", ["x"], ["u1"], scales=[1.0, 1.0, 2.0, 3.0], mode="nearest", name="nearest"),
        helper.make_node("Upsample", ["u1"], ["u2"], scales=[1.0, 1.0, 1.5, 1.0], mode="linear", name="linear"),
    ]
    return _model(nodes, "upsample7", [_value("x", [1, 2, 5, 3])], [_value("u2", ANY4)], {}, 7, 3), {}


def upsample_opset9() -> tuple[onnx.ModelProto, dict]:
    scales = numpy_helper.from_array(np.array([1, 1, 2.5, 2], dtype=np.float32))
    nodes = [
        helper.make_node("Constant", [], ["scales"], value=scales, name="scales"),
        helper.make_node("Upsample", ["x", "scales"], ["u"], mode="linear", name="upsample"),
    ]
    return _model(nodes, "upsample9", [_value("x", [1, 2, 5, 3])], [_value("u", ANY4)], {}, 9, 4), {}


def resize_opset10() -> tuple[onnx.ModelProto, dict]:
    inits = {"scales": np.array([1, 1, 0.5, 3], dtype=np.float32)}
    nodes = [helper.make_node("Resize", ["x", "scales"], ["r"], mode="nearest", name="resize")]
    return _model(nodes, "resize10", [_value("x", [1, 2, 7, 3])], [_value("r", ANY4)], inits, 10, 5), {}


def value_info_fallback() -> tuple[onnx.ModelProto, dict]:
    rng = np.random.default_rng(6)
    inits = {"k": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "K": np.array([3], dtype=np.int64),
             "axis": np.array(2, dtype=np.int64)}
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], kernel_shape=[3, 3], name="conv"),
        helper.make_node("TopK", ["c", "K"], ["top", "where"], axis=-1, name="topk"),
        helper.make_node("Relu", ["top"], ["r"], name="relu"),
        helper.make_node("CumSum", ["r", "axis"], ["cs"], name="cumsum"),
        helper.make_node("Trilu", ["cs"], ["y"], upper=1, name="trilu"),
    ]
    model = _model(nodes, "recorded", [_value("x", [1, 3, 8, 8])], [_value("y", None)], inits, 14, 7, infer=True)
    for v in model.graph.value_info:  # the conv output as a dynamic export records it
        if v.name == "c":
            dims = v.type.tensor_type.shape.dim
            dims[2].ClearField("dim_value")
            dims[2].dim_param = "height"
    declared = {v.name: _declared(v) for v in [*model.graph.value_info, *model.graph.output]}
    return model, {"declared": declared}


def _declared(value: onnx.ValueInfoProto) -> list | None:
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else d.dim_param or None for d in t.shape.dim]


def _shape(value: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def truth(model: onnx.ModelProto, extra: dict) -> dict:
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    for tensor in (o for n in probe.graph.node for o in n.output if o):
        if tensor not in existing:
            probe.graph.output.append(onnx.ValueInfoProto(name=tensor))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    stored = {t.name for t in model.graph.initializer}
    feed = {i.name: _shape(i) for i in model.graph.input if i.name not in stored}
    arrays = {k: rng.standard_normal(v).astype(np.float32) for k, v in feed.items()}
    results = sess.run(None, arrays)
    return {
        "producer": f"{model.producer_name} {model.producer_version}",
        "ir_version": model.ir_version,
        "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "feed": feed,
        "feed_values": {k: v.tolist() for k, v in arrays.items()},
        "nodes": [{"name": n.name, "op_type": n.op_type, "inputs": list(n.input), "outputs": list(n.output)}
                  for n in model.graph.node],
        "tensors": {o.name: list(np.shape(r)) for o, r in zip(sess.get_outputs(), results)},
        "values": {o.name: {"sum": float(np.sum(r, dtype=np.float64)), "first": np.ravel(r)[:6].astype(np.float64).tolist()}
                   for o, r in zip(sess.get_outputs(), results)},
        "initializers": {t.name: list(t.dims) for t in model.graph.initializer},
        **extra,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for make in (weights_as_inputs, constant_of_shape_weights, new_ops, pad_opset7, pad_opset13, pad_opset19,
                 upsample_opset7, upsample_opset9, resize_opset10, value_info_fallback):
        model, extra = make()
        name = make.__name__
        onnx.save(model, OUT / f"{name}.onnx")
        doc = truth(model, extra)
        (OUT / f"{name}.truth.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(name, doc["opset"], {n["name"]: doc["tensors"][n["outputs"][0]] for n in doc["nodes"]})


if __name__ == "__main__":
    main()
