"""Receptive fields: for each layer and spatial axis, the input pixels that output position
0 reads (``size``), how far its field moves per output position (``jump``, the effective
stride in input pixels) and where it begins (``start``, negative with padding).

The closed form for a sliding window (kernel k, dilation d, stride s, leading pad p) on a
field (r, j, t) is r + (d(k-1)) j, j s, t - p j. Shape-preserving layers keep the field,
padding and cropping shift its start, upsampling divides its jump; merges of aligned maps
take the union of their inputs' fields (the largest over every path); a dense layer on an
N-D input acts per position. Other layers (dense on vectors, flatten, global pooling,
reshapes, transposed convolutions, ...) end the spatial correspondence: ``None``.
Axes are spatial, in depth-height-width order, whatever the tensor layout.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Optional, Sequence, Union

from .arithmetic import effective_kernel, spatial_split
from .cost import input_shape
from .model import Graph, Layer, Shape

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

SLIDING = ("conv", "depthwise_conv", "separable_conv", "pool", "pool_ceil")
PRESERVING = ("identity", "elementwise", "broadcast")


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
    size, jump, start = [], [], []
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


def _merge(values: Sequence[Value]) -> Value:
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


def _call_field(layer: Layer, ins: Sequence[Value], in_shapes: Sequence[Shape | None]) -> Value:
    op, a = layer.op, layer.attrs
    if op in PRESERVING:
        return _merge(ins)
    if op in ("concat", "join"):  # over the channels only
        fields = [v for v in ins if isinstance(v, Field)]
        shape = in_shapes[0] if in_shapes else None
        if not fields or shape is None:
            return None
        channel_axis = len(shape) - 1 if fields[0].channels_last else 1
        return _merge(ins) if a.get("axis", -1) % len(shape) == channel_axis else None
    if len(ins) != 1:
        return None
    if op == "dense" and in_shapes[0] is not None and len(in_shapes[0]) > 2:
        return ins[0]  # on the last axis of every position: a 1x1 convolution
    rank = a.get("rank")
    field = _expand(ins[0], rank, a.get("channels_last", True)) if rank else None
    if field is None:
        return None
    if op in SLIDING:
        shape = in_shapes[0]
        lengths = spatial_split(shape, rank, a["channels_last"])[0] if shape is not None else (None,) * rank
        padding = a.get("padding", "valid")
        pads = padding if isinstance(padding, list) else [padding] * rank
        strides = a.get("strides") or a["kernel_size"]
        return slide(field, a["kernel_size"], strides, a.get("dilation") or (1,) * rank, pads, lengths)
    if op in ("pad", "crop"):
        sign, amounts = (-1, a["padding"]) if op == "pad" else (1, a["cropping"])
        start = tuple(None if t is None else t + sign * p[0] * j for t, j, p in zip(field.start, field.jump, amounts))
        return replace(field, start=start)
    if op == "upsample":
        jump = tuple(None if j is None else Fraction(j) / u for j, u in zip(field.jump, a["size"]))
        return replace(field, jump=jump)
    return None


Fields = dict[int, Value]  # id(layer) -> its field (first output, union over calls)


def graph_fields(graph: Graph) -> Fields:
    out: Fields = {}
    _graph(graph, None, out)
    return out


def _graph(graph: Graph, given: Optional[Sequence[Value]], record: Optional[Fields]) -> list[Value]:
    by_name = {layer.name: layer for layer in graph.layers}
    tensors: dict[tuple[str, int], list[Value]] = {}
    for pos, ref in enumerate(graph.inputs):
        tensors[(ref.layer, 0)] = [given[pos] if given is not None and pos < len(given) else PIXEL]
    pending = [(layer, i) for layer in graph.layers for i in range(len(layer.calls)) if (layer.name, i) not in tensors]
    while pending:
        waiting = []
        for layer, i in pending:
            refs = layer.calls[i].tensor_inputs
            if any((r.layer, r.call) not in tensors for r in refs if r.layer in by_name):
                waiting.append((layer, i))
                continue
            ins = [_lookup(tensors, r) for r in refs]
            if layer.graph is not None:
                outs = _graph(layer.graph, ins, record if i == 0 else None)
            elif layer.op == "input":
                outs = [PIXEL]
            else:
                shapes = [input_shape(by_name, r) for r in refs]
                outs = [_call_field(layer, ins, shapes)] * max(len(layer.output_shapes[i]) if i < len(layer.output_shapes) else 1, 1)
            tensors[(layer.name, i)] = outs
        if len(waiting) == len(pending):
            break
        pending = waiting
    if record is not None:
        for layer in graph.layers:
            calls = [tensors[(layer.name, i)][0] for i in range(len(layer.calls)) if (layer.name, i) in tensors]
            merged = _merge(calls) if calls else None
            record[id(layer)] = merged if isinstance(merged, Field) else None
    return [_lookup(tensors, ref) for ref in graph.outputs]


def _lookup(tensors: dict[tuple[str, int], list[Value]], ref: Any) -> Value:
    values = tensors.get((ref.layer, ref.call))
    return values[ref.index] if values is not None and ref.index < len(values) else None
