"""Data movement: ops that rearrange, select, pad or resize elements without arithmetic
(``input`` and ``constant`` included): their shapes, and what they do to receptive fields.
Every one costs nothing."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..arithmetic import ShapeError, format_shape, product, spatial_axes, spatial_join, spatial_split
from ..fields import Value, crop_step, end_step, pixel_step, scale, shift, single, upsample_step
from ..model import Call, Constant, Layer, Shape
from ...forward import lazy
from .base import Attrs, OpSpec, RuleContext, free, one_input, register


def _axes(attrs: Attrs, ctx: RuleContext, position: int) -> list[int]:
    axes = attrs.get("axes") if attrs.get("axes") is not None else ctx.value(position)
    if axes is None:
        raise ShapeError("its axes are computed at run time")
    return [int(a) for a in axes]


def _resize_spatial(attrs: Attrs, shape: Shape, fn: Callable[[Any, int, Any], Any]) -> Shape:
    rank, last = attrs["rank"], attrs["channels_last"]
    spatial, channels = spatial_split(shape, rank, last)
    out = tuple(None if n is None else fn(n, i, attrs) for i, n in enumerate(spatial))
    if any(d is not None and d <= 0 for d in out):
        raise ShapeError(f"leaves no elements of {format_shape(shape)}")
    return spatial_join(shape[0], out, channels, last)



def input_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    if attrs.get("shape") is None:
        raise ShapeError("the file does not record this input's shape (use --input-shape)")
    return [tuple(attrs["shape"])]


def constant_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """A stored or folded value: its shape is known whatever the inputs."""
    if attrs.get("shape") is None:
        raise ShapeError("its value is not stored in the file")
    return [tuple(attrs["shape"])]


def flatten_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Flatten to 2-D around ``axis`` (1 by default: the batch dim and everything else)."""
    shape = one_input(inputs)
    axis = attrs.get("axis", 1) % (len(shape) + 1) if shape else 0
    return [(product(shape[:axis]), product(shape[axis:]))]


def reshape_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Reshape to ``target_shape``, which leaves the batch dim out (Keras ``Reshape``) or,
    with ``batch_included``, names it too (``tf.reshape``, ONNX ``Reshape``, ``x.view``)."""
    if attrs.get("batch_included"):
        return _reshape_with_batch(attrs, inputs, ctx)
    shape = one_input(inputs)
    target = list(attrs["target_shape"])
    if target.count(-1) > 1:
        raise ShapeError(f"target shape {target} has more than one -1")
    if -1 in target:
        total = product(shape[1:])
        known = product([d for d in target if d != -1])
        if total is None or known is None:
            target[target.index(-1)] = None
        elif known == 0 or total % known:
            raise ShapeError(f"cannot reshape {format_shape(shape)} to {target}")
        else:
            target[target.index(-1)] = total // known
    return [(shape[0], *target)]


def _reshape_with_batch(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """The target, given as an attribute, the call's ``shape`` argument, its constant or
    its operand 1, includes the batch dim: 0 copies the input's dim (unless ``allowzero``),
    -1 takes what is left."""
    shape = ctx.data_operand(inputs)
    target = reshape_target(attrs, ctx)
    if target is None:
        operands = ctx.operand_shapes(inputs)
        if len(operands) > 1 and operands[1] is not None:
            raise ShapeError("its target shape is computed at run time from values cnninspect cannot know")
        raise ShapeError("the target shape is not recorded in the file")
    out: list = [shape[i] if t == 0 and not attrs.get("allowzero") else t for i, t in enumerate(target)]
    if out.count(-1) > 1:
        raise ShapeError(f"target shape {list(target)} has more than one -1")
    if -1 in out:
        total, known = product(shape), product([d for d in out if d != -1])
        if total is None and shape and out[0] is None and shape[0] is None:  # the batch dim kept, as x.view(n, -1)
            total, known = product(shape[1:]), product([d for d in out[1:] if d != -1])
        if total is not None and known and total % known:
            raise ShapeError(f"cannot reshape {format_shape(shape)} to {list(target)}")
        out[out.index(-1)] = None if total is None or not known else total // known
    return [tuple(out)]


def reshape_target(attrs: Attrs, ctx: RuleContext) -> list | None:
    target = attrs.get("target_shape") or ctx.call.kwargs.get("shape")
    if target is None:
        consts = [c.value for c in ctx.call.inputs if isinstance(c, Constant) and isinstance(c.value, list)]
        target = consts[0] if consts else ctx.value(1)
    return None if target is None else list(target)


def transpose_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Reorder every axis by ``perm`` (the batch axis included; reversed when none is given)."""
    shape = one_input(inputs)
    perm = attrs.get("perm") or list(range(len(shape)))[::-1]
    return [tuple(shape[p] for p in perm)]


def repeat_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    return [(shape[0], attrs["n"], *shape[1:])]


def getitem_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Indexing ``x[:, 1:]``: ints drop an axis, slices shorten it, None adds one."""
    shape = list(inputs[0])
    key = ctx.call.kwargs.get("slice_spec")
    if key is None:
        consts = [c.value for c in ctx.call.inputs if isinstance(c, Constant)]
        key = consts[0] if consts else None
    if key is None:
        raise ShapeError("the index is not recorded in the file")
    keys = key if isinstance(key, list) else [key]
    out: list = []
    pos = 0
    for k in keys:
        if k is None:
            out.append(1)
            continue
        if pos >= len(shape):
            raise ShapeError(f"too many indices for {format_shape(tuple(shape))}")
        n = shape[pos]
        if isinstance(k, slice):
            out.append(None if n is None else len(range(*k.indices(n))))
        elif not isinstance(k, int):
            raise ShapeError(f"cannot index with {k!r}")
        pos += 1
    return [tuple(out + shape[pos:])]


def slice_by_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Slice with starts, ends, axes and steps (attributes, or operands 1 to 4)."""
    operands = ctx.operand_shapes(inputs)
    shape = list(ctx.data_operand(inputs))
    given = attrs.get("starts") is not None
    starts, ends = (attrs["starts"], attrs["ends"]) if given else (ctx.value(1), ctx.value(2))
    axes = attrs.get("axes") if given else ctx.value(3)
    steps = None if given else ctx.value(4)
    if starts is None or ends is None or (not given and len(operands) > 3 and operands[3] is not None and axes is None):
        raise ShapeError("its starts, ends or axes are computed at run time")
    for j, start in enumerate(starts):
        axis = int(axes[j]) % len(shape) if axes is not None else j
        n = shape[axis]
        step = int(steps[j]) if steps is not None else 1
        shape[axis] = None if n is None else len(range(*slice(int(start), int(ends[j]), step).indices(n)))
    ctx.fold_operands()
    return [tuple(shape)]


def squeeze_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = ctx.data_operand(inputs)
    if attrs.get("axes") is None and ctx.value(1) is None:
        if None in shape:
            raise ShapeError(f"squeezes every 1 of {format_shape(shape)}, whose unknown dims may be 1")
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = {a % len(shape) for a in _axes(attrs, ctx, 1)}
    ctx.fold_operands()
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


def unsqueeze_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    data = ctx.data_operand(inputs)
    rank = len(data) + len(_axes(attrs, ctx, 1))
    axes = {a % rank for a in _axes(attrs, ctx, 1)}
    rest = iter(data)
    ctx.fold_operands()
    return [tuple(1 if i in axes else next(rest) for i in range(rank))]


def shape_of_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """The shape of the data, as a 1-D tensor (its ``start:end`` part); folded to the
    shape itself, unknown dims as None."""
    data = ctx.data_operand(inputs)
    value = list(data)[attrs.get("start", 0) : attrs.get("end")]
    ctx.fold([value])
    return [(len(value),)]


def gather_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    data, indices = ctx.data_operand(inputs), ctx.data_operand(inputs, 1)
    axis = attrs.get("axis", 0) % len(data)
    ctx.fold_operands()
    return [(*data[:axis], *indices, *data[axis + 1 :])]


def split_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Split along ``axis`` into the ``split`` sizes (attribute or operand 1), else into
    ``outputs`` equal parts (the last one smaller when it does not divide)."""
    shape = list(ctx.data_operand(inputs))
    axis = attrs.get("axis", 0) % len(shape)
    sizes = attrs.get("split") if attrs.get("split") is not None else ctx.value(1)
    n = shape[axis]
    if sizes is None:
        parts = attrs["outputs"]
        if n is None:
            sizes = [None] * parts
        else:
            each = -(-n // parts)
            sizes = [min(each, max(n - i * each, 0)) for i in range(parts)]
    return [tuple(shape[:axis] + [s] + shape[axis + 1 :]) for s in sizes]


def pad_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Pad by ``pads``, a (before, after) pair per axis of ``axes`` (every axis when None)."""
    shape = ctx.data_operand(inputs)
    pads, axes = pads_of(attrs, ctx, len(shape))
    if pads is None:
        raise ShapeError("its pads are computed at run time")
    out = list(shape)
    for (before, after), a in zip(pads, axes):
        n = out[a]
        out[a] = None if n is None else n + int(before) + int(after)
    return [tuple(out)]


def pads_of(attrs: Attrs, ctx: RuleContext, ndim: int) -> tuple[list | None, list[int]]:
    """The (before, after) pairs and the axes they pad; ONNX's operand 1 lists them as
    ``[begin_0, begin_1, ..., end_0, end_1, ...]`` over the axes of operand 3."""
    axes = attrs.get("axes") or ctx.value(3)
    pads = attrs.get("pads")
    if pads is None:
        flat = ctx.value(1)
        half = len(flat) // 2 if flat is not None else 0
        pads = None if flat is None else [(flat[i], flat[i + half]) for i in range(half)]
    axes = [int(a) % ndim for a in axes] if axes is not None else list(range(ndim))
    if pads is not None and len(pads) != len(axes):
        raise ShapeError(f"{len(pads)} pairs of pads for {len(axes)} axes")
    return pads, axes


def crop_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    return [_resize_spatial(attrs, one_input(inputs), lambda n, i, a: n - sum(a["cropping"][i]))]


def upsample_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    return [_resize_spatial(attrs, one_input(inputs), lambda n, i, a: n * a["size"][i])]


def resize_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    """Resize to ``sizes`` (one per axis, None keeps the input's) or by ``scales``, given as
    attributes or as the operands at ``sizes_at`` / ``scales_at``."""
    shape = ctx.data_operand(inputs)
    sizes, scales = resize_amounts(attrs, ctx)
    amounts = sizes if sizes else scales
    if not amounts:
        raise ShapeError("its scales or sizes are computed at run time")
    if len(amounts) != len(shape):
        raise ShapeError(f"expects a {len(amounts)}-D input, got {len(shape)}-D {format_shape(shape)}")
    if sizes:
        return [tuple(n if s is None else int(s) for n, s in zip(shape, sizes))]
    return [tuple(None if n is None else int(n * float(s)) for n, s in zip(shape, scales))]


def resize_amounts(attrs: Attrs, ctx: RuleContext) -> tuple[Any, Any]:
    """(sizes, scales), each None when not known."""
    sizes = attrs.get("sizes")
    if sizes is None and attrs.get("sizes_at") is not None:
        sizes = ctx.value(attrs["sizes_at"])
    scales = attrs.get("scales")
    if scales is None and attrs.get("scales_at") is not None:
        scales = ctx.value(attrs["scales_at"])
    return sizes, scales


def pad_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """The leading pads of the spatial axes shift the field's start."""
    a = layer.attrs
    shape = shapes[0] if shapes else None
    rank = a.get("rank") or (len(shape) - 2 if shape is not None else 0)
    ndim, last = rank + 2, a.get("channels_last", False)
    if rank < 1 or (a.get("axes") is None and shape is None):
        return None
    pads, axes = pads_of(a, RuleContext.of(layer.calls[0] if layer.calls else Call()), ndim)
    if pads is None:
        return None
    before = dict(zip(axes, (int(p[0]) for p in pads)))
    field = single(ins, rank, last)
    return None if field is None else shift(field, [-before.get(i, 0) for i in spatial_axes(rank, last)])


def resize_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """An interpolation (``interpolates``, channels first) divides the field's jump by its
    spatial scales; adaptive pooling and cropping end the spatial correspondence."""
    shape = shapes[0] if shapes else None
    if not layer.attrs.get("interpolates") or shape is None or len(shape) < 3:
        return None
    sizes, scales = resize_amounts(layer.attrs, RuleContext.of(layer.calls[0] if layer.calls else Call()))
    if sizes:
        scales = [None if n is None else (1 if s is None else int(s) / n) for n, s in zip(shape, sizes)]
    if not scales or None in scales[2:]:
        return None
    field = single(ins, len(shape) - 2, False)
    return None if field is None else scale(field, [float(f) for f in scales[2:]])


register(
    OpSpec("input", input_shape, free, pixel_step, doc="a model input"),
    OpSpec("constant", constant_shape, free, end_step, forward=lazy("constant_layer"), doc="a stored or folded value"),
    OpSpec("flatten", flatten_shape, free, end_step, forward=lazy("flatten_layer"), doc="flatten to 2-D around an axis (1: batch, everything else)"),
    OpSpec("reshape", reshape_shape, free, end_step, forward=lazy("reshape_layer"), doc="reshape; batch_included: the target names the batch dim (0 copies unless allowzero, -1 infers)"),
    OpSpec("transpose", transpose_shape, free, end_step, forward=lazy("transpose_layer"), doc="reorder every axis (reversed by default)"),
    OpSpec("repeat", repeat_shape, free, end_step, forward=lazy("repeat_layer"), doc="repeat a vector n times (Keras RepeatVector)"),
    OpSpec("getitem", getitem_shape, free, end_step, forward=lazy("getitem_layer"), doc="indexing x[...]"),
    OpSpec("slice_by", slice_by_shape, free, end_step, doc="slice by starts, ends, axes and steps"),
    OpSpec("squeeze", squeeze_shape, free, end_step, forward=lazy("squeeze_layer"), doc="drop axes of length 1"),
    OpSpec("unsqueeze", unsqueeze_shape, free, end_step, forward=lazy("unsqueeze_layer"), doc="insert axes of length 1"),
    OpSpec("shape_of", shape_of_shape, free, end_step, forward=lazy("shape_of_layer"), doc="the shape of a tensor, as a tensor"),
    OpSpec("gather", gather_shape, free, end_step, forward=lazy("gather_layer"), doc="take elements along an axis"),
    OpSpec("split", split_shape, free, end_step, forward=lazy("split_layer"), doc="split along an axis"),
    OpSpec("pad", pad_shape, free, pad_step, forward=lazy("pad_layer"), doc="pad axes by (before, after) pairs"),
    OpSpec("crop", crop_shape, free, crop_step, forward=lazy("crop_layer"), doc="crop the spatial axes (per-side amounts)"),
    OpSpec("upsample", upsample_shape, free, upsample_step, forward=lazy("upsample_layer"), doc="repeat every spatial position by a factor"),
    OpSpec("resize", resize_shape, free, resize_step, forward=lazy("resize_layer"), doc="resize to sizes or by scales"),
)
