"""Shape rules: one function per neutral operation kind, in one registry.

A rule takes the layer's normalised attributes and the shapes of the tensors of one call
and returns the shape of every output tensor. It raises ``ShapeError`` with a reason
when the shape cannot be known. Adding an operation kind adds one entry here.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .arithmetic import (
    ShapeError,
    broadcast,
    conv_length,
    format_shape,
    product,
    spatial_join,
    spatial_split,
    transposed_length,
)
from .model import Call, Constant, Shape

Attrs = dict[str, Any]
Rule = Callable[[Attrs, Sequence[Shape], Call], list[Shape]]

RULES: dict[str, Rule] = {}
# Ops whose rule runs even when an input's shape is unknown (passed as None).
ACCEPTS_UNKNOWN: set[str] = set()


def rule(*ops: str, accepts_unknown: bool = False) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for op in ops:
            RULES[op] = fn
            if accepts_unknown:
                ACCEPTS_UNKNOWN.add(op)
        return fn

    return register


def _one(inputs: Sequence[Shape]) -> Shape:
    if len(inputs) != 1:
        raise ShapeError(f"expects one input tensor, got {len(inputs)}")
    return inputs[0]


def _sliding(attrs: Attrs, shape: Shape, out_channels: Any) -> Shape:
    """Conv-like output: every spatial axis through ``conv_length``."""
    rank = attrs["rank"]
    spatial, channels = spatial_split(shape, rank, attrs["channels_last"])
    sizes = attrs["kernel_size"]
    strides = attrs.get("strides") or sizes
    dilation = attrs.get("dilation") or (1,) * rank
    padding = attrs.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    out = tuple(
        conv_length(n, k, s, d, p) for n, k, s, d, p in zip(spatial, sizes, strides, dilation, pads)
    )
    return spatial_join(shape[0], out, channels if out_channels is None else out_channels, attrs["channels_last"])


@rule("input")
def input_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    if attrs.get("shape") is None:
        raise ShapeError("the file does not record this input's shape (use --input-shape)")
    return [tuple(attrs["shape"])]


@rule("conv", "separable_conv")
def conv_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_sliding(attrs, _one(inputs), attrs["filters"])]


@rule("depthwise_conv")
def depthwise_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    _, channels = spatial_split(shape, attrs["rank"], attrs["channels_last"])
    out_channels = None if channels is None else channels * attrs.get("depth_multiplier", 1)
    out = _sliding(attrs, shape, out_channels)
    return [out]


@rule("pool")
def pool_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_sliding(attrs, _one(inputs), None)]


@rule("conv_transpose")
def conv_transpose_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    rank, last = attrs["rank"], attrs["channels_last"]
    if attrs.get("output_shape"):  # Keras 1 Deconvolution2D states its output
        return [(shape[0], *attrs["output_shape"][1:])]
    spatial, _ = spatial_split(shape, rank, last)
    dilation = attrs.get("dilation") or (1,) * rank
    out_pad = attrs.get("output_padding") or (None,) * rank
    padding = attrs.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    out = tuple(
        transposed_length(n, k, s, d, p, op)
        for n, k, s, d, p, op in zip(spatial, attrs["kernel_size"], attrs["strides"], dilation, pads, out_pad)
    )
    return [spatial_join(shape[0], out, attrs["filters"], last)]


@rule("global_pool")
def global_pool_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    rank, last = attrs["rank"], attrs["channels_last"]
    _, channels = spatial_split(shape, rank, last)
    if attrs.get("keepdims"):
        return [spatial_join(shape[0], (1,) * rank, channels, last)]
    return [(shape[0], channels)]


@rule("dense")
def dense_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    return [(*shape[:-1], attrs["units"])]


@rule("embedding")
def embedding_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    return [(*shape, attrs["output_dim"])]


@rule("identity")
def identity_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [inputs[0]] if inputs else []


@rule("flatten")
def flatten_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    return [(shape[0], product(shape[1:]))]


@rule("reshape")
def reshape_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
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


@rule("reshape_full")
def reshape_full_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """A reshape whose target includes the batch dim (``tf.reshape``, ``ops.reshape``)."""
    shape = _one(inputs)
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


@rule("getitem")
def getitem_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
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


@rule("permute")
def permute_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    return [(shape[0], *(shape[d] for d in attrs["dims"]))]


@rule("repeat")
def repeat_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    return [(shape[0], attrs["n"], *shape[1:])]


def _resize_spatial(attrs: Attrs, shape: Shape, fn: Callable[[Any, int, Any], Any]) -> Shape:
    rank, last = attrs["rank"], attrs["channels_last"]
    spatial, channels = spatial_split(shape, rank, last)
    out = tuple(None if n is None else fn(n, i, attrs) for i, n in enumerate(spatial))
    if any(d is not None and d <= 0 for d in out):
        raise ShapeError(f"leaves no elements of {format_shape(shape)}")
    return spatial_join(shape[0], out, channels, last)


@rule("pad")
def pad_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, _one(inputs), lambda n, i, a: n + sum(a["padding"][i]))]


@rule("crop")
def crop_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, _one(inputs), lambda n, i, a: n - sum(a["cropping"][i]))]


@rule("upsample")
def upsample_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    return [_resize_spatial(attrs, _one(inputs), lambda n, i, a: n * a["size"][i])]


@rule("resize")
def resize_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    _, channels = spatial_split(shape, 2, attrs["channels_last"])
    return [spatial_join(shape[0], attrs["size"], channels, attrs["channels_last"])]


@rule("elementwise")
def elementwise_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Add, Multiply, ... and arithmetic on tensors and constants (``x + 3.0``)."""
    shapes = list(inputs)
    for c in call.inputs:
        if isinstance(c, Constant) and isinstance(c.value, list):
            shapes.append(_constant_shape(c.value))
    if not shapes:
        raise ShapeError("has no tensor input")
    return [broadcast(shapes)]


def _constant_shape(value: list) -> Shape:
    dims = []
    while isinstance(value, list):
        dims.append(len(value))
        value = value[0] if value else None
    return tuple(dims)


@rule("concat")
def concat_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    if not inputs:
        raise ShapeError("has no input")
    rank = len(inputs[0])
    if any(len(s) != rank for s in inputs):
        raise ShapeError(f"cannot concatenate {', '.join(format_shape(s) for s in inputs)}")
    axis = attrs.get("axis", -1) % rank
    out = list(inputs[0])
    dims = [s[axis] for s in inputs]
    out[axis] = None if None in dims else sum(dims)  # type: ignore[arg-type]
    for i in range(rank):
        if i != axis:
            out[i] = broadcast([(s[i],) for s in inputs])[0]
    return [tuple(out)]


@rule("dot")
def dot_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    if len(inputs) != 2:
        raise ShapeError(f"expects two inputs, got {len(inputs)}")
    a, b = list(inputs[0]), list(inputs[1])
    axes = attrs["axes"]
    if isinstance(axes, int):
        axes = [axes, axes]
    ax = [x % len(s) for x, s in zip(axes, (a, b))]
    a.pop(ax[0])
    b.pop(ax[1])
    b.pop(0)
    out = a + b
    if len(out) == 1:
        out.append(1)
    return [tuple(out)]


@rule("rnn")
def rnn_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = inputs[0]  # initial states may follow
    if len(shape) != 3:
        raise ShapeError(f"expects a 3-D (batch, time, features) input, got {format_shape(shape)}")
    units = attrs["units"]
    out = (shape[0], shape[1], units) if attrs.get("return_sequences") else (shape[0], units)
    states = [(shape[0], units)] * attrs.get("states", 1) if attrs.get("return_state") else []
    return [out, *states]


@rule("bidirectional")
def bidirectional_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    inner = attrs["layer"]
    forward = rnn_rule(inner, inputs, call)
    out, states = forward[0], forward[1:]
    mode = attrs.get("merge_mode")
    if mode is None:
        return [out, out, *states, *states]
    if mode == "concat":
        out = (*out[:-1], out[-1] * 2)
    return [out, *states, *states]


@rule("time_distributed")
def time_distributed_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    if len(shape) < 3:
        raise ShapeError(f"expects a (batch, time, ...) input, got {format_shape(shape)}")
    inner = attrs["layer"]
    if inner["op"] not in RULES:
        raise ShapeError(f"no shape rule for wrapped {inner['type']}")
    outs = RULES[inner["op"]](inner["attrs"], [(shape[0], *shape[2:])], Call())
    return [(o[0], shape[1], *o[1:]) for o in outs]


@rule("lambda", accepts_unknown=True)
def lambda_rule(attrs: Attrs, inputs: Sequence[Shape | None], call: Call) -> list[Shape]:
    stated = attrs.get("output_shape")
    if stated is None:
        raise ShapeError("a Lambda computes its shape in code, which is never run; its config states no output_shape")
    batch = inputs[0][0] if inputs and inputs[0] else None
    return [(batch, *stated)]


@rule("recorded", accepts_unknown=True)
def recorded_rule(attrs: Attrs, inputs: Sequence[Shape | None], call: Call) -> list[Shape]:
    """An operator whose output shapes the file stores (TFLite stores every tensor's)."""
    if attrs.get("output_shapes") is None:
        raise ShapeError("the file does not record this output's shape")
    return [tuple(s) for s in attrs["output_shapes"]]


@rule("unknown")
def unknown_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    raise ShapeError(attrs.get("reason", "no shape rule for this layer type"))


# ---------------------------------------------------------------------------------------
# Rules for graphs of tensor operations (ONNX): operands may be stored tensors as well as
# layer outputs, and small integer tensors (shapes, axes, pads) carry values that later
# operations read. A loader describes both in the call's kwargs:
#   "operands": per operand position, ("tensor", k) for the k-th tensor input,
#               ("const", shape) for a stored tensor, or ("none",) for an omitted one;
#   "value": a function position -> the operand's value (a list) or None when unknown;
#   "fold": a function of the operand shapes that records the call's output values.


def _operands(inputs: Sequence[Shape], call: Call) -> list[Shape | None]:
    out: list[Shape | None] = []
    for spec in call.kwargs.get("operands", [("tensor", k) for k in range(len(inputs))]):
        out.append(inputs[spec[1]] if spec[0] == "tensor" else tuple(spec[1]) if spec[0] == "const" else None)
    return out


def _value(call: Call, position: int) -> Any:
    get = call.kwargs.get("value")
    return get(position) if get is not None else None


def _fold(call: Call, operands: Sequence[Shape | None]) -> None:
    fold = call.kwargs.get("fold")
    if fold is not None:
        fold(operands)


def _axes(attrs: Attrs, call: Call, position: int) -> list[int]:
    axes = attrs.get("axes") if attrs.get("axes") is not None else _value(call, position)
    if axes is None:
        raise ShapeError("its axes are computed at run time")
    return [int(a) for a in axes]


@rule("broadcast")
def broadcast_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Add, Mul, Sub, Div, ...: NumPy broadcasting over every operand."""
    operands = _operands(inputs, call)
    _fold(call, operands)
    return [broadcast([s for s in operands if s is not None])]


@rule("matmul")
def matmul_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    a, b = _operands(inputs, call)[:2]
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
    out = tuple(out)
    return [out]


@rule("pool_ceil")
def pool_ceil_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Pooling with ``ceil_mode``: the last window may start in the padding's first half,
    never past the input and its leading pad."""
    shape = _one(inputs)
    rank = attrs["rank"]
    spatial, channels = spatial_split(shape, rank, False)
    out = []
    for n, k, s, d, (p0, p1) in zip(spatial, attrs["kernel_size"], attrs["strides"], attrs["dilation"], attrs["padding"]):
        if n is None:
            out.append(None)
            continue
        eff = d * (k - 1) + 1
        length = -(-(n + p0 + p1 - eff) // s) + 1
        if (length - 1) * s >= n + p0:
            length -= 1
        out.append(length)
    return [spatial_join(shape[0], out, channels, False)]


@rule("transpose")
def transpose_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    shape = _one(inputs)
    perm = attrs.get("perm") or list(range(len(shape)))[::-1]
    return [tuple(shape[p] for p in perm)]


@rule("flatten_at")
def flatten_at_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Flatten to 2-D around ``axis``."""
    shape = _one(inputs)
    axis = attrs.get("axis", 1) % (len(shape) + 1) if shape else 0
    return [(product(shape[:axis]), product(shape[axis:]))]


@rule("reshape_to")
def reshape_to_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Reshape to a target operand: 0 copies the input's dim, -1 takes what is left."""
    shape = _operands(inputs, call)[0]
    target = attrs.get("shape") if attrs.get("shape") is not None else _value(call, 1)
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


@rule("shape_of")
def shape_of_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = _operands(inputs, call)
    _fold(call, operands)
    return [(len(operands[0]),)]


@rule("gather")
def gather_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    data, indices = _operands(inputs, call)[:2]
    axis = attrs.get("axis", 0) % len(data)
    _fold(call, [data, indices])
    return [(*data[:axis], *indices, *data[axis + 1 :])]


@rule("unsqueeze")
def unsqueeze_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = _operands(inputs, call)
    rank = len(operands[0]) + len(_axes(attrs, call, 1))
    axes = {a % rank for a in _axes(attrs, call, 1)}
    rest = iter(operands[0])
    _fold(call, operands)
    return [tuple(1 if i in axes else next(rest) for i in range(rank))]


@rule("squeeze")
def squeeze_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    operands = _operands(inputs, call)
    shape = operands[0]
    if attrs.get("axes") is None and _value(call, 1) is None:
        if None in shape:
            raise ShapeError(f"squeezes every 1 of {format_shape(shape)}, whose unknown dims may be 1")
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = {a % len(shape) for a in _axes(attrs, call, 1)}
    _fold(call, operands)
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


@rule("join")
def join_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Concat of tensors and stored operands along ``axis``."""
    operands = [s for s in _operands(inputs, call) if s is not None]
    _fold(call, operands)
    return concat_rule(attrs, operands, call)


@rule("pad_to")
def pad_to_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Pad with ``[begin_0, begin_1, ..., end_0, end_1, ...]`` over every axis."""
    shape = _operands(inputs, call)[0]
    pads = attrs.get("pads") if attrs.get("pads") is not None else _value(call, 1)
    if pads is None:
        raise ShapeError("its pads are computed at run time")
    axes = attrs.get("axes") or _value(call, 3) or list(range(len(shape)))
    out = list(shape)
    for j, a in enumerate(axes):
        a = int(a) % len(shape)
        out[a] = None if out[a] is None else out[a] + int(pads[j]) + int(pads[j + len(axes)])
    return [tuple(out)]


@rule("resize_to")
def resize_to_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Resize (Upsample) by ``scales`` or to ``sizes`` (operand positions in attrs)."""
    shape = _operands(inputs, call)[0]
    sizes = _value(call, attrs["sizes_at"]) if attrs.get("sizes_at") is not None else None
    if sizes is not None and len(sizes):
        return [tuple(int(s) for s in sizes)]
    scales = attrs.get("scales") or (_value(call, attrs["scales_at"]) if attrs.get("scales_at") is not None else None)
    if scales is None or not len(scales):
        raise ShapeError("its scales or sizes are computed at run time")
    return [tuple(None if n is None else int(n * float(s)) for n, s in zip(shape, scales))]


@rule("constant")
def constant_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """A stored or folded value: its shape is known whatever the inputs."""
    if attrs.get("shape") is None:
        raise ShapeError("its value is not stored in the file")
    return [tuple(attrs["shape"])]


@rule("global_pool_keep")
def global_pool_keep_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Pooling over every spatial axis of a channels-first tensor, keeping them as 1s."""
    shape = _one(inputs)
    if len(shape) < 3:
        raise ShapeError(f"expects a (batch, channels, ...) input, got {format_shape(shape)}")
    return [(shape[0], shape[1], *(1,) * (len(shape) - 2))]


@rule("slice_by")
def slice_by_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Slice with starts, ends, axes and steps (attributes, or operands 1 to 4)."""
    operands = _operands(inputs, call)
    shape = list(operands[0])
    given = attrs.get("starts") is not None
    starts, ends = (attrs["starts"], attrs["ends"]) if given else (_value(call, 1), _value(call, 2))
    axes = attrs.get("axes") if given else _value(call, 3)
    steps = None if given else _value(call, 4)
    if starts is None or ends is None or (not given and len(operands) > 3 and operands[3] is not None and axes is None):
        raise ShapeError("its starts, ends or axes are computed at run time")
    for j, start in enumerate(starts):
        axis = int(axes[j]) % len(shape) if axes is not None else j
        n = shape[axis]
        step = int(steps[j]) if steps is not None else 1
        shape[axis] = None if n is None else len(range(*slice(int(start), int(ends[j]), step).indices(n)))
    _fold(call, operands)
    return [tuple(shape)]


@rule("reduce")
def reduce_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """ReduceMean, ReduceMax, ...: over ``axes`` (attribute or operand 1), every axis when
    none are given; ``keepdims`` keeps them as 1s."""
    shape = _operands(inputs, call)[0]
    axes = attrs.get("axes") if attrs.get("axes") is not None else _value(call, 1)
    if axes is None and len(call.kwargs.get("operands", [])) > 1 and call.kwargs["operands"][1][0] == "tensor":
        raise ShapeError("its axes are computed at run time")
    if not axes and attrs.get("noop_with_empty_axes"):
        return [tuple(shape)]
    chosen = {int(a) % len(shape) for a in axes} if axes else set(range(len(shape)))
    if attrs.get("keepdims", 1):
        return [tuple(1 if i in chosen else d for i, d in enumerate(shape))]
    return [tuple(d for i, d in enumerate(shape) if i not in chosen)]


@rule("split")
def split_rule(attrs: Attrs, inputs: Sequence[Shape], call: Call) -> list[Shape]:
    """Split along ``axis`` into the ``split`` sizes (attribute or operand 1), else into
    ``outputs`` equal parts (the last one smaller when it does not divide)."""
    shape = list(_operands(inputs, call)[0])
    axis = attrs.get("axis", 0) % len(shape)
    sizes = attrs.get("split") if attrs.get("split") is not None else _value(call, 1)
    n = shape[axis]
    if sizes is None:
        parts = attrs["outputs"]
        if n is None:
            sizes = [None] * parts
        else:
            each = -(-n // parts)
            sizes = [min(each, max(n - i * each, 0)) for i in range(parts)]
    return [tuple(shape[:axis] + [s] + shape[axis + 1 :]) for s in sizes]
