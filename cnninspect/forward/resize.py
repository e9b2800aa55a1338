"""Resizing and upsampling: nearest and (bi/tri)linear, one spatial axis at a time
(two gathers and a blend per axis, no loop over pixels).

``coordinates`` names how an output pixel maps to an input coordinate, as ONNX
Resize does: ``half_pixel`` (TensorFlow 2's ``tf.image.resize``, Keras 3's and
tf.keras' UpSampling2D bilinear and Resizing, PyTorch ``align_corners=False``),
``pytorch_half_pixel``, ``asymmetric`` (Keras nearest UpSampling, PyTorch
``nearest``), ``align_corners``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ._window import spatial_axes


def _source(out_len: int, in_len: int, scale: float, coordinates: str) -> np.ndarray:
    i = np.arange(out_len, dtype=np.float64)
    if coordinates == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if coordinates == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    if coordinates == "asymmetric":
        return i / scale
    if coordinates == "align_corners":
        return i * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    raise ValueError(f"unknown coordinate mode {coordinates!r}")


def _nearest(src: np.ndarray, rounding: str) -> np.ndarray:
    if rounding == "floor":
        return np.floor(src)
    if rounding == "ceil":
        return np.ceil(src)
    if rounding == "round_prefer_floor":
        return np.ceil(src - 0.5)
    if rounding == "round_prefer_ceil":
        return np.floor(src + 0.5)
    raise ValueError(f"unknown nearest rounding {rounding!r}")


def resize(
    x: np.ndarray,
    size: Sequence[int],
    mode: str = "nearest",
    coordinates: str = "asymmetric",
    nearest: str = "floor",
    scales: Optional[Sequence[float]] = None,
    channels_last: bool = False,
) -> np.ndarray:
    """Resize the spatial axes to ``size``.

    ``mode`` ``nearest`` (``nearest`` names the rounding: ``floor``, ``ceil``,
    ``round_prefer_floor``, ``round_prefer_ceil``) or ``linear`` (bilinear in 2-D,
    trilinear in 3-D; source coordinates clamped to the input). ``scales`` are the
    factors the library used in the coordinate formula (PyTorch's ``scale_factor``,
    ONNX's ``scales``); by default output / input length.
    """
    axes = spatial_axes(x.ndim, channels_last)
    if len(size) != len(axes):
        raise ValueError(f"size {tuple(size)} for {len(axes)} spatial axes")
    if mode not in ("nearest", "linear"):
        raise ValueError(f"unknown resize mode {mode!r}")
    out = x
    for k, (axis, out_len) in enumerate(zip(axes, size)):
        in_len = x.shape[axis]
        scale = scales[k] if scales is not None else out_len / in_len
        src = _source(out_len, in_len, scale, coordinates)
        if mode == "nearest":
            index = np.clip(_nearest(src, nearest), 0, in_len - 1).astype(np.intp)
            out = out.take(index, axis=axis)
            continue
        src = np.clip(src, 0, in_len - 1)
        low = np.floor(src).astype(np.intp)
        high = np.minimum(low + 1, in_len - 1)
        shape = [1] * x.ndim
        shape[axis] = out_len
        frac = (src - low).astype(x.dtype).reshape(shape)
        below = out.take(low, axis=axis)
        below += (out.take(high, axis=axis) - below) * frac
        out = below
    return out


def upsample(
    x: np.ndarray, factors: Sequence[int], interpolation: str = "nearest", channels_last: bool = True
) -> np.ndarray:
    """Keras' UpSampling1D/2D/3D: nearest repeats each pixel; bilinear is
    TensorFlow's half-pixel resize to ``factor * length``."""
    axes = spatial_axes(x.ndim, channels_last)
    if interpolation == "nearest":
        for axis, f in zip(axes, factors):
            x = x.repeat(f, axis=axis)
        return x
    if interpolation == "bilinear":
        size = [x.shape[a] * f for a, f in zip(axes, factors)]
        return resize(x, size, "linear", "half_pixel", channels_last=channels_last)
    raise ValueError(f"unknown upsampling interpolation {interpolation!r}")
