"""Compute cost: multiply-accumulates (MACs) and floating-point operations (FLOPs) of each
layer call, from its op kind, attributes, input/output shapes and weights' shapes.

Each op spec (``core/ops``) has its cost rule: ``(macs, flops)`` for one call, or
``Uncountable``. Conventions (README, "Counting conventions"): one multiply-accumulate is
2 FLOPs; a bias add is 1 FLOP per output element; a fused non-linear activation 1 FLOP per
output element. An unknown batch dim counts as 1 (per sample); ``--batch N`` makes the
shapes, hence the counts, for N. This module sums them over a graph.
"""

from __future__ import annotations

from typing import Sequence, Union

from .infer import Inference
from .model import Call, Graph, Layer, Shape
from .ops import SPECS
from .ops.base import Count, Uncountable


def call_cost(layer: Layer, ins: Sequence[Shape | None], outs: Sequence[Shape | None], call: Call) -> Count | None:
    """``(macs, flops)`` of one call, or None when it cannot be counted."""
    own = SPECS.get(layer.op)
    if own is None or any(s is None for s in outs) or not outs:
        return None
    try:
        return own.cost(layer, ins, outs, call)  # type: ignore[arg-type]
    except (Uncountable, KeyError, TypeError, IndexError, ValueError, ZeroDivisionError):
        return None


Costs = dict[int, Union[Count, None]]  # id(layer) -> its cost over all calls


def graph_costs(graph: Graph, inferred: Inference) -> Costs:
    """Every layer's (macs, flops) summed over its calls, nested layers included; a
    container's is its children's sum times its calls (None only if none is counted)."""
    out: Costs = {}
    _walk(graph, inferred, out)
    return out


def _walk(graph: Graph, inferred: Inference, out: Costs) -> None:
    by_name = {layer.name: layer for layer in graph.layers}
    for layer in graph.layers:
        if layer.graph is not None:
            _walk(layer.graph, inferred, out)
            counted = [c for c in (out[id(child)] for child in layer.graph.layers) if c is not None]
            calls = max(len(layer.calls), 1)
            out[id(layer)] = (sum(c[0] for c in counted) * calls, sum(c[1] for c in counted) * calls) if counted else None
            continue
        total: Count | None = (0, 0)
        for i, call in enumerate(layer.calls):
            ins = inferred.call_inputs(layer, i, by_name)
            per_call = inferred.output_shapes(layer)
            outs = per_call[i] if i < len(per_call) else [None]
            one = call_cost(layer, ins, outs, call)
            if one is None or total is None:
                total = None
                break
            total = (total[0] + one[0], total[1] + one[1])
        out[id(layer)] = total if layer.calls else None

