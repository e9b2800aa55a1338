"""Compute cost: multiply-accumulates (MACs) and floating-point operations (FLOPs) of each
layer call, from its op kind, attributes, input/output shapes and weights' shapes.

One cost rule per neutral op kind, in one registry (the pattern of ``rules.py``). A rule
returns ``(macs, flops)`` for one call, or raises ``Uncountable``. Conventions (README,
"Counting conventions"): one multiply-accumulate is 2 FLOPs; a bias add is 1 FLOP per
output element; a fused non-linear activation 1 FLOP per output element. An unknown batch
dim counts as 1 (per sample); ``--batch N`` makes the shapes, hence the counts, for N.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

from .arithmetic import product, spatial_split
from .model import Call, Graph, Layer, Shape, TensorRef

Count = tuple[int, int]  # (macs, flops)
CostRule = Callable[[Layer, Sequence[Shape], Sequence[Shape], Call], Count]

COST_RULES: dict[str, CostRule] = {}
LINEAR = (None, "linear", "identity")


class Uncountable(ValueError):
    """The layer's cost cannot be counted (unknown shape, op or configuration)."""


def cost_rule(*ops: str) -> Callable[[CostRule], CostRule]:
    def register(fn: CostRule) -> CostRule:
        for op in ops:
            COST_RULES[op] = fn
        return fn

    return register


def elements(shape: Shape | None) -> int:
    """Elements of a tensor; an unknown batch dim (the first) counts as one sample."""
    if shape is None:
        raise Uncountable("unknown shape")
    dims = (1 if shape and shape[0] is None else shape[0], *shape[1:]) if shape else ()
    n = product(dims)
    if n is None:
        raise Uncountable("a dimension is unknown")
    return n


def _one(shapes: Sequence[Shape]) -> Shape:
    if len(shapes) != 1 or shapes[0] is None:
        raise Uncountable("expects one input of known shape")
    return shapes[0]


def _channels(layer: Layer, shape: Shape) -> int:
    _, channels = spatial_split(shape, layer.attrs["rank"], layer.attrs["channels_last"])
    if channels is None:
        raise Uncountable("unknown channels")
    return channels


def _finish(layer: Layer, macs: int, out: Sequence[Shape]) -> Count:
    """2 FLOPs per MAC, plus a bias add and a fused activation per output element."""
    n = sum(elements(s) for s in out)
    extra = (1 if layer.weight("bias") is not None else 0) + (0 if layer.activation in LINEAR else 1)
    return macs, 2 * macs + extra * n


def _window(layer: Layer) -> int:
    return product(layer.attrs["kernel_size"]) or 0


@cost_rule("conv")
def conv_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    groups = int(layer.attrs.get("groups") or 1)
    macs = elements(outs[0]) * _window(layer) * (_channels(layer, _one(ins)) // groups)
    return _finish(layer, macs, outs)


@cost_rule("conv_transpose")
def conv_transpose_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    groups = int(layer.attrs.get("groups") or 1)
    out_channels = _channels(layer, outs[0])
    macs = elements(_one(ins)) * _window(layer) * (out_channels // groups)
    return _finish(layer, macs, outs)


@cost_rule("depthwise_conv")
def depthwise_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return _finish(layer, elements(outs[0]) * _window(layer), outs)


@cost_rule("separable_conv")
def separable_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Depthwise (``in x mult`` intermediate maps) then pointwise (1x1 over them)."""
    middle = _channels(layer, _one(ins)) * int(layer.attrs.get("depth_multiplier") or 1)
    positions = elements(outs[0]) // _channels(layer, outs[0])
    macs = positions * middle * _window(layer) + elements(outs[0]) * middle
    return _finish(layer, macs, outs)


@cost_rule("dense")
def dense_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Dense on N-D inputs: every output element reads the last axis of its input."""
    shape = _one(ins)
    if shape[-1] is None:
        raise Uncountable("unknown input units")
    return _finish(layer, elements(outs[0]) * shape[-1], outs)


@cost_rule("matmul")
def matmul_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    if len(ins) < 1 or ins[0] is None or not ins[0] or ins[0][-1] is None:
        raise Uncountable("unknown inner dimension")
    macs = elements(outs[0]) * ins[0][-1]
    return macs, 2 * macs


@cost_rule("pool", "pool_ceil")
def pool_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(outs[0]) * _window(layer)


@cost_rule("global_pool", "global_pool_keep")
def global_pool_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(_one(ins))


# Identity-kind layers that do nothing at inference (or only move data).
NO_OP_TYPES = ("dropout", "noise", "random", "identity", "masking", "activityregularization", "cast", "inputspec")


@cost_rule("identity")
def identity_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Normalisation: 2 FLOPs per element (a folded scale and shift at inference);
    activations and other element-wise maps: 1 per element; dropout and noise: 0."""
    kind = layer.type.lower()
    if "norm" in kind:
        per = 2
    elif any(word in kind for word in NO_OP_TYPES) or (kind == "activation" and layer.activation in LINEAR):
        per = 0
    elif kind == "torchmodulewrapper":
        raise Uncountable("wraps arbitrary PyTorch code")
    else:
        per = 1
    return 0, per * sum(elements(s) for s in outs)


@cost_rule("elementwise", "broadcast")
def elementwise_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """n operands: n - 1 FLOPs per output element (1 for a single-operand op)."""
    operands = len(call.kwargs.get("operands") or call.inputs)
    return 0, max(operands - 1, 1) * elements(outs[0])


# Data movement only: no arithmetic.
for _op in ("input", "flatten", "reshape", "reshape_full", "reshape_to", "permute", "transpose", "repeat", "pad",
            "pad_to", "crop", "upsample", "resize", "resize_to", "concat", "join", "getitem", "slice_by", "embedding",
            "constant", "shape_of", "gather", "squeeze", "unsqueeze", "flatten_at", "split"):  # fmt: skip
    COST_RULES[_op] = lambda layer, ins, outs, call: (0, 0)


@cost_rule("reduce")
def reduce_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(ins[0] if ins else None)


def call_cost(layer: Layer, ins: Sequence[Shape | None], outs: Sequence[Shape | None], call: Call) -> Count | None:
    """``(macs, flops)`` of one call, or None when it cannot be counted."""
    fn = COST_RULES.get(layer.op)
    if fn is None or any(s is None for s in outs) or not outs:
        return None
    try:
        return fn(layer, ins, outs, call)  # type: ignore[arg-type]
    except (Uncountable, KeyError, TypeError, IndexError, ValueError, ZeroDivisionError):
        return None


Costs = dict[int, Union[Count, None]]  # id(layer) -> its cost over all calls


def graph_costs(graph: Graph) -> Costs:
    """Every layer's (macs, flops) summed over its calls, nested layers included; a
    container's is its children's sum times its calls (None only if none is counted)."""
    out: Costs = {}
    _walk(graph, out)
    return out


def _walk(graph: Graph, out: Costs) -> None:
    by_name = {layer.name: layer for layer in graph.layers}
    for layer in graph.layers:
        if layer.graph is not None:
            _walk(layer.graph, out)
            counted = [out[id(child)] for child in layer.graph.layers if out[id(child)] is not None]
            calls = max(len(layer.calls), 1)
            out[id(layer)] = (
                (sum(c[0] for c in counted) * calls, sum(c[1] for c in counted) * calls) if counted else None  # type: ignore[index]
            )
            continue
        total: Count | None = (0, 0)
        for i, call in enumerate(layer.calls):
            ins = [input_shape(by_name, ref) for ref in call.tensor_inputs]
            outs = layer.output_shapes[i] if i < len(layer.output_shapes) else [None]
            one = call_cost(layer, ins, outs, call)
            if one is None or total is None:
                total = None
                break
            total = (total[0] + one[0], total[1] + one[1])
        out[id(layer)] = total if layer.calls else None


def input_shape(by_name: dict[str, Layer], ref: TensorRef) -> Shape | None:
    """The shape of the tensor ``ref`` names, from its producer's inferred outputs."""
    producer = by_name.get(ref.layer)
    if producer is None or ref.call >= len(producer.output_shapes):
        return None
    shapes = producer.output_shapes[ref.call]
    return shapes[ref.index] if ref.index < len(shapes) else None
