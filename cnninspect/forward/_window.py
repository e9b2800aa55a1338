"""Sliding windows shared by convolution and pooling: spatial axes, padding
(with input dilation for transposed convolutions), and the strided window view."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.arithmetic import effective_kernel

Pairs = Sequence[Sequence[int]]
IntOrSeq = Union[int, Sequence[int]]


def per_axis(value: IntOrSeq, rank: int, name: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` for rank 2; a sequence must have one entry per spatial axis."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * rank
    out = tuple(int(v) for v in value)
    if len(out) != rank:
        raise ValueError(f"{name} {out} has {len(out)} entries for {rank} spatial axes")
    return out


def spatial_axes(ndim: int, channels_last: bool) -> tuple[int, ...]:
    """The spatial axes of a batched ``(N, C, *S)`` or ``(N, *S, C)`` array."""
    return tuple(range(1, ndim - 1)) if channels_last else tuple(range(2, ndim))


def channel_axis(channels_last: bool) -> int:
    return -1 if channels_last else 1


def pad_pairs(pads: Optional[Pairs], rank: int) -> tuple[tuple[int, int], ...]:
    if pads is None:
        return ((0, 0),) * rank
    out = tuple((int(p[0]), int(p[1])) for p in pads)
    if len(out) != rank:
        raise ValueError(f"pads {out} have {len(out)} pairs for {rank} spatial axes")
    return out


def padded(
    x: np.ndarray,
    axes: Sequence[int],
    pads: Sequence[tuple[int, int]],
    value: float = 0.0,
    insert: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """``x`` with ``pads`` added on ``axes``; a negative pad crops.

    ``insert[i]`` spreads the elements of axis i that far apart (zeros between
    them, the input dilation of a transposed convolution). Without pads or
    insertion ``x`` itself is returned; otherwise one new array of the padded size.
    """
    insert = tuple(insert) if insert is not None else (1,) * len(axes)
    if all(p == (0, 0) for p in pads) and all(s == 1 for s in insert):
        return x
    shape = list(x.shape)
    src: list[slice] = [slice(None)] * x.ndim
    dst: list[slice] = [slice(None)] * x.ndim
    for axis, (before, after), step in zip(axes, pads, insert):
        n = x.shape[axis]
        length = (n - 1) * step + 1 + before + after
        if length <= 0:
            raise ValueError(f"padding {(before, after)} leaves nothing of length {n}")
        # Input element i lands at before + i * step; keep those inside [0, length).
        first = -(before // step) if before < 0 else 0
        last = min(n - 1, (length - 1 - before) // step)
        shape[axis] = length
        if last < first:
            src[axis] = dst[axis] = slice(0, 0)
        else:
            src[axis] = slice(first, last + 1)
            dst[axis] = slice(before + first * step, before + last * step + 1, step)
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(dst)] = x[tuple(src)]
    return out


def windows(
    x: np.ndarray,
    axes: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
) -> np.ndarray:
    """A view of every window: ``x``'s axes (spatial ones now the output positions)
    followed by one axis per kernel axis. No copy."""
    eff = [effective_kernel(k, d) for k, d in zip(kernel, dilation)]
    for axis, e in zip(axes, eff):
        if x.shape[axis] < e:
            raise ValueError(f"window {e} does not fit in length {x.shape[axis]}")
    view = sliding_window_view(x, eff, axis=tuple(axes))
    index: list[slice] = [slice(None)] * x.ndim
    for axis, s in zip(axes, strides):
        index[axis] = slice(None, None, s)
    index += [slice(None, None, d) for d in dilation]
    return view[tuple(index)]
