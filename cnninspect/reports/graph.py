"""The ``graph`` report: the network as nodes (one per layer call) and edges (the tensors
between them), with containers as clusters, for ``render.graph`` to write as DOT or Mermaid.

It is built on the ``shapes`` report, so a node's shape, params and kernel are the numbers
``shapes`` prints. Nodes that only compute shapes (ONNX ``Shape`` → ``Gather`` →
``Unsqueeze`` → ``Concat`` chains feeding a ``Reshape``) are left out unless asked for.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..core.model import Graph, Layer, Model, Shape, TensorRef
from .shapes import shape_only, shapes_report

SCHEMA = "cnninspect.graph/1"


def graph_report(
    model: Model,
    input_shapes: Sequence[Shape] | None = None,
    batch: int | None = None,
    show_shape_ops: bool = False,
) -> dict[str, Any]:
    shapes = shapes_report(model, input_shapes, batch)
    by_path = {row["path"]: row for row in shapes["layers"]}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    hidden: list[str] = []

    def walk(graph: Graph, prefix: str, cluster: str | None) -> None:
        skip = set() if show_shape_ops else shape_only(graph)
        for layer in graph.layers:
            path = prefix + layer.name
            if layer.name in skip:
                hidden.append(path)
                continue
            if layer.graph is not None:
                clusters.append({"id": path, "name": layer.name, "type": layer.type, "parent": cluster})
                walk(layer.graph, path + "/", path)
                _container_edges(graph, layer, prefix, edges, skip)
                continue
            row = by_path[path]
            for call, out in enumerate(_call_shapes(row, layer)):
                nodes.append(_node(layer, row, path, call, out, cluster))
                for ref in layer.calls[call].tensor_inputs:
                    if ref.layer not in skip:
                        edges.append({"from": _endpoint(graph, ref, prefix), "to": _node_id(path, call, layer)})

    walk(model.graph, "", None)
    return {
        "schema": SCHEMA,
        "source": shapes["source"],
        "model": shapes["model"],
        "nodes": nodes,
        "edges": edges,
        "clusters": clusters,
        "hidden_shape_ops": hidden,
    }


def _call_shapes(row: dict[str, Any], layer: Layer) -> list[list | None]:
    """The first output shape of each call (a shared layer has one node per call)."""
    shapes = row["output_shapes"]
    per_call = len(shapes) // max(len(layer.calls), 1) if shapes else 0
    return [shapes[i * per_call] if per_call else None for i in range(max(len(layer.calls), 1))]


def _node_id(path: str, call: int, layer: Layer) -> str:
    return path if call == 0 or len(layer.calls) <= 1 else f"{path}[{call}]"


def _node(layer: Layer, row: dict[str, Any], path: str, call: int, shape: list | None, cluster: str | None) -> dict[str, Any]:
    attrs = layer.attrs
    conv = row.get("kernel_size") is not None and layer.op != "dense"
    return {
        "id": _node_id(path, call, layer),
        "name": layer.name,
        "path": path,
        "call": call,
        "type": layer.type,
        "op": layer.op,
        "shape": shape,
        "params": row["params"],
        "cluster": cluster,
        **(
            {"kernel": row["kernel_size"], "stride": attrs.get("strides"), "groups": attrs.get("groups") or 1}
            if conv
            else {}
        ),
    }


def _endpoint(graph: Graph, ref: TensorRef, prefix: str) -> str:
    """The node a tensor comes from: a container's comes from its inner graph's output."""
    try:
        source = graph.layer(ref.layer)
    except KeyError:
        return prefix + ref.layer
    if source.graph is not None and source.graph.outputs:
        inner = source.graph.outputs[min(ref.index, len(source.graph.outputs) - 1)]
        return _endpoint(source.graph, inner, f"{prefix}{source.name}/")
    return _node_id(prefix + ref.layer, ref.call, source)


def _container_edges(graph: Graph, layer: Layer, prefix: str, edges: list[dict[str, Any]], skip: set[str]) -> None:
    """A container's inbound tensors enter its inner inputs, in order."""
    assert layer.graph is not None
    for call in layer.calls[:1]:
        for ref, inner in zip(call.tensor_inputs, layer.graph.inputs):
            if ref.layer not in skip:
                edges.append({"from": _endpoint(graph, ref, prefix), "to": f"{prefix}{layer.name}/{inner.layer}"})
