"""Max and average pooling in 1-D, 2-D and 3-D, global and adaptive pooling:
reductions over the strided window view, no im2col copy."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.arithmetic import effective_kernel
from ._window import IntOrSeq, Pairs, pad_pairs, padded, per_axis, spatial_axes, windows


def _ceil_extra(n: int, pad: tuple[int, int], eff: int, stride: int) -> int:
    """Extra pixels after the input that ceil_mode's last window reaches (PyTorch and
    ONNX: a last window that would start in the right padding is dropped)."""
    span = n + pad[0] + pad[1] - eff
    out = -(-span // stride) + 1
    if (out - 1) * stride >= n + pad[0]:
        out -= 1
    return max((out - 1) * stride + eff - (n + pad[0] + pad[1]), 0)


def pool(
    x: np.ndarray,
    kind: str,
    kernel: IntOrSeq,
    strides: Optional[IntOrSeq] = None,
    pads: Optional[Pairs] = None,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = False,
    channels_last: bool = False,
) -> np.ndarray:
    """``kind`` ``"max"`` or ``"avg"``. Padded pixels never win a max; an average
    divides by the window's pixels inside the input, or also those in the explicit
    pads with ``count_include_pad`` (never those ceil_mode adds). Keras' 'same'
    average is ``count_include_pad=False``."""
    if kind not in ("max", "avg"):
        raise ValueError(f"unknown pooling {kind!r}")
    rank = x.ndim - 2
    kernel_ = per_axis(kernel, rank, "kernel")
    strides_ = per_axis(strides if strides is not None else kernel_, rank, "strides")
    dilation_ = per_axis(dilation, rank, "dilation")
    axes = spatial_axes(x.ndim, channels_last)
    pads_ = pad_pairs(pads, rank)
    spatial = [x.shape[a] for a in axes]
    extra = [
        _ceil_extra(n, p, effective_kernel(k, d), s) if ceil_mode else 0
        for n, p, k, d, s in zip(spatial, pads_, kernel_, dilation_, strides_)
    ]
    total = [(p[0], p[1] + e) for p, e in zip(pads_, extra)]
    window_axes = tuple(range(x.ndim, x.ndim + rank))
    if kind == "max":
        src = padded(x, axes, total, value=-np.inf)
        return windows(src, axes, kernel_, strides_, dilation_).max(axis=window_axes)
    src = padded(x, axes, total)
    sums = windows(src, axes, kernel_, strides_, dilation_).sum(axis=window_axes)
    # The divisor of every output position: the same windows over a map of ones.
    ones = np.zeros([n + p[0] + p[1] for n, p in zip(spatial, total)], dtype=x.dtype)
    inside = tuple(
        slice(0, n + p[0] + p[1] - e) if count_include_pad else slice(p[0], p[0] + n)
        for n, p, e in zip(spatial, total, extra)
    )
    ones[inside] = 1
    counts = windows(ones, range(rank), kernel_, strides_, dilation_).sum(axis=tuple(range(rank, 2 * rank)))
    if channels_last:
        counts = counts[..., np.newaxis]
    sums /= counts
    return sums


def global_pool(x: np.ndarray, kind: str, channels_last: bool = False, keepdims: bool = False) -> np.ndarray:
    """Max or average over every spatial axis."""
    axes = spatial_axes(x.ndim, channels_last)
    if kind == "max":
        return x.max(axis=axes, keepdims=keepdims)
    if kind == "avg":
        return x.mean(axis=axes, keepdims=keepdims)
    raise ValueError(f"unknown pooling {kind!r}")


def adaptive_pool(x: np.ndarray, kind: str, size: Sequence[int], channels_last: bool = False) -> np.ndarray:
    """PyTorch's AdaptiveMax/AvgPool: output pixel ``i`` of an axis of length ``n``
    pools ``[floor(i * n / out), ceil((i + 1) * n / out))``. Rectangles pool one axis
    at a time (max and mean are separable), each axis one gather of its windows."""
    if kind not in ("max", "avg"):
        raise ValueError(f"unknown pooling {kind!r}")
    axes = spatial_axes(x.ndim, channels_last)
    if len(size) != len(axes):
        raise ValueError(f"size {tuple(size)} for {len(axes)} spatial axes")
    fill = -np.inf if kind == "max" else 0.0
    out = x
    for axis, out_len in zip(axes, size):
        n = out.shape[axis]
        i = np.arange(out_len)
        start = (i * n) // out_len
        end = -(-((i + 1) * n) // out_len)
        length = int((end - start).max())
        if length == 1:
            out = out.take(start, axis=axis)
            continue
        extended = padded(out, (axis,), [(0, length - 1)], value=fill)
        win = sliding_window_view(extended, length, axis=axis).take(start, axis=axis)  # (..., out_len, ..., length)
        shape = [1] * win.ndim
        shape[axis], shape[-1] = out_len, length
        outside = (np.arange(length) >= (end - start)[:, np.newaxis]).reshape(shape)
        win = np.where(outside, np.asarray(fill, dtype=x.dtype), win)
        if kind == "max":
            out = win.max(axis=-1)
        else:
            counts = (end - start).astype(x.dtype).reshape(shape[:-1])
            out = win.sum(axis=-1) / counts
    return out
