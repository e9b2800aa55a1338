"""Convolutions in 1-D, 2-D and 3-D: plain, grouped, depthwise, separable, dilated
and transposed, each one im2col matrix and one BLAS matmul (batched over groups).

Weights: convolution ``(out, in / groups, *k)``; transposed convolution
``(in, out / groups, *k)`` (see the package docstring for the conventions).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from ..core.arithmetic import conv_length, effective_kernel, transposed_length
from ._window import IntOrSeq, Pairs, channel_axis, pad_pairs, padded, per_axis, spatial_axes, windows

NamedPadding = Union[str, Pairs]


def conv_pads(
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    padding: NamedPadding = "valid",
) -> list[tuple[int, int]]:
    """Per-side pads of a convolution or pooling window.

    ``padding`` is ``"valid"``, ``"same"`` (= ``"same_upper"``: the odd pixel after,
    as TensorFlow and ONNX SAME_UPPER do), ``"same_lower"`` (ONNX SAME_LOWER: before),
    ``"causal"`` (all before), ``"full"``, or explicit ``(before, after)`` pairs.
    """
    rank = len(spatial)
    strides, dilation = per_axis(strides, rank, "strides"), per_axis(dilation, rank, "dilation")
    if not isinstance(padding, str):
        return list(pad_pairs(padding, rank))
    named = padding.lower()
    pads = []
    for n, k, s, d in zip(spatial, kernel, strides, dilation):
        eff = effective_kernel(k, d)
        if named == "valid":
            pads.append((0, 0))
        elif named == "full":
            pads.append((eff - 1, eff - 1))
        elif named == "causal":
            pads.append((eff - 1, 0))
        elif named in ("same", "same_upper", "same_lower"):
            out = conv_length(n, k, s, d, "same")
            assert out is not None
            total = max((out - 1) * s + eff - n, 0)
            small = total // 2
            pads.append((total - small, small) if named == "same_lower" else (small, total - small))
        else:
            raise ValueError(f"unknown padding {padding!r}")
    return pads


def transposed_pads(
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    padding: NamedPadding = "valid",
    output_padding: Optional[IntOrSeq] = None,
    lower: bool = False,
) -> tuple[list[tuple[int, int]], tuple[int, ...]]:
    """Per-side crops and output padding of a transposed convolution, for
    :func:`conv_transpose`.

    A named padding follows Keras (the output length of ``core.arithmetic``'s
    ``transposed_length``), the crop split as TensorFlow's SAME does (the odd pixel
    after; before with ``lower``, ONNX SAME_LOWER). Explicit pairs pass through.
    """
    rank = len(spatial)
    strides, dilation = per_axis(strides, rank, "strides"), per_axis(dilation, rank, "dilation")
    extra = per_axis(output_padding, rank, "output_padding") if output_padding is not None else None
    if not isinstance(padding, str):
        return list(pad_pairs(padding, rank)), extra or (0,) * rank
    pads, outpad = [], []
    for i, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilation)):
        full = (n - 1) * s + effective_kernel(k, d)
        out = transposed_length(n, k, s, d, padding, None if extra is None else extra[i])
        assert out is not None
        total = full - out
        if total < 0:  # longer than the full output: zeros after (Keras 'valid' with stride > kernel)
            pads.append((0, 0))
            outpad.append(-total)
        else:
            small = total // 2
            pads.append((total - small, small) if lower else (small, total - small))
            outpad.append(0)
    return pads, tuple(outpad)


def _check(x: np.ndarray, w: np.ndarray, groups: int, channels_last: bool, in_axis: int) -> int:
    rank = x.ndim - 2
    if rank not in (1, 2, 3) or w.ndim != rank + 2:
        raise ValueError(f"a {rank}-D convolution needs a {rank + 2}-D kernel, got shape {w.shape}")
    channels = x.shape[channel_axis(channels_last)]
    per_group = w.shape[in_axis] if in_axis == 1 else w.shape[0] // groups
    if channels != per_group * groups:
        raise ValueError(f"input has {channels} channels; the kernel {w.shape} with {groups} groups expects {per_group * groups}")
    return rank


IM2COL_BYTES = 32 << 20
"""The largest im2col buffer a convolution builds; a bigger layer is computed in
blocks of output rows (each one matmul) so that memory stays bounded."""


def _view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` reshaped without a copy (results written to it must land in ``a``)."""
    v = a.reshape(shape)
    if v.size and not np.may_share_memory(v, a):
        raise AssertionError(f"reshaping {a.shape} to {shape} copied")
    return v


def _matmul_windows(win: np.ndarray, w: np.ndarray, groups: int, channels_last: bool) -> np.ndarray:
    """Contract a window view (``(N, *S_out, C, *k)`` channels-last, ``(N, C, *S_out,
    *k)`` channels-first) with a kernel ``(O, C/G, *k)``.

    Each block of output rows copies its windows once into the im2col matrix and
    runs one matmul (batched over the groups) straight into the output. The matrix
    is ordered so that the copy reads contiguous runs: ``(position, tap, channel)``
    from channels-last input, ``(channel, tap, position)`` from channels-first,
    which also makes the product come out in the input's layout.
    """
    rank = w.ndim - 2
    n, out_ch, per_in = win.shape[0], w.shape[0], w.shape[1]
    per_group = out_ch // groups
    depth = math.prod(w.shape[1:])  # (C/G) * prod(k)
    grouped = w.reshape(groups, per_group, *w.shape[1:])
    if channels_last:
        out_spatial = win.shape[1 : rank + 1]
        # (N, *S, G, C/G, *k) -> (N, *S, G, *k, C/G); the kernel to (G, O/G, *k, C/G)
        win = np.moveaxis(win.reshape(n, *out_spatial, groups, per_in, *w.shape[2:]), rank + 2, -1)
        wg = np.moveaxis(grouped, 2, -1).reshape(groups, per_group, depth)
        out = np.empty((n, *out_spatial, out_ch), dtype=win.dtype)
        first = 1
    else:
        out_spatial = win.shape[2 : rank + 2]
        # (N, G, C/G, *S, *k) -> (N, G, C/G, *k, *S)
        split = win.reshape(n, groups, per_in, *out_spatial, *w.shape[2:])
        win = np.moveaxis(split, tuple(range(3, 3 + rank)), tuple(range(3 + rank, 3 + 2 * rank)))
        wg = grouped.reshape(groups, per_group, depth)
        out = np.empty((n, out_ch, *out_spatial), dtype=win.dtype)
        first = 3 + rank
    row = math.prod(out_spatial[1:])
    step = max(1, IM2COL_BYTES // max(1, n * row * groups * depth * win.itemsize))
    for r0 in range(0, out_spatial[0], step):
        index = (slice(None),) * first + (slice(r0, r0 + step),)
        block = win[index]
        positions = block.shape[first] * row
        if channels_last:
            cols = block.reshape(n, positions, groups, depth)  # the im2col buffer
            target = _view(out[:, r0 : r0 + step], (n, positions, groups, per_group))
            np.matmul(cols.transpose(0, 2, 1, 3), wg.transpose(0, 2, 1), out=target.transpose(0, 2, 1, 3))
        else:
            cols = block.reshape(n, groups, depth, positions)  # the im2col buffer
            target = _view(out[:, :, r0 : r0 + step], (n, groups, per_group, positions))
            np.matmul(wg, cols, out=target)
        del cols  # before the next block's buffer exists
    return out


def _depthwise_taps(win: np.ndarray, w: np.ndarray, channels_last: bool) -> np.ndarray:
    """A depthwise convolution (``w`` ``(C * M, 1, *k)``, groups = C) as one
    multiply-add per kernel tap over every position and channel at once: with one
    input channel per group there is no matrix to multiply, and this needs no
    im2col buffer (one temporary the output's size)."""
    rank = w.ndim - 2
    n, out_spatial, channels = win.shape[0], win.shape[1 : rank + 1], win.shape[rank + 1]
    mult = w.shape[0] // channels
    taps = w.reshape(channels, mult, -1)
    if channels_last:
        out = np.zeros((n, *out_spatial, channels, mult), dtype=win.dtype)
    else:
        out = np.zeros((n, channels, mult, *out_spatial), dtype=win.dtype)
    product = np.empty_like(out)
    for t, index in enumerate(np.ndindex(*w.shape[2:])):
        tap = win[(Ellipsis,) + tuple(index)]  # (N, *S_out, C), a view
        if channels_last:
            np.multiply(tap[..., np.newaxis], taps[:, :, t], out=product)
        else:
            weights = taps[:, :, t].reshape(channels, mult, *(1,) * rank)
            np.multiply(np.moveaxis(tap, -1, 1)[:, :, np.newaxis], weights, out=product)
        out += product
    return out.reshape((n, *out_spatial, channels * mult) if channels_last else (n, channels * mult, *out_spatial))


def _to_channels_last_windows(win: np.ndarray, rank: int, channels_last: bool) -> np.ndarray:
    """Window view axes as ``(N, *S_out, C, *k)`` whatever the layout (a view)."""
    if channels_last:
        return win
    return np.moveaxis(win, 1, rank + 1)


def _add_bias(out: np.ndarray, bias: Optional[np.ndarray], channels_last: bool) -> np.ndarray:
    if bias is not None:
        b = np.asarray(bias, dtype=out.dtype)
        out += b if channels_last else b.reshape((-1,) + (1,) * (out.ndim - 2))
    return out


def _direct(
    x: np.ndarray,
    w: np.ndarray,
    bias: Optional[np.ndarray],
    strides: Sequence[int],
    dilation: Sequence[int],
    pads: Sequence[tuple[int, int]],
    groups: int,
    channels_last: bool,
    insert: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """Pad (spreading the input ``insert`` apart), take the windows, one matmul, the bias."""
    axes = spatial_axes(x.ndim, channels_last)
    win = windows(padded(x, axes, pads, insert=insert), axes, w.shape[2:], strides, dilation)
    if w.shape[1] == 1 and groups > 1 and groups == x.shape[channel_axis(channels_last)]:
        out = _depthwise_taps(_to_channels_last_windows(win, len(axes), channels_last), w, channels_last)
    else:
        out = _matmul_windows(win, w, groups, channels_last)
    return _add_bias(out, bias, channels_last)


def conv(
    x: np.ndarray,
    w: np.ndarray,
    bias: Optional[np.ndarray] = None,
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    pads: Optional[Pairs] = None,
    groups: int = 1,
    channels_last: bool = False,
) -> np.ndarray:
    """N-D cross-correlation (what every library calls convolution).

    ``w`` is ``(out, in / groups, *k)``; ``pads`` one ``(before, after)`` pair per
    spatial axis (see :func:`conv_pads`). Depthwise: ``groups = in``.
    """
    w = np.asarray(w, dtype=x.dtype)
    rank = _check(x, w, groups, channels_last, 1)
    if w.shape[0] % groups:
        raise ValueError(f"{w.shape[0]} output channels do not split into {groups} groups")
    strides_, dilation_ = per_axis(strides, rank, "strides"), per_axis(dilation, rank, "dilation")
    return _direct(x, w, bias, strides_, dilation_, pad_pairs(pads, rank), groups, channels_last)


def separable_conv(
    x: np.ndarray,
    depthwise: np.ndarray,
    pointwise: np.ndarray,
    bias: Optional[np.ndarray] = None,
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    pads: Optional[Pairs] = None,
    channels_last: bool = False,
) -> np.ndarray:
    """Depthwise ``(in * mult, 1, *k)`` with the strides, dilation and pads, then
    pointwise ``(out, in * mult, 1, ...)``, then the bias."""
    channels = x.shape[channel_axis(channels_last)]
    mid = conv(x, depthwise, None, strides, dilation, pads, groups=channels, channels_last=channels_last)
    return conv(mid, pointwise, bias, channels_last=channels_last)


def conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    bias: Optional[np.ndarray] = None,
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    pads: Optional[Pairs] = None,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    channels_last: bool = False,
) -> np.ndarray:
    """N-D transposed convolution; ``w`` is ``(in, out / groups, *k)``.

    Output length per axis: ``(n - 1) * stride + dilation * (k - 1) + 1 - before
    - after + output_padding``, ``pads`` being what is cropped from the full output
    (see :func:`transposed_pads`). Computed as a direct convolution of the input,
    spread ``stride`` apart and padded, with the flipped kernel whose in/out axes
    are swapped within each group.
    """
    w = np.asarray(w, dtype=x.dtype)
    rank = _check(x, w, groups, channels_last, 0)
    in_ch, per_group_out = w.shape[:2]
    kernel = w.shape[2:]
    per_group_in = in_ch // groups
    direct = (
        w.reshape(groups, per_group_in, per_group_out, *kernel)
        .swapaxes(1, 2)
        .reshape(groups * per_group_out, per_group_in, *kernel)[(Ellipsis,) + (slice(None, None, -1),) * rank]
    )
    strides_, dilation_ = per_axis(strides, rank, "strides"), per_axis(dilation, rank, "dilation")
    extra = per_axis(output_padding, rank, "output_padding")
    around = [
        (effective_kernel(k, d) - 1 - before, effective_kernel(k, d) - 1 - after + op)
        for k, d, (before, after), op in zip(kernel, dilation_, pad_pairs(pads, rank), extra)
    ]
    return _direct(x, direct, bias, (1,) * rank, dilation_, around, groups, channels_last, insert=strides_)


def conv_contributions(
    x: np.ndarray,
    w: np.ndarray,
    out_channel: int,
    strides: IntOrSeq = 1,
    dilation: IntOrSeq = 1,
    pads: Optional[Pairs] = None,
    groups: int = 1,
    channels_last: bool = False,
    batch: int = 0,
) -> np.ndarray:
    """For output map ``out_channel``, every input map's share ``in[i] ⋆ F[i, n]``
    at once: shape ``(in / groups, *S_out)``, one einsum over the window view.

    Their sum plus the bias is the layer's pre-activation map. With groups, entry
    ``i`` is input channel ``g * (in / groups) + i`` where ``g = out_channel //
    (out / groups)``.
    """
    w = np.asarray(w, dtype=x.dtype)
    rank = _check(x, w, groups, channels_last, 1)
    per_group_in = w.shape[1]
    group = out_channel // (w.shape[0] // groups)
    axes = spatial_axes(x.ndim, channels_last)
    one = x[batch : batch + 1]
    src = padded(one, axes, pad_pairs(pads, rank))
    win = windows(src, axes, w.shape[2:], per_axis(strides, rank, "strides"), per_axis(dilation, rank, "dilation"))
    win = _to_channels_last_windows(win, rank, channels_last)[0]  # (*S_out, C, *k)
    win = win[(slice(None),) * rank + (slice(group * per_group_in, (group + 1) * per_group_in),)]
    letters = "abcdefgh"
    s, k = letters[:rank], letters[rank : 2 * rank]
    return np.einsum(f"{s}z{k},z{k}->z{s}", win, w[out_channel], optimize=True)
