"""The ``shapes`` report: every layer's output shapes, params and weights, as plain data.

This dict is the JSON document (schema ``cnninspect.shapes/1``) and what the table is
drawn from, so both always say the same.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..core.connections import in_maps, kernel_size, out_maps
from ..core.cost import Costs, graph_costs
from ..core.infer import Inference
from ..core.memory import Activations
from ..core.receptive import Field, Fields, graph_fields
from .explain import explain_graph
from ..errors import UsageError
from ..core.model import Graph, Layer, Model, Row, Shape, TensorRef, Weight
from .check import checked_inference

SCHEMA = "cnninspect.shapes/1"
# Ops whose output is a shape or a stored value, never an activation.
SHAPE_SOURCES = frozenset({"shape_of", "constant"})


def shapes_report(
    model: Model,
    input_shapes: Sequence[Shape] | None = None,
    batch: int | None = None,
    select: RowFilter | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """``select`` keeps some rows in ``layers`` (each keeps its index); totals describe
    the whole model. ``explain`` gives each layer its arithmetic (``reports/explain.py``)."""
    if input_shapes and len(input_shapes) != len(model.graph.inputs):
        raise UsageError(
            f"--input-shape given {len(input_shapes)} time(s), but the model has {len(model.graph.inputs)} input(s): "
            + ", ".join(r.layer for r in model.graph.inputs)
        )
    inferred, consistency = checked_inference(model, input_shapes, batch)
    flagged = consistency.by_layer()
    rows = model.rows()
    weights = [w for row in rows for w in row.layer.weights]
    costs, fields = graph_costs(model.graph, inferred), graph_fields(model.graph, inferred)
    memory = Activations(weights, inferred)
    metrics = _Metrics(costs, fields, memory)
    explained = explain_graph(model.graph, inferred) if explain else None
    only = _shape_only_layers(model.graph)
    return {
        "schema": SCHEMA,
        "source": source_json(model),
        "model": model.name,
        "inputs": [_tensor_json(model, ref, inferred) for ref in model.graph.inputs],
        "outputs": [
            {"name": ref.layer, "call": ref.call, "index": ref.index, "shape": _shape(shape)}
            for ref, shape in zip(model.graph.outputs, inferred.outputs)
        ],
        "architecture": model.architecture,
        "layers": [
            {
                **_layer_json(row, inferred, model.weights_stored),
                "shape_only": id(row.layer) in only,
                **metrics.layer(row.layer),
                "consistency": flagged.get(row.path, []),
                **({} if explained is None else {"explain": explained[id(row.layer)]}),
            }
            for row in rows
            if select is None or select(row)
        ],
        "totals": {**(_totals(weights) if model.weights_stored else _NO_WEIGHTS), **metrics.totals(model, rows)},
        "notes": list(model.notes),
        "consistency": consistency.json(),
    }


def shape_only(graph: Graph) -> set[str]:
    """Names of the layers of ``graph`` that compute only shapes: a shape source, or a
    layer without parameters all of whose tensor inputs are shape-only."""
    by_name = {layer.name: layer for layer in graph.layers}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for layer in graph.layers:
            if layer.name in found or layer.params or layer.graph is not None or layer.op == "input":
                continue
            refs = [r for call in layer.calls for r in call.tensor_inputs]
            if layer.op in SHAPE_SOURCES or (refs and all(r.layer in found for r in refs if r.layer in by_name)):
                found.add(layer.name)
                changed = True
    return found


def _shape_only_layers(graph: Graph) -> set[int]:
    """The shape-only layers of ``graph`` and of the graphs nested in it, by identity."""
    names = shape_only(graph)
    found = {id(layer) for layer in graph.layers if layer.name in names}
    for layer in graph.layers:
        if layer.graph is not None:
            found |= _shape_only_layers(layer.graph)
    return found


def source_json(model: Model) -> dict[str, Any]:
    s = model.source
    return {
        "path": s.path,
        "format": s.format,
        "library": s.library,
        "library_version": s.library_version,
        "backend": s.backend,
        "format_version": s.format_version,
    }


def weight_json(w: Weight) -> dict[str, Any]:
    return {
        "name": w.name,
        "role": w.role,
        "shape": list(w.shape),
        "axes": list(w.axes),
        "layout": w.layout.code,
        "convention": w.layout.convention,
        "flipped": w.layout.flipped,
        "dtype": w.dtype,
        "trainable": w.trainable,
        "buffer": w.buffer,
        **({"quantization": w.quantization} if w.quantization else {}),
    }


def _shape(shape: Shape | None) -> list | None:
    return None if shape is None else list(shape)


def _tensor_json(model: Model, ref: TensorRef, inferred: Inference) -> dict[str, Any]:
    return {"name": ref.layer, "shape": _shape(inferred.shape_of(model.graph.layer(ref.layer), ref))}


def _ref_name(ref: TensorRef) -> str:
    return ref.layer if ref.call == 0 and ref.index == 0 else f"{ref.layer}[{ref.call}][{ref.index}]"


def _layer_json(row: Row, inferred: Inference, stored: bool = True) -> dict[str, Any]:
    """One row; ``stored`` False: the file holds no weights, so params are unknown (null)."""
    layer = row.layer
    return {
        "index": row.index,
        "name": layer.name,
        "path": row.path,
        "depth": row.depth,
        "type": layer.type,
        "op": layer.op,
        "synthetic": layer.synthetic,
        "activation": layer.activation,
        "inbound": [[_ref_name(r) for r in call.tensor_inputs] for call in layer.calls],
        "output_shapes": [_shape(s) for call in inferred.output_shapes(layer) for s in call],
        "calls": len(layer.calls),
        "params": layer.params if stored else None,
        "trainable_params": _trainable(layer) if stored else None,
        "weights": [weight_json(w) for w in layer.weights],
        "channels": _channels(layer),
        "kernel_size": kernel_size(layer),
        "window": _window(layer),
        "unknown_reason": inferred.reason(layer),
        "notes": layer.notes + inferred.layer_notes(layer),
    }


def _window(layer: Layer) -> dict[str, Any] | None:
    """A sliding-window layer's kernel, strides, padding ('same'/'valid', or per spatial
    axis a [before, after] pair), dilation and, for layers with filters, groups; None
    where the file does not say (weights alone). None for other layers."""
    attrs = layer.attrs
    kernel = attrs.get("kernel_size") or kernel_size(layer)
    filtered = out_maps(layer) is not None and layer.op != "dense"
    if kernel is None or not (filtered or "strides" in attrs):
        return None
    padding = attrs.get("padding")
    if isinstance(padding, (list, tuple)):
        padding = [list(p) if isinstance(p, (list, tuple)) else [p, p] for p in padding]
    known = "strides" in attrs  # an architecture states the window; weights alone do not
    window: dict[str, Any] = {
        "kernel_size": list(kernel),
        "strides": attrs.get("strides") or (list(kernel) if known and not filtered else None),
        "padding": padding,
        "dilation": attrs.get("dilation") or ([1] * len(kernel) if known else None),
    }
    if filtered:
        window["groups"] = int(attrs.get("groups") or 1) if known else None
    return window


def _channels(layer: Layer) -> dict[str, int | None] | None:
    out = out_maps(layer)
    return None if out is None else {"in": in_maps(layer), "out": out}


def _trainable(layer: Layer) -> int:
    total = sum(w.size for w in layer.weights if w.trainable and w.parameter)
    if layer.graph is not None:
        total += sum(_trainable(x) for x in layer.graph.layers)
    return total


# An architecture file alone: no weight is stored, so no count of them can be given.
_NO_WEIGHTS: dict[str, Any] = dict.fromkeys(
    ("params", "trainable_params", "non_trainable_params", "bytes", "param_bytes", "trainable_bytes",
     "non_trainable_bytes", "buffers", "buffer_bytes")
)  # fmt: skip


def _totals(weights: list[Weight]) -> dict[str, int]:
    """Params as the writing library counts them: stored operands (shapes, pads, indices)
    are not parameters, and PyTorch buffers (running statistics) are apart, as
    ``parameters()`` and torchinfo count them."""
    buffers = [w for w in weights if w.buffer]
    params = [w for w in weights if w.parameter and not w.buffer]
    trainable = [w for w in params if w.trainable]
    frozen = [w for w in params if not w.trainable]
    return {
        "params": sum(w.size for w in params),
        "trainable_params": sum(w.size for w in trainable),
        "non_trainable_params": sum(w.size for w in frozen),
        "bytes": sum(w.nbytes for w in weights),  # every stored tensor, buffers and operands included
        "param_bytes": sum(w.nbytes for w in params),
        "trainable_bytes": sum(w.nbytes for w in trainable),
        "non_trainable_bytes": sum(w.nbytes for w in frozen),
        "buffers": sum(w.size for w in buffers),
        "buffer_bytes": sum(w.nbytes for w in buffers),
    }


class _Metrics:
    """Per-layer MACs, FLOPs, activation bytes and receptive field, and their totals."""

    def __init__(self, costs: Costs, fields: Fields, memory: Activations) -> None:
        self.costs, self.fields, self.memory = costs, fields, memory

    def layer(self, layer: Layer) -> dict[str, Any]:
        cost = self.costs.get(id(layer))
        field = self.fields.get(id(layer))
        return {
            "macs": None if cost is None else cost[0],
            "flops": None if cost is None else cost[1],
            "activation_bytes": self.memory.layer_bytes(layer),
            "receptive_field": field.json() if isinstance(field, Field) else None,
        }

    def totals(self, model: Model, rows: list[Row]) -> dict[str, Any]:
        top = [self.costs.get(id(layer)) for layer in model.graph.layers]
        counted = [c for c in top if c is not None]
        return {
            "macs": sum(c[0] for c in counted),
            "flops": sum(c[1] for c in counted),
            "peak_activation_bytes": self.memory.peak(model.graph),
            "uncounted_layers": [r.path for r in rows if r.layer.graph is None and self.costs.get(id(r.layer)) is None],
        }


class RowFilter:
    """Which rows ``layers`` lists: ``depth`` folds nested containers deeper than N,
    ``types`` match the type column case-insensitively, ``match`` searches the path."""

    def __init__(self, depth: int | None = None, types: Sequence[str] = (), match: str | None = None) -> None:
        if depth is not None and depth < 0:
            raise UsageError(f"--depth {depth}: give 0 (top level only) or more")
        self.depth = depth
        self.types = {t.lower() for t in types}
        try:
            self.pattern = re.compile(match) if match is not None else None
        except re.error as exc:
            raise UsageError(f"--match {match!r} is not a valid regular expression ({exc}); e.g. 'conv|dense'") from None

    def __call__(self, row: Row) -> bool:
        return (
            (self.depth is None or row.depth <= self.depth)
            and (not self.types or row.layer.type.lower() in self.types)
            and (self.pattern is None or self.pattern.search(row.path) is not None)
        )
