"""Pooling: ``pool`` (a sliding max/average window; with ``ceil_mode`` its output length
is rounded up) and ``global_pool`` (over every spatial axis; ``keepdims`` keeps them as 1s)."""

from __future__ import annotations

from typing import Sequence

from ..arithmetic import ShapeError, format_shape, spatial_join, spatial_split
from ..fields import end_step, slide_step
from ..model import Call, Layer, Shape
from ...forward import lazy
from .base import Attrs, RuleContext, Count, OpSpec, elements, one_input, one_known, register, sliding, window


def pool_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    if attrs.get("ceil_mode"):
        return [_ceil_mode(attrs, one_input(inputs))]
    return [sliding(attrs, one_input(inputs), None)]


def _ceil_mode(attrs: Attrs, shape: Shape) -> Shape:
    """Pooling with ``ceil_mode`` (explicit per-side pads): the last window may start in
    the padding's first half, never past the input and its leading pad."""
    rank, last = attrs["rank"], attrs.get("channels_last", False)
    if not isinstance(attrs["padding"], list):
        raise ShapeError(f"ceil_mode with padding '{attrs['padding']}' is not modelled")
    spatial, channels = spatial_split(shape, rank, last)
    out: list[int | None] = []
    for n, k, s, d, (p0, p1) in zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation"], attrs["padding"]):
        if n is None:
            out.append(None)
            continue
        eff = d * (k - 1) + 1
        length = -(-(n + p0 + p1 - eff) // s) + 1
        if (length - 1) * s >= n + p0:
            length -= 1
        out.append(length)
    return spatial_join(shape[0], out, channels, last)


def pool_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(outs[0]) * window(layer)


def global_pool_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Pooling over every spatial axis (``rank`` of them, else every axis after batch and
    channels); ``keepdims`` keeps them as 1s."""
    shape = one_input(inputs)
    rank, last = attrs.get("rank"), attrs["channels_last"]
    if rank is None:
        if len(shape) < 3:
            raise ShapeError(f"expects a (batch, channels, ...) input, got {format_shape(shape)}")
        rank = len(shape) - 2
    _, channels = spatial_split(shape, rank, last)
    if attrs.get("keepdims"):
        return [spatial_join(shape[0], (1,) * rank, channels, last)]
    return [(shape[0], channels)]


def global_pool_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return 0, elements(one_known(ins))


register(
    OpSpec("pool", pool_shape, pool_cost, slide_step, forward=lazy("pool_layer"), doc="max/average pooling window; ceil_mode rounds its length up"),
    OpSpec("global_pool", global_pool_shape, global_pool_cost, end_step, forward=lazy("global_pool_layer"), doc="pooling over every spatial axis"),
)
