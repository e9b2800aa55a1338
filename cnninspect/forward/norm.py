"""Normalisations at inference: batch norm with stored statistics, layer norm."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np


def _along(v: Optional[np.ndarray], ndim: int, axis: int, dtype: np.dtype) -> Optional[np.ndarray]:
    """A per-channel vector shaped to broadcast along ``axis`` of an ``ndim`` array."""
    if v is None:
        return None
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(v, dtype=dtype).reshape(shape)


def batch_norm(
    x: np.ndarray,
    mean: np.ndarray,
    variance: np.ndarray,
    gamma: Optional[np.ndarray] = None,
    beta: Optional[np.ndarray] = None,
    epsilon: float = 1e-3,
    axis: int = -1,
) -> np.ndarray:
    """``(x - mean) / sqrt(variance + epsilon) * gamma + beta`` along the channel
    ``axis``. Keras' default epsilon is 1e-3, PyTorch's and ONNX's 1e-5: the caller
    passes the file's own. Missing gamma/beta (``scale=False``/``center=False``)
    count as 1 and 0."""
    axis = axis % x.ndim
    scale = 1 / np.sqrt(np.asarray(variance, dtype=x.dtype) + np.asarray(epsilon, dtype=x.dtype))
    if gamma is not None:
        scale = scale * np.asarray(gamma, dtype=x.dtype)
    shift = -np.asarray(mean, dtype=x.dtype) * scale
    if beta is not None:
        shift = shift + np.asarray(beta, dtype=x.dtype)
    out = x * _along(scale, x.ndim, axis, x.dtype)
    out += _along(shift, x.ndim, axis, x.dtype)
    return out


def layer_norm(
    x: np.ndarray,
    gamma: Optional[np.ndarray] = None,
    beta: Optional[np.ndarray] = None,
    epsilon: float = 1e-3,
    axes: Union[int, Sequence[int]] = -1,
) -> np.ndarray:
    """Normalise over ``axes`` (the last by default); ``gamma``/``beta`` have those
    axes' shape. Keras' default epsilon is 1e-3, PyTorch's 1e-5."""
    axes_ = (axes,) if isinstance(axes, int) else tuple(axes)
    mean = x.mean(axis=axes_, keepdims=True)
    centred = x - mean
    var = np.mean(np.square(centred), axis=axes_, keepdims=True)
    centred /= np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    keep = sorted(a % x.ndim for a in axes_)
    shape = [x.shape[a] if a in keep else 1 for a in range(x.ndim)]
    if gamma is not None:
        centred *= np.asarray(gamma, dtype=x.dtype).reshape(shape)
    if beta is not None:
        centred += np.asarray(beta, dtype=x.dtype).reshape(shape)
    return centred
