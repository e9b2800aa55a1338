"""Quantized weights as real numbers: ``real = scale * (q - zero_point)``.

A quantized weight (TFLite int8/uint8/int16 tensors) carries ``quantization = {"scale",
"zero_point", "quantized_dimension"}``: one scale for the whole tensor, or one per index of
the quantized dimension (per-channel). ``dequantized`` wraps such a weight so that every
read, of any slice, returns float32 real values; the stored integers stay in the file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .model import Layer, Weight

DEQUANTIZED_NOTE = "--dequantize: quantized weights are shown as real values, scale * (q - zero_point)"


def dequantized(weight: Weight) -> Weight:
    """``weight`` reading real values (float32), or ``weight`` itself when not quantized."""
    q = weight.quantization
    if not q or not q.get("scale") or q.get("dequantized"):
        return weight
    import numpy as np

    scale = np.asarray(q["scale"], dtype=np.float32)
    zero = np.asarray(q.get("zero_point") or [0], dtype=np.float32)
    if zero.size == 1 and scale.size > 1:
        zero = np.full_like(scale, zero[0])
    axis = int(q.get("quantized_dimension") or 0)

    def read(index: tuple) -> Any:
        raw = weight.read(index).astype(np.float32)
        if scale.size == 1:
            return (raw - zero[0]) * scale[0]
        full = tuple(index) + (slice(None),) * (len(weight.shape) - len(index))
        chosen = full[axis]
        if not isinstance(chosen, slice):  # one channel: its scalar scale
            return (raw - zero[chosen]) * scale[chosen]
        # the quantized axis survives the read: broadcast its scales along it
        position = sum(1 for x in full[:axis] if isinstance(x, slice))
        along = [1] * raw.ndim
        along[position] = -1
        return (raw - zero[chosen].reshape(along)) * scale[chosen].reshape(along)

    # dtype and bytes still describe the stored tensor; ``dequantized`` says what reads give
    return replace(weight, reader=read, quantization={**q, "dequantized": True})


def dequantize_layer(layer: Layer) -> bool:
    """Make every quantized weight of ``layer`` read real values; True if any was."""
    weights = layer.weights
    real = [dequantized(w) for w in weights]
    layer.weights = real
    return any(a is not b for a, b in zip(weights, real))
