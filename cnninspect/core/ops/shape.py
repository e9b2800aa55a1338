"""Data movement: ops that rearrange, select, pad or resize elements without arithmetic
(``input`` and ``constant`` included): their shapes, and what they do to receptive fields.
Every one costs nothing."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..arithmetic import ShapeError, format_shape, product, spatial_join, spatial_split
from ..fields import Value, crop_step, end_step, pad_step, pixel_step, scale, shift, single, upsample_step
from ..model import Call, Constant, Layer, Shape
from ...forward import lazy
from .base import Attrs, OpSpec, data_operand, fold_values, free, one_input, operand_shapes, operand_value, register


def _axes(attrs: Attrs, call: Call, position: int) -> list[int]:
    axes = attrs.get("axes") if attrs.get("axes") is not None else operand_value(call, position)
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



def input_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    if attrs.get("shape") is None:
        raise ShapeError("the file does not record this input's shape (use --input-shape)")
    return [tuple(attrs["shape"])]


def constant_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """A stored or folded value: its shape is known whatever the inputs."""
    if attrs.get("shape") is None:
        raise ShapeError("its value is not stored in the file")
    return [tuple(attrs["shape"])]


def flatten_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = one_input(inputs)
    return [(shape[0], product(shape[1:]))]


def flatten_at_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Flatten to 2-D around ``axis``."""
    shape = one_input(inputs)
    axis = attrs.get("axis", 1) % (len(shape) + 1) if shape else 0
    return [(product(shape[:axis]), product(shape[axis:]))]


def reshape_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Reshape to ``target_shape``, which leaves the batch dim out (Keras ``Reshape``) or,
    with ``batch_included``, names it too (``tf.reshape``, ``ops.reshape``)."""
    if attrs.get("batch_included"):
        return _reshape_with_batch(attrs, inputs, call)
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


def _reshape_with_batch(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """The target, given as an attribute, the call's ``shape`` argument or its constant,
    includes the batch dim."""
    shape = one_input(inputs)
    target = attrs.get("target_shape") or call.kwargs.get("shape")
    if target is None:
        consts = [c.value for c in call.inputs if isinstance(c, Constant) and isinstance(c.value, list)]
        target = consts[0] if consts else None
    if not isinstance(target, list):
        raise ShapeError("the target shape is not recorded in the file")
    out = list(target)
    if out.count(-1) > 1:
        raise ShapeError(f"target shape {target} has more than one -1")
    if -1 in out:
        total, known = product(shape), product([d for d in out if d != -1])
        out[out.index(-1)] = None if total is None or not known else total // known
    return [tuple(out)]


def reshape_to_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Reshape to a target operand: 0 copies the input's dim, -1 takes what is left."""
    shape = data_operand(inputs, call)
    target = attrs.get("shape") if attrs.get("shape") is not None else operand_value(call, 1)
    if shape is None or target is None:
        raise ShapeError("its target shape is computed at run time from values cnninspect cannot know")
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


def transpose_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Reorder every axis by ``perm`` (the batch axis included; reversed when none is given)."""
    shape = one_input(inputs)
    perm = attrs.get("perm") or list(range(len(shape)))[::-1]
    return [tuple(shape[p] for p in perm)]


def repeat_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = one_input(inputs)
    return [(shape[0], attrs["n"], *shape[1:])]


def getitem_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Indexing ``x[:, 1:]``: ints drop an axis, slices shorten it, None adds one."""
    shape = list(inputs[0])
    key = call.kwargs.get("slice_spec")
    if key is None:
        consts = [c.value for c in call.inputs if isinstance(c, Constant)]
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


def slice_by_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Slice with starts, ends, axes and steps (attributes, or operands 1 to 4)."""
    operands = operand_shapes(inputs, call)
    shape = list(data_operand(inputs, call))
    given = attrs.get("starts") is not None
    starts, ends = (attrs["starts"], attrs["ends"]) if given else (operand_value(call, 1), operand_value(call, 2))
    axes = attrs.get("axes") if given else operand_value(call, 3)
    steps = None if given else operand_value(call, 4)
    if starts is None or ends is None or (not given and len(operands) > 3 and operands[3] is not None and axes is None):
        raise ShapeError("its starts, ends or axes are computed at run time")
    for j, start in enumerate(starts):
        axis = int(axes[j]) % len(shape) if axes is not None else j
        n = shape[axis]
        step = int(steps[j]) if steps is not None else 1
        shape[axis] = None if n is None else len(range(*slice(int(start), int(ends[j]), step).indices(n)))
    fold_values(call, operands)
    return [tuple(shape)]


def squeeze_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = operand_shapes(inputs, call)
    shape = data_operand(inputs, call)
    if attrs.get("axes") is None and operand_value(call, 1) is None:
        if None in shape:
            raise ShapeError(f"squeezes every 1 of {format_shape(shape)}, whose unknown dims may be 1")
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = {a % len(shape) for a in _axes(attrs, call, 1)}
    fold_values(call, operands)
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


def unsqueeze_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = operand_shapes(inputs, call)
    data = data_operand(inputs, call)
    rank = len(data) + len(_axes(attrs, call, 1))
    axes = {a % rank for a in _axes(attrs, call, 1)}
    rest = iter(data)
    fold_values(call, operands)
    return [tuple(1 if i in axes else next(rest) for i in range(rank))]


def shape_of_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = operand_shapes(inputs, call)
    fold_values(call, operands)
    return [(len(data_operand(inputs, call)),)]


def gather_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    data, indices = data_operand(inputs, call), data_operand(inputs, call, 1)
    axis = attrs.get("axis", 0) % len(data)
    fold_values(call, [data, indices])
    return [(*data[:axis], *indices, *data[axis + 1 :])]


def split_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Split along ``axis`` into the ``split`` sizes (attribute or operand 1), else into
    ``outputs`` equal parts (the last one smaller when it does not divide)."""
    shape = list(data_operand(inputs, call))
    axis = attrs.get("axis", 0) % len(shape)
    sizes = attrs.get("split") if attrs.get("split") is not None else operand_value(call, 1)
    n = shape[axis]
    if sizes is None:
        parts = attrs["outputs"]
        if n is None:
            sizes = [None] * parts
        else:
            each = -(-n // parts)
            sizes = [min(each, max(n - i * each, 0)) for i in range(parts)]
    return [tuple(shape[:axis] + [s] + shape[axis + 1 :]) for s in sizes]


def pad_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, one_input(inputs), lambda n, i, a: n + sum(a["padding"][i]))]


def pad_to_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Pad with ``[begin_0, begin_1, ..., end_0, end_1, ...]`` over every axis."""
    shape = data_operand(inputs, call)
    pads = attrs.get("pads") if attrs.get("pads") is not None else operand_value(call, 1)
    if pads is None:
        raise ShapeError("its pads are computed at run time")
    axes = attrs.get("axes") or operand_value(call, 3) or list(range(len(shape)))
    out = list(shape)
    for j, a in enumerate(axes):
        a = int(a) % len(shape)
        n = out[a]
        out[a] = None if n is None else n + int(pads[j]) + int(pads[j + len(axes)])
    return [tuple(out)]


def crop_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, one_input(inputs), lambda n, i, a: n - sum(a["cropping"][i]))]


def upsample_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, one_input(inputs), lambda n, i, a: n * a["size"][i])]


def resize_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = one_input(inputs)
    _, channels = spatial_split(shape, 2, attrs["channels_last"])
    return [spatial_join(shape[0], attrs["size"], channels, attrs["channels_last"])]


def resize_to_shape(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Resize (Upsample) by ``scales`` or to ``sizes`` (operand positions in attrs)."""
    shape = data_operand(inputs, call)
    sizes = operand_value(call, attrs["sizes_at"]) if attrs.get("sizes_at") is not None else None
    if sizes is not None and len(sizes):
        return [tuple(int(s) for s in sizes)]
    scales = attrs.get("scales") or (operand_value(call, attrs["scales_at"]) if attrs.get("scales_at") is not None else None)
    if scales is None or not len(scales):
        raise ShapeError("its scales or sizes are computed at run time")
    return [tuple(None if n is None else int(n * float(s)) for n, s in zip(shape, scales))]



def _spatial_amounts(layer: Layer, per_axis: list | None, rank: int, channels_last: bool) -> list | None:
    """The spatial part (depth-height-width order) of a per-axis list over the whole
    tensor, or None when it is not known."""
    if per_axis is None or len(per_axis) < rank + 1:
        return None
    return list(per_axis[1:-1]) if channels_last else list(per_axis[-rank:])


def pad_to_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """ONNX Pad: the leading pads of the spatial axes shift the field's start."""
    shape = shapes[0] if shapes else None
    call = layer.calls[0] if layer.calls else Call()
    pads = layer.attrs.get("pads") if layer.attrs.get("pads") is not None else operand_value(call, 1)
    if shape is None or pads is None or len(shape) < 3 or layer.attrs.get("axes") or operand_value(call, 3):
        return None
    rank = len(shape) - 2
    field = single(ins, rank, False)
    return None if field is None else shift(field, [-int(p) for p in pads[2 : len(shape)]])


def resize_to_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """ONNX Resize/Upsample: the spatial scales divide the field's jump."""
    shape = shapes[0] if shapes else None
    outs: Any = None
    if shape is None or len(shape) < 3:
        return None
    call = layer.calls[0] if layer.calls else Call()
    a = layer.attrs
    sizes = operand_value(call, a["sizes_at"]) if a.get("sizes_at") is not None else None
    if sizes:
        outs = [None if n is None else int(s) / n for n, s in zip(shape, sizes)]
    else:
        outs = a.get("scales") or (operand_value(call, a["scales_at"]) if a.get("scales_at") is not None else None)
    if not outs or None in outs[2:]:
        return None
    field = single(ins, len(shape) - 2, False)
    return None if field is None else scale(field, [float(f) for f in outs[2:]])


register(
    OpSpec("input", input_shape, free, pixel_step, doc="a model input"),
    OpSpec("constant", constant_shape, free, end_step, forward=lazy("constant_layer"), doc="a stored or folded value"),
    OpSpec("flatten", flatten_shape, free, end_step, forward=lazy("flatten_layer"), doc="(batch, everything else)"),
    OpSpec("flatten_at", flatten_at_shape, free, end_step, forward=lazy("flatten_at_layer"), doc="flatten to 2-D around an axis"),
    OpSpec("reshape", reshape_shape, free, end_step, forward=lazy("reshape_layer"), doc="reshape; batch_included: the target names the batch dim"),
    OpSpec("reshape_to", reshape_to_shape, free, end_step, forward=lazy("reshape_to_layer"), doc="reshape to a target operand (0 copies, -1 infers)"),
    OpSpec("transpose", transpose_shape, free, end_step, forward=lazy("transpose_layer"), doc="reorder every axis (reversed by default)"),
    OpSpec("repeat", repeat_shape, free, end_step, forward=lazy("repeat_layer"), doc="repeat a vector n times (Keras RepeatVector)"),
    OpSpec("getitem", getitem_shape, free, end_step, forward=lazy("getitem_layer"), doc="indexing x[...]"),
    OpSpec("slice_by", slice_by_shape, free, end_step, doc="slice by starts, ends, axes and steps"),
    OpSpec("squeeze", squeeze_shape, free, end_step, forward=lazy("squeeze_layer"), doc="drop axes of length 1"),
    OpSpec("unsqueeze", unsqueeze_shape, free, end_step, forward=lazy("unsqueeze_layer"), doc="insert axes of length 1"),
    OpSpec("shape_of", shape_of_shape, free, end_step, forward=lazy("shape_of_layer"), doc="the shape of a tensor, as a tensor"),
    OpSpec("gather", gather_shape, free, end_step, forward=lazy("gather_layer"), doc="take elements along an axis"),
    OpSpec("split", split_shape, free, end_step, forward=lazy("split_layer"), doc="split along an axis"),
    OpSpec("pad", pad_shape, free, pad_step, forward=lazy("pad_layer"), doc="pad the spatial axes (per-side amounts)"),
    OpSpec("pad_to", pad_to_shape, free, pad_to_step, forward=lazy("pad_to_layer"), doc="pad every axis by [begins..., ends...]"),
    OpSpec("crop", crop_shape, free, crop_step, forward=lazy("crop_layer"), doc="crop the spatial axes (per-side amounts)"),
    OpSpec("upsample", upsample_shape, free, upsample_step, forward=lazy("upsample_layer"), doc="repeat every spatial position by a factor"),
    OpSpec("resize", resize_shape, free, end_step, forward=lazy("resize_layer"), doc="resize to a stated spatial size"),
    OpSpec("resize_to", resize_to_shape, free, resize_to_step, forward=lazy("resize_to_layer"), doc="resize by scales or to sizes"),
)
