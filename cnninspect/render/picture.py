"""Filters drawn to a PNG image: grids of tiles on one shared diverging colour scale.

Works from the report dicts (``filters_report``, ``layer_filters_report``), never from the
model, so a picture shows exactly what ``--json`` says. Pillow is imported only here,
inside the functions that draw. Geometry (all in pixels): each weight is an ``s`` x ``s``
square, each tile has a 1-pixel black frame (the only pure-black pixels of the image), and
tiles sit ``GAP`` apart on a light grey background; a zero weight is white.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from ..errors import NotWritable, SelectionError, UsageError
from .heatmap import filter_rows, magnitude, rgb

MAX_SIDE = 8192  # the largest image side drawn; a bigger layer is refused
TILE_PX = 72  # preferred tile side: each weight is about TILE_PX / kernel size pixels
DENSE_PX = 400  # preferred side of a dense layer's single tile
MAX_CELL = 24  # the largest square drawn for one weight
MARGIN = 10
GAP = 6  # between tiles, and between sections
FRAME = (0, 0, 0)
BACKGROUND = (224, 224, 224)
INK = (48, 48, 48)
LEGEND_WIDTH = 256
LEGEND_HEIGHT = 14

Colour = Tuple[int, int, int]
Cells = List[List[Optional[Colour]]]  # None: no weight here (background)


class Section(NamedTuple):
    """A block of the picture, stacked top to bottom: its size and how to paint it at (x, y)."""

    width: int
    height: int
    paint: Callable[[Any, int, int], None]  # (ImageDraw, x, y)


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
        image.save(path, format="PNG")
    except OSError as exc:
        raise NotWritable(f"cannot write {path}: {exc.strerror or exc}") from None


# --- the two pictures ------------------------------------------------------------------


def filters_picture(report: dict[str, Any], entries: Sequence[dict[str, Any]]) -> Any:
    """``filters --png``: one tile per input map feeding output map N (``entries``, from
    the report's ``inputs``), near-square arrangement, row-major in input order. A dense
    layer is one tile of all its input units, row-major, ``ceil(sqrt(n))`` units wide. A
    separable layer's tiles are the effective filters P[j,N]·D[j]."""
    layer = report["layer"]
    if layer["op"] == "dense":  # one tile of every unit: --top does not apply
        entries = report["inputs"]
    values = [e.get("effective_filter", e["filter"]) for e in entries]
    vmax = magnitude(values)
    title = f"{layer['path']} ({layer['type']}): filters feeding output map {report['out']} of {report['out_maps']}"
    if layer["op"] == "dense":
        flat = [float(v) for v in values]
        width = max(1, math.ceil(math.sqrt(len(flat))))
        grid = [flat[k : k + width] for k in range(0, len(flat), width)]
        tiles = [(f"input units 0-{len(flat) - 1}, row-major, {width} per row", _cells(grid, vmax))]
        preferred = max(1, min(MAX_CELL, DENSE_PX // width))
    else:
        tiles = [(_tile_label(e), _cells(filter_rows(v), vmax)) for e, v in zip(entries, values)]
        preferred = _preferred_cell(tiles)
        if any("via" in e for e in entries):
            title += "; tiles are effective filters P[j,N]·D[j]"
    per_row = max(1, math.ceil(math.sqrt(len(tiles))))

    def sections(s: int) -> list[Section]:
        return [_text(title), _tile_grid(tiles, per_row, s), _legend(vmax)]

    return _render(sections, preferred, "filters")


def weights_picture(report: dict[str, Any]) -> Any:
    """``weights --png``: one row per output map, one column per input map (intermediate
    map for a separable layer), only the tiles that connect (grouped, depthwise); a dense
    layer is a plain matrix, one square per weight. A conv on exactly 3 input maps adds
    the RGB view (``rgb_channel``)."""
    layer = report["layer"]
    filters = report["filters"]
    values = [e.get("effective_filter", e["filter"]) for f in filters for e in f["inputs"]]
    vmax = magnitude(values)
    framed = layer["op"] != "dense"
    cells: dict[tuple[int, int], Cells] = {}
    for f in filters:
        for e in f["inputs"]:
            column = e["via"] if "via" in e else e["in"]
            cells[(f["out"], column)] = _cells(filter_rows(e.get("effective_filter", e["filter"])), vmax)
    first = next(iter(cells.values()))
    kernel = (len(first), max(len(r) for r in first))
    what = "intermediate maps j (effective filters P[j,N]·D[j])" if layer["op"] == "separable_conv" else "input maps"
    title = f"{layer['path']} ({layer['type']}) {report['weight']['name']}: rows = output maps, columns = {what}"
    rgb_view = _rgb_tiles(report, vmax)
    preferred = _preferred_cell([("", first)]) if framed else max(1, min(MAX_CELL, 4096 // max(report["columns"], 1)))

    def sections(s: int) -> list[Section]:
        parts = [_text(title), _matrix(cells, report["out_maps"], report["columns"], kernel, s, framed), _legend(vmax)]
        if rgb_view:
            parts += [_text(f"RGB view: in[0], in[1], in[2] as R, G, B; channel = 128 + 127·w/{vmax:.3g} (0 is mid-grey)"),
                      _tile_grid(rgb_view, min(len(rgb_view), 16), s)]  # fmt: skip
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


def rgb_channel(value: float, vmax: float) -> int:
    """The RGB view's rule: 128 + 127·w/vmax, rounded, so 0 is mid-grey (128) and ±vmax
    (the layer's largest |w|) is 255 or 1."""
    if vmax <= 0 or not math.isfinite(value):
        return 128
    return int(round(128 + 127 * max(-1.0, min(1.0, value / vmax))))


# --- building blocks -------------------------------------------------------------------


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
        part.paint(draw, MARGIN, y)
        y += part.height + GAP
    return image


def _refuse(width: int, height: int, command: str) -> None:
    hint = ("draw one output map with: filters FILE --layer L --out N --png OUT.png" if command == "weights"
            else "use --top N to draw only the N strongest inputs")  # fmt: skip
    raise UsageError(f"the picture would be {width}x{height} px even at 1 pixel per weight, over the {MAX_SIDE} px limit; {hint}")


def _font() -> Any:
    from PIL import ImageFont

    return ImageFont.load_default()


def _text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = _font().getbbox(text)
    return right, bottom


def _text(text: str) -> Section:
    width, height = _text_size(text)
    return Section(width, height + 2, lambda draw, x, y: draw.text((x, y), text, fill=INK, font=_font()))


def _cells(rows: list[list[float]], vmax: float) -> Cells:
    return [[None if math.isnan(v) else rgb(v, vmax) for v in row] for row in rows]


def _preferred_cell(tiles: Sequence[tuple[str, Cells]]) -> int:
    longest = max((max(len(c), max(len(r) for r in c)) for _, c in tiles), default=1)
    return max(1, min(MAX_CELL, TILE_PX // longest))


def _tile_label(entry: dict[str, Any]) -> str:
    return f"in {entry['in']} D[{entry['via']}]" if "via" in entry else f"in {entry['in']}"


def _paint_cells(draw: Any, cells: Cells, x: int, y: int, s: int) -> None:
    for r, row in enumerate(cells):
        for c, colour in enumerate(row):
            if colour is not None:
                draw.rectangle([x + c * s, y + r * s, x + (c + 1) * s - 1, y + (r + 1) * s - 1], fill=colour)


def _paint_tile(draw: Any, cells: Cells, x: int, y: int, s: int) -> None:
    """A framed tile: the frame at (x, y), the first weight at (x + 1, y + 1)."""
    width = max(len(r) for r in cells) * s
    draw.rectangle([x, y, x + width + 1, y + len(cells) * s + 1], outline=FRAME)
    _paint_cells(draw, cells, x + 1, y + 1, s)


def _tile_grid(tiles: Sequence[tuple[str, Cells]], per_row: int, s: int) -> Section:
    """Labelled framed tiles, ``per_row`` to a row, each label above its tile."""
    label_h = max(_text_size(label)[1] for label, _ in tiles) + 2
    tile_w = max(max(len(r) for r in c) for _, c in tiles) * s + 2
    tile_h = max(len(c) for _, c in tiles) * s + 2
    pitch_x = max(tile_w, max(_text_size(label)[0] for label, _ in tiles)) + GAP
    pitch_y = label_h + tile_h + GAP
    n_rows = math.ceil(len(tiles) / per_row)

    def paint(draw: Any, x: int, y: int) -> None:
        for k, (label, cells) in enumerate(tiles):
            tx, ty = x + (k % per_row) * pitch_x, y + (k // per_row) * pitch_y
            draw.text((tx, ty), label, fill=INK, font=_font())
            _paint_tile(draw, cells, tx, ty + label_h, s)

    return Section(min(per_row, len(tiles)) * pitch_x - GAP, n_rows * pitch_y - GAP, paint)


def _matrix(cells: dict[tuple[int, int], Cells], n_rows: int, n_cols: int, kernel: tuple[int, int], s: int, framed: bool) -> Section:
    """Tiles at (output map, column), row and column numbers on the axes (every k-th
    number when they would overlap). Unframed (dense): one square per weight, with a frame
    around the whole matrix."""
    extra = 2 + GAP if framed else 0
    pitch_x, pitch_y = kernel[1] * s + extra, kernel[0] * s + extra
    row_label_w = _text_size(f"out {n_rows - 1}")[0] + GAP
    label_w, label_h = _text_size(str(n_cols - 1))
    col_step = _label_step(pitch_x, label_w + 4)
    row_step = _label_step(pitch_y, label_h + 2)
    top = label_h + 4

    def paint(draw: Any, x: int, y: int) -> None:
        x0, y0 = x + row_label_w, y + top
        for c in range(0, n_cols, col_step):
            draw.text((x0 + c * pitch_x, y), str(c), fill=INK, font=_font())
        for r in range(0, n_rows, row_step):
            draw.text((x, y0 + r * pitch_y), f"out {r}", fill=INK, font=_font())
        if not framed:
            draw.rectangle([x0 - 1, y0 - 1, x0 + n_cols * s, y0 + n_rows * s], outline=FRAME)
        for (r, c), tile in cells.items():
            if framed:
                _paint_tile(draw, tile, x0 + c * pitch_x, y0 + r * pitch_y, s)
            else:
                _paint_cells(draw, tile, x0 + c * s, y0 + r * s, s)

    return Section(row_label_w + n_cols * pitch_x + 1, top + n_rows * pitch_y + 1, paint)


def _label_step(pitch: int, needed: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that leaves ``needed`` pixels per label."""
    step = 1
    while step * pitch < needed:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def _legend(vmax: float) -> Section:
    """A colour bar from -vmax (blue) through 0 (white) to +vmax (red), values below."""
    labels = (f"{-vmax:+.3g}", "0", f"{vmax:+.3g}")
    text_h = max(_text_size(t)[1] for t in labels)
    width = LEGEND_WIDTH + _text_size(labels[2])[0]

    def paint(draw: Any, x: int, y: int) -> None:
        for k in range(LEGEND_WIDTH):
            value = vmax * (2 * k / (LEGEND_WIDTH - 1) - 1) if vmax > 0 else 0.0
            draw.line([x + k, y, x + k, y + LEGEND_HEIGHT - 1], fill=rgb(value, vmax))
        for t, at in zip(labels, (0, LEGEND_WIDTH // 2, LEGEND_WIDTH)):
            draw.text((x + at - _text_size(t)[0] // 2 * (at > 0), y + LEGEND_HEIGHT + 2), t, fill=INK, font=_font())

    return Section(width, LEGEND_HEIGHT + 2 + text_h, paint)


def _rgb_tiles(report: dict[str, Any], vmax: float) -> list[tuple[str, Cells]]:
    """Per output map, its 3 input slices as one colour tile (``rgb_channel``): only for a
    2-D conv with exactly 3 input maps, every one feeding every output."""
    layer = report["layer"]
    if layer["op"] != "conv" or report["columns"] != 3 or report["groups"] != 1 or len(report["spatial_axes"]) != 2:
        return []
    tiles = []
    for f in report["filters"]:
        planes = [filter_rows(e["filter"]) for e in sorted(f["inputs"], key=lambda e: e["in"])]
        cells: Cells = [
            [tuple(rgb_channel(p[r][c], vmax) for p in planes) for c in range(len(planes[0][r]))]  # type: ignore[misc]
            for r in range(len(planes[0]))
        ]
        tiles.append((f"out {f['out']}", cells))
    return tiles
