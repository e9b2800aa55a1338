"""Linear maps: ``dense`` (a stored weight on the last axis), ``matmul`` (two computed
operands), ``dot`` (Keras ``Dot``) and ``embedding`` (a table lookup)."""

from __future__ import annotations

from typing import Sequence

from ..arithmetic import ShapeError, broadcast, format_shape
from ..fields import end_step, per_position_step
from ..model import Call, Layer, Shape
from ...forward import lazy
from .base import Attrs, RuleContext, Count, Filters, OpSpec, Uncountable, elements, finish, free, one_input, one_known, register
from .conv import conv_feeds, conv_filters


def dense_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    return [(*shape[:-1], attrs["units"])]


def dense_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Dense on N-D inputs: every output element reads the last axis of its input."""
    shape = one_known(ins)
    if shape[-1] is None:
        raise Uncountable("unknown input units")
    return finish(layer, elements(outs[0]) * shape[-1], outs)


def matmul_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    a, b = ctx.operand_shapes(inputs)[:2]
    if a is None or b is None:
        raise ShapeError("has an omitted operand")
    a2, b2 = (1, *a) if len(a) == 1 else a, (*b, 1) if len(b) == 1 else b
    if a2[-1] is not None and b2[-2] is not None and a2[-1] != b2[-2]:
        raise ShapeError(f"cannot multiply {format_shape(a)} by {format_shape(b)}")
    out = [*broadcast([a2[:-2], b2[:-2]]), a2[-2], b2[-1]]
    if len(b) == 1:
        del out[-1]
    if len(a) == 1:
        del out[-2 if len(b) > 1 else -1]
    return [tuple(out)]


def matmul_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    if len(ins) < 1 or ins[0] is None or not ins[0] or ins[0][-1] is None:
        raise Uncountable("unknown inner dimension")
    macs = elements(outs[0]) * ins[0][-1]
    return macs, 2 * macs


def _dot_axes(attrs: Attrs, inputs: Sequence[Shape]) -> list[int]:
    axes = attrs["axes"]
    if isinstance(axes, int):
        axes = [axes, axes]
    return [x % len(s) for x, s in zip(axes, inputs)]


def dot_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    if len(inputs) != 2:
        raise ShapeError(f"expects two inputs, got {len(inputs)}")
    a, b = list(inputs[0]), list(inputs[1])
    ax = _dot_axes(attrs, inputs)
    a.pop(ax[0])
    b.pop(ax[1])
    b.pop(0)
    out = a + b
    if len(out) == 1:
        out.append(1)
    return [tuple(out)]


def dot_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Every output element sums the products along the contracted axis."""
    if len(ins) != 2 or ins[0] is None:
        raise Uncountable("expects two inputs of known shape")
    inner = ins[0][_dot_axes(layer.attrs, ins)[0]]
    if inner is None:
        raise Uncountable("unknown contracted dimension")
    macs = elements(outs[0]) * inner
    return macs, 2 * macs


def embedding_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    return [(*shape, attrs["output_dim"])]


register(
    OpSpec(
        "dense",
        dense_shape,
        dense_cost,
        per_position_step,
        roles={
            "kernel": {"keras": (("in", "out"),), "torch": (("out", "in"),), "tflite": (("out", "in"),)},
            "weight": {"torch": (("out", "in"),), "tflite": (("out", "in"),)},
            "bias": {"*": (("out",),)},
        },
        aliases={"weight": "kernel"},
        filters=Filters(("kernel",), conv_filters, conv_feeds),
        forward=lazy("dense_layer"),
        doc="fully connected: a stored matrix on the last axis",
    ),
    OpSpec("matmul", matmul_shape, matmul_cost, end_step, doc="product of two computed matrices (NumPy matmul)"),
    OpSpec("dot", dot_shape, dot_cost, end_step, forward=lazy("dot_layer"), doc="Keras Dot: sum of products along given axes"),
    OpSpec(
        "embedding",
        embedding_shape,
        free,
        end_step,
        roles={"*": {"*": (("token", "dim"),)}},
        aliases={"weight": "embeddings"},
        forward=lazy("embedding_layer"),
        doc="a row of a stored table per token",
    ),
)
