"""Lay out the activations report: a table of layer calls (shape, statistics, dead maps),
the top-5 classes, the notes; with ``--view blocks`` the strongest maps of one layer as
terminal heatmaps (``heatmap.Blocks``); with ``--png`` all its maps as a labelled grid
(``picture``'s tiles). Nothing here computes a number the report does not hold, except
ranking the drawn maps by their L2 norm."""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from .heatmap import Blocks, Legend
from .numbers import significant
from .tables import _source_line, format_shape, split_tables

STRONGEST = 8  # maps drawn in the terminal


def activations_view(
    report: dict[str, Any], console: Console, maps: Any = None, view: Optional[str] = None, header: bool = True
) -> Iterator[RenderableType]:
    """The report laid out; ``header`` False (explore's pane for one layer) leaves out the
    source and input lines and the top-5, which the pane need not repeat per layer."""
    if header:
        yield _source_line(report)
        for i, given in enumerate(report["inputs"]):
            how = f", preprocess {given['preprocess']}" if given.get("preprocess") else ""
            yield Text(f"input {i} '{given['name']}': {given['from']} as {format_shape(given['shape'])} {given['dtype']}{how}")
    yield from _tables(report, console)
    top = report.get("top")
    if top is not None and header:
        for n, sample in enumerate(top["samples"]):
            classes = ", ".join(f"{c['class']} ({significant(c['probability'])})" for c in sample)
            yield Text(f"top-{len(sample)} of '{top['layer']}'" + (f" (sample {n})" if len(top["samples"]) > 1 else "") + f": {classes}")
    for note in report["notes"]:
        yield Text(f"note: {note}", style="dim")
    if maps is not None and view == "blocks":
        yield from _strongest(maps)


def _tables(report: dict[str, Any], console: Console) -> list[Table]:
    """The layer calls with their statistics, split into parts that keep ``#`` and Layer
    when the terminal is narrow (numbers are never cut)."""
    calls = any(layer["call"] for layer in report["layers"])  # a shared layer: say which call
    headers = ["Type", *(["Call"] if calls else []), "Output shape", "Min", "Max", "Mean", "Std", "Zeros", "Dead"]
    rows = []
    for layer in report["layers"]:
        s = layer["stats"]
        name = layer["path"] + (f" [{layer['output']}]" if "output" in layer else "")
        numbers = [_number(s[k]) for k in ("min", "max", "mean", "std")]
        zeros = "?" if s["zeros"] is None else f"{s['zeros']:.0%}"
        call = [str(layer["call"])] if calls else []
        rows.append([str(layer["index"]), name, layer["type"], *call, format_shape(layer["shape"]), *numbers, zeros, _dead(layer)])
    return split_tables(console, headers, rows)


def _number(value: Optional[float]) -> str:
    return "?" if value is None else significant(value)


def _dead(layer: dict[str, Any]) -> str:
    """Up to 3 dead maps (or units, for a vector output) by number, more by count (--json
    lists them all)."""
    dead = layer["dead_maps"]
    if not dead:
        return ""
    what = "units" if len(layer["shape"]) <= 2 else "maps"
    return f"{what} " + ", ".join(str(d) for d in dead) if len(dead) <= 3 else f"{len(dead)} {what}"


def _ranked(maps: Any) -> list[int]:
    """Map numbers by L2 norm, strongest first."""
    import numpy as np

    norms = np.sqrt(np.square(maps.maps.reshape(len(maps.maps), -1).astype(np.float64)).sum(axis=1))
    return [int(i) for i in np.argsort(-norms, kind="stable")]


def _strongest(maps: Any) -> Iterator[RenderableType]:
    import numpy as np

    order = _ranked(maps)[:STRONGEST]
    chosen = maps.maps[order].astype(np.float64)
    finite = np.abs(chosen[np.isfinite(chosen)])
    vmax = float(finite.max()) if finite.size else 0.0
    yield Text(f"the {len(order)} strongest of {len(maps.maps)} maps of '{maps.path}' (call {maps.call}), sample 0, by L2 norm", style="bold")
    for k, values in zip(order, chosen):
        yield Text(f"map {k}")
        yield Blocks(values if values.ndim >= 2 else values[None], vmax)
    yield Legend(vmax)


def maps_picture(maps: Any) -> Any:
    """Every map of one layer call (sample 0) as a near-square grid of labelled tiles on
    one diverging scale."""
    from .heatmap import stacked_rows
    from .picture import Section, _colour_tiles, _grid, _labelled_tiles, _legends, _preferred_cell, _render, _scale, _text

    arrays, gaps = stacked_rows(maps.maps)
    per_row = max(1, math.ceil(math.sqrt(len(arrays))))
    cells = [(k // per_row, k % per_row) for k in range(len(arrays))]
    grid = _grid(arrays, gaps, cells, (math.ceil(len(arrays) / per_row), per_row))
    vmax = _scale(grid)
    tiles = _colour_tiles(grid, vmax)
    title = f"{maps.path} (call {maps.call}): {len(arrays)} output maps of {format_shape(maps.shape)}, sample 0"

    def sections(s: int) -> list[Section]:
        return [_text(title), _labelled_tiles(tiles, [f"map {k}" for k in range(len(arrays))], s), *_legends(grid, vmax)]

    return _render(sections, _preferred_cell(arrays), "activations")
