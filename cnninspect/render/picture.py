"""Filters drawn to a PNG image: grids of tiles on one shared diverging colour scale.

Works from the report dicts (``filters_report``, ``layer_filters_report``), never from the
model, so a picture shows exactly what ``--json`` says. Pillow is imported only here,
inside the functions that draw. Geometry (all in pixels): each weight is an ``s`` x ``s``
square, each tile has a 1-pixel black frame (the only pure-black pixels of the image), and
tiles sit ``GAP`` apart on a light grey background; a zero weight is white; NaN, +Inf
and -Inf have their own colours (``heatmap.NONFINITE``), named below the colour bar
whenever any is drawn. Tiles are
painted as NumPy arrays (a layer can have a quarter of a million of them); text with
Pillow's built-in font.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from ..errors import NotWritable, SelectionError, UsageError
from .heatmap import NONFINITE, diverging, nonfinite_counts, rgb, stacked_rows
from .numbers import significant

MAX_SIDE = 8192  # the largest image side drawn; a bigger layer is refused
TILE_PX = 72  # preferred tile side: each weight is about TILE_PX / kernel size pixels
DENSE_PX = 400  # preferred side of a dense layer's single tile
MATRIX_PX = 4096  # preferred width of a dense layer's weight matrix
MAX_CELL = 24  # the largest square drawn for one weight
MARGIN = 10
GAP = 6  # between tiles, and between sections
FRAME = (0, 0, 0)
BACKGROUND = (224, 224, 224)
INK = (48, 48, 48)
LEGEND_WIDTH = 256
LEGEND_HEIGHT = 14


class Section(NamedTuple):
    """A block of the picture, stacked top to bottom: its size and how to paint it."""

    width: int
    height: int
    paint: Callable[[Any, Any, int, int], None]  # (Image, ImageDraw, x, y)


class Tiles(NamedTuple):
    """Tiles on a (rows x columns) grid: ``colours`` uint8 (rows, cols, h, w, 3) of each
    weight, ``blank`` (rows, cols, h, w) where a tile has no weight (a gap between depth
    slices, cells past a dense layer's last unit), ``present`` (rows, cols): tiles drawn."""

    colours: Any
    blank: Any
    present: Any


class Grid(NamedTuple):
    """Filters at their cells: ``values`` float (rows, cols, h, w), ``blank`` where there
    is no weight (a gap, an empty cell: a NaN weight is a value), ``present`` (rows, cols)."""

    values: Any
    blank: Any
    present: Any


def check_output(path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise NotWritable(f"cannot write {path}: it is a directory")
    if not parent.is_dir():
        raise NotWritable(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise NotWritable(f"cannot write {path}: permission denied")


def save(image: Any, path: Path) -> None:
    try:
        image.save(path, format="PNG", compress_level=1)  # big layers: 4x faster than the default, files ~30% larger
    except OSError as exc:
        raise NotWritable(f"cannot write {path}: {exc.strerror or exc}") from None


# --- the two pictures ------------------------------------------------------------------


def filters_picture(report: dict[str, Any], entries: Sequence[dict[str, Any]]) -> Any:
    """``filters --png``: one tile per input map feeding output map N (``entries``, from
    the report's ``inputs``), near-square arrangement, row-major in input order. A dense
    layer is one tile of all its input units, row-major, ``ceil(sqrt(n))`` units wide. A
    separable layer's tiles are the effective filters P[j,N]·D[j]."""

    layer = report["layer"]
    what = f"output map {report['out']} of {report['out_maps']}"
    if layer["op"] != "dense" and len(entries) < len(report["inputs"]):
        title = f"{layer['path']} ({layer['type']}): the {len(entries)} strongest of {len(report['inputs'])} input maps feeding {what}"
    else:
        title = f"{layer['path']} ({layer['type']}): filters feeding {what}"
    unflattened = report.get("unflattened")
    if layer["op"] == "dense" and unflattened:  # the input units as the maps Flatten made them from
        arrays, gaps, labels = _unflatten([e["filter"] for e in report["inputs"]], unflattened)
        preferred = _preferred_cell(arrays)
        title += f"; input units as {_shape_text(unflattened)} before Flatten"
    elif layer["op"] == "dense":  # one tile of every unit: --top does not apply
        arrays, gaps, width = _units_tile([e["filter"] for e in report["inputs"]])
        labels = [f"input units 0-{len(report['inputs']) - 1}, row-major, {width} per row"]
        preferred = max(1, min(MAX_CELL, DENSE_PX // width))
    else:
        arrays, gaps = stacked_rows([e.get("effective_filter", e["filter"]) for e in entries])
        labels = [f"in {e['in']} D[{e['via']}]" if "via" in e else f"in {e['in']}" for e in entries]
        preferred = _preferred_cell(arrays)
        if any("via" in e for e in entries):
            title += "; tiles are effective filters P[j,N]·D[j]"
    per_row = max(1, math.ceil(math.sqrt(len(arrays))))
    cells = [(k // per_row, k % per_row) for k in range(len(arrays))]
    grid = _grid(arrays, gaps, cells, (math.ceil(len(arrays) / per_row), per_row))
    vmax = _scale(grid)
    tiles = _colour_tiles(grid, vmax)

    def sections(s: int) -> list[Section]:
        return [_text(title), _labelled_tiles(tiles, labels, s), *_legends(grid, vmax)]

    return _render(sections, preferred, "filters")


def weights_picture(report: dict[str, Any]) -> Any:
    """``weights --png``: one row per output map, one column per input map (intermediate
    map for a separable layer), only the tiles that connect (grouped, depthwise); a dense
    layer is a plain matrix, one square per weight. A conv on exactly 3 input maps adds
    the RGB view (``rgb_channel``)."""
    layer = report["layer"]
    entries = [(f["out"], e) for f in report["filters"] for e in f["inputs"]]
    arrays, gaps = stacked_rows([e.get("effective_filter", e["filter"]) for _, e in entries])
    cells = [(out, e["via"] if "via" in e else e["in"]) for out, e in entries]
    grid = _grid(arrays, gaps, cells, (report["out_maps"], report["columns"]))
    vmax = _scale(grid)
    tiles = _colour_tiles(grid, vmax)
    framed = layer["op"] != "dense"
    what = {"separable_conv": "output maps, columns = intermediate maps j (effective filters P[j,N]·D[j])",
            "dense": "output units, columns = input units"}.get(layer["op"], "output maps, columns = input maps")  # fmt: skip
    title = f"{layer['path']} ({layer['type']}) {report['weight']['name']}: rows = {what}"
    colour_view = _rgb_view(report, grid, vmax)
    preferred = _preferred_cell(arrays) if framed else max(1, min(MAX_CELL, MATRIX_PX // max(report["columns"], 1)))

    def sections(s: int) -> list[Section]:
        parts = [_text(title), _matrix(tiles, s, framed), *_legends(grid, vmax)]
        if colour_view is not None:
            parts += [_text(f"RGB view: in[0], in[1], in[2] as R, G, B; channel = 128 + 127·w/{significant(vmax)} (0 is mid-grey; "
                            "a weight that is not finite paints its pixel in its own colour)"),
                      _labelled_tiles(colour_view, [f"out {n}" for n in range(report["out_maps"])], s)]  # fmt: skip
        return parts

    return _render(sections, preferred, "weights")


def check_drawable(summary: dict[str, Any]) -> None:
    """Refuse, before reading it, a layer with nothing to draw or too big to draw at one
    pixel per weight."""
    if not summary["out_maps"] or not summary["columns"]:
        path = summary["layer"]["path"]
        raise SelectionError(f"layer '{path}' has no filters to draw: {summary['out_maps']} output maps, {summary['columns']} inputs")
    size = summary["kernel_size"] or [1]  # depth, height, width; a 3-D kernel's depth slices side by side
    depth = size[0] if len(size) > 2 else 1
    kernel = (size[-2] if len(size) > 1 else 1, size[-1] * depth + depth - 1)
    framed = summary["layer"]["op"] != "dense"
    pitch = [k + (2 + GAP if framed else 0) for k in kernel]
    side = (summary["out_maps"] * pitch[0], summary["columns"] * pitch[1])
    if max(side) > MAX_SIDE:
        _refuse(side[1], side[0], "weights")


def rgb_channel(values: Any, vmax: float) -> Any:
    """The RGB view's rule: 128 + 127·w/vmax, rounded, so 0 is mid-grey (128) and ±vmax
    (the layer's largest |w|) is 255 or 1. An all-zero scale is mid-grey; a value that
    is not finite too (``_rgb_view`` paints its pixel in its own colour)."""
    import numpy as np

    if vmax <= 0:
        return np.full(np.shape(values), 128, dtype=np.uint8)
    t = np.clip(np.nan_to_num(np.asarray(values) / vmax, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    return np.rint(128 + 127 * t).astype(np.uint8)


# --- building blocks -------------------------------------------------------------------


def _grid(arrays: Any, gaps: Any, cells: Sequence[tuple[int, int]], shape: tuple[int, int]) -> Grid:
    """The filters (``stacked_rows``: n, h, w, and their gaps) at their (row, column)
    cells of one float array (rows, cols, h, w), blank where there is no weight."""
    import numpy as np

    values = np.zeros((*shape, *arrays.shape[1:]))
    blank = np.ones(values.shape, dtype=bool)
    present = np.zeros(shape, dtype=bool)
    if len(cells):
        rows, cols = np.asarray(cells).T
        values[rows, cols] = arrays
        blank[rows, cols] = gaps
        present[rows, cols] = True
    return Grid(values, blank, present)


def _units_tile(units: Sequence[float]) -> tuple[Any, Any, int]:
    """A dense layer's input units as one tile, row-major, ``ceil(sqrt(n))`` to a row;
    the cells past the last unit are blank."""
    import numpy as np

    flat = np.asarray(units, dtype=np.float64)
    width = max(1, math.ceil(math.sqrt(flat.size)))
    cells = width * math.ceil(flat.size / width)
    values = np.zeros(cells)
    values[: flat.size] = flat
    return values.reshape(1, -1, width), (np.arange(cells) >= flat.size).reshape(1, -1, width), width


def _unflatten(units: Sequence[float], unflattened: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """A dense layer's input units as the maps Flatten made them from: ``unflattened``
    gives the shape before Flatten and its axes (``c`` the channels, the others spatial,
    in the library's flattening order). One tile per channel, labelled ``map c``."""
    import numpy as np

    axes, shape = unflattened["axes"], unflattened["shape"]
    maps = np.moveaxis(np.asarray(units, dtype=np.float64).reshape(shape), axes.index("c"), 0)
    tiles = maps.reshape(maps.shape[0], -1, maps.shape[-1]) if maps.ndim > 2 else maps[:, None, :]
    return tiles, np.zeros(tiles.shape, dtype=bool), [f"map {c}" for c in range(len(tiles))]


def _shape_text(unflattened: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{a}={n}" for a, n in zip(unflattened["axes"], unflattened["shape"])) + ")"


def _scale(grid: Grid) -> float:
    """The shared scale: the largest finite |w| drawn."""
    import numpy as np

    drawn = grid.values[~grid.blank]
    finite = np.abs(drawn[np.isfinite(drawn)])
    return float(finite.max()) if finite.size else 0.0


def _colour_tiles(grid: Grid, vmax: float) -> Tiles:
    return Tiles(diverging(grid.values, vmax), grid.blank, grid.present)


def _rgb_view(report: dict[str, Any], grid: Grid, vmax: float) -> Tiles | None:
    """Per output map, its 3 input slices as one colour tile (``rgb_channel``): only for a
    2-D conv with exactly 3 input maps, every one feeding every output."""
    import numpy as np

    layer = report["layer"]
    if layer["op"] != "conv" or report["columns"] != 3 or report["groups"] != 1 or len(report["spatial_axes"]) != 2:
        return None
    values = grid.values  # (out, 3, h, w)
    colours = np.moveaxis(rgb_channel(values, vmax), 1, -1)  # (out, h, w, 3)
    marks = np.moveaxis(diverging(values, vmax), 1, -2)  # (out, h, w, 3 channels, rgb)
    bad = ~np.isfinite(np.moveaxis(values, 1, -1))  # (out, h, w, 3)
    for channel in range(3):  # a non-finite weight of any channel paints its pixel in its mark colour
        colours[bad[..., channel]] = marks[..., channel, :][bad[..., channel]]
    n = colours.shape[0]
    per_row = min(n, 16)
    rows = math.ceil(n / per_row)
    tiles = np.zeros((rows * per_row, *colours.shape[1:]), dtype=np.uint8)
    tiles[:n] = colours
    present = np.arange(rows * per_row) < n
    shape = (rows, per_row)
    return Tiles(tiles.reshape(*shape, *colours.shape[1:]), np.zeros((*shape, *colours.shape[1:3]), dtype=bool), present.reshape(shape))


def _render(sections: Callable[[int], list[Section]], preferred: int, command: str) -> Any:
    """Lay the sections out at the preferred cell size, smaller if the image would pass
    MAX_SIDE, down to 1 pixel per weight; refuse beyond that."""
    from PIL import Image, ImageDraw

    for s in range(preferred, 0, -1):
        parts = sections(s)
        width = max(p.width for p in parts) + 2 * MARGIN
        height = sum(p.height for p in parts) + GAP * (len(parts) - 1) + 2 * MARGIN
        if width <= MAX_SIDE and height <= MAX_SIDE:
            break
    else:
        _refuse(width, height, command)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for part in parts:
        part.paint(image, draw, MARGIN, y)
        y += part.height + GAP
    return image


def _refuse(width: int, height: int, command: str) -> None:
    hint = ("draw one output map with: filters FILE --layer L --out N --png OUT.png" if command == "weights"
            else "use --top N to draw only the N strongest inputs")  # fmt: skip
    raise UsageError(f"the picture would be {width}x{height} px even at 1 pixel per weight, over the {MAX_SIDE} px limit; {hint}")


@lru_cache(maxsize=1)
def _font() -> Any:
    from PIL import ImageFont

    return ImageFont.load_default()


def _text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = _font().getbbox(text)
    return right, bottom


def _text(text: str) -> Section:
    width, height = _text_size(text)
    return Section(width, height + 2, lambda image, draw, x, y: draw.text((x, y), text, fill=INK, font=_font()))


def _preferred_cell(arrays: Any) -> int:
    longest = max(arrays.shape[1:])
    return max(1, min(MAX_CELL, TILE_PX // longest))


def _paste_tiles(image: Any, tiles: Tiles, s: int, framed: bool, pitch: tuple[int, int], x: int, y: int, top: int = 0) -> None:
    """Paint the tiles, one row of tiles at a time (bounded memory): each weight s x s,
    each tile (framed or not) in a ``pitch`` (y, x) cell whose first ``top`` pixel rows are
    left for a label. The cells' trailing gaps are background."""
    import numpy as np
    from PIL import Image

    _, cols, h, w = tiles.blank.shape
    edge = 1 if framed else 0
    for r in range(tiles.blank.shape[0]):
        up = tiles.colours[r].repeat(s, axis=1).repeat(s, axis=2)
        up[tiles.blank[r].repeat(s, axis=1).repeat(s, axis=2)] = BACKGROUND
        band = np.empty((cols, *pitch, 3), dtype=np.uint8)
        band[:] = BACKGROUND
        if framed:
            band[:, top : top + h * s + 2, : w * s + 2] = FRAME
        band[:, top + edge : top + edge + h * s, edge : edge + w * s] = up
        band[~tiles.present[r]] = BACKGROUND
        pixels = band.transpose(1, 0, 2, 3).reshape(pitch[0], cols * pitch[1], 3)
        image.paste(Image.fromarray(np.ascontiguousarray(pixels)), (x, y + r * pitch[0]))  # uint8 (h, w, 3): RGB


def _labelled_tiles(tiles: Tiles, labels: Sequence[str], s: int) -> Section:
    """Framed tiles, each label above its tile, row-major on the tiles' grid."""
    rows, cols, h, w = tiles.blank.shape
    label_h = max(_text_size(label)[1] for label in labels) + 2
    pitch = (label_h + h * s + 2 + GAP, max(w * s + 2, max(_text_size(label)[0] for label in labels)) + GAP)

    def paint(image: Any, draw: Any, x: int, y: int) -> None:
        _paste_tiles(image, tiles, s, True, pitch, x, y, label_h)
        for k, label in enumerate(labels):
            draw.text((x + (k % cols) * pitch[1], y + (k // cols) * pitch[0]), label, fill=INK, font=_font())

    return Section(cols * pitch[1] - GAP, rows * pitch[0] - GAP, paint)


def _matrix(tiles: Tiles, s: int, framed: bool) -> Section:
    """Tiles at (output map, column), row and column numbers on the axes (every k-th
    number when they would overlap). Unframed (dense): one square per weight, with a frame
    around the whole matrix."""
    n_rows, n_cols, h, w = tiles.blank.shape
    extra = 2 + GAP if framed else 0
    pitch = (h * s + extra, w * s + extra)
    row_label_w = _text_size(f"out {n_rows - 1}")[0] + GAP
    label_w, label_h = _text_size(str(n_cols - 1))
    col_step = _label_step(pitch[1], label_w + 4)
    row_step = _label_step(pitch[0], label_h + 2)
    top = label_h + 4

    def paint(image: Any, draw: Any, x: int, y: int) -> None:
        x0, y0 = x + row_label_w, y + top
        for c in range(0, n_cols, col_step):
            draw.text((x0 + c * pitch[1], y), str(c), fill=INK, font=_font())
        for r in range(0, n_rows, row_step):
            draw.text((x, y0 + r * pitch[0]), f"out {r}", fill=INK, font=_font())
        _paste_tiles(image, tiles, s, framed, pitch, x0, y0)
        if not framed:
            draw.rectangle([x0 - 1, y0 - 1, x0 + n_cols * w * s, y0 + n_rows * h * s], outline=FRAME)

    return Section(row_label_w + n_cols * pitch[1] + 1, top + n_rows * pitch[0] + 1, paint)


def _label_step(pitch: int, needed: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that leaves ``needed`` pixels per label."""
    step = 1
    while step * pitch < needed:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def _legends(grid: Grid, vmax: float) -> list[Section]:
    """The colour bar, and the non-finite marks' swatches when any is drawn."""
    counts = nonfinite_counts(grid.values[~grid.blank])
    return [_legend(vmax)] + ([_nonfinite_legend(counts)] if counts else [])


def _nonfinite_legend(counts: dict[str, int]) -> Section:
    """A swatch of each non-finite mark drawn, with its name and count."""
    texts: list[tuple[Any, str]] = [(NONFINITE[kind], f"{NONFINITE[kind].name} ({n})") for kind, n in counts.items()]
    texts.append((None, "(not finite: off the colour scale)"))
    side = LEGEND_HEIGHT
    widths = [(side + 4 if mark else 0) + _text_size(text)[0] + 3 * GAP for mark, text in texts]

    def paint(image: Any, draw: Any, x: int, y: int) -> None:
        for (mark, text), width in zip(texts, widths):
            if mark is not None:
                draw.rectangle([x, y, x + side - 1, y + side - 1], fill=mark.colour)
            draw.text((x + (side + 4 if mark else 0), y + 2), text, fill=INK, font=_font())
            x += width

    return Section(sum(widths), side, paint)


def _legend(vmax: float) -> Section:
    """A colour bar from -vmax (blue) through 0 (white) to +vmax (red), values below."""
    labels = (f"-{significant(vmax)}", "0", f"+{significant(vmax)}")
    text_h = max(_text_size(t)[1] for t in labels)
    width = LEGEND_WIDTH + _text_size(labels[2])[0]

    def paint(image: Any, draw: Any, x: int, y: int) -> None:
        for k in range(LEGEND_WIDTH):
            value = vmax * (2 * k / (LEGEND_WIDTH - 1) - 1) if vmax > 0 else 0.0
            draw.line([x + k, y, x + k, y + LEGEND_HEIGHT - 1], fill=rgb(value, vmax))
        for t, at in zip(labels, (0, LEGEND_WIDTH // 2, LEGEND_WIDTH)):
            draw.text((x + at - _text_size(t)[0] // 2 * (at > 0), y + LEGEND_HEIGHT + 2), t, fill=INK, font=_font())

    return Section(width, LEGEND_HEIGHT + 2 + text_h, paint)


def live_picture(report: dict[str, Any], live: Any, top: int | None) -> Any:
    """``filters --input --png``: a row per input map, strongest contribution first (the
    ``top`` strongest): in[i] → F[i, n] → contribution, then a row with the sum (the
    pre-activation) and the output map. Each column on its own colour scale, named in its
    labels (the bar below is drawn for ±1 of that scale); a filter smaller than the maps
    is enlarged by a whole factor."""
    import numpy as np

    shown = live.ranked[:top] if top is not None else live.ranked
    n = report["out"]
    dense = report["layer"]["op"] == "dense"
    sign, f = ("x", "W") if dense else ("*", "F")  # the built-in font has no ⋆, · or Σ
    columns = [
        [live.inputs[k] for k in shown],
        [live.filters[k] for k in shown],
        [live.contributions[k] for k in shown],
    ]
    last_row = [live.pre, live.output]
    as_2d = [stacked_rows([np.asarray(a, dtype=np.float64) for a in column])[0] for column in columns]
    sums = stacked_rows([np.asarray(a, dtype=np.float64) for a in last_row])[0]
    h = max(max(c.shape[1] for c in as_2d), sums.shape[1])
    w = max(max(c.shape[2] for c in as_2d), sums.shape[2])
    factor = max(1, min(h // as_2d[1].shape[1], w // as_2d[1].shape[2]))
    as_2d[1] = as_2d[1].repeat(factor, axis=1).repeat(factor, axis=2)
    rows = len(shown) + 1
    values = np.zeros((rows, 3, h, w))
    blank = np.ones(values.shape, dtype=bool)
    present = np.zeros((rows, 3), dtype=bool)
    scales = []
    for col, arrays in enumerate(as_2d):
        scale = float(np.abs(arrays[np.isfinite(arrays)]).max(initial=0.0)) or 1.0
        scales.append(scale)
        values[: len(shown), col, : arrays.shape[1], : arrays.shape[2]] = arrays / scale
        blank[: len(shown), col, : arrays.shape[1], : arrays.shape[2]] = False
        present[: len(shown), col] = True
    pre_scale = float(np.abs(sums[np.isfinite(sums)]).max(initial=0.0)) or 1.0
    values[-1, :2, : sums.shape[1], : sums.shape[2]] = sums / pre_scale
    blank[-1, :2, : sums.shape[1], : sums.shape[2]] = False
    present[-1, :2] = True
    labels = []
    for k in shown:
        i = live.ins[k]
        labels += [f"in[{i}] ±{significant(scales[0], 3)}", f"{f}[{i},{n}] ±{significant(scales[1], 3)}"
                   + (f" x{factor}" if factor > 1 else ""), f"in[{i}] {sign} {f}[{i},{n}] ±{significant(scales[2], 3)}"]  # fmt: skip
    labels += [f"b[{n}] + sum = pre-activation ±{significant(pre_scale, 3)}", f"out[{n}] = {report['activation']}(…) ±{significant(pre_scale, 3)}", ""]
    layer = report["layer"]
    title = (f"{layer['path']} ({layer['type']}): output map {n} = {report['activation']}(b[{n}] + sum_i in[i] {sign} {f}[i,{n}]), "
             f"the {len(shown)} strongest of {len(live.ranked)} contributions by L2; self-check {significant(report['self_check']['max_abs_diff'], 2)}")  # fmt: skip
    grid = Grid(values, blank, present)
    tiles = _colour_tiles(grid, 1.0)

    def sections(s: int) -> list[Section]:
        return [_text(title), _labelled_tiles(tiles, labels, s), _legend(1.0), _text("colours: each tile on the scale its label names")]

    return _render(sections, _preferred_cell(values.reshape(-1, h, w)), "filters")
