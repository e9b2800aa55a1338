"""The executor: run a ``Model`` from any loader on NumPy inputs, one layer call at a time.

1. Nested containers are flattened into leaf calls named by their path; a container's
   inputs are wired to its caller's tensors, its outputs are aliases of inner tensors.
   Calls of a layer inside a container numbered ``k`` are numbered
   ``k * len(layer.calls) + i`` (the order the libraries count them in).
2. Leaf calls run in Kahn's order over their tensor inputs (file order among the ready).
3. Every tensor carries a reference count (its consumers, plus one if it is a graph
   output, kept, or about to be reported): it is dropped when that reaches zero, so an
   activation lives until its last consumer has run.
4. Weights are read on a layer's first call, in the kernels' neutral layouts (transposed
   by named axes, Theano kernels flipped, quantized ones dequantized, cast to the run's
   dtype), and forgotten after its last call.
5. At the first call whose op has no forward, or whose configuration its forward does not
   know, :class:`NotComputable` names the layer: what ran before it was already reported.

API: :class:`Execution` streams each reported layer call's outputs (``for out in
Execution(model, inputs)``; arrays are valid while the loop body runs, unless kept; with
``watch`` or ``keep`` only what those calls depend on runs); :func:`run_network` returns
the outputs of the calls asked for; :func:`read_weight` gives a weight in a kernel's layout.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Collection, Iterator, Optional, Sequence

import numpy as np

from ..core.model import Graph, Layer, Model, TensorRef
from ..core.ops import SPECS
from ..core.quantize import dequantized
from .layers import NotComputable, Step, reads

Key = tuple[str, int, int]  # (path, call, output index)
CallKey = tuple[str, int]  # (path, call)
SPATIAL = ("kd", "kh", "kw")
APPROXIMATE_NOTE = ("approximate: a quantized model computed in real numbers from its dequantized weights, "
                    "each output rounded to its quantization grid, not in integer arithmetic")


@dataclass
class Node:
    """One leaf layer call."""

    order: int
    path: str
    layer: Layer
    call: int  # its number as reported
    index: int  # into layer.calls
    inputs: list[Key]

    @property
    def read(self) -> list[Key]:
        """The inputs its forward reads (all, but for a few: ``layers.reads``)."""
        positions = reads(self.layer)
        return self.inputs if positions is None else [self.inputs[p] for p in positions if p < len(self.inputs)]


@dataclass
class Entry:
    """A layer call the executor can report: a leaf call, a container call or a model input."""

    index: int  # the row of ``Model.rows()``
    path: str
    layer: Layer
    call: int
    outputs: list[Key]  # canonical keys; a leaf's are filled as it runs


@dataclass
class Output:
    """What one reported layer call produced."""

    index: int
    path: str
    layer: Layer
    call: int
    arrays: list[np.ndarray]


@dataclass
class Plan:
    nodes: list[Node] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    fed: list[Key] = field(default_factory=list)  # the model inputs, in order
    outputs: list[Key] = field(default_factory=list)
    aliases: dict[Key, Key] = field(default_factory=dict)

    def canon(self, key: Key) -> Key:
        while key in self.aliases:
            key = self.aliases[key]
        return key


def plan(model: Model) -> Plan:
    """The leaf calls of ``model`` with their inputs as canonical tensor keys, in order."""
    rows = {row.path: row.index for row in model.rows()}
    result = Plan()

    def expand(graph: Graph, prefix: str, instance: int, feeds: Optional[list[Key]]) -> list[Key]:
        by_name = {layer.name: layer for layer in graph.layers}
        position = {ref.layer: pos for pos, ref in enumerate(graph.inputs)}

        def key(ref: TensorRef) -> Key:
            producer = by_name.get(ref.layer)
            calls = len(producer.calls) if producer is not None else 1
            return (prefix + ref.layer, instance * calls + ref.call, ref.index)

        for layer in graph.layers:
            path = prefix + layer.name
            for i, call in enumerate(layer.calls):
                number = instance * len(layer.calls) + i
                own: Key = (path, number, 0)
                if layer.op == "input":
                    if feeds is None:
                        if layer.name in position:
                            result.fed.append(own)
                            result.entries.append(Entry(rows[path], path, layer, number, [own]))
                    elif layer.name in position and position[layer.name] < len(feeds):
                        result.aliases[own] = feeds[position[layer.name]]
                    continue
                ins = [key(ref) for ref in call.tensor_inputs]
                if layer.graph is not None:
                    outs = expand(layer.graph, path + "/", number, ins)
                    for k, inner in enumerate(outs):
                        result.aliases[(path, number, k)] = inner
                    result.entries.append(Entry(rows[path], path, layer, number, [(path, number, k) for k in range(len(outs))]))
                    continue
                result.nodes.append(Node(len(result.nodes), path, layer, number, i, ins))
                result.entries.append(Entry(rows[path], path, layer, number, []))
        return [key(ref) for ref in graph.outputs]

    result.outputs = expand(model.graph, "", 0, None)
    for node in result.nodes:
        node.inputs = [result.canon(k) for k in node.inputs]
    for entry in result.entries:
        entry.outputs = [result.canon(k) for k in entry.outputs]
    result.outputs = [result.canon(k) for k in result.outputs]
    result.nodes = _kahn(result)
    return result


def _kahn(p: Plan) -> list[Node]:
    """Nodes ordered so that each runs after the producers of its inputs (file order
    among the ready ones); nodes that can never run keep their place at the end."""
    producer = {(n.path, n.call): n for n in p.nodes}
    waiting: dict[int, int] = {}
    consumers: dict[int, list[Node]] = {}
    for node in p.nodes:
        deps = {producer[(k[0], k[1])].order for k in node.read if (k[0], k[1]) in producer}
        waiting[node.order] = len(deps)
        for d in deps:
            consumers.setdefault(d, []).append(node)
    ready = [n.order for n in p.nodes if waiting[n.order] == 0]
    heapq.heapify(ready)
    by_order = {n.order: n for n in p.nodes}
    out: list[Node] = []
    while ready:
        node = by_order[heapq.heappop(ready)]
        out.append(node)
        for c in consumers.get(node.order, []):
            waiting[c.order] -= 1
            if waiting[c.order] == 0:
                heapq.heappush(ready, c.order)
    placed = {n.order for n in out}
    return out + [n for n in p.nodes if n.order not in placed]


class Execution:
    """Run ``model`` on ``inputs`` (one array per model input, batch first, the file's own
    layout), yielding an :class:`Output` per layer call in ``watch`` (every call when None)
    as soon as it is computed. Calls in ``keep`` hold their arrays until the end.

    ``live_bytes`` / ``peak_bytes`` count the activations held; ``notes`` say what the
    numbers are (approximate for quantized weights)."""

    def __init__(
        self,
        model: Model,
        inputs: Sequence[np.ndarray],
        dtype: Any = np.float32,
        watch: Optional[Collection[CallKey]] = None,
        keep: Collection[CallKey] = (),
    ) -> None:
        self.model = model
        self.plan = plan(model)
        if len(inputs) != len(self.plan.fed):
            raise ValueError(f"the model takes {len(self.plan.fed)} input(s), {len(inputs)} given")
        self.inputs = [np.asarray(x, dtype=dtype) if np.issubdtype(np.asarray(x).dtype, np.floating) else np.asarray(x) for x in inputs]
        self.dtype = np.dtype(dtype)
        self.watch = None if watch is None else set(watch)
        self.keep = set(keep)
        self.notes: list[str] = []
        self.live_bytes = 0
        self.peak_bytes = 0
        self.ran: list[str] = []  # paths of the leaf calls computed, in order

    # -- tensors ------------------------------------------------------------------------

    def _watched(self, entry: Entry) -> bool:
        return self.watch is None or (entry.path, entry.call) in self.watch

    def _wanted(self, entry: Entry) -> bool:
        return self._watched(entry) or (entry.path, entry.call) in self.keep

    def __iter__(self) -> Iterator[Output]:
        p = self.plan
        nodes = self._needed()
        refs: dict[Key, int] = {}
        for node in nodes:
            for k in node.read:
                refs[k] = refs.get(k, 0) + 1
        for k in p.outputs:
            refs[k] = refs.get(k, 0) + 1
        leaf_entry = {(e.path, e.call): e for e in p.entries if e.layer.graph is None and e.layer.op != "input"}
        pending: dict[Key, list[Entry]] = {}  # container entries waiting on a tensor
        for entry in p.entries:
            if entry.layer.graph is not None and self._wanted(entry):
                for k in entry.outputs:
                    pending.setdefault(k, []).append(entry)
                    refs[k] = refs.get(k, 0) + 1
        values: dict[Key, np.ndarray] = {}
        self._values, self._refs = values, refs
        self.kept: dict[CallKey, list[np.ndarray]] = {}
        for key, x in zip(p.fed, self.inputs):
            self._hold(key, x)
        for entry in p.entries:
            if entry.layer.op == "input" and self._wanted(entry):
                yield from self._report(entry)
        weights = _WeightCache(p.nodes, self.dtype, self.notes)
        for node in nodes:
            missing = [k for k in node.read if k not in values]
            if missing:
                raise NotComputable(f"layer '{node.path}': its input '{missing[0][0]}' was never computed")
            spec = SPECS.get(node.layer.op)
            if spec is None or spec.forward is None:
                raise NotComputable(f"layer '{node.path}' ({node.layer.type}, op '{node.layer.op}'): cnninspect has no forward computation for it")
            step = Step(node.layer, node.layer.calls[node.index], self.model.source, self.dtype.type, weights.reader(node),
                        lambda node=node: self._constant(node))  # type: ignore[misc]
            try:
                outs = spec.forward(step, [values[k] for k in node.read])
            except NotComputable as exc:
                raise NotComputable(f"layer '{node.path}' ({node.layer.type}): {exc}") from None
            except ValueError as exc:  # a kernel refusing shapes it cannot combine
                raise NotComputable(f"layer '{node.path}' ({node.layer.type}) cannot be computed: {exc}") from None
            outs = _on_output_grid(node.layer, outs)
            weights.done(node)
            self.ran.append(node.path)
            for k in node.read:
                self._release(k)
            entry = leaf_entry[(node.path, node.call)]
            entry.outputs = [(node.path, node.call, i) for i in range(len(outs))]
            wanted = self._wanted(entry)
            for i, out in enumerate(outs):
                key = (node.path, node.call, i)
                refs[key] = refs.get(key, 0) + wanted
                self._hold(key, out)
            if wanted:
                yield from self._report(entry)
            for i in range(len(outs)):
                key = (node.path, node.call, i)
                for container in pending.pop(key, []):
                    if all(k in values for k in container.outputs):
                        yield from self._report(container)
                self._release(key, 0)

    def _needed(self) -> list[Node]:
        """The nodes the wanted tensors depend on, in order: the graph outputs' when
        every call is watched, else the watched and kept calls'; the others are not run
        (a note names them)."""
        p = self.plan
        roots = list(p.outputs) if self.watch is None else []
        for entry in p.entries:
            if (self.watch is not None and self._watched(entry)) or (entry.path, entry.call) in self.keep:
                roots += entry.outputs or [(entry.path, entry.call, 0)]
        producer = {(n.path, n.call): n for n in p.nodes}
        needed: set[int] = set()
        stack = [producer[(k[0], k[1])] for k in roots if (k[0], k[1]) in producer]
        while stack:
            node = stack.pop()
            if node.order in needed:
                continue
            needed.add(node.order)
            stack += [producer[(k[0], k[1])] for k in node.read if (k[0], k[1]) in producer]
        skipped = [n.path for n in p.nodes if n.order not in needed]
        if skipped and self.watch is None:
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            self.notes.append(f"not run, as no output depends on them: {', '.join(skipped[:3])}{more}")
        return [n for n in p.nodes if n.order in needed]

    def _constant(self, node: Node) -> Optional[np.ndarray]:
        """A stored value's array, as its consumers' operands carry it (ONNX Constant
        outputs, and nodes the loader folded, are known to the operations that read them)."""
        key = (node.path, node.call, 0)
        for consumer in self.plan.nodes:
            call = consumer.layer.calls[consumer.index]
            if call.operands is None or key not in consumer.inputs:
                continue
            k = consumer.inputs.index(key)
            for operand in call.operands:
                if operand.kind == "tensor" and operand.index == k and operand.value is not None:
                    return np.asarray(operand.value)
        return None

    def _hold(self, key: Key, value: np.ndarray) -> None:
        self._values[key] = value
        self.live_bytes += value.nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def _release(self, key: Key, by: int = 1) -> None:
        left = self._refs.get(key, 0) - by
        self._refs[key] = left
        if left <= 0 and key in self._values:
            self.live_bytes -= self._values.pop(key).nbytes

    def _report(self, entry: Entry) -> Iterator[Output]:
        """Yield (or keep) a wanted entry's arrays, then drop the hold its report had."""
        arrays = [self._values[k] for k in entry.outputs]
        if (entry.path, entry.call) in self.keep:
            self.kept[(entry.path, entry.call)] = arrays
        if self._watched(entry):
            yield Output(entry.index, entry.path, entry.layer, entry.call, arrays)
        if entry.layer.op != "input":
            for k in entry.outputs:
                self._release(k)

    @property
    def live_tensors(self) -> int:
        return len(self._values)


def run_network(model: Model, inputs: Sequence[np.ndarray], keep: Optional[Collection[CallKey]] = None, dtype: Any = np.float32) -> dict[CallKey, list[np.ndarray]]:
    """The outputs of the layer calls in ``keep`` (``(path, call)``; every graph output's
    call when None), computed in ``dtype``."""
    execution = Execution(model, inputs, dtype, watch=(), keep=())
    if keep is None:
        keep = {(path, call) for path, call, _ in execution.plan.outputs}
    execution.keep = set(keep)
    for _ in execution:
        pass
    return execution.kept


def _on_output_grid(layer: Layer, outs: list[np.ndarray]) -> list[np.ndarray]:
    """A quantized layer's real outputs rounded to the values its integers can hold,
    ``scale * (q - zero_point)``, as the quantized model computes them. The integer type
    is the quantization's ``dtype`` where the loader gives it, else int8 for a zero point
    in int8's range (what TFLite's converter writes), uint8 above."""
    q = (layer.attrs.get("quantization") or {}).get("output") or {}
    scale, zero = q.get("scale") or [], q.get("zero_point") or [0]
    if len(scale) != 1 or not scale[0] or len(outs) != 1:
        return outs
    x = outs[0]
    bounds = np.iinfo(q.get("dtype") or ("int8" if -128 <= zero[0] <= 127 else "uint8"))
    s, z = x.dtype.type(scale[0]), x.dtype.type(zero[0])
    return [(np.clip(np.round(x / s) + z, bounds.min, bounds.max) - z) * s]


class _WeightCache:
    """A layer's weights, read on its first call in the layouts asked for, dropped after its last."""

    def __init__(self, nodes: list[Node], dtype: np.dtype, notes: list[str]) -> None:
        self.calls_left: dict[int, int] = {}
        for node in nodes:
            self.calls_left[id(node.layer)] = self.calls_left.get(id(node.layer), 0) + 1
        self.cache: dict[int, dict[tuple[str, tuple[str, ...]], Optional[np.ndarray]]] = {}
        self.dtype = dtype
        self.notes = notes

    def reader(self, node: Node) -> Any:
        layer = node.layer
        cache = self.cache.setdefault(id(layer), {})

        def weight(role: str, order: Sequence[str]) -> Optional[np.ndarray]:
            k = (role, tuple(order))
            if k not in cache:
                cache[k] = self._read(layer, role, tuple(order))
            return cache[k]

        return weight

    def done(self, node: Node) -> None:
        left = self.calls_left[id(node.layer)] - 1
        self.calls_left[id(node.layer)] = left
        if left == 0:
            self.cache.pop(id(node.layer), None)

    def _read(self, layer: Layer, role: str, order: tuple[str, ...]) -> Optional[np.ndarray]:
        w = layer.weight(role)
        if w is not None and w.quantization and w.quantization.get("scale") and APPROXIMATE_NOTE not in self.notes:
            self.notes.append(APPROXIMATE_NOTE)
        return read_weight(layer, role, order, self.dtype)


def read_weight(layer: Layer, role: str, order: Sequence[str], dtype: Any = np.float32) -> Optional[np.ndarray]:
    """The weight of neutral ``role`` as the kernels take it: its axes in ``order`` (names
    from ``core.layouts``; stored order when empty; None when its axes are others),
    Theano kernels flipped to cross-correlation, quantized ones dequantized, in ``dtype``."""
    w = layer.weight(role)
    if w is None:
        return None
    if w.quantization and w.quantization.get("scale"):
        w = dequantized(w)
    a = np.asarray(w.read())
    axes = tuple(w.axes)
    if w.layout.flipped:
        a = np.flip(a, axis=tuple(i for i, name in enumerate(axes) if name in SPATIAL))
    if order and not (a.ndim == 1 and len(order) == 1):
        if sorted(order) != sorted(axes):
            return None
        a = a.transpose([axes.index(name) for name in order])
    # a view when no cast is needed: the kernels reshape it as they need (a Keras kernel
    # viewed as (out, in, *k) reshapes to the channels-last im2col matrix without a copy)
    return a.astype(dtype, copy=False)
