"""Shape inference over a graph: apply each layer's rule to each of its calls.

Calls are evaluated as soon as their inputs are known, so file order need not be
topological (shared layers are often listed before their later calls). A call whose
shape cannot be known gets ``None`` and its layer a reason; what depends on it is unknown
too, with a reason that names the layer it depends on. Each rule gets a ``RuleContext``
(the call, its operands and the values known for them: stored in the file, or folded
upstream from shapes, as ONNX ``Shape`` arithmetic). The result is an ``Inference``:
the layers are not changed (``Layer.output_shapes`` and ``unknown_reason`` read the last
inference of their graph).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, Union

from .arithmetic import ShapeError
from .model import Graph, Layer, Shape, TensorRef
from .ops import SPECS
from .ops.base import RuleContext

Shapes = list[Union[Shape, None]]


@dataclass
class Inference:
    """What shape inference found, per layer (nested ones too), by layer identity."""

    outputs: Shapes = field(default_factory=list)  # the graph's output tensors
    shapes: dict[int, list[Shapes]] = field(default_factory=dict)  # per call, each output's shape
    reasons: dict[int, str] = field(default_factory=dict)  # why a layer's shape is unknown
    notes: dict[int, list[str]] = field(default_factory=dict)  # how a shape was found, when notable
    # The values folded on the way (shape arithmetic), per layer and call: each output's value.
    values: dict[tuple[int, int], list[Any]] = field(default_factory=dict)

    def output_shapes(self, layer: Layer) -> list[Shapes]:
        return self.shapes.get(id(layer), [])

    def reason(self, layer: Layer) -> str | None:
        return self.reasons.get(id(layer))

    def layer_notes(self, layer: Layer) -> list[str]:
        return self.notes.get(id(layer), [])

    def folded(self, layer: Layer, call: int = 0) -> list[Any] | None:
        """The values of a call's outputs that inference folded, or None."""
        return self.values.get((id(layer), call))

    def shape_of(self, producer: Layer | None, ref: TensorRef) -> Shape | None:
        """The shape of the tensor ``ref`` names, ``producer`` being its layer."""
        calls = self.output_shapes(producer) if producer is not None else []
        shapes = calls[ref.call] if ref.call < len(calls) else []
        return shapes[ref.index] if ref.index < len(shapes) else None


def infer_shapes(graph: Graph, input_shapes: Sequence[Shape | None] | None = None, batch: int | None = None) -> Inference:
    """The output shapes of every call of every layer, nested ones too, with the reasons
    for the unknown ones.

    ``input_shapes`` overrides the shapes the file records for the graph's inputs, in
    order; ``batch`` fills an unknown batch dimension.
    """
    result = Inference()
    result.outputs = _Run(batch, result).graph(graph, input_shapes, record=True)
    return result


class _Run:
    def __init__(self, batch: int | None, result: Inference) -> None:
        self.batch = batch
        self.result = result

    def graph(self, graph: Graph, input_shapes: Sequence[Shape | None] | None, record: bool) -> Shapes:
        by_name = {layer.name: layer for layer in graph.layers}
        results: dict[tuple[str, int], Shapes] = {}
        folded: dict[tuple[str, int], list[Any]] = {}
        reasons: dict[str, str] = {}
        recorded = _recorded_shapes(graph)

        for pos, ref in enumerate(graph.inputs):
            layer = by_name.get(ref.layer)
            if layer is None or layer.op != "input":
                continue
            shape = input_shapes[pos] if input_shapes and pos < len(input_shapes) else None
            if shape is not None:
                results[(layer.name, 0)] = [self._fill_batch(tuple(shape))]

        pending = [(layer, i) for layer in graph.layers for i in range(len(layer.calls)) if (layer.name, i) not in results]
        progress = True
        while pending and progress:
            progress = False
            waiting = []
            for layer, i in pending:
                refs = layer.calls[i].tensor_inputs
                missing = [r for r in refs if r.layer not in by_name]
                if missing:
                    reasons[layer.name] = f"its input comes from '{missing[0].layer}', which is not in the model"
                    results[(layer.name, i)] = [None]
                    progress = True
                    continue
                if any((r.layer, r.call) not in results for r in refs):
                    waiting.append((layer, i))
                    continue
                in_shapes = [self._lookup(results, r) for r in refs]
                upstream = {k: self._lookup(folded, r) for k, r in enumerate(refs)}
                ctx = RuleContext.of(layer.calls[i], upstream)
                results[(layer.name, i)] = self._evaluate(layer, i, in_shapes, refs, reasons, record, recorded, ctx)
                if ctx.folded is not None:
                    folded[(layer.name, i)] = ctx.folded
                progress = True
            pending = waiting
        for layer, i in pending:
            reasons.setdefault(layer.name, "its inputs never resolve (a cycle, or a call of a layer that is never made)")
            results[(layer.name, i)] = [None]

        if record:
            for layer in graph.layers:
                self.result.shapes[id(layer)] = [results[(layer.name, i)] for i in range(len(layer.calls))]
                if layer.name in reasons:
                    self.result.reasons[id(layer)] = reasons[layer.name]
                for i in range(len(layer.calls)):
                    if (layer.name, i) in folded:
                        self.result.values[(id(layer), i)] = folded[(layer.name, i)]
                layer.inferred = self.result
        return [self._lookup(results, ref) for ref in graph.outputs]

    def _evaluate(
        self,
        layer: Layer,
        i: int,
        in_shapes: Shapes,
        refs: list[TensorRef],
        reasons: dict[str, str],
        record: bool,
        recorded: dict[tuple[str, int], Shapes],
        ctx: RuleContext,
    ) -> Shapes:
        unknown = [r.layer for r, s in zip(refs, in_shapes) if s is None]
        own = SPECS.get(layer.op)
        if unknown and not (own is not None and own.accepts_unknown):
            reasons.setdefault(layer.name, f"depends on '{unknown[0]}', whose shape is unknown")
            return [None]
        if layer.graph is not None:
            known: list[Shape] = [s for s in in_shapes if s is not None]
            if record and i == 0:
                stored = self._stored_inputs(layer.graph)
                self.graph(layer.graph, stored if all(s is not None for s in stored) else known, record=True)
            return self.graph(layer.graph, known, record=False)
        return self._call(layer, in_shapes, ctx, reasons, recorded.get((layer.name, i)))

    def _call(self, layer: Layer, in_shapes: Shapes, ctx: RuleContext, reasons: dict[str, str], recorded: Shapes | None) -> Shapes:
        own = SPECS.get(layer.op)
        if own is None:
            reasons.setdefault(layer.name, f"no shape rule for {layer.type}")
            return [None]
        try:
            out = own.shape(layer.attrs, in_shapes, ctx)  # type: ignore[arg-type]
        except ShapeError as exc:
            reason = str(exc)
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as exc:
            reason = f"its config cannot be used for shapes ({type(exc).__name__}: {exc})"
        else:
            return [self._fill_batch(s) for s in out]
        ctx.folded = None  # nothing is folded from a call whose shape is not known
        if recorded is not None:  # the writer recorded what its consumers received
            note = f"output shape as the writing library recorded it ({reason})"
            notes = self.result.notes.setdefault(id(layer), [])
            if note not in notes:
                notes.append(note)
            return [None if s is None else self._fill_batch(s) for s in recorded]
        reasons.setdefault(layer.name, reason)
        return [None]

    def _stored_inputs(self, graph: Graph) -> list[Shape | None]:
        out: list[Shape | None] = []
        for ref in graph.inputs:
            try:
                layer = graph.layer(ref.layer)
            except KeyError:
                out.append(None)
                continue
            shape = layer.attrs.get("shape") if layer.op == "input" else None
            out.append(tuple(shape) if shape is not None else None)
        return out

    def _fill_batch(self, shape: Shape) -> Shape:
        if self.batch is not None and shape and shape[0] is None:
            return (self.batch, *shape[1:])
        return shape

    @staticmethod
    def _lookup(results: dict[tuple[str, int], list[Any]], ref: TensorRef) -> Any:
        shapes = results.get((ref.layer, ref.call))
        if shapes is None or ref.index >= len(shapes):
            return None
        return shapes[ref.index]


def _recorded_shapes(graph: Graph) -> dict[tuple[str, int], Shapes]:
    """Keras 3 records the shape of every tensor a call receives: per producing call,
    the shapes of its outputs as its consumers saw them (None where none consumed it)."""
    seen: dict[tuple[str, int], dict[int, Shape]] = {}
    for layer in graph.layers:
        for call in layer.calls:
            for ref, shape in zip(call.tensor_inputs, call.recorded_shapes):
                if shape is not None:
                    seen.setdefault((ref.layer, ref.call), {})[ref.index] = shape
    return {key: [by_index.get(i) for i in range(max(by_index) + 1)] for key, by_index in seen.items()}
