"""Merges and element-wise arithmetic: ``elementwise`` (Add, Multiply, ... with NumPy
broadcasting, constants and stored operands included), ``concat`` and ``reduce``."""

from __future__ import annotations

from typing import Any, Sequence

from ..arithmetic import ShapeError, broadcast, format_shape
from ..fields import concat_step, end_step, preserve_step
from ..model import Call, Constant, Layer, Shape
from ...forward import lazy
from .base import Attrs, Count, OpSpec, RuleContext, elements, free, register


def elementwise_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Add, Multiply, ... and arithmetic on tensors, constants (``x + 3.0``) and stored
    operands: NumPy broadcasting over every operand."""
    operands = ctx.operand_shapes(inputs)
    ctx.fold_operands()
    shapes = [s for s in operands if s is not None]
    for c in ctx.call.inputs:
        if isinstance(c, Constant) and isinstance(c.value, list):
            shapes.append(_constant_shape(c.value))
    if not shapes:
        raise ShapeError("has no tensor input")
    return [broadcast(shapes)]


def _constant_shape(value: Any) -> Shape:
    dims = []
    while isinstance(value, list):
        dims.append(len(value))
        value = value[0] if value else None
    return tuple(dims)


def concat_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Concatenation of tensors (and stored operands) along ``axis``."""
    inputs = [s for s in ctx.operand_shapes(inputs) if s is not None]
    ctx.fold_operands()
    if not inputs:
        raise ShapeError("has no input")
    rank = len(inputs[0])
    if any(len(s) != rank for s in inputs):
        raise ShapeError(f"cannot concatenate {', '.join(format_shape(s) for s in inputs)}")
    axis = attrs.get("axis", -1) % rank
    out = list(inputs[0])
    dims = [s[axis] for s in inputs]
    out[axis] = None if None in dims else sum(d for d in dims if d is not None)
    for i in range(rank):
        if i != axis:
            out[i] = broadcast([(s[i],) for s in inputs])[0]
    return [tuple(out)]


def reduce_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """ReduceMean, ReduceMax, ...: over ``axes`` (attribute or operand 1), every axis when
    none are given; ``keepdims`` keeps them as 1s."""
    shape = ctx.data_operand(inputs)
    axes = attrs.get("axes") if attrs.get("axes") is not None else ctx.value(1)
    if axes is None and ctx.is_tensor(1):
        raise ShapeError("its axes are computed at run time")
    if not axes and attrs.get("noop_with_empty_axes"):
        return [tuple(shape)]
    chosen = {int(a) % len(shape) for a in axes} if axes else set(range(len(shape)))
    if attrs.get("keepdims", 1):
        return [tuple(1 if i in chosen else d for i, d in enumerate(shape))]
    return [tuple(d for i, d in enumerate(shape) if i not in chosen)]



def elementwise_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """n operands: n - 1 FLOPs per output element (1 for a single-operand op)."""
    n = len(call.operands or call.inputs)
    return 0, max(n - 1, 1) * elements(outs[0])


def reduce_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(ins[0] if ins else None)


register(
    OpSpec("elementwise", elementwise_shape, elementwise_cost, preserve_step, forward=lazy("elementwise_layer"), doc="Add, Mul, ...: NumPy broadcasting"),
    OpSpec("concat", concat_shape, free, concat_step, forward=lazy("concat_layer"), doc="concatenate tensors along an axis"),
    OpSpec("reduce", reduce_shape, reduce_cost, end_step, forward=lazy("reduce_layer"), doc="mean, max, ... over axes"),
)
