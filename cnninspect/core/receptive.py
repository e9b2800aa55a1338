"""Receptive fields over a graph: each layer's field (``core/fields.py``), from the
receptive step its op spec declares, its inputs' fields and their shapes."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .fields import PIXEL, Field, Value, merge
from .infer import Inference
from .model import Graph
from .ops import SPECS

__all__ = ["Field", "Fields", "graph_fields"]

Fields = dict[int, Value]  # id(layer) -> its field (first output, union over calls)


def graph_fields(graph: Graph, inferred: Inference) -> Fields:
    out: Fields = {}
    _graph(graph, inferred, None, out)
    return out


def _graph(graph: Graph, inferred: Inference, given: Optional[Sequence[Value]], record: Optional[Fields]) -> list[Value]:
    by_name = {layer.name: layer for layer in graph.layers}
    tensors: dict[tuple[str, int], list[Value]] = {}
    for pos, ref in enumerate(graph.inputs):
        tensors[(ref.layer, 0)] = [given[pos] if given is not None and pos < len(given) else PIXEL]
    pending = [(layer, i) for layer in graph.layers for i in range(len(layer.calls)) if (layer.name, i) not in tensors]
    while pending:
        waiting = []
        for layer, i in pending:
            refs = layer.calls[i].tensor_inputs
            if any((r.layer, r.call) not in tensors for r in refs if r.layer in by_name):
                waiting.append((layer, i))
                continue
            ins = [_lookup(tensors, r) for r in refs]
            if layer.graph is not None:
                outs = _graph(layer.graph, inferred, ins, record if i == 0 else None)
            else:
                own = SPECS.get(layer.op)
                shapes = inferred.call_inputs(layer, i, by_name)
                per_call = inferred.output_shapes(layer)
                outs = [own.receptive(layer, ins, shapes) if own is not None else None] * max(len(per_call[i]) if i < len(per_call) else 1, 1)
            tensors[(layer.name, i)] = outs
        if len(waiting) == len(pending):
            break
        pending = waiting
    if record is not None:
        for layer in graph.layers:
            calls = [tensors[(layer.name, i)][0] for i in range(len(layer.calls)) if (layer.name, i) in tensors]
            merged = merge(calls) if calls else None
            record[id(layer)] = merged if isinstance(merged, Field) else None
    return [_lookup(tensors, ref) for ref in graph.outputs]


def _lookup(tensors: dict[tuple[str, int], list[Value]], ref: Any) -> Value:
    values = tensors.get((ref.layer, ref.call))
    return values[ref.index] if values is not None and ref.index < len(values) else None
