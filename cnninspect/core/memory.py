"""Activation memory: the bytes of each layer's outputs, and their peak over a sequential
schedule.

A layer's outputs are stored at its weights' float dtype, else the model's (its weights'
most common float dtype), else float32. The schedule runs the layers in file order (which
is topological); a tensor lives from the call that produces it until its last consumer has
run (a model output until the end); the peak is the largest sum of live tensors, measured
while each call runs (its inputs and outputs live together). A nested model is run as its
own schedule inside the step that calls it; its input layers alias the caller's tensors.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from .dtypes import itemsize
from .infer import Inference
from .ops.base import Uncountable, elements
from .model import Graph, Layer, Shape, Weight

ACTIVATION_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})  # what a network computes in
DEFAULT_DTYPE = "float32"


def float_dtype(weights: Iterable[Weight]) -> str | None:
    """The most common float dtype among ``weights``, or None."""
    counts = Counter(w.dtype for w in weights if w.dtype in ACTIVATION_DTYPES)
    return counts.most_common(1)[0][0] if counts else None


def tensor_bytes(shape: Shape | None, itemsize: int) -> int | None:
    try:
        return elements(shape) * itemsize
    except Uncountable:
        return None


class Activations:
    """Output bytes per layer and the peak, for one model."""

    def __init__(self, weights: Iterable[Weight], inferred: Inference) -> None:
        self.inferred = inferred
        self.default = itemsize(float_dtype(weights) or DEFAULT_DTYPE)
        self._bytes: dict[tuple[int, int], list[int | None]] = {}  # per (layer, call): asked twice

    def itemsize(self, layer: Layer) -> int:
        own = float_dtype(layer.weights)
        return itemsize(own) if own else self.default

    def call_bytes(self, layer: Layer, call: int) -> list[int | None]:
        key = (id(layer), call)
        if key not in self._bytes:
            per_call = self.inferred.output_shapes(layer)
            shapes = per_call[call] if call < len(per_call) else [None]
            size = self.itemsize(layer)
            self._bytes[key] = [tensor_bytes(s, size) for s in shapes]
        return self._bytes[key]

    def layer_bytes(self, layer: Layer) -> int | None:
        """All output tensors of all calls; None when any shape is unknown."""
        sizes = [b for i in range(len(layer.calls)) for b in self.call_bytes(layer, i)]
        return None if not sizes or None in sizes else sum(sizes)  # type: ignore[arg-type]

    def peak(self, graph: Graph, nested: bool = False) -> int | None:
        """The largest sum of live tensors over the schedule; None when a size is unknown."""
        steps = [(layer, i) for layer in graph.layers for i in range(len(layer.calls))]
        position = {(layer.name, i): n for n, (layer, i) in enumerate(steps)}
        last_use: dict[tuple[str, int], int] = {}
        for n, (layer, i) in enumerate(steps):
            for ref in layer.calls[i].tensor_inputs:
                if (ref.layer, ref.call) in position:
                    last_use[(ref.layer, ref.call)] = max(last_use.get((ref.layer, ref.call), -1), n)
        for ref in graph.outputs:
            last_use[(ref.layer, ref.call)] = len(steps)
        ends: dict[int, list[tuple[str, int]]] = {}  # step -> the tensors that die after it
        for key, n in position.items():
            ends.setdefault(max(last_use.get(key, n), n), []).append(key)
        live: dict[tuple[str, int], int] = {}
        total = peak = 0  # total: the sum of what is live
        for n, (layer, i) in enumerate(steps):
            sizes = [0] if nested and layer.op == "input" else self.call_bytes(layer, i)
            if None in sizes:
                return None
            if layer.graph is not None:  # its own schedule runs beside what is live here
                inner = self.peak(layer.graph, nested=True)
                if inner is None:
                    return None
                peak = max(peak, total + inner)
            live[(layer.name, i)] = sum(sizes)  # type: ignore[arg-type]
            total += live[(layer.name, i)]
            peak = max(peak, total)
            for key in ends.get(n, ()):
                total -= live.pop(key, 0)
        return peak

