"""A filter on a diverging colour scale, in the terminal: a grid of numbers, or a compact
picture (half-blocks in colour, a sign-aware shade ramp without colour).

The numbers carry the information; colour (blue negative, red positive, white near zero)
only helps the eye, so the number grid reads the same with ``NO_COLOR`` or in a pipe. The
picture mode says what its shades mean in a legend (``legend``).
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

VIEWS = ("auto", "numbers", "blocks")
NUMBERS_UP_TO = 5  # auto: numbers when every kernel dimension is at most this, blocks above

# Without colour, |w| / scale picks a level: 0 below 1/8, then 1-4 by quarters (rounded).
POSITIVE_SHADES = "░▒▓█"
NEGATIVE_SHADES = "-=*#"
NEAR_ZERO = "·"


def number_format(vmax: float) -> str:
    """Enough decimals for three significant digits of the largest magnitude."""
    if vmax <= 0 or not math.isfinite(vmax):
        return "+.2f"
    decimals = min(6, max(2, 2 - math.floor(math.log10(vmax))))
    return f"+.{decimals}f"


def rgb(value: float, vmax: float) -> tuple[int, int, int]:
    """One value's colour on the diverging scale (``diverging``)."""
    import numpy as np

    r, g, b = diverging(np.asarray(value, dtype=np.float64), vmax)
    return (int(r), int(g), int(b))


def diverging(values: Any, vmax: float) -> Any:
    """The diverging scale, for an array of values: white at 0, pure red at +vmax, pure
    blue at -vmax, linear in between (the two other channels ``round(255 * (1 - |w|/vmax))``),
    clipped beyond. NaN, Inf and an all-zero scale are white. Returns uint8 ``(..., 3)``."""
    import numpy as np

    finite = np.isfinite(values)
    t = np.clip(np.abs(np.where(finite, values, 0.0)) / vmax, 0.0, 1.0) if vmax > 0 else np.zeros(np.shape(values))
    fade = np.rint(255 * (1 - t))
    negative = finite & (values < 0)
    full = np.full(np.shape(values), 255.0)
    return np.stack([np.where(negative, fade, full), fade, np.where(negative, full, fade)], axis=-1).astype(np.uint8)


def colour(value: float, vmax: float) -> str:
    if vmax <= 0 or not math.isfinite(value):
        return ""
    return "black on rgb({},{},{})".format(*rgb(value, vmax))


def filter_rows(values: Any) -> Any:
    """A filter as a 2-D float array of rows (``stacked_rows`` of one filter)."""
    import numpy as np

    return stacked_rows(np.asarray(values, dtype=np.float64)[None])[0]


def stacked_rows(filters: Any) -> Any:
    """Filters stacked on a leading axis, each as a 2-D array of rows: a number (a dense
    weight) is one cell; a 1-D filter is one row; a 2-D filter is its rows; a 3-D one,
    its depth slices side by side separated by a NaN column. Returns (n, rows, columns)."""
    import numpy as np

    a = np.asarray(filters, dtype=np.float64)
    n = a.shape[0]
    if a.ndim < 3:
        return a.reshape(n, 1, -1)
    if a.ndim == 3:
        return a
    gap = np.full((n, a.shape[2], 1), np.nan)  # (n, kd, kh, kw): slices side by side, separated by a gap
    return np.concatenate([part for d in range(a.shape[1]) for part in ([gap, a[:, d]] if d else [a[:, d]])], axis=2)


def heatmap(values: Any, vmax: float, fmt: str) -> Table:
    grid = Table.grid(padding=(0, 1))
    for row in filter_rows(values):
        cells = [Text(" " * len(format(0.0, fmt))) if math.isnan(v) else Text(format(v, fmt), style=colour(v, vmax)) for v in row]
        grid.add_row(*cells)
    return grid


def kernel_dims(values: Any) -> list[int]:
    """The sizes of a filter's (nested list's) axes."""
    dims = []
    while isinstance(values, list):
        dims.append(len(values))
        values = values[0] if values else None
    return dims


def choose_view(view: str, filters: Sequence[Any]) -> str:
    """``auto``: numbers when every kernel dimension is at most NUMBERS_UP_TO, blocks above."""
    if view != "auto":
        return view
    small = all(d <= NUMBERS_UP_TO for f in filters for d in kernel_dims(f))
    return "numbers" if small else "blocks"


def has_colour(console: Console) -> bool:
    """Rich decides: no colour system (a pipe, TERM=dumb) or NO_COLOR means no colour."""
    return console.color_system is not None and not console.no_color


def shade(value: float, vmax: float) -> str:
    """The character of one weight without colour: shades for positive, ASCII marks for
    negative, a dot near zero (a blank is a gap between depth slices)."""
    if math.isnan(value):
        return " "
    level = shade_level(value, vmax)
    if level == 0:
        return NEAR_ZERO
    return (POSITIVE_SHADES if value > 0 else NEGATIVE_SHADES)[level - 1]


def shade_level(value: float, vmax: float) -> int:
    if vmax <= 0 or not math.isfinite(value):
        return 0
    return min(4, int(min(abs(value) / vmax, 1.0) * 4 + 0.5))


class Blocks:
    """A filter as a picture. In colour: ``▀`` half-blocks, foreground the upper weight,
    background the lower one, so each text line holds two rows of weights. Without
    colour: one row per line, each weight two characters of the shade ramp."""

    def __init__(self, values: Any, vmax: float) -> None:
        self.rows = filter_rows(values)
        self.vmax = vmax

    def _width(self, console: Console) -> int:
        columns = max((len(r) for r in self.rows), default=0)
        return columns if has_colour(console) else 2 * columns

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = self._width(console)
        return Measurement(width, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if has_colour(console):
            yield from self._half_blocks()
        else:
            for row in self.rows:
                yield Segment("".join(2 * shade(v, self.vmax) for v in row))
                yield Segment.line()

    def _half_blocks(self) -> Iterator[Segment]:
        for top in range(0, len(self.rows), 2):
            upper = self.rows[top]
            lower = self.rows[top + 1] if top + 1 < len(self.rows) else None
            for k, v in enumerate(upper):
                below = math.nan if lower is None else lower[k]
                if math.isnan(v) and math.isnan(below):
                    yield Segment(" ")
                    continue
                if math.isnan(v):  # a gap above a weight: the lower half-block alone
                    yield Segment("▄", Style(color=_colour(below, self.vmax)))
                    continue
                bg = None if math.isnan(below) else _colour(below, self.vmax)
                yield Segment("▀", Style(color=_colour(v, self.vmax), bgcolor=bg))
            yield Segment.line()


def _colour(value: float, vmax: float) -> Color:
    return Color.from_rgb(*rgb(value, vmax))


class Legend:
    """What the blocks mean and their scale: a colour bar from -scale to +scale, or the
    shade characters with the value range each stands for."""

    STEPS = 21  # cells of the colour bar

    def __init__(self, vmax: float) -> None:
        self.vmax = vmax

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        v = self.vmax
        if has_colour(console):
            bar = Text(f"scale {-v:+.3g} ")
            for k in range(self.STEPS):
                bar.append(" ", Style(bgcolor=_colour(v * (2 * k / (self.STEPS - 1) - 1), v)))
            bar.append(f" {v:+.3g}  (blue negative, white 0, red positive; ▀ = the upper weight over the lower)")
            yield bar
            return
        bounds = [f"{v * k / 8:.3g}" for k in (1, 3, 5, 7)]
        ranges = [f"{bounds[k]}-{bounds[k + 1]}" for k in range(3)] + [f"≥{bounds[3]}"]
        yield Text(f"shades by |w| on the scale ±{v:.3g}, one weight = 2 characters: {2 * NEAR_ZERO} |w| < {bounds[0]}")
        for name, shades in (("positive", POSITIVE_SHADES), ("negative", NEGATIVE_SHADES)):
            yield Text(f"  {name}: " + "  ".join(f"{2 * c} {r}" for c, r in zip(shades, ranges)))


def magnitude(filters: Sequence[Any]) -> float:
    """The largest finite absolute value over all filters: one colour scale for all."""
    import numpy as np

    best = 0.0
    for f in filters:
        a = np.abs(np.asarray(f, dtype=np.float64))
        a = a[np.isfinite(a)]
        if a.size:
            best = max(best, float(a.max()))
    return best
