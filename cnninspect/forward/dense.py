"""Dense layers and matrix products (one BLAS call each)."""

from __future__ import annotations

from typing import Optional

import numpy as np


def dense(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray:
    """``x @ w + bias`` over the last axis; ``w`` is ``(in, out)`` (PyTorch's Linear
    weight is its transpose). Leading axes are kept, as Keras' Dense does."""
    out = np.matmul(x, np.asarray(w, dtype=x.dtype))
    if bias is not None:
        out += np.asarray(bias, dtype=x.dtype)
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy (and ONNX MatMul) semantics: batched over leading axes, broadcast."""
    return np.matmul(a, np.asarray(b, dtype=a.dtype))


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    c: Optional[np.ndarray] = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> np.ndarray:
    """ONNX Gemm: ``alpha * A' @ B' + beta * C`` on 2-D ``A``, ``B``."""
    b = np.asarray(b, dtype=a.dtype)
    out = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if alpha != 1.0:
        out *= np.asarray(alpha, dtype=a.dtype)
    if c is not None:
        out += np.asarray(beta, dtype=a.dtype) * np.asarray(c, dtype=a.dtype)
    return out


def dense_contributions(x: np.ndarray, w: np.ndarray, unit: int, batch: int = 0) -> np.ndarray:
    """For output unit ``unit``, every input unit's share ``in[i] * W[i, unit]`` (the
    dense counterpart of ``conv.conv_contributions``): their sum plus the bias is the
    unit's pre-activation. ``x`` is ``(N, ..., in)``; the shares keep x's middle axes."""
    return x[batch] * np.asarray(w, dtype=x.dtype)[:, unit]
