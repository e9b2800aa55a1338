"""A filter as a small grid of numbers on a diverging colour scale.

The numbers carry the information; colour (blue negative, red positive, white near zero)
only helps the eye, so the grid reads the same with ``NO_COLOR`` or in a pipe.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from rich.table import Table
from rich.text import Text


def number_format(vmax: float) -> str:
    """Enough decimals for three significant digits of the largest magnitude."""
    if vmax <= 0 or not math.isfinite(vmax):
        return "+.2f"
    decimals = min(6, max(2, 2 - math.floor(math.log10(vmax))))
    return f"+.{decimals}f"


def colour(value: float, vmax: float) -> str:
    if vmax <= 0 or not math.isfinite(value):
        return ""
    t = min(abs(value) / vmax, 1.0)
    fade = int(round(255 * (1 - t)))
    r, g, b = (255, fade, fade) if value >= 0 else (fade, fade, 255)
    return f"black on rgb({r},{g},{b})"


def _rows(values: Any) -> list[list[float]]:
    """A 1-D filter is one row; a 2-D filter is its rows; a 3-D one, its depth slices
    side by side."""
    if not isinstance(values, list):
        return [[float(values)]]
    if not values or not isinstance(values[0], list):
        return [[float(v) for v in values]]
    if not isinstance(values[0][0], list):
        return [[float(v) for v in row] for row in values]
    depth = values  # (kd, kh, kw): slices side by side, separated by a gap
    rows = []
    for h in range(len(depth[0])):
        row: list[float] = []
        for d, plane in enumerate(depth):
            if d:
                row.append(math.nan)
            row.extend(float(v) for v in plane[h])
        rows.append(row)
    return rows


def heatmap(values: Any, vmax: float, fmt: str) -> Table:
    grid = Table.grid(padding=(0, 1))
    for row in _rows(values):
        cells = [Text(" " * len(format(0.0, fmt))) if math.isnan(v) else Text(format(v, fmt), style=colour(v, vmax)) for v in row]
        grid.add_row(*cells)
    return grid


def magnitude(filters: Sequence[Any]) -> float:
    """The largest absolute value over all filters: one colour scale for all."""

    def walk(x: Any) -> float:
        if isinstance(x, list):
            return max((walk(v) for v in x), default=0.0)
        return abs(float(x)) if math.isfinite(float(x)) else 0.0

    return max((walk(f) for f in filters), default=0.0)
