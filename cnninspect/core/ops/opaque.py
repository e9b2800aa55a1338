"""Ops whose computation cnninspect cannot see: ``lambda`` (code never run),
``recorded`` (shapes the file stores, TFLite), ``wrapped_code`` (Keras' TorchModuleWrapper)
and ``unknown`` (no rule, with a reason)."""

from __future__ import annotations

from typing import Sequence

from ..arithmetic import ShapeError
from ..fields import end_step, preserve_step
from .activation import TORCH_VECTORS, same_shape
from ...forward import lazy
from ..model import Shape
from .base import Attrs, RuleContext, OpSpec, register, uncountable


def lambda_shape(attrs: Attrs, inputs: Sequence[Shape | None], ctx: RuleContext) -> list[Shape]:
    stated = attrs.get("output_shape")
    if stated is None:
        raise ShapeError("a Lambda computes its shape in code, which is never run; its config states no output_shape")
    batch = inputs[0][0] if inputs and inputs[0] else None
    return [(batch, *stated)]


def recorded_shape(attrs: Attrs, inputs: Sequence[Shape | None], ctx: RuleContext) -> list[Shape]:
    """An operator whose output shapes the file stores (TFLite stores every tensor's)."""
    if attrs.get("output_shapes") is None:
        raise ShapeError("the file does not record this output's shape")
    return [tuple(s) for s in attrs["output_shapes"]]


def unknown_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    raise ShapeError(attrs.get("reason", "no shape rule for this layer type"))



register(
    OpSpec("lambda", lambda_shape, uncountable("a Lambda runs code, which is never run"), end_step,
           accepts_unknown=True, doc="Keras Lambda: arbitrary code"),
    OpSpec("recorded", recorded_shape, uncountable("an operator known only by its stored output shapes"), end_step, forward=lazy("recorded_layer"),
           accepts_unknown=True, doc="output shapes the file stores (TFLite)"),
    OpSpec("wrapped_code", same_shape, uncountable("wraps arbitrary PyTorch code"), preserve_step, roles=TORCH_VECTORS,
           doc="Keras TorchModuleWrapper: code assumed to keep the shape"),
    OpSpec("unknown", unknown_shape, uncountable("no rule for this layer type"), end_step,
           doc="no rule; attrs['reason'] says why"),
)  # fmt: skip
