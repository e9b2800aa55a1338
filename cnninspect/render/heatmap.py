"""A filter on a diverging colour scale, in the terminal: a grid of numbers, or a compact
picture (half-blocks in colour, a sign-aware shade ramp without colour).

The numbers carry the information; colour (blue negative, red positive, white near zero)
only helps the eye, so the number grid reads the same with ``NO_COLOR`` or in a pipe. The
picture mode says what its shades mean in a legend (``legend``). NaN, +Inf and -Inf are
outside the scale: each has its own mark and colour (``NONFINITE``), and a legend line
(``NonFiniteLegend``) says how many are shown whenever any are.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple, Sequence

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .numbers import Format, fixed, significant

VIEWS = ("auto", "numbers", "blocks")
NUMBERS_UP_TO = 5  # auto: numbers when every kernel dimension is at most this, blocks above

# Without colour, |w| / scale picks a level: 0 below 1/8, then 1-4 by quarters (rounded).
POSITIVE_SHADES = "░▒▓█"
NEGATIVE_SHADES = "-=*#"
NEAR_ZERO = "·"


class Mark(NamedTuple):
    """How a non-finite value is drawn: its name, colour (off the diverging scale, whose
    colours all have two equal channels and one at 255), and two characters without colour."""

    name: str
    colour: tuple[int, int, int]
    shade: str


NONFINITE = {
    "nan": Mark("NaN", (255, 0, 255), "!!"),
    "+inf": Mark("+Inf", (255, 200, 0), "+∞"),
    "-inf": Mark("-Inf", (0, 200, 200), "-∞"),
}


def nonfinite_kind(value: float) -> str | None:
    """``nan``, ``+inf``, ``-inf`` (the keys of NONFINITE), or None for a finite value."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return None


def nonfinite_counts(values: Any) -> dict[str, int]:
    """How many NaN, +Inf and -Inf ``values`` (any nesting) hold; only the kinds present."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    counts = {"nan": np.isnan(a), "+inf": np.isposinf(a), "-inf": np.isneginf(a)}
    return {kind: int(mask.sum()) for kind, mask in counts.items() if mask.any()}


def number_format(vmax: float) -> str:
    """Enough decimals for three significant digits of the largest magnitude."""
    if vmax <= 0 or not math.isfinite(vmax):
        return "+.2f"
    decimals = min(6, max(2, 2 - math.floor(math.log10(vmax))))
    return f"+.{decimals}f"


def grid_format(filters: Sequence[Any]) -> Format:
    """The number grid's one format for all the filters shown: whole numbers (stored
    integers, such as quantized weights) without decimals, else ``number_format`` of the
    largest finite magnitude."""
    import numpy as np

    flat = np.concatenate([np.asarray(f, dtype=np.float64).ravel() for f in filters]) if len(filters) else np.zeros(0)
    finite = flat[np.isfinite(flat)]
    if finite.size and np.all(finite == np.rint(finite)):
        return fixed("+.0f")
    return fixed(number_format(magnitude(filters)))


def rgb(value: float, vmax: float) -> tuple[int, int, int]:
    """One value's colour on the diverging scale (``diverging``)."""
    import numpy as np

    r, g, b = diverging(np.asarray(value, dtype=np.float64), vmax)
    return (int(r), int(g), int(b))


def diverging(values: Any, vmax: float) -> Any:
    """The diverging scale, for an array of values: white at 0, pure red at +vmax, pure
    blue at -vmax, linear in between (the two other channels ``round(255 * (1 - |w|/vmax))``),
    clipped beyond; an all-zero scale is white. NaN, +Inf and -Inf take their own colours
    (``NONFINITE``). Returns uint8 ``(..., 3)``."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    t = np.clip(np.abs(np.where(finite, values, 0.0)) / vmax, 0.0, 1.0) if vmax > 0 else np.zeros(np.shape(values))
    fade = np.rint(255 * (1 - t))
    negative = finite & (values < 0)
    full = np.full(np.shape(values), 255.0)
    out = np.stack([np.where(negative, fade, full), fade, np.where(negative, full, fade)], axis=-1)
    for mask, mark in ((np.isnan(values), "nan"), (np.isposinf(values), "+inf"), (np.isneginf(values), "-inf")):
        out[mask] = NONFINITE[mark].colour
    return out.astype(np.uint8)


def colour(value: float, vmax: float) -> str:
    if vmax <= 0 and math.isfinite(value):
        return ""
    return "black on rgb({},{},{})".format(*rgb(value, vmax))


def filter_rows(values: Any) -> tuple[Any, Any]:
    """A filter as a 2-D float array of rows and its gaps (``stacked_rows`` of one filter)."""
    import numpy as np

    rows, gaps = stacked_rows(np.asarray(values, dtype=np.float64)[None])
    return rows[0], gaps[0]


def stacked_rows(filters: Any) -> tuple[Any, Any]:
    """Filters stacked on a leading axis, each as a 2-D array of rows: a number (a dense
    weight) is one cell; a 1-D filter is one row; a 2-D filter is its rows; a 3-D one,
    its depth slices side by side separated by a gap column. Returns the values (n, rows,
    columns) and where the gaps are (a boolean array of the same shape: a NaN weight is
    a value, not a gap)."""
    import numpy as np

    a = np.asarray(filters, dtype=np.float64)
    n = a.shape[0]
    if a.ndim < 3:
        a = a.reshape(n, 1, -1)
    if a.ndim == 3:
        return a, np.zeros(a.shape, dtype=bool)
    gap = np.zeros((n, a.shape[2], 1))  # (n, kd, kh, kw): slices side by side, separated by a gap
    parts = [part for d in range(a.shape[1]) for part in ([gap, a[:, d]] if d else [a[:, d]])]
    gaps = [np.full(p.shape, p is gap) for p in parts]
    return np.concatenate(parts, axis=2), np.concatenate(gaps, axis=2)


def heatmap(values: Any, vmax: float, fmt: Format) -> Table:
    """The number grid: every weight in ``fmt``, right-aligned, on its colour; NaN and
    ±Inf as ``nan``, ``+inf``, ``-inf`` on theirs."""
    rows, gaps = filter_rows(values)
    grid = Table.grid(padding=(0, 1))
    for _ in range(rows.shape[1] if rows.ndim == 2 else 0):
        grid.add_column(justify="right")
    for row, gap in zip(rows, gaps):
        grid.add_row(*(Text("") if g else Text(fmt(v), style=colour(v, vmax)) for v, g in zip(row, gap)))
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
    """The two characters of one weight without colour: shades for positive, ASCII marks
    for negative, dots near zero, and the NONFINITE marks for NaN and ±Inf."""
    kind = nonfinite_kind(value)
    if kind is not None:
        return NONFINITE[kind].shade
    level = shade_level(value, vmax)
    if level == 0:
        return 2 * NEAR_ZERO
    return 2 * (POSITIVE_SHADES if value > 0 else NEGATIVE_SHADES)[level - 1]


def shade_level(value: float, vmax: float) -> int:
    if vmax <= 0 or not math.isfinite(value):
        return 0
    return min(4, int(min(abs(value) / vmax, 1.0) * 4 + 0.5))


class Blocks:
    """A filter as a picture. In colour: ``▀`` half-blocks, foreground the upper weight,
    background the lower one, so each text line holds two rows of weights. Without
    colour: one row per line, each weight two characters of the shade ramp."""

    def __init__(self, values: Any, vmax: float) -> None:
        self.rows, self.gaps = filter_rows(values)
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
            for row, gap in zip(self.rows, self.gaps):
                yield Segment("".join("  " if g else shade(v, self.vmax) for v, g in zip(row, gap)))
                yield Segment.line()

    def _half_blocks(self) -> Iterator[Segment]:
        for top in range(0, len(self.rows), 2):
            upper, upper_gap = self.rows[top], self.gaps[top]
            has_lower = top + 1 < len(self.rows)
            for k, v in enumerate(upper):
                below_gap = not has_lower or self.gaps[top + 1][k]
                if upper_gap[k] and below_gap:
                    yield Segment(" ")
                    continue
                if upper_gap[k]:  # a gap above a weight: the lower half-block alone
                    yield Segment("▄", Style(color=_colour(self.rows[top + 1][k], self.vmax)))
                    continue
                bg = None if below_gap else _colour(self.rows[top + 1][k], self.vmax)
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
            bar = Text(f"scale -{significant(v)} ")
            for k in range(self.STEPS):
                bar.append(" ", Style(bgcolor=_colour(v * (2 * k / (self.STEPS - 1) - 1), v)))
            bar.append(f" +{significant(v)}  (blue negative, white 0, red positive; ▀ = the upper weight over the lower)")
            yield bar
            return
        bounds = [significant(v * k / 8, 3) for k in (1, 3, 5, 7)]
        ranges = [f"{bounds[k]}-{bounds[k + 1]}" for k in range(3)] + [f"≥{bounds[3]}"]
        yield Text(f"shades by |w| on the scale ±{significant(v)}, one weight = 2 characters: {2 * NEAR_ZERO} |w| < {bounds[0]}")
        for name, shades in (("positive", POSITIVE_SHADES), ("negative", NEGATIVE_SHADES)):
            yield Text(f"  {name}: " + "  ".join(f"{2 * c} {r}" for c, r in zip(shades, ranges)))


class NonFiniteLegend:
    """The line that names the non-finite marks shown (``counts``: ``nonfinite_counts``):
    in colour a swatch of each, without colour its two characters (``blocks``) or its
    word (the number grid). Says that the scale is over the finite values only."""

    def __init__(self, counts: dict[str, int], blocks: bool = False) -> None:
        self.counts = counts
        self.blocks = blocks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = Text("not finite: ")
        for k, (kind, n) in enumerate(self.counts.items()):
            mark = NONFINITE[kind]
            line.append("   " if k else "")
            if has_colour(console):
                line.append("  ", Style(bgcolor=Color.from_rgb(*mark.colour)))
                line.append(f" {mark.name} ×{n}")
            else:
                line.append(f"{mark.shade} = {mark.name} ×{n}" if self.blocks else f"{kind} ×{n}")
        line.append("   (off the colour scale, which spans the finite weights)")
        yield line


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
