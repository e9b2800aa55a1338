"""Shape-preserving kinds: ``activation`` (an element-wise function of one tensor, named by
``function``: relu, sigmoid, softmax, sqrt, ...), ``dropout`` (dropout and noise, which do
nothing at inference) and ``identity`` (layers that only pass their input on)."""

from __future__ import annotations

from typing import Sequence

from ..fields import preserve_step
from ..model import Call, Layer, Shape
from ...forward import lazy
from .base import LINEAR, Attrs, Count, CostRule, OpSpec, Roles, RuleContext, elements, free, register

CHANNELS = (("channels",),)
# PyTorch's per-channel vectors of shape-preserving modules (BatchNorm's weight and bias,
# running statistics, PReLU's weight).
TORCH_VECTORS: Roles = {role: {"torch": CHANNELS} for role in ("weight", "bias", "running_mean", "running_var")}
# PyTorch's words for a normalisation's vectors.
NORM_ALIASES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def same_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """The output has the shape of the (first) input."""
    return [inputs[0]] if inputs else []


def per_element(flops: int) -> CostRule:
    """A cost rule of ``flops`` per output element."""

    def rule(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
        return 0, flops * sum(elements(s) for s in outs)

    return rule


def activation_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """1 FLOP per element; none for the linear function."""
    return 0, (0 if layer.attrs.get("function") in LINEAR else 1) * sum(elements(s) for s in outs)


register(
    OpSpec("activation", same_shape, activation_cost, preserve_step, roles=TORCH_VECTORS, aliases={"weight": "alpha"},
           forward=lazy("activation"), doc="an element-wise function of one tensor; attrs['function'] names it"),
    OpSpec("dropout", same_shape, free, preserve_step, roles=TORCH_VECTORS, forward=lazy("passthrough"), doc="dropout or noise: nothing at inference"),
    OpSpec("identity", same_shape, free, preserve_step, roles=TORCH_VECTORS, forward=lazy("passthrough"), doc="passes its input on"),
)  # fmt: skip
