"""Operations that make small tensors from values, as graphs compute shapes and stand-in
weights: ``range``, ``constant_of_shape`` (``value`` in the shape an operand holds) and
``cast`` (to the dtype ``to``). Their shapes follow from their operands' values, which
are folded on the way when known; they cost nothing."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from ..arithmetic import ShapeError
from ..fields import end_step, preserve_step
from ..model import Shape
from .base import Attrs, OpSpec, RuleContext, free, register

if TYPE_CHECKING:
    from ...forward.layers import Arrays, Step


def range_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """``start, start + delta, ...`` below ``limit``: ceil((limit - start) / delta) elements."""
    start, limit, delta = (ctx.value(p) for p in range(3))
    if start is None or limit is None or delta is None:
        raise ShapeError("its start, limit or delta is computed at run time")
    if not delta:
        raise ShapeError("its delta is 0")
    ctx.fold_operands()
    return [(max(math.ceil((limit - start) / delta), 0),)]


def constant_of_shape_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """A tensor of the shape operand 0 holds."""
    target = ctx.value(0)
    if target is None or None in target:
        raise ShapeError("its shape is computed at run time from values cnninspect cannot know")
    ctx.fold_operands()
    return [tuple(int(d) for d in target)]


def cast_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = ctx.data_operand(inputs)
    ctx.fold_operands()
    return [shape]


# ---------------------------------------------------------------------------------------
# Forward


def _operands(step: Step, inputs: Arrays, count: int) -> list[Any]:
    from ...forward.layers import NotComputable, operand

    found = [operand(step, inputs, p) for p in range(count)]
    if any(v is None for v in found):
        raise NotComputable("an operand is not known")
    return found


def range_forward(step: Step, inputs: Arrays) -> Arrays:
    import numpy as np

    start, limit, delta = (np.asarray(v).reshape(()) for v in _operands(step, inputs, 3))
    return [np.arange(start.item(), limit.item(), delta.item()).astype(np.result_type(start, limit, delta))]


def constant_of_shape_forward(step: Step, inputs: Arrays) -> Arrays:
    import numpy as np

    (shape,) = _operands(step, inputs, 1)
    dtype = np.dtype(step.attrs.get("dtype", "float32"))
    return [np.full([int(d) for d in np.asarray(shape).reshape(-1)], step.attrs.get("value", 0), dtype=step.dtype if dtype.kind == "f" else dtype)]


def cast_forward(step: Step, inputs: Arrays) -> Arrays:
    """To a float type: the computation's float type (the run's precision stays); else
    the type named."""
    import numpy as np

    from ...forward.layers import NotComputable

    try:
        dtype = np.dtype(step.attrs["to"])
    except TypeError:
        raise NotComputable(f"NumPy has no type {step.attrs['to']}") from None
    return [inputs[0].astype(step.dtype if dtype.kind == "f" else dtype)]


register(
    OpSpec("range", range_shape, free, end_step, forward=range_forward, doc="start, start + delta, ... below limit"),
    OpSpec("constant_of_shape", constant_of_shape_shape, free, end_step, forward=constant_of_shape_forward,
           doc="one value in the shape an operand holds"),
    OpSpec("cast", cast_shape, free, preserve_step, forward=cast_forward, doc="the same values in another type"),
)  # fmt: skip
