"""Activation functions, elementwise in the input's dtype.

Where libraries disagree the difference is a parameter: ``hard_sigmoid`` is
``clip(alpha * x + beta, 0, 1)`` with ``alpha = 0.2`` in tf.keras (Keras 2) and
ONNX, ``1/6`` in Keras 3 and PyTorch; ``gelu`` exact (erf) or tanh-approximated.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)


def linear(x: np.ndarray) -> np.ndarray:
    return x


def relu(x: np.ndarray, max_value: Optional[float] = None, negative_slope: float = 0.0, threshold: float = 0.0) -> np.ndarray:
    """Keras' general ReLU: ``x`` above ``threshold`` (capped at ``max_value``),
    ``negative_slope * (x - threshold)`` below."""
    if negative_slope == 0.0 and threshold == 0.0:
        out = np.maximum(x, 0)
    else:
        out = np.where(x >= threshold, x, negative_slope * (x - threshold)).astype(x.dtype, copy=False)
    if max_value is not None:
        np.minimum(out, max_value, out=out)
    return out


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 6)


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """PyTorch and ONNX default ``alpha`` 0.01; Keras 3's LeakyReLU layer 0.3, tf.keras 0.3."""
    return np.where(x >= 0, x, x * np.asarray(alpha, dtype=x.dtype))


def prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Learned slopes, broadcast against ``x`` as stored by the caller."""
    return np.where(x >= 0, x, x * np.asarray(alpha, dtype=x.dtype))


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, np.asarray(alpha, dtype=x.dtype) * np.expm1(np.minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: np.ndarray) -> np.ndarray:
    return np.asarray(_SELU_SCALE, dtype=x.dtype) * elu(x, _SELU_ALPHA)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` without overflow in either tail."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def hard_sigmoid(x: np.ndarray, alpha: float = 0.2, beta: float = 0.5) -> np.ndarray:
    return np.clip(x * np.asarray(alpha, dtype=x.dtype) + np.asarray(beta, dtype=x.dtype), 0, 1)


def hard_swish(x: np.ndarray) -> np.ndarray:
    """``x * relu6(x + 3) / 6`` (Keras 3, PyTorch, ONNX HardSwish)."""
    return x * hard_sigmoid(x, 1 / 6, 0.5)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.zeros((), dtype=x.dtype), x)


def softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def swish(x: np.ndarray) -> np.ndarray:
    """Also called SiLU: ``x * sigmoid(x)``."""
    return x * sigmoid(x)


def gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """Exact: ``x * (1 + erf(x / sqrt 2)) / 2`` (erf from ``math``, element by
    element: exact but slow); approximate: the tanh formula."""
    if approximate:
        inner = np.sqrt(2 / np.pi).astype(x.dtype) * (x + np.asarray(0.044715, dtype=x.dtype) * x**3)
        return 0.5 * x * (1 + np.tanh(inner))
    erf = np.asarray(_erf(x.astype(np.float64) / math.sqrt(2)), dtype=x.dtype)
    return 0.5 * x * (1 + erf)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def exponential(x: np.ndarray) -> np.ndarray:
    return np.exp(x)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "hard_swish": hard_swish,
    "tanh": tanh,
    "softplus": softplus,
    "softsign": softsign,
    "swish": swish,
    "silu": swish,
    "gelu": gelu,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "exponential": exponential,
}
"""Activations by their neutral names, each with its parameters' defaults (the
caller binds a library's own defaults: see :func:`hard_sigmoid`, :func:`leaky_relu`)."""
