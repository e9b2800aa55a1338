"""The ``window`` of each sliding-window layer in ``shapes --json`` is what the file
states: checked against onnx's own reading of every Conv and pooling node's attributes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, cli_json

onnx = pytest.importorskip("onnx")
SLIDING = {"Conv", "ConvTranspose", "MaxPool", "AveragePool"}


@pytest.mark.parametrize("path", sorted((FIXTURES / "onnx").glob("*.onnx")), ids=lambda p: p.name)
def test_windows_are_the_onnx_attributes(path: Path) -> None:
    model = onnx.load(str(path))
    layers = {layer["name"]: layer for layer in cli_json("shapes", path)["layers"]}
    checked = 0
    for i, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{i}"  # early exporters named no nodes
        if node.op_type not in SLIDING:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        window = layers[name]["window"]
        kernel = list(attrs.get("kernel_shape", window["kernel_size"]))
        rank = len(kernel)
        assert window["kernel_size"] == kernel
        assert window["strides"] == list(attrs.get("strides", [1] * rank))
        assert window["dilation"] == list(attrs.get("dilations", [1] * rank))
        if "pads" in attrs:
            pads = list(attrs["pads"])
            assert window["padding"] == [[pads[i], pads[i + rank]] for i in range(rank)]
        if node.op_type.startswith("Conv"):
            assert window["groups"] == attrs.get("group", 1)
        else:
            assert "groups" not in window
        checked += 1
    non_sliding = [la for la in layers.values() if la["op"] in ("elementwise", "activation", "input")]
    assert all(la["window"] is None for la in non_sliding)
    assert checked or not any(n.op_type in SLIDING for n in model.graph.node)
