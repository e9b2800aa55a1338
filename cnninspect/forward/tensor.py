"""Ops that move or combine values without learned weights (or only a lookup
table): elementwise merges with broadcasting, concatenation, reshaping,
transposition, padding, cropping, dropout at inference, embedding lookup."""

from __future__ import annotations

from functools import reduce
from typing import Callable, Optional, Sequence

import numpy as np

from ._window import Pairs, pad_pairs, spatial_axes

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
    "pow": np.power,
}


def elementwise(kind: str, *xs: np.ndarray) -> np.ndarray:
    """Fold ``xs`` left to right with a broadcasting binary op (``add``, ``sub``,
    ``mul``, ``div``, ``max``, ``min``, ``pow``), or ``mean`` of them all
    (Keras' Average). The first operand's dtype is kept."""
    if not xs:
        raise ValueError(f"{kind} of no inputs")
    dtype = xs[0].dtype
    arrays = [np.asarray(x, dtype=dtype) for x in xs]
    if kind == "mean":
        return reduce(np.add, arrays) / np.asarray(len(arrays), dtype=dtype)
    if kind not in _BINARY:
        raise ValueError(f"unknown elementwise op {kind!r}")
    return reduce(_BINARY[kind], arrays)


def concat(xs: Sequence[np.ndarray], axis: int = -1) -> np.ndarray:
    return np.concatenate([np.asarray(x, dtype=xs[0].dtype) for x in xs], axis=axis)


def reshape(x: np.ndarray, shape: Sequence[int], keep_batch: bool = True) -> np.ndarray:
    """Row-major (C order) reshape, as every library does. With ``keep_batch`` the
    target shape excludes the batch axis (Keras' Reshape); ``-1`` is inferred."""
    return x.reshape((x.shape[0], *shape) if keep_batch else tuple(shape))


def flatten(x: np.ndarray, axis: int = 1, channels_to_last: bool = False) -> np.ndarray:
    """``(prod(shape[:axis]), prod(shape[axis:]))`` in C order (ONNX Flatten, PyTorch
    ``nn.Flatten``, Keras Flatten). ``channels_to_last`` first moves a channels-first
    input's channels last, as Keras' Flatten with ``data_format='channels_first'`` does,
    so the units keep the channels-last order its Dense was built for."""
    if channels_to_last:
        x = np.moveaxis(x, 1, -1)
    lead = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(lead, -1)


def transpose(x: np.ndarray, perm: Sequence[int], keep_batch: bool = False) -> np.ndarray:
    """Permute axes (a view). With ``keep_batch``, ``perm`` numbers the non-batch
    axes from 1, as Keras' Permute does."""
    order = (0, *perm) if keep_batch else tuple(perm)
    return x.transpose(order)


def pad(x: np.ndarray, pads: Pairs, mode: str = "constant", value: float = 0.0) -> np.ndarray:
    """One ``(before, after)`` pair per axis of ``x``; ``mode`` ``constant``,
    ``reflect`` (mirror without the edge, ONNX/PyTorch ``reflect``) or ``edge``
    (ONNX ``edge``, PyTorch ``replicate``). Negative pads crop (ONNX allows them)."""
    pairs = pad_pairs(pads, x.ndim)
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))
    grow = [(max(b, 0), max(a, 0)) for b, a in pairs]
    x = x[crop]
    if mode == "constant":
        return np.pad(x, grow, mode="constant", constant_values=np.asarray(value, dtype=x.dtype))
    if mode == "reflect":
        return np.pad(x, grow, mode="reflect")
    if mode == "edge":
        return np.pad(x, grow, mode="edge")
    raise ValueError(f"unknown pad mode {mode!r}")


def zero_pad(x: np.ndarray, pads: Pairs, channels_last: bool = True) -> np.ndarray:
    """Keras' ZeroPadding1D/2D/3D: zeros around the spatial axes only."""
    full = [(0, 0)] * x.ndim
    for axis, pair in zip(spatial_axes(x.ndim, channels_last), pad_pairs(pads, x.ndim - 2)):
        full[axis] = pair
    return pad(x, full)


def crop(x: np.ndarray, crops: Pairs, channels_last: bool = True) -> np.ndarray:
    """Keras' Cropping1D/2D/3D: drop ``(before, after)`` pixels per spatial axis (a view)."""
    index = [slice(None)] * x.ndim
    for axis, (before, after) in zip(spatial_axes(x.ndim, channels_last), pad_pairs(crops, x.ndim - 2)):
        index[axis] = slice(before, x.shape[axis] - after)
    return x[tuple(index)]


def dropout(x: np.ndarray) -> np.ndarray:
    """Every dropout and noise layer is the identity at inference."""
    return x


def embedding(ids: np.ndarray, table: np.ndarray, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Rows of ``table`` (``(vocabulary, dim)``) gathered by integer ``ids``; the
    table's float type, or ``dtype`` when the run asks for another."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(table)):
        raise ValueError(f"token ids {ids.min()}..{ids.max()} outside a vocabulary of {len(table)}")
    return np.asarray(table, dtype=dtype).take(ids.astype(np.intp), axis=0)
