"""Recurrent layers (``rnn``: SimpleRNN, LSTM, GRU) and their wrappers
(``bidirectional``, ``time_distributed``)."""

from __future__ import annotations

from typing import Sequence

from ..arithmetic import ShapeError, format_shape
from ..fields import end_step
from ..model import Call, Layer, Shape
from . import base
from ...forward import lazy
from .base import Attrs, RuleContext, Count, OpSpec, Roles, Uncountable, one_input, register


def rnn_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = inputs[0]  # initial states may follow
    if len(shape) != 3:
        raise ShapeError(f"expects a 3-D (batch, time, features) input, got {format_shape(shape)}")
    units = attrs["units"]
    out = (shape[0], shape[1], units) if attrs.get("return_sequences") else (shape[0], units)
    states = [(shape[0], units)] * attrs.get("states", 1) if attrs.get("return_state") else []
    return [out, *states]


def bidirectional_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    inner = attrs["layer"]
    forward = rnn_shape(inner, inputs, ctx)
    out, states = forward[0], forward[1:]
    mode = attrs.get("merge_mode")
    if mode is None:
        return [out, out, *states, *states]
    if mode == "concat":
        out = (*out[:-1], None if out[-1] is None else out[-1] * 2)
    return [out, *states, *states]


def time_distributed_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    if len(shape) < 3:
        raise ShapeError(f"expects a (batch, time, ...) input, got {format_shape(shape)}")
    inner = attrs["layer"]
    if inner["op"] not in base.SPECS:
        raise ShapeError(f"no shape rule for wrapped {inner['type']}")
    outs = base.SPECS[inner["op"]].shape(inner["attrs"], [(shape[0], *shape[2:])], base.RuleContext())
    return [(o[0], shape[1], *o[1:]) for o in outs]



def rnn_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    raise Uncountable("a recurrent cell's gate arithmetic differs per cell type: not counted")


def bidirectional_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    raise Uncountable("a Bidirectional wrapper's weights belong to its inner layers, which are not counted")


def time_distributed_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    raise Uncountable("a TimeDistributed wrapper's cost is its inner layer's per step, which is not counted")


RNN_ROLES: Roles = {
    "kernel": {"*": (("in", "gates"),)},
    "recurrent_kernel": {"*": (("units", "gates"),)},
    "bias": {"*": (("gates",), ("part", "gates"))},  # GRU with reset_after: input and recurrent biases
}

register(
    OpSpec("rnn", rnn_shape, rnn_cost, end_step, roles=RNN_ROLES, forward=lazy("rnn_layer"), doc="SimpleRNN, LSTM, GRU over (batch, time, features)"),
    OpSpec("bidirectional", bidirectional_shape, bidirectional_cost, end_step, forward=lazy("bidirectional_layer"), doc="a recurrent layer run both ways"),
    OpSpec("time_distributed", time_distributed_shape, time_distributed_cost, end_step, forward=lazy("time_distributed_layer"), doc="a layer applied per time step"),
)
