"""Reading filters out of a stored weight by axis name: only the slice asked for is read.
The filter builders of the op specs (forward: what feeds one output map; reverse: what
one input map feeds) are written with these."""

from __future__ import annotations

from typing import Any

from ..model import Weight


def native_slice(weight: Weight, fixed: dict[str, int | slice]) -> str:
    """The expression that selects ``fixed`` axes in the file's own layout:
    ``kernel[:, :, :, 5]``, ``kernel[:, :, 5, :]``, ``weight[2:4, 5]`` for a range, and
    ``weight[5]`` when the fixed axes lead (NumPy's short form, as PyTorch users write it)."""
    parts = [_index_text(fixed[a]) if a in fixed else ":" for a in weight.axes]
    leading = len(fixed)
    if all(p != ":" for p in parts[:leading]):
        parts = parts[:leading]
    return f"{weight.role}[{', '.join(parts)}]" if parts else weight.role


def _index_text(index: int | slice) -> str:
    return f"{index.start}:{index.stop}" if isinstance(index, slice) else str(index)


def read(weight: Weight, fixed: dict[str, int | slice]) -> tuple[Any, tuple[str, ...]]:
    """Read only ``weight[fixed]``; returns the array and the names of its axes (an axis
    fixed to a range stays)."""
    index = tuple(fixed.get(a, slice(None)) for a in weight.axes)
    return weight.read(index), tuple(a for a in weight.axes if not isinstance(fixed.get(a), int))


def take(array: Any, axes: tuple[str, ...], name: str, i: int) -> tuple[Any, tuple[str, ...]]:
    import numpy as np

    k = axes.index(name)
    return np.take(array, i, axis=k), axes[:k] + axes[k + 1 :]


def entry(i: int, values: Any, strength: Any = None, key: str = "in", **extra: Any) -> dict[str, Any]:
    """One connecting filter (``key`` names the map at its other end: ``in`` for the
    forward view, ``out`` for the reverse one), with L1/L2 norms of ``strength`` (default:
    the filter)."""
    import numpy as np

    stack = np.asarray(values)[None]
    strengths = None if strength is None else np.asarray(strength)[None]
    return {**entries(range(i, i + 1), stack, strengths, key)[0], **extra}


def entries(ins: Any, values: Any, strength: Any = None, key: str = "in") -> list[dict[str, Any]]:
    """One entry per connected map: ``values[k]`` is the filter from (or, ``key="out"``,
    to) map ``ins[k]``, with the L1/L2 norms of ``strength[k]`` (default: the filter), all
    computed at once."""
    import numpy as np

    flat = np.asarray(values if strength is None else strength, dtype=np.float64).reshape(len(values), -1)
    l1 = np.abs(flat).sum(axis=1).tolist()
    l2 = np.sqrt((flat * flat).sum(axis=1)).tolist()
    filters = values.tolist()
    return [{key: i, "filter": f, "l1": a, "l2": b} for i, f, a, b in zip(ins, filters, l1, l2)]


def span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"
