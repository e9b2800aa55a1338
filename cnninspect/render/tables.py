"""Terminal views of the reports. They only lay out what the report dicts hold."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from rich import box
from rich.columns import Columns
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .check import fact_line
from ..reports.filters import strongest
from .columns import HEADERS, attr_cells, default_columns, format_bytes, format_count, format_field
from .heatmap import Blocks, Legend, NonFiniteLegend, choose_view, grid_format, heatmap, magnitude, nonfinite_counts
from .numbers import column_format, fixed, significant

MAX_HEATMAPS = 64  # beyond this many inputs, show the strongest ones


def format_shape(shape: list | None) -> str:
    """``(None, 28, 28, 32)``: the batch dim prints as Keras prints it; any other
    unknown dim is ``?``."""
    if shape is None:
        return "?"
    dims = ["None" if d is None and i == 0 else "?" if d is None else str(d) for i, d in enumerate(shape)]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def _source_line(report: dict[str, Any]) -> Text:
    src = report["source"]
    writer = " ".join(x for x in (src.get("library"), src.get("library_version")) if x) or "unknown library"
    if src.get("format_version"):
        writer += f" ({src['format_version']})"
    backend = f", backend {src['backend']}" if src.get("backend") else ""
    return Text.assemble((report.get("model") or "model", "bold"), f"  {src['format']} written by {writer}{backend}")


def _is_chain(layers: list[dict[str, Any]]) -> bool:
    """True when every layer just takes the previous one: no inbound column needed."""
    previous: dict[int, str] = {}
    for layer in layers:
        calls = layer["inbound"]
        expected = previous.get(layer["depth"])
        if layer["op"] != "input" and (len(calls) != 1 or calls[0] != ([expected] if expected else calls[0])):
            return False
        previous[layer["depth"]] = layer["name"]
    return True


MIN_INBOUND = 14  # narrower than this, the Inbound column is left out of the table


def _shapes_table(
    middle: list[str], rows: list[list[Any]], inbound: list[str] | None, inbound_width: int = 0, fold: bool = False
) -> Table:
    """The table of ``rows`` (``#``, Layer, Type, then ``middle``); ``fold``: the Layer and
    Type columns (names, never numbers) may fold to fit."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("Layer", no_wrap=not fold, overflow="fold")
    for header in middle:
        style = "cyan" if header == "Type" else None
        table.add_column(header, no_wrap=not (fold and header == "Type"), overflow="fold", style=style,
                         justify="left" if header in LEFT else "right")  # fmt: skip
    if inbound is not None:
        table.add_column("Inbound", style="dim", width=inbound_width, overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*row, *([inbound[i]] if inbound is not None else []))
    return table


LEFT = {"Type", "Output shape", "Channels in → out", "Kernel", "RF", "Trainable", "Stride", "Padding", "Dilation", "Dead"}
MIN_NAME = 12  # the Layer column folds no narrower than this


def _natural_width(console: Console, table: Table) -> int:
    """The width ``table`` takes with nothing folded or cut."""
    return Measurement.get(console, console.options.update_width(1 << 20), table).maximum


def _pack(count: int, fits: Callable[[list[int]], bool]) -> list[list[int]]:
    """Columns 0..count-1 in order, in parts of as many as ``fits`` allows (at least one)."""
    parts: list[list[int]] = [[]]
    for c in range(count):
        if parts[-1] and not fits([*parts[-1], c]):
            parts.append([])
        parts[-1].append(c)
    return parts


def split_tables(console: Console, headers: list[str], rows: list[list[Any]]) -> list[Table]:
    """A layer table (``#``, Layer, then ``headers``) in parts no wider than the console, each keeping ``#`` and Layer
    (so rows match by number and name), the other columns in order, as many to a part as
    fit; a column that fits in no part alone gets one to itself, its names folding. Numbers
    are never cut."""

    def fits(columns: list[int]) -> bool:
        table = _shapes_table([headers[c] for c in columns], [[*r[:2], *(r[2 + c] for c in columns)] for r in rows], None)
        return _natural_width(console, table) <= console.width

    tables = []
    for part in _pack(len(headers), fits):
        table = _shapes_table([headers[c] for c in part], [[*r[:2], *(r[2 + c] for c in part)] for r in rows], None, fold=True)
        table.columns[1].min_width = MIN_NAME
        tables.append(table)
    return tables


def shapes_view(
    report: dict[str, Any],
    console: Console,
    columns: Sequence[str] | None = None,
    units: str = "si",
    hide_shape_ops: bool | None = None,
) -> Iterator[RenderableType]:
    """``hide_shape_ops``: leave out the layers that only compute shapes (None: when they
    outnumber the others)."""
    columns = columns or default_columns(report["architecture"])
    shape_ops = sum(1 for layer in report["layers"] if layer["shape_only"])
    if hide_shape_ops is None:
        hide_shape_ops = shape_ops > len(report["layers"]) - shape_ops
    layers = [layer for layer in report["layers"] if not (hide_shape_ops and layer["shape_only"])]
    footnotes: list[str] = []
    dynamic = False
    rows = []
    for layer in layers:
        shapes = "\n".join(format_shape(s) for s in layer["output_shapes"]) or "?"
        dynamic = dynamic or any(s is not None and None in s[1:] for s in layer["output_shapes"])
        if layer["unknown_reason"] and report["architecture"]:
            footnotes.append(f"{layer['name']}: {layer['unknown_reason']}")
            shapes = f"{shapes} [{len(footnotes)}]"
        for fact in layer.get("consistency", []):  # a check the weights failed (!) or resolved (*)
            footnotes.append(fact_line(fact).plain)
            shapes = f"{shapes} {'!' if fact['verdict'] == 'mismatch' else '*'}[{len(footnotes)}]"
        name = Text("  " * layer["depth"] + layer["name"], style="italic" if layer["synthetic"] else "")
        cells = {
            "shape": [shapes] if report["architecture"] else _weights_only_cells(layer),
            "params": ["?" if layer["params"] is None else f"{layer['params']:,}"],
            "macs": [format_count(layer["macs"])],
            "flops": [format_count(layer["flops"])],
            "memory": [format_bytes(layer["activation_bytes"], units)],
            "rf": [format_field(layer["receptive_field"])],
            **{name: [text] for name, text in attr_cells(layer).items()},
        }
        rows.append([str(layer["index"]), name, layer["type"], *(c for column in columns for c in cells[column])])
    shape_headers = ["Output shape"] if report["architecture"] else ["Channels in → out", "Kernel"]
    headers = ["Type", *(h for column in columns for h in (shape_headers if column == "shape" else [HEADERS[column]]))]
    tables = [_shapes_table(headers, rows, None)]
    inbound_hidden = False
    if _natural_width(console, tables[0]) > console.width:  # too wide: parts matched by # and name
        tables = split_tables(console, headers, rows)
        inbound_hidden = report["architecture"] and not _is_chain(layers)
    elif report["architecture"] and not _is_chain(layers):  # weights alone record no inbound layers
        inbound = ["\n".join(", ".join(call) for call in layer["inbound"]) for layer in layers]
        used = Measurement.get(console, console.options, tables[0]).maximum
        room = console.width - used - 3  # a separator and the column's padding
        if room >= MIN_INBOUND:
            longest = max(len(x) for x in ["Inbound", *"\n".join(inbound).split("\n")])
            tables = [_shapes_table(headers, rows, inbound, min(room, longest))]
        else:
            inbound_hidden = True
    yield _source_line(report)
    yield from tables
    yield from _param_totals(report["totals"], units)
    if report["architecture"]:
        yield from _cost_totals(report, units)
    for i, note in enumerate(footnotes, 1):
        yield Text(f"[{i}] {note}", style="yellow")
    if dynamic:
        yield Text("? = a dimension the file leaves open; give --input-shape to fix it", style="dim")
    if inbound_hidden:
        yield Text("(the Inbound column needs a wider terminal; --json lists every layer's inbound)", style="dim")
    if hide_shape_ops and shape_ops:
        yield Text(f"layers that only compute shapes, not shown: {shape_ops} (--show-shape-ops shows them)", style="dim")
    if any(c in ("stride", "padding", "dilation", "groups") for c in columns) and any("window" not in x for x in layers):
        yield Text("? in Stride, Padding, Dilation, Groups: this report does not give the layers' windows", style="dim")
    if "rf" in columns:
        yield Text("RF = receptive field in input pixels (per spatial axis), j = jump (effective stride); --json adds its start", style="dim")
    for note in report.get("notes", []):
        yield Text(f"note: {note}", style="dim")


MAX_UNCOUNTED = 8  # uncounted layers named in the table's footer; --json lists them all


def _param_totals(totals: dict[str, Any], units: str) -> Iterator[RenderableType]:
    if totals["params"] is None:
        yield Text("Total params: ? (this file holds no weights: open the weights file with --config FILE)")
        return
    yield Text(f"Total params: {totals['params']:,} ({format_bytes(totals['param_bytes'], units)})")
    yield Text(f"Trainable params: {totals['trainable_params']:,} ({format_bytes(totals['trainable_bytes'], units)})")
    yield Text(f"Non-trainable params: {totals['non_trainable_params']:,} ({format_bytes(totals['non_trainable_bytes'], units)})")
    if totals.get("buffers"):
        yield Text(f"Buffers: {totals['buffers']:,} ({format_bytes(totals['buffer_bytes'], units)}; running statistics, not parameters)")


def _cost_totals(report: dict[str, Any], units: str) -> Iterator[RenderableType]:
    totals = report["totals"]
    batch = report["inputs"][0]["shape"][0] if report["inputs"] and report["inputs"][0]["shape"] else None
    per = "per sample" if batch is None else f"batch {batch}"
    peak = format_bytes(totals["peak_activation_bytes"], units)
    yield Text(f"MACs: {format_count(totals['macs'])}   FLOPs: {format_count(totals['flops'])}   "
               f"Peak activation memory: {peak}   ({per})")  # fmt: skip
    uncounted = totals["uncounted_layers"]
    if uncounted:
        more = f" and {len(uncounted) - MAX_UNCOUNTED} more" if len(uncounted) > MAX_UNCOUNTED else ""
        yield Text(f"Not counted ({len(uncounted)} layers, excluded from the totals): "
                   f"{', '.join(uncounted[:MAX_UNCOUNTED])}{more}", style="yellow")  # fmt: skip


def _weights_only_cells(layer: dict[str, Any]) -> list[str]:
    """What the weights alone say of a layer: its channels and kernel size."""
    channels = layer["channels"]
    ins = "?" if channels is None or channels["in"] is None else str(channels["in"])
    through = "" if channels is None else f"{ins} → {channels['out']}"
    kernel = "×".join(map(str, layer["kernel_size"])) if layer["kernel_size"] else ""
    return [through, kernel]


def connections_view(report: dict[str, Any], top: int | None, view: str = "auto") -> Iterator[RenderableType]:
    """A forward (``filters --out``) or reverse (``filters --in``) report: its header, then
    the connecting filters."""
    yield from (filters_header if "inputs" in report else feeds_header)(report)
    yield from connections_body(report, top, view)


def filters_header(report: dict[str, Any]) -> Iterator[RenderableType]:
    """What the forward view says before the filters: layer, weight, slice, bias, equation."""
    layer = report["layer"]
    yield Text.assemble(
        (f"Layer {layer['index']} {layer['path']}", "bold"),
        f" ({layer['type']}): output map {report['out']} of {report['out_maps']}",
    )
    yield from _weight_lines(report)
    # A file without an architecture (a lone array) does not say whether the layer had a bias
    absent = "none (use_bias=False)" if report.get("architecture", True) else "unknown (not in the file, which records no architecture)"
    bias = absent if report["bias"] is None else f"b[{report['out']}] = {fixed('+.6g')(report['bias'])}"
    yield Text(f"bias: {bias}    activation: {report['activation']}")
    yield from _equation_notes(report)


def feeds_header(report: dict[str, Any]) -> Iterator[RenderableType]:
    """What the reverse view says before the filters: layer, weight, slice, equation."""
    layer = report["layer"]
    yield Text.assemble(
        (f"Layer {layer['index']} {layer['path']}", "bold"),
        f" ({layer['type']}): input map {report['in']} of {report['in_maps']}, "
        f"feeding {len({e['out'] for e in report['outputs']})} of {report['out_maps']} output maps",
    )
    yield from _weight_lines(report)
    yield from _equation_notes(report)


def _weight_lines(report: dict[str, Any]) -> Iterator[RenderableType]:
    weight = report["weight"]
    axes = ", ".join(weight["axes"])
    yield Text(
        f"weight {weight['name']}: shape {tuple(weight['shape'])}, axes ({axes}), "
        f"layout {weight['layout']} ({weight['convention']})"
    )
    yield Text.assemble("native slice: ", (report["native_slice"], "bold green"))


def _equation_notes(report: dict[str, Any]) -> Iterator[RenderableType]:
    yield Text.assemble("equation: ", (report["equation"], "bold"))
    for note in report["notes"]:
        yield Text(f"note: {note}", style="yellow")


def connections_body(report: dict[str, Any], top: int | None, view: str = "auto") -> Iterator[RenderableType]:
    """The connecting filters of a forward (``inputs``) or reverse (``outputs``) report,
    and their ranking; a dense layer's are single weights, listed."""
    key = "in" if "inputs" in report else "out"
    entries = report["inputs"] if key == "in" else report["outputs"]
    if report["layer"]["op"] == "dense":
        yield from _dense_weights(report, entries, key, top or 20)
        return
    yield from _filter_grid(report, entries, top, key, view)
    yield from _ranking(report, top or 10, key)


def _filter_grid(report: dict[str, Any], entries: list[dict[str, Any]], top: int | None, key: str, view: str) -> Iterator[RenderableType]:
    """The connecting filters on one shared scale, as numbers or pictures (``view``);
    beyond MAX_HEATMAPS, only the strongest (``key`` is ``in`` or ``out``: which end of
    the layer the entries name)."""
    side = "input" if key == "in" else "output"
    shown = strongest(report, top if top is not None else (len(entries) if len(entries) <= MAX_HEATMAPS else 16))
    filters = [e["filter"] for e in shown]
    vmax = magnitude(filters)
    fmt = grid_format(filters)
    mode = choose_view(view, filters)

    def draw(values: Any) -> RenderableType:
        return heatmap(values, vmax, fmt) if mode == "numbers" else Blocks(values, vmax)

    mix = column_format((e["pointwise"] for e in shown if "via" in e), significant=4, signed=True)
    panels = [Panel(draw(e["filter"]), title=filter_title(e, key, mix), box=box.ROUNDED, expand=False) for e in shown]
    if len(shown) < len(entries):
        yield Text(f"showing the {len(shown)} strongest of {len(entries)} {side} filters (by L1; --top N for more)", style="dim")
    yield Text(f"filters ({', '.join(report['spatial_axes'])}), shared scale ±{significant(vmax)}:", style="dim")
    yield from quantized_note(report["weight"])
    yield Columns(panels)
    if mode == "blocks":
        yield Legend(vmax)
    counts = nonfinite_counts(filters)
    if counts:
        yield NonFiniteLegend(counts, blocks=mode == "blocks")


def quantized_note(weight: dict[str, Any]) -> Iterator[RenderableType]:
    """Under quantized weights shown raw: what the integers are and how to see real values."""
    q = weight.get("quantization")
    if q and not q.get("dequantized"):
        yield Text(f"stored {weight['dtype']}; real = scale·(q − zero_point); --dequantize shows real values", style="yellow")


def filter_title(entry: dict[str, Any], key: str, mix: Callable[[float], str]) -> str:
    """``in[i]``; for a separable layer ``in[i] D[j] ×P[j,N]`` (``mix`` formats P)."""
    if "via" in entry:
        return f"{key}[{entry[key]}] D[{entry['via']}] ×{mix(entry['pointwise'])}"
    return f"{key}[{entry[key]}]"


def _ranking(report: dict[str, Any], n: int, key: str) -> Iterator[RenderableType]:
    yield Text(f"strongest {'input' if key == 'in' else 'output'} maps:")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("rank", justify="right")
    table.add_column(key, justify="right")
    table.add_column("L1", justify="right")
    table.add_column("L2", justify="right")
    ranked = report["ranking"][:n]
    l1, l2 = column_format(e["l1"] for e in ranked), column_format(e["l2"] for e in ranked)
    for i, e in enumerate(ranked, 1):
        name = f"{e[key]} (D[{e['via']}])" if "via" in e else str(e[key])
        table.add_row(str(i), name, l1(e["l1"]), l2(e["l2"]))
    yield table
    yield from _unranked(report, key)


def _unranked(report: dict[str, Any], key: str) -> Iterator[RenderableType]:
    """The connections a ranking leaves out because their weights are not all finite."""
    skipped = report.get("ranking_nonfinite")
    if skipped:
        what = "input" if key == "in" else "output"
        yield Text(f"not ranked: {skipped} {what} map(s) whose weights hold NaN or Inf", style="yellow")


def _dense_weights(report: dict[str, Any], entries: list[dict[str, Any]], key: str, n: int) -> Iterator[RenderableType]:
    ranking = report["ranking"]
    side = "input" if key == "in" else "output"
    yield Text(f"strongest {min(n, len(ranking))} of {len(ranking)} {side} units (--top N for more):")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("rank", justify="right")
    table.add_column(key, justify="right")
    unflattened = report.get("unflattened") if key == "in" else None  # the input as Flatten received it
    if unflattened:
        table.add_column(f"at ({', '.join(unflattened['axes'])})", justify="left")
    table.add_column("weight", justify="right")
    weights = {e[key]: e["filter"] for e in entries}
    ranked = ranking[:n]
    fmt = column_format((weights[e[key]] for e in ranked), significant=6, signed=True)
    for i, e in enumerate(ranked, 1):
        at = [_unflat_index(e[key], unflattened["shape"])] if unflattened else []
        table.add_row(str(i), str(e[key]), *at, fmt(weights[e[key]]))
    yield table
    yield from quantized_note(report["weight"])
    yield from _unranked(report, key)


def _unflat_index(i: int, shape: list[int]) -> str:
    """Unit ``i`` of a row-major flattening of ``shape``, as its index there: ``(13, 7, 23)``."""
    position = []
    for size in reversed(shape):
        i, k = divmod(i, size)
        position.append(k)
    return "(" + ", ".join(map(str, reversed(position))) + ")"


MIN_LAYER = 24  # a Layer column folded narrower than this is hard to read: split the table instead
STATS_HEADERS = ["Min", "Max", "Mean", "Std", "Zeros", "NaN/Inf", "Dead"]


def _weights_table(console: Console, headers: list[str], rows: list[list[str]]) -> tuple[Table, bool]:
    """A table whose Layer column (if any) folds into the room the other columns leave;
    and whether every other cell fits whole in the console's width."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in headers:
        left = header in ("Layer", "Role", "Layout", "Dtype")
        table.add_column(header, justify="left" if left else "right", no_wrap=header != "Layer", overflow="fold")
    for row in rows:
        table.add_row(*row)
    unbounded = console.options.update_width(1 << 20)
    natural = Measurement.get(console, unbounded, table).maximum
    if "Layer" not in headers:
        return table, natural <= console.width
    layer = table.columns[headers.index("Layer")]
    longest = max(Measurement.get(console, unbounded, c).maximum for c in [layer.header, *layer.cells])
    room = console.width - (natural - longest)
    layer.width = max(min(longest, room), len("Layer"))
    return table, room >= min(longest, MIN_LAYER)


def _numbered_tables(console: Console, headers: list[str], rows: list[list[str]]) -> Iterator[Table]:
    """The rows numbered by ``#``: one table, or, too wide for the console, parts of its
    columns that each keep ``#``."""

    def table(columns: list[int]) -> tuple[Table, bool]:
        return _weights_table(console, ["#", *(headers[c] for c in columns)], [[str(i), *(r[c] for c in columns)] for i, r in enumerate(rows)])

    for part in _pack(len(headers), lambda columns: table(columns)[1]):
        yield table(part)[0]


def weights_view(report: dict[str, Any], console: Console, in_app: bool = False) -> Iterator[RenderableType]:
    """The tensors table (with statistics, split in two by ``#`` when too wide);
    ``in_app``: inside ``explore``, where command-line options mean nothing."""
    tensors = report["tensors"]
    with_stats = any("stats" in t for t in tensors)
    dtypes = sorted({t["dtype"] for t in tensors})
    headers = ["Layer", "Role", "Shape", "Layout"] + (["Dtype"] if len(dtypes) > 1 else []) + ["Bytes"]
    rows = []
    for t in tensors:
        shape = "×".join(map(str, t["shape"])) or "scalar"
        layout = t["layout"] + (" flipped" if t["flipped"] else "")
        rows.append([t["layer"], t["role"], shape, layout, *([t["dtype"]] if len(dtypes) > 1 else []), format_bytes(t["bytes"])])
    yield _source_line(report)
    stats = _stats_cells([t["stats"] for t in tensors]) if with_stats else []
    table, fits = _weights_table(console, headers + STATS_HEADERS * with_stats, [r + c for r, c in zip(rows, stats)] or rows)
    if fits or not with_stats:
        yield table
    else:  # too wide for one table: the statistics get their own, rows matched by number
        yield from _numbered_tables(console, headers, rows)
        yield from _numbered_tables(console, STATS_HEADERS, stats)
    uniform = f", all {dtypes[0]}" if len(dtypes) == 1 else ""
    yield Text(f"{report['totals']['tensors']} tensors, {format_bytes(report['totals']['bytes'])}{uniform}")
    where = "" if in_app else " (--json names every axis)"
    yield Text(f"Layout letters: D/H/W spatial, I in, O out, M depth multiplier, C channels{where}", style="dim")
    if any(t["flipped"] for t in tensors):
        yield Text("flipped: kernels learned for a true convolution (Theano); filters --as-correlation shows them "
                   "as TensorFlow/PyTorch cross-correlation kernels", style="yellow")  # fmt: skip
    for t in tensors:
        if "stats" in t and t["stats"].get("dead_filters"):
            yield Text(f"dead filters in {t['path']}: output maps {t['stats']['dead_filters']}", style="yellow")
    for note in report.get("notes", []):
        yield Text(f"note: {note}", style="dim")


def _stats_cells(all_stats: list[dict[str, Any]]) -> list[list[str]]:
    """The statistics columns, one row per tensor: Min, Max, Mean and Std with three
    significant digits each, trailing zeros kept (tensors differ by orders of magnitude:
    fixed decimals would flatten the small ones to 0)."""
    measures = ("min", "max", "mean", "std")
    number = fixed("#.3g", signed=False)
    rows = []
    for st in all_stats:
        if "error" in st:
            rows.append([st["error"], "", "", "", "", "", ""])
            continue
        numbers = ["?" if st[m] is None else number(st[m]) for m in measures]
        rows.append([*numbers, f"{100 * st['zero_fraction']:.1f}%", f"{st['nan']}/{st['inf']}", str(len(st["dead_filters"]))])
    return rows
