"""Rearrangements that move elements between axes or repeat them: ``depth_to_space``
(``mode`` DCR or CRD), ``space_to_depth`` (channels first, ONNX), ``tile`` and ``expand``
(NumPy broadcasting to a target shape): their shapes and forward computations. No
arithmetic: they cost nothing; the spatial correspondence of a receptive field ends at
them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..arithmetic import ShapeError, broadcast, format_shape
from ..fields import end_step
from ..model import Shape
from .base import Attrs, OpSpec, RuleContext, free, register

if TYPE_CHECKING:
    from ...forward.layers import Arrays, Step


def _blocks(attrs: Attrs, shape: Shape) -> tuple[int, list]:
    if len(shape) < 3:
        raise ShapeError(f"expects a batch, channels and spatial axes, got {format_shape(shape)}")
    block = int(attrs["blocksize"])
    if block < 1:
        raise ShapeError(f"block size {block} is not positive")
    return block, list(shape)


def depth_to_space_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """(N, C, H, W) -> (N, C / b^r, H * b, W * b): channels become blocks of pixels."""
    block, out = _blocks(attrs, ctx.data_operand(inputs))
    cells = block ** (len(out) - 2)
    if out[1] is not None and out[1] % cells:
        raise ShapeError(f"{out[1]} channels do not split into blocks of {block}x{block}")
    out[1] = None if out[1] is None else out[1] // cells
    return [tuple(out[:2] + [None if n is None else n * block for n in out[2:]])]


def space_to_depth_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """(N, C, H, W) -> (N, C * b^r, H / b, W / b): blocks of pixels become channels."""
    block, out = _blocks(attrs, ctx.data_operand(inputs))
    if any(n is not None and n % block for n in out[2:]):
        raise ShapeError(f"{format_shape(tuple(out))} does not divide into blocks of {block}")
    out[1] = None if out[1] is None else out[1] * block ** (len(out) - 2)
    return [tuple(out[:2] + [None if n is None else n // block for n in out[2:]])]


def tile_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Every axis repeated by its ``repeats`` (attribute, or operand 1)."""
    shape = ctx.data_operand(inputs)
    repeats = attrs.get("repeats") if attrs.get("repeats") is not None else ctx.value(1)
    if repeats is None:
        raise ShapeError("its repeats are computed at run time")
    if len(repeats) != len(shape):
        raise ShapeError(f"{len(repeats)} repeats for {format_shape(shape)}")
    ctx.fold_operands()
    return [tuple(None if n is None else n * int(r) for n, r in zip(shape, repeats))]


def expand_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """The input broadcast with the target shape (operand 1), NumPy's way: a 1 stretches."""
    shape = ctx.data_operand(inputs)
    target = attrs.get("shape") if attrs.get("shape") is not None else ctx.value(1)
    if target is None:
        raise ShapeError("its target shape is computed at run time")
    ctx.fold_operands()
    return [broadcast([shape, tuple(int(d) for d in target)])]


# ---------------------------------------------------------------------------------------
# Forward (2-D images, as ONNX defines DepthToSpace and SpaceToDepth)


def depth_to_space_forward(step: Step, inputs: Arrays) -> Arrays:
    x, b = inputs[0], int(step.attrs["blocksize"])
    n, c, h, w = x.shape
    if step.attrs.get("mode", "DCR") == "CRD":
        blocks = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        blocks = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return [blocks.reshape(n, c // (b * b), h * b, w * b)]


def space_to_depth_forward(step: Step, inputs: Arrays) -> Arrays:
    x, b = inputs[0], int(step.attrs["blocksize"])
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return [blocks.reshape(n, c * b * b, h // b, w // b)]


def _target(step: Step, inputs: Arrays, key: str) -> list[int]:
    from ...forward.layers import NotComputable, operand

    found: Any = step.attrs.get(key)
    if found is None:
        found = operand(step, inputs, 1)
    if found is None:
        raise NotComputable(f"its {key} are not known")
    return [int(v) for v in found]


def tile_forward(step: Step, inputs: Arrays) -> Arrays:
    import numpy as np

    return [np.tile(inputs[0], _target(step, inputs, "repeats"))]


def expand_forward(step: Step, inputs: Arrays) -> Arrays:
    import numpy as np

    x = inputs[0]
    return [np.array(np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(_target(step, inputs, "shape")))))]


register(
    OpSpec("depth_to_space", depth_to_space_shape, free, end_step, forward=depth_to_space_forward,
           doc="channels into blocks of pixels (DepthToSpace)"),
    OpSpec("space_to_depth", space_to_depth_shape, free, end_step, forward=space_to_depth_forward,
           doc="blocks of pixels into channels (SpaceToDepth)"),
    OpSpec("tile", tile_shape, free, end_step, forward=tile_forward, doc="repeat every axis by its repeats"),
    OpSpec("expand", expand_shape, free, end_step, forward=expand_forward, doc="broadcast to a target shape"),
)  # fmt: skip
