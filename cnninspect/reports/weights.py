"""The ``weights`` report: every stored tensor of the model, optionally with statistics
computed by streaming through the data in bounded memory (one chunk at a time)."""

from __future__ import annotations

from typing import Any, Callable

from ..core.connections import filter_weight
from ..core.dtypes import lookup
from ..core.model import Model, Row, Weight
from ..core.quantize import DEQUANTIZED_NOTE, dequantize_layer
from ..errors import CnnInspectError
from .shapes import source_json, weight_json

SCHEMA = "cnninspect.weights/1"
CHUNK_BYTES = 16 * 1024 * 1024  # the most of one tensor held in memory at once

Progress = Callable[[int], None]  # called with the number of bytes just read


def weights_report(
    model: Model, rows: list[Row], stats: bool, progress: Progress | None = None, dequantize: bool = False
) -> dict[str, Any]:
    """Every tensor of ``rows``; ``dequantize`` reads quantized ones as real values (for
    ``stats``; ``dtype`` then says float32 and ``quantization.dequantized`` is true)."""
    tensors = []
    notes = list(model.notes)
    if dequantize:
        for row in rows:
            dequantize_layer(row.layer)
        if any(w.quantization for row in rows for w in row.layer.weights):
            notes.append(DEQUANTIZED_NOTE)
    for row in rows:
        for w in row.layer.weights:
            entry = {"path": w.name, "layer": row.path, **weight_json(w), "bytes": w.nbytes}
            del entry["name"]
            if stats:
                entry["stats"] = tensor_stats(w, progress, per_map=w is filter_weight(row.layer))
            tensors.append(entry)
    return {
        "schema": SCHEMA,
        "source": source_json(model),
        "model": model.name,
        "tensors": tensors,
        "totals": {"tensors": len(tensors), "bytes": sum(t["bytes"] for t in tensors)},
        "notes": notes,
    }


def _chunks(w: Weight) -> list[tuple]:
    """Index tuples that cover the tensor along its first axis, CHUNK_BYTES at a time."""
    if not w.shape or w.size == 0:
        return [()]
    row_bytes = max(w.nbytes // w.shape[0], 1)
    step = max(CHUNK_BYTES // row_bytes, 1)
    return [(slice(i, min(i + step, w.shape[0])),) for i in range(0, w.shape[0], step)]


def tensor_stats(w: Weight, progress: Progress | None = None, per_map: bool = False) -> dict[str, Any]:
    """min, max, mean, std, zero fraction, NaN/Inf counts, and, for the weight whose
    ``out`` axis numbers a layer's output maps (``per_map``), its dead output maps
    (filters whose every weight is zero), read chunk by chunk."""
    import numpy as np

    if not lookup(w.dtype).numeric:  # bfloat16 and float8 are: their readers widen them to float32
        return {"error": f"{w.dtype} data has no numeric statistics"}
    filters = w.size and "out" in w.axes and per_map
    out_axis = w.axes.index("out") if filters else None
    alive = np.zeros(w.shape[out_axis], dtype=bool) if out_axis is not None else None
    count = zeros = nans = infs = 0
    total = total_sq = 0.0
    low, high = np.inf, -np.inf
    try:
        for index in _chunks(w):
            chunk = np.asarray(w.read(index))
            if progress is not None:
                progress(chunk.nbytes)
            # One pass per measure, in the stored dtype; a copy only where one is needed:
            # the finite values are picked out only when there are others, and widened to
            # float64 (for exact sums) only when stored narrower.
            finite = np.isfinite(chunk)
            bad = chunk.size - int(np.count_nonzero(finite))
            if bad:
                chunk_nans = int(np.count_nonzero(np.isnan(chunk)))
                nans, infs = nans + chunk_nans, infs + bad - chunk_nans
            good = (chunk[finite] if bad else chunk.ravel()).astype(np.float64, copy=False)
            count += good.size
            nonzero = chunk != 0 if alive is not None else chunk
            zeros += chunk.size - int(np.count_nonzero(nonzero))
            if good.size:
                total += float(good.sum())
                total_sq += float(np.dot(good, good))
                low, high = min(low, float(good.min())), max(high, float(good.max()))
            if alive is not None:
                others = tuple(i for i in range(chunk.ndim) if i != out_axis)
                maps = np.any(nonzero, axis=others)
                if out_axis == 0:
                    alive[index[0]] |= maps
                else:
                    alive |= maps
    except CnnInspectError as exc:
        return {"error": exc.message}
    mean = total / count if count else None
    var = max(total_sq / count - mean * mean, 0.0) if count and mean is not None else None
    return {
        "min": low if count else None,
        "max": high if count else None,
        "mean": mean,
        "std": var**0.5 if var is not None else None,
        "zero_fraction": zeros / w.size if w.size else 0.0,
        "nan": nans,
        "inf": infs,
        "dead_filters": [] if alive is None else [int(i) for i in np.flatnonzero(~alive)],
    }
