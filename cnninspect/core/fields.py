"""Receptive-field algebra: for each spatial axis, the input pixels that output position 0
reads (``size``), how far its field moves per output position (``jump``, the effective
stride in input pixels) and where it begins (``start``, negative with padding).

The closed form for a sliding window (kernel k, dilation d, stride s, leading pad p) on a
field (r, j, t) is r + (d(k-1)) j, j s, t - p j. Shape-preserving layers keep the field,
padding and cropping shift its start, upsampling divides its jump; merges of aligned maps
take the union of their inputs' fields (the largest over every path); a dense layer on an
N-D input acts per position. Other layers (dense on vectors, flatten, global pooling,
reshapes, transposed convolutions, ...) end the spatial correspondence: ``None``.
Axes are spatial, in depth-height-width order, whatever the tensor layout.

The functions named ``*_step`` are the receptive steps op specs declare.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Sequence, Union

from .arithmetic import effective_kernel, spatial_split
from .model import Layer, Shape

Num = Union[int, Fraction, None]  # None: a start that depends on an unknown length


@dataclass(frozen=True)
class Field:
    size: tuple[Num, ...]
    jump: tuple[Num, ...]
    start: tuple[Num, ...]
    channels_last: bool = True  # where the tensor keeps its channels (for concat)

    def json(self) -> dict[str, list]:
        return {"size": _plain(self.size), "jump": _plain(self.jump), "start": _plain(self.start)}


class _Pixel:
    """A model input: every position sees itself (rank unknown until a layer needs it)."""


PIXEL = _Pixel()
Value = Union[Field, _Pixel, None]


def _plain(values: Sequence[Num]) -> list:
    return [v if v is None or isinstance(v, int) else int(v) if v.denominator == 1 else float(v) for v in values]


def _expand(value: Value, rank: int, channels_last: bool = True) -> Field | None:
    if isinstance(value, _Pixel):
        return Field((1,) * rank, (1,) * rank, (0,) * rank, channels_last)
    return value if value is None or len(value.size) == rank else None


def leading_pad(padding: Any, n: int | None, k_eff: int, stride: int) -> int | None:
    """Pad before the first input position; TF/ONNX SAME_UPPER 'same' padding puts the
    odd pixel after, and with stride > 1 depends on the input length ``n``."""
    if padding == "valid":
        return 0
    if padding in ("causal", "full"):
        return k_eff - 1
    if padding == "same":
        if stride == 1:
            return (k_eff - 1) // 2
        if n is None:
            return None
        return max((-(-n // stride) - 1) * stride + k_eff - n, 0) // 2
    return int(padding[0])


def slide(field: Field, kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int], pads: Sequence[Any],
          lengths: Sequence[int | None]) -> Field:  # fmt: skip
    """The field after one sliding window per axis (``pads`` as the layer states them)."""
    size, jump, start = [], [], []
    for r, j, t, k, s, d, p, n in zip(field.size, field.jump, field.start, kernel, strides, dilation, pads, lengths):
        eff = effective_kernel(k, d)
        before = leading_pad(p, n, eff, s)
        size.append(None if r is None or j is None else r + (eff - 1) * j)
        jump.append(None if j is None else j * s)
        start.append(None if t is None or before is None or j is None else t - before * j)
    return replace(field, size=tuple(size), jump=tuple(jump), start=tuple(start))


def union(fields: Sequence[Field]) -> Field:
    """The field covering every input's: from the smallest start to the largest end."""
    size: list[Num] = []
    jump: list[Num] = []
    start: list[Num] = []
    for axis in zip(*[zip(f.size, f.jump, f.start) for f in fields]):
        if any(v is None for triple in axis for v in triple):
            size.append(max((r for r, _, _ in axis if r is not None), default=None))
            jump.append(max((j for _, j, _ in axis if j is not None), default=None))
            start.append(None)
            continue
        lo = min(t for _, _, t in axis)
        size.append(max(t + r for r, _, t in axis) - lo)
        jump.append(max(j for _, j, _ in axis))
        start.append(lo)
    return replace(fields[0], size=tuple(size), jump=tuple(jump), start=tuple(start))


def merge(values: Sequence[Value]) -> Value:
    if not values or any(v is None for v in values):
        return None
    if len(values) == 1:
        return values[0]
    fields = [v for v in values if isinstance(v, Field)]
    if not fields:
        return PIXEL
    rank, last = len(fields[0].size), fields[0].channels_last
    expanded = [_expand(v, rank, last) for v in values]
    return None if any(f is None for f in expanded) else union(expanded)  # type: ignore[arg-type]


def single(ins: Sequence[Value], rank: int | None, channels_last: bool) -> Field | None:
    """The one input's field at spatial ``rank``, or None."""
    if len(ins) != 1 or not rank:
        return None
    return _expand(ins[0], rank, channels_last)


def _single(layer: Layer, ins: Sequence[Value]) -> Field | None:
    return single(ins, layer.attrs.get("rank"), layer.attrs.get("channels_last", True))


# ---------------------------------------------------------------------------------------
# Receptive steps


def end_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """The spatial correspondence ends here."""
    return None


def preserve_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """Shape-preserving, element by element: the union of the inputs' fields."""
    return merge(ins)


def concat_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """Concatenation keeps the fields when it joins channels only."""
    fields = [v for v in ins if isinstance(v, Field)]
    shape = shapes[0] if shapes else None
    if not fields or shape is None:
        return None
    channel_axis = len(shape) - 1 if fields[0].channels_last else 1
    return merge(ins) if layer.attrs.get("axis", -1) % len(shape) == channel_axis else None


def per_position_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """Dense on an N-D input acts on the last axis of every position: a 1x1 convolution."""
    if len(ins) == 1 and shapes[0] is not None and len(shapes[0]) > 2:
        return ins[0]
    return None


def slide_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """A sliding window (convolution, pooling) over every spatial axis."""
    field = _single(layer, ins)
    if field is None:
        return None
    a, rank, shape = layer.attrs, layer.attrs["rank"], shapes[0]
    lengths = spatial_split(shape, rank, a["channels_last"])[0] if shape is not None else (None,) * rank
    padding = a.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    strides = a.get("strides") or a["kernel_size"]
    return slide(field, a["kernel_size"], strides, a.get("dilation") or (1,) * rank, pads, lengths)


def shift(field: Field, leading: Sequence[int]) -> Field:
    """Move the start by a leading amount per axis (padding: negative, cropping: positive)."""
    start = tuple(None if t is None or j is None else t + p * j for t, j, p in zip(field.start, field.jump, leading))
    return replace(field, start=start)


def crop_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    field = _single(layer, ins)
    return None if field is None else shift(field, [p[0] for p in layer.attrs["cropping"]])


def scale(field: Field, factors: Sequence[Any]) -> Field:
    """Upsampling by ``factors`` per axis divides the jump."""
    jump = tuple(None if j is None or f is None else Fraction(j) / Fraction(f) for j, f in zip(field.jump, factors))
    return replace(field, jump=jump)


def upsample_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    field = _single(layer, ins)
    return None if field is None else scale(field, layer.attrs["size"])


def pixel_step(layer: Layer, ins: Sequence[Value], shapes: Sequence[Shape | None]) -> Value:
    """A model input: every position sees itself."""
    return PIXEL
