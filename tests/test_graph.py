"""``graph``: the network as DOT or Mermaid text, parsed back (pydot) and checked against
the truth the writing libraries reported (Keras' output shapes and params; onnx's own
type inference for the shape-only nodes that are hidden)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, TRUTH_FILES, load_truth, truth_id

from cnninspect.loaders import open_model
from cnninspect.render.graph import dot, mermaid
from cnninspect.reports.graph import graph_report

pydot = pytest.importorskip("pydot")


def _report(path: Path, **kwargs: Any) -> dict[str, Any]:
    with open_model(path) as model:
        return graph_report(model, **kwargs)


def _unquote(name: str) -> str:
    if not name.startswith('"'):
        return name
    return name[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _dot_nodes(graph: Any) -> dict[str, str]:
    """Every node id of a parsed DOT graph (clusters included) → its label."""
    found = {_unquote(n.get_name()): _unquote(n.get("label") or "") for n in graph.get_nodes()}
    for sub in graph.get_subgraphs():
        found.update(_dot_nodes(sub))
    return {k: v for k, v in found.items() if k not in ("node", "graph", "edge")}


@pytest.mark.parametrize("truth_path", TRUTH_FILES, ids=truth_id)
def test_dot_parses_and_shows_what_keras_reports(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    doc = _report(truth_path.with_name(truth["file"]))
    parsed = pydot.graph_from_dot_data(dot(doc))
    assert parsed, "DOT that does not parse"
    nodes = _dot_nodes(parsed[0])
    assert set(nodes) == {n["id"] for n in doc["nodes"]}
    for edge in parsed[0].get_edges():  # every edge joins two drawn nodes
        assert _unquote(edge.get_source()) in nodes and _unquote(edge.get_destination()) in nodes
    paths = [layer["path"] for layer in truth["layers"]]
    containers = {p for p in paths if any(q.startswith(p + "/") for q in paths)}
    leaves = [layer for layer in truth["layers"] if layer["path"] not in containers]
    drawn = {n["path"] for n in doc["nodes"]}
    for layer in leaves:
        if layer["path"] not in drawn:
            continue
        for node in layer["nodes"]:
            shape = node["output_shapes"][0]
            dims = ["None" if d is None and i == 0 else "?" if d is None else str(d) for i, d in enumerate(shape)]
            text = "(" + ", ".join(dims) + ("," if len(shape) == 1 else "") + ")"
            labels = [lbl for nid, lbl in nodes.items() if nid.split("[")[0] == layer["path"]]
            # Keras' shape, or '?' where cnninspect cannot know it (a Lambda): never another one
            assert any(text in lbl or lbl.splitlines()[2] == "?" for lbl in labels), (layer["path"], text, labels)
        if layer["params"]:
            assert any(f"{layer['params']:,} params" in lbl for nid, lbl in nodes.items() if nid.split("[")[0] == layer["path"])
    assert {c["id"] for c in doc["clusters"]} == containers


def test_mermaid_declares_every_node_it_links() -> None:
    doc = _report(FIXTURES / "keras3" / "nested.h5")
    text = mermaid(doc)
    declared = set(re.findall(r"^\s*(n\d+)\[", text, re.M)) | set(re.findall(r"^\s*subgraph (n\d+)\[", text, re.M))
    linked = re.findall(r"(n\d+) --> (n\d+)", text)
    assert linked and all(a in declared and b in declared for a, b in linked)
    assert text.count("subgraph") == text.count("\n  end") + text.count("\n    end") == len(doc["clusters"])


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "onnx").glob("*.onnx")))
def test_hidden_onnx_nodes_compute_only_integers(name: str) -> None:
    """What is hidden is no activation: onnx's own inference types each of its outputs as
    an integer tensor (a shape), or the output depends on no graph input (a constant)."""
    onnx = pytest.importorskip("onnx")
    path = FIXTURES / "onnx" / name
    hidden = _report(path)["hidden_shape_ops"]
    shown = {n["id"] for n in _report(path, show_shape_ops=True)["nodes"]}
    assert set(hidden) <= shown
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.output]}
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
    by_name = {node.name: node for node in model.graph.node if node.name}
    live = {i.name for i in model.graph.input} - {t.name for t in model.graph.initializer}
    for node in model.graph.node:  # graph order is topological
        if any(i in live for i in node.input):
            live.update(node.output)
    checked = 0
    for layer in hidden:
        node = by_name.get(layer)
        if node is None:
            continue
        for out in node.output:
            assert types.get(out) not in floats or out not in live, (layer, out)
            checked += 1
    assert checked or not hidden
