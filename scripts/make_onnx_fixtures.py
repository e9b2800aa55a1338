"""Write the ONNX fixtures with PyTorch's exporter and onnx.helper, and their truth with
onnxruntime.

Run in a venv with torch==2.13.0, onnx, onnxruntime and numpy (CI never runs this):

    /work/venv-onnx/bin/python scripts/make_onnx_fixtures.py

Writes to tests/fixtures/onnx/, for each model ``<name>.onnx`` and ``<name>.truth.json``:
- ``cnn_opset9``: conv/bn/relu, MaxPool with ceil_mode, a dilated grouped conv, average
  pooling and ``x.view(x.size(0), -1)`` (PyTorch exports it as Shape, Gather, Unsqueeze,
  Concat, Reshape), then a Linear (Gemm, transB=1), by ``torch.onnx.export`` at opset 9;
- ``cnn_opset13_dynamic``: the same at opset 13 (Unsqueeze axes as an input) with a
  dynamic batch axis named ``batch``;
- ``blocks_latest``: residual Add, Concat, ConvTranspose with output_padding, Resize,
  Pad, Transpose, MatMul against a parameter, Squeeze/Unsqueeze, arithmetic with
  constants, global average pooling and Flatten, at the newest opset the exporter takes;
- ``old_ir3``: written by hand with onnx.helper the way early exporters wrote files: IR
  version 3, opset 7, every initializer also listed as a graph input, Reshape to a shape
  initializer, and MatMul + Add where Gemm would stand;
- ``nhwc_opset11`` (by hand, as tf2onnx writes Keras models): an NHWC input with a
  symbolic batch, Transposes around the conv, auto_pad SAME_UPPER/SAME_LOWER,
  ConvTranspose with output_shape, Resize to sizes, Squeeze/Unsqueeze with axes
  attributes, Pad with a pads input;
- ``upsample_opset9`` (by hand): Upsample with a scales input, Pad with a pads
  attribute, GlobalMaxPool, Flatten;
- ``reduce_split_opset13`` (by hand): Split by a split input, ReduceMean and ReduceMax
  with and without keepdims, a squeeze-and-excitation style gate, Concat.

The truth is what onnxruntime computed: a copy of each model with every node output made
a graph output runs on a random input, and each tensor's actual shape is recorded, with
the initializers' names, shapes, dtypes and first values (as ``numpy_helper`` reads them).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx"


class Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, dilation=2, groups=2, padding=(1, 2))
        self.pool2 = nn.AvgPool2d(2)
        self.fc = nn.Linear(16 * 3 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class Blocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 5, stride=2, padding=2, bias=False)
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 4, 1)
        self.up = nn.ConvTranspose2d(12, 6, 3, stride=2, padding=1, output_padding=1)
        self.proj = nn.Parameter(torch.randn(6, 5))
        self.head = nn.Linear(5, 7, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))  # 8 x 10 x 10
        x = x + self.a(x)  # residual Add
        x = torch.cat([x, self.b(x)], dim=1)  # 12 channels
        x = self.up(x)  # 6 x 20 x 20
        x = F.interpolate(x, scale_factor=0.5, mode="nearest")  # Resize: 10 x 10
        x = F.pad(x, (1, 2, 0, 1))  # Pad: 11 x 13
        x = F.max_pool2d(x, 2, ceil_mode=True)  # 6 x 7
        x = (x * 2.0 - 1.0) / 3.0
        x = x.permute(0, 2, 3, 1)  # Transpose: N, 6, 7, 6
        x = x @ self.proj  # MatMul: N, 6, 7, 5
        x = x.unsqueeze(1).squeeze(1)
        x = F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 1)  # GlobalAveragePool: N, 5, 1, 1
        x = torch.flatten(x, 1)  # Flatten
        return self.head(x)


def export(model: nn.Module, x: torch.Tensor, opset: int, dynamic: bool = False) -> onnx.ModelProto:
    torch.manual_seed(1)
    model.eval()
    buf = io.BytesIO()
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(model, x, buf, opset_version=opset, dynamo=False, input_names=["input"], output_names=["output"], **kwargs)
    return onnx.load_from_string(buf.getvalue())


def newest_opset(model: nn.Module, x: torch.Tensor) -> int:
    for opset in range(25, 13, -1):
        try:
            export(model, x, opset)
            return opset
        except Exception:  # noqa: BLE001 - the exporter refuses opsets it does not know
            continue
    raise RuntimeError("no opset above 13 exports")


def old_ir3() -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    inits = {
        "W1": rng.standard_normal((6, 1, 5, 5)).astype(np.float32),
        "b1": rng.standard_normal(6).astype(np.float32),
        "shape": np.array([0, -1], dtype=np.int64),
        "W2": rng.standard_normal((6 * 12 * 12, 10)).astype(np.float32),
        "b2": rng.standard_normal(10).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["data", "W1", "b1"], ["c1"], kernel_shape=[5, 5], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Reshape", ["p1", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W2"], ["mm"]),
        helper.make_node("Add", ["mm", "b2"], ["logits"]),
    ]
    for node in nodes:  # early exporters named no nodes
        node.name = ""
    inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 1, 28, 28])]
    inputs += [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in inits.items()]
    graph = helper.make_graph(
        nodes,
        "old_style",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, producer_name="handmade-ir3", opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    onnx.checker.check_model(model)
    return model


def nhwc_opset11() -> onnx.ModelProto:
    """What tf2onnx writes for a Keras model: NHWC input, Transposes around each conv;
    plus auto_pad SAME_UPPER/SAME_LOWER, ConvTranspose with output_shape, Resize to sizes."""
    rng = np.random.default_rng(4)
    inits = {
        "k1": rng.standard_normal((5, 3, 3, 3)).astype(np.float32),
        "k2": rng.standard_normal((5, 2, 3, 3)).astype(np.float32),  # ConvTranspose (in, out, kh, kw)
        "roi": np.array([], dtype=np.float32),
        "scales": np.array([], dtype=np.float32),
        "sizes": np.array([2, 2, 9, 10], dtype=np.int64),
        "axes": np.array([0], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Transpose", ["x"], ["t1"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["t1", "k1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", name="conv"),
        helper.make_node("Transpose", ["c1"], ["t2"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Transpose", ["t2"], ["t3"], perm=[0, 3, 1, 2], name="to_nchw_2"),
        helper.make_node("MaxPool", ["t3"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER", name="pool"),
        helper.make_node("ConvTranspose", ["p1", "k2"], ["u1"], kernel_shape=[3, 3], strides=[3, 3], output_shape=[16, 17],
                         name="up"),
        helper.make_node("Resize", ["u1", "roi", "scales", "sizes"], ["r1"], mode="nearest", name="resize"),
        helper.make_node("Unsqueeze", ["r1"], ["q1"], axes=[0], name="unsqueeze"),
        helper.make_node("Squeeze", ["q1"], ["s1"], axes=[0], name="squeeze"),
        helper.make_node("Pad", ["s1", "pads"], ["pd"], name="pad"),
        helper.make_node("Transpose", ["pd"], ["y"], perm=[0, 2, 3, 1], name="to_nhwc_2"),
    ]
    inits["pads"] = np.array([0, 0, 1, 0, 0, 0, 2, 3], dtype=np.int64)
    del inits["axes"]
    graph = helper.make_graph(
        nodes, "tf2onnx_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 17, 19, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12, 13, 2])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, producer_name="handmade-tf2onnx-style", opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    onnx.checker.check_model(model)
    return model


def upsample_opset9() -> onnx.ModelProto:
    """Opset 9: Upsample with a scales input, Slice with attributes, Pad with a pads attribute."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 3], dtype=np.float32), "scales")
    nodes = [
        helper.make_node("Upsample", ["x", "scales"], ["u"], mode="nearest"),
        helper.make_node("Pad", ["u"], ["p"], pads=[0, 0, 1, 2, 0, 0, 0, 1]),
        helper.make_node("GlobalMaxPool", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Mul", ["f", "f"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "upsample", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], initializer=[scales],
    )
    model = helper.make_model(graph, producer_name="handmade-opset9", opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 4
    onnx.checker.check_model(model)
    return model


def reduce_split_opset13() -> onnx.ModelProto:
    """Opset 13 by hand: Split by a split input, ReduceMean/ReduceMax with and without
    keepdims, a squeeze-and-excitation style Mul, Concat of the parts."""
    inits = {"split": np.array([2, 4], dtype=np.int64)}
    nodes = [
        helper.make_node("Split", ["x", "split"], ["a", "b"], axis=1, name="split"),
        helper.make_node("ReduceMean", ["b"], ["m"], axes=[2, 3], keepdims=1, name="mean"),
        helper.make_node("Sigmoid", ["m"], ["g"], name="gate"),
        helper.make_node("Mul", ["b", "g"], ["e"], name="excite"),
        helper.make_node("Concat", ["a", "e"], ["c"], axis=1, name="concat"),
        helper.make_node("ReduceMax", ["c"], ["y"], axes=[1], keepdims=0, name="max"),
    ]
    graph = helper.make_graph(
        nodes, "reduce_split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 7])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, producer_name="handmade-opset13", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def truth(model: onnx.ModelProto, feed_shape: list[int]) -> dict:
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    if probe.ir_version < 4:  # onnxruntime wants initializers out of the inputs only from IR 4; keep as is
        pass
    names = [o for n in probe.graph.node for o in n.output if o]
    existing = {o.name for o in probe.graph.output}
    for name in names:
        if name not in existing:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feed_name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(feed_shape).astype(np.float32)
    results = sess.run(None, {feed_name: x})
    shapes = {o.name: list(np.shape(r)) for o, r in zip(sess.get_outputs(), results)}
    inits = {}
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        inits[t.name] = {"shape": list(a.shape), "dtype": str(a.dtype), "first": a.reshape(-1)[:6].astype(np.float64).tolist()}
    return {
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "ir_version": model.ir_version,
        "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "feed": {feed_name: feed_shape},
        "nodes": [{"name": n.name, "op_type": n.op_type, "inputs": list(n.input), "outputs": list(n.output)} for n in model.graph.node],
        "tensors": shapes,
        "initializers": inits,
    }


def save(name: str, model: onnx.ModelProto, feed_shape: list[int]) -> None:
    onnx.save(model, OUT / f"{name}.onnx")
    doc = truth(model, feed_shape)
    (OUT / f"{name}.truth.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(name, doc["ir_version"], doc["opset"], [n["op_type"] for n in doc["nodes"]])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cnn = Cnn()
    cnn(torch.randn(4, 3, 32, 32))  # BatchNorm statistics off their defaults
    x = torch.randn(1, 3, 32, 32)
    save("cnn_opset9", export(cnn, x, 9), [1, 3, 32, 32])
    save("cnn_opset13_dynamic", export(cnn, x, 13, dynamic=True), [3, 3, 32, 32])
    torch.manual_seed(0)
    blocks = Blocks()
    x = torch.randn(2, 3, 20, 20)
    opset = newest_opset(blocks, x)
    save("blocks_latest", export(blocks, x, opset), [2, 3, 20, 20])
    save("old_ir3", old_ir3(), [1, 1, 28, 28])
    save("nhwc_opset11", nhwc_opset11(), [2, 17, 19, 3])
    save("upsample_opset9", upsample_opset9(), [2, 4, 5, 6])
    save("reduce_split_opset13", reduce_split_opset13(), [2, 6, 5, 7])


if __name__ == "__main__":
    main()
