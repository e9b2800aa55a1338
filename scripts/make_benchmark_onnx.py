#!/usr/bin/env python3
"""Write the large ONNX model that ``benchmarks/onnx_lazy.py`` reads.

``benchmarks/data/vgg16.onnx`` (git-ignored: never commit it) is VGG-16 as
``torch.onnx.export`` lays out torchvision's ``vgg16``, built node by node with
``onnx.helper``: 13 ``Conv`` 3x3 (pads 1) + ``Relu``, 5 ``MaxPool`` 2x2, ``Flatten``, then
three ``Gemm`` (``transB=1``, weights ``(out, in)``) with ``Relu`` between, on an input
``(N, 3, 224, 224)`` whose batch is the symbolic ``N``. Its 138,357,544 float32 weights are
seeded random normals, stored as ``raw_data``: about 528 MiB, nearly all of the file.

Beside it, ``vgg16.onnx.truth.json`` holds what the onnx package says of it: the
parameter count, every initializer's dims, and ``onnx.shape_inference``'s shape of every
node output.

Run it with any Python that has ``onnx`` and NumPy (the system ``python3`` here, or
/work/venv-tf): ``python scripts/make_benchmark_onnx.py``. It takes about a minute and
2 GB of memory while it serializes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "data"
# torchvision's vgg16 "D" configuration: output channels of each 3x3 conv, "M" a 2x2 max pool.
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
CLASSIFIER = [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]


def build(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    x, channels = "input", 3

    def weight(name: str, shape: tuple) -> str:
        weights.append(numpy_helper.from_array(rng.standard_normal(shape, dtype=np.float32) * 0.01, name))
        return name

    i = 0  # torchvision's index in vgg16.features: a conv and its ReLU take two, a pool one
    for v in VGG16:
        if v == "M":
            nodes.append(helper.make_node("MaxPool", [x], [f"/features.{i}/MaxPool_output_0"], name=f"/features.{i}/MaxPool",
                                          kernel_shape=[2, 2], strides=[2, 2]))  # fmt: skip
            x, i = nodes[-1].output[0], i + 1
            continue
        w, b = weight(f"features.{i}.weight", (v, channels, 3, 3)), weight(f"features.{i}.bias", (v,))
        conv = helper.make_node("Conv", [x, w, b], [f"/features.{i}/Conv_output_0"], name=f"/features.{i}/Conv",
                                kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1)  # fmt: skip
        relu = helper.make_node("Relu", conv.output, [f"/features.{i + 1}/Relu_output_0"], name=f"/features.{i + 1}/Relu")
        nodes += [conv, relu]
        x, channels, i = relu.output[0], v, i + 2
    nodes.append(helper.make_node("Flatten", [x], ["/Flatten_output_0"], name="/Flatten", axis=1))
    x = "/Flatten_output_0"
    for j, (n_in, n_out) in enumerate(CLASSIFIER):
        k = 3 * j
        w, b = weight(f"classifier.{k}.weight", (n_out, n_in)), weight(f"classifier.{k}.bias", (n_out,))
        out = "output" if j == len(CLASSIFIER) - 1 else f"/classifier.{k}/Gemm_output_0"
        nodes.append(helper.make_node("Gemm", [x, w, b], [out], name=f"/classifier.{k}/Gemm", alpha=1.0, beta=1.0, transB=1))
        x = out
        if j < len(CLASSIFIER) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"/classifier.{k + 1}/Relu_output_0"], name=f"/classifier.{k + 1}/Relu"))
            x = nodes[-1].output[0]
    graph = helper.make_graph(
        nodes, "main_graph", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1000])], initializer=weights,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cnninspect make_benchmark_onnx",
                              producer_version="1")  # fmt: skip
    model.ir_version = 8
    return model


def truth(model: onnx.ModelProto) -> dict:
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in [*inferred.graph.value_info, *inferred.graph.output]}
    return {
        "params": int(sum(np.prod(t.dims) for t in model.graph.initializer)),
        "initializers": {t.name: list(t.dims) for t in model.graph.initializer},
        "node_output_shapes": {node.name: [shapes[o] for o in node.output] for node in model.graph.node},
        "library": f"onnx {onnx.__version__}",
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = build()
    onnx.checker.check_model(model)
    path = OUT / "vgg16.onnx"
    onnx.save(model, str(path))
    facts = truth(model)
    path.with_name(path.name + ".truth.json").write_text(json.dumps(facts, indent=1) + "\n")
    print(f"{path}: {path.stat().st_size / 2**20:.0f} MiB, {facts['params']:,} params, {len(model.graph.node)} nodes")


if __name__ == "__main__":
    main()
