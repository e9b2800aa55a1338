"""The ``filters`` report: what feeds one output map of one layer.

Output map ``N`` of a layer is ``act(b[N] + sum_i in[i] * F[i, N])``: one filter per
(input map, output map) pair. Which inputs take part depends on the operation (groups,
depthwise, separable, transposed, dense); which axis of the stored kernel holds ``N``
depends on the file's layout, and is found by axis name. Only the slice shown is read.
"""

from __future__ import annotations

from typing import Any

from ..core.connections import depth_multiplier, filter_weight, in_maps, kernel_size, out_maps
from ..core.layouts import SPATIAL_AXES
from ..core.model import Layer, Model, Row, Weight
from ..core.quantize import DEQUANTIZED_NOTE, dequantize_layer
from ..errors import SelectionError
from .shapes import source_json, weight_json

SCHEMA = "cnninspect.filters/1"
FEEDS_SCHEMA = "cnninspect.feeds/1"

def find_row(model: Model, spec: str) -> Row:
    """``spec`` is the index shown by ``shapes``, a path (``outer/inner``) or a name."""
    rows = model.rows()
    row: Row | None = None
    if spec.lstrip("-").isdigit():
        i = int(spec)
        row = rows[i] if 0 <= i < len(rows) else None
    else:
        row = next((r for r in rows if r.path == spec), None)
        if row is None:
            named = [r for r in rows if r.layer.name == spec]
            if len(named) > 1:
                raise SelectionError(f"several layers are named '{spec}': use a path: " + ", ".join(r.path for r in named))
            row = named[0] if named else None
    if row is None:
        raise SelectionError(f"no layer '{spec}' (indexes 0-{len(rows) - 1}); {_with_filters(rows)}")
    return row


def select_layer(model: Model, spec: str) -> Row:
    """The layer whose filters to show: ``find_row``, and it must have filters."""
    row = find_row(model, spec)
    if filter_weight(row.layer) is None:
        raise SelectionError(f"layer {row.index} '{row.path}' ({row.layer.type}) has no filters; {_with_filters(model.rows())}")
    return row


def _with_filters(rows: list[Row]) -> str:
    valid = [f"{r.index} {r.path} ({r.layer.type})" for r in rows if filter_weight(r.layer) is not None]
    if not valid:
        return "this model has no layer with filters"
    shown = ", ".join(valid[:12]) + (f", ... ({len(valid)} in all)" if len(valid) > 12 else "")
    return f"layers with filters: {shown}"


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


def _read(weight: Weight, fixed: dict[str, int | slice]) -> tuple[Any, tuple[str, ...]]:
    """Read only ``weight[fixed]``; returns the array and the names of its axes (an axis
    fixed to a range stays)."""
    index = tuple(fixed.get(a, slice(None)) for a in weight.axes)
    return weight.read(index), tuple(a for a in weight.axes if not isinstance(fixed.get(a), int))


def _take(array: Any, axes: tuple[str, ...], name: str, i: int) -> tuple[Any, tuple[str, ...]]:
    import numpy as np

    k = axes.index(name)
    return np.take(array, i, axis=k), axes[:k] + axes[k + 1 :]


def _entry(i: int, values: Any, strength: Any = None, key: str = "in", **extra: Any) -> dict[str, Any]:
    """One connecting filter (``key`` names the map at its other end: ``in`` for the
    forward view, ``out`` for the reverse one), with L1/L2 norms of ``strength`` (default:
    the filter)."""
    import numpy as np

    stack = np.asarray(values)[None]
    strengths = None if strength is None else np.asarray(strength)[None]
    return {**_entries(range(i, i + 1), stack, strengths, key)[0], **extra}


def _entries(ins: Any, values: Any, strength: Any = None, key: str = "in") -> list[dict[str, Any]]:
    """One entry per connected map: ``values[k]`` is the filter from (or, ``key="out"``,
    to) map ``ins[k]``, with the L1/L2 norms of ``strength[k]`` (default: the filter), all
    computed at once."""
    import numpy as np

    flat = np.asarray(values if strength is None else strength, dtype=np.float64).reshape(len(values), -1)
    l1 = np.abs(flat).sum(axis=1).tolist()
    l2 = np.sqrt((flat * flat).sum(axis=1)).tolist()
    filters = values.tolist()
    return [{key: i, "filter": f, "l1": a, "l2": b} for i, f, a, b in zip(ins, filters, l1, l2)]


def filters_report(
    model: Model, row: Row, out: int, as_correlation: bool = False, dequantize: bool = False
) -> dict[str, Any]:
    layer, weight, notes = _connected(row, dequantize)
    n_out = out_maps(layer)
    assert n_out is not None
    _check_map(row, "output", out, n_out)
    inputs, fixed, equation_terms, built_notes = _BUILDERS[layer.op](layer, weight, out)
    bias = layer.weight("bias")
    bias_value = float(bias.read((out,))) if bias is not None else None
    # Without an architecture the activation is not recorded anywhere: say so.
    activation = layer.activation or ("linear" if model.architecture else "act")
    if not model.architecture:
        built_notes.append("weights only: the activation 'act' is not recorded in this file")
    b = f"b[{out}] + " if bias is not None else ""
    equation = f"out[{out}] = " + (f"{b}{equation_terms}" if activation == "linear" else f"{activation}({b}{equation_terms})")
    return {
        "schema": SCHEMA,
        **_connection_json(model, row, weight, fixed, equation, built_notes + notes, as_correlation, "in", inputs),
        "out": out,
        "out_maps": n_out,
        "bias": bias_value,
        "activation": activation,
        "inputs": inputs,
    }


def _connected(row: Row, dequantize: bool) -> tuple[Layer, Weight, list[str]]:
    """The layer, the weight that connects its maps (read as real values with
    ``dequantize``), and the note saying what ``dequantize`` did."""
    notes = _dequantize(row.layer, dequantize)
    weight = filter_weight(row.layer)
    assert weight is not None
    return row.layer, weight, notes


def _check_map(row: Row, side: str, n: int, count: int) -> None:
    if not 0 <= n < count:
        raise SelectionError(f"{side} map {n} does not exist: '{row.path}' has {count} {side} maps (0-{count - 1})")


def _connection_json(
    model: Model,
    row: Row,
    weight: Weight,
    fixed: dict[str, Any],
    equation: str,
    notes: list[str],
    as_correlation: bool,
    key: str,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the forward (``key="in"``) and reverse (``key="out"``) views share: the layer,
    weight, native slice, equation (``∗`` for kernels learned for a true convolution),
    orientation and the ranking of ``entries`` by L1."""
    flipped, shown_flipped = _orientation(row.layer, weight, entries, as_correlation, notes)
    if flipped and not shown_flipped:
        equation = equation.replace("⋆", "∗")
    ranking = sorted(entries, key=lambda e: -e["l1"])
    return {
        "source": source_json(model),
        "layer": _layer_json(row),
        "weight": weight_json(weight),
        "native_slice": native_slice(weight, fixed),
        "equation": equation,
        "spatial_axes": [a for a in weight.axes if a in SPATIAL_AXES],
        "flipped": flipped,
        "as_correlation": shown_flipped,
        "ranking": [{key: e[key], "l1": e["l1"], "l2": e["l2"], **({"via": e["via"]} if "via" in e else {})} for e in ranking],
        "notes": notes,
    }


def _layer_json(row: Row) -> dict[str, Any]:
    layer = row.layer
    return {"index": row.index, "name": layer.name, "path": row.path, "type": layer.type, "op": layer.op}


def layer_summary(row: Row) -> dict[str, Any]:
    """What a whole layer's filter grid will hold, from the weights' shapes alone (nothing
    read): output maps (rows), input maps or, for a separable layer, intermediate maps
    (columns), and the kernel size in depth-height-width order (None for dense)."""
    layer = row.layer
    weight = filter_weight(layer)
    assert weight is not None
    n_out = out_maps(layer)
    if layer.op == "separable_conv":
        depthwise = layer.weight("depthwise_kernel")
        columns = in_maps(layer) * depthwise.shape[depthwise.axis("mult")] if depthwise is not None else n_out
    else:
        columns = in_maps(layer)
    return {
        "layer": _layer_json(row),
        "weight": weight_json(weight),
        "out_maps": n_out,
        "columns": columns,
        "kernel_size": kernel_size(layer),
        "groups": int(layer.attrs.get("groups") or 1),
        "spatial_axes": [a for a in weight.axes if a in SPATIAL_AXES],
    }


def layer_filters_report(row: Row) -> dict[str, Any]:
    """Every output map's filters, as ``filters_report`` lists them for one map (the same
    builders decide which input feeds which output): ``layer_summary`` plus ``filters``,
    one ``{"out": N, "inputs": [...]}`` per output map. Reads the layer's kernels only."""
    layer = row.layer
    weight = filter_weight(layer)
    summary = layer_summary(row)
    build = _BUILDERS[layer.op]
    summary["filters"] = [{"out": n, "inputs": build(layer, weight, n)[0]} for n in range(summary["out_maps"])]
    return summary


def _dequantize(layer: Layer, asked: bool) -> list[str]:
    """With ``--dequantize``, make the layer's quantized weights read real values; the
    note that says what was done."""
    if not asked:
        return []
    if dequantize_layer(layer):
        return [DEQUANTIZED_NOTE]
    return ["--dequantize: this layer's weights are not quantized; shown as stored"]


def _orientation(layer: Layer, weight: Weight, entries: list[dict[str, Any]], as_correlation: bool, notes: list[str]) -> tuple[bool, bool]:
    """Whether the kernels were learned for a true convolution (Theano), and whether they
    are shown flipped (``as_correlation``); the note that says which goes to ``notes``."""
    flipped = weight.layout.flipped or (layer.weight("depthwise_kernel") or weight).layout.flipped
    shown_flipped = flipped and as_correlation
    if shown_flipped:
        _flip_filters(entries)
        notes.append(
            "these kernels were learned for a true convolution (Theano); shown flipped over every spatial axis, "
            "as the cross-correlation kernels TensorFlow and PyTorch would need (the native slice is the stored, unflipped data)"
        )
    elif flipped:
        notes.append(
            "these kernels were learned for a true convolution (Theano): ∗ flips the kernel "
            "spatially, unlike the cross-correlation TensorFlow and PyTorch compute (--as-correlation shows them flipped)"
        )
    elif as_correlation:
        notes.append("--as-correlation: these kernels are already for a cross-correlation; shown as stored")
    return flipped, shown_flipped


def _flip_filters(inputs: list[dict[str, Any]]) -> None:
    """Reverse every spatial axis of the shown filters (a filter has only spatial axes)."""
    import numpy as np

    for entry in inputs:
        for key in ("filter", "effective_filter"):
            if key in entry and isinstance(entry[key], list):
                entry[key] = np.flip(np.asarray(entry[key])).tolist()


def _conv(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Conv (grouped or not), transposed conv and dense: ``F[i, N]`` for the group's inputs."""
    groups = int(layer.attrs.get("groups") or 1)
    n_out = weight.shape[weight.axis("out")]
    per_group_in = weight.shape[weight.axis("in")]
    fixed: dict[str, int | slice]
    if layer.op == "conv_transpose":  # (in, out/groups, ...): the out axis counts within a group
        per_group_in //= groups
        group, within = divmod(out, n_out)
        first = group * per_group_in
        fixed = {"out": within, "in": slice(first, first + per_group_in)} if groups > 1 else {"out": within}
    else:  # (out, in/groups, ...): the in axis counts within a group
        group = out // (n_out // groups)
        first = group * per_group_in
        fixed = {"out": out}
    slab, axes = _read(weight, fixed)
    import numpy as np

    inputs = _entries(range(first, first + per_group_in), np.moveaxis(slab, axes.index("in"), 0))
    notes = []
    if groups > 1:
        notes.append(
            f"grouped convolution ({groups} groups): output map {out} is in group {group}, "
            f"fed by input maps {first}-{first + per_group_in - 1} only"
        )
    star = _operator(layer, notes)
    if layer.op == "dense":
        terms = f"Σ_i in[i] · W[i,{out}]"
    else:
        terms = f"Σ_{{i={first}..{first + per_group_in - 1}}} in[i] {star} F[i,{out}]"
    return inputs, fixed, terms, notes


def _operator(layer: Layer, notes: list[str]) -> str:
    """How an input map meets its filter: ``·`` (dense), ``⋆ᵀ`` (transposed, with the
    note that says what it means) or ``⋆`` (cross-correlation)."""
    if layer.op == "dense":
        return "·"
    if layer.op == "conv_transpose":
        notes.append("⋆ᵀ is a transposed convolution: each input value scatters F[i,N] into the output")
        return "⋆ᵀ"
    return "⋆"


def _depthwise(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Depthwise: exactly one input map, ``N // depth_multiplier``. The kernel has ``in``
    and ``mult`` axes, or (TFLite) one ``out`` axis of ``in * mult`` maps."""
    m = depth_multiplier(layer, weight)
    i, j = divmod(out, m)
    if "out" in weight.axes:
        fixed = {a: (out if a == "out" else 0) for a in weight.axes if a not in SPATIAL_AXES}
    else:
        fixed = {"in": i, "mult": j}
    values, _ = _read(weight, fixed)
    notes = [f"depthwise convolution (depth multiplier {m}): output map {out} sees input map {i} only"]
    return [_entry(i, values)], fixed, f"in[{i}] ⋆ F[{i},{out}]", notes


def _separable(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Separable: each input map through its depthwise filter(s), mixed by the pointwise
    column ``N``. The effective filter from input ``i`` is the pointwise-weighted sum."""
    depthwise = layer.weight("depthwise_kernel")
    if depthwise is None:
        raise SelectionError(f"'{layer.name}' has no depthwise_kernel in the file")
    fixed = {"out": out}
    column, _ = _read(weight, fixed)
    column = column.reshape(-1)  # pointwise (1, ..., in*m) -> (in*m,)
    dw_all = depthwise.read(())
    dw_axes = depthwise.axes
    m = depthwise.shape[depthwise.axis("mult")]
    inputs = []
    for j, p in enumerate(column):
        i, k = divmod(j, m)
        values, rest = _take(dw_all, dw_axes, "in", i)
        values, _ = _take(values, rest, "mult", k)
        effective = values * p
        inputs.append(_entry(i, values, effective, via=j, pointwise=float(p), effective_filter=effective.tolist()))
    notes = [
        f"separable convolution: depthwise stage (multiplier {m}) then pointwise mix; "
        f"'filter' is the depthwise filter D[j] of intermediate map j = i*{m}+k, 'pointwise' is P[j,{out}]"
    ]
    return inputs, fixed, f"Σ_j P[j,{out}] · (in[j // {m}] ⋆ D[j])", notes


_BUILDERS = {
    "conv": _conv,
    "conv_transpose": _conv,
    "dense": _conv,
    "depthwise_conv": _depthwise,
    "separable_conv": _separable,
}


def strongest(report: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The connections of a forward (``inputs``) or reverse (``outputs``) report with the
    ``n`` largest L1 norms, in map order (a separable layer's entries are told apart by
    their intermediate map ``via``)."""
    key = "in" if "inputs" in report else "out"

    def ident(entry: dict[str, Any]) -> tuple:
        return entry.get("via"), entry[key]

    chosen = {ident(e) for e in report["ranking"][:n]}
    return [e for e in report["inputs" if key == "in" else "outputs"] if ident(e) in chosen]


# The reverse view: which output maps one input map feeds.


def feeds_report(
    model: Model, row: Row, in_map: int, as_correlation: bool = False, dequantize: bool = False
) -> dict[str, Any]:
    """Input map ``i`` of a layer and every output map it feeds, each with the filter
    ``F[i, N]`` connecting them: the same numbers as ``filters_report``'s entry ``i`` for
    output map ``N``, read as one slice along the file's ``in`` axis."""
    layer, weight, notes = _connected(row, dequantize)
    n_in = in_maps(layer)
    assert n_in is not None
    _check_map(row, "input", in_map, n_in)
    outputs, fixed, equation, built_notes = _FEEDS_BUILDERS[layer.op](layer, weight, in_map)
    return {
        "schema": FEEDS_SCHEMA,
        **_connection_json(model, row, weight, fixed, equation, built_notes + notes, as_correlation, "out", outputs),
        "in": in_map,
        "in_maps": n_in,
        "out_maps": out_maps(layer),
        "outputs": outputs,
    }


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"


def _conv_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
    """Conv (grouped or not), transposed conv and dense: ``F[i, N]`` for the outputs of
    ``i``'s group."""
    import numpy as np

    groups = int(layer.attrs.get("groups") or 1)
    out_axis = weight.shape[weight.axis("out")]
    in_axis = weight.shape[weight.axis("in")]
    fixed: dict[str, int | slice]
    if layer.op == "conv_transpose":  # (in, out/groups, ...): every out on the axis is in i's group
        group = i // (in_axis // groups)
        first = group * out_axis
        per_group_out = out_axis
        fixed = {"in": i}
    else:  # (out, in/groups, ...): the in axis counts within a group
        group, within = divmod(i, in_axis)
        per_group_out = out_axis // groups
        first = group * per_group_out
        fixed = {"in": within, "out": slice(first, first + per_group_out)} if groups > 1 else {"in": within}
    slab, axes = _read(weight, fixed)
    outputs = _entries(range(first, first + per_group_out), np.moveaxis(slab, axes.index("out"), 0), key="out")
    span = _span(first, first + per_group_out - 1)
    notes = []
    if groups > 1:
        notes.append(f"grouped convolution ({groups} groups): input map {i} is in group {group}, feeding output maps {span} only")
    star = _operator(layer, notes)
    equation = f"out[N] += in[{i}] {star} {'W' if layer.op == 'dense' else 'F'}[{i},N]  for N = {span}"
    return outputs, fixed, equation, notes


def _depthwise_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
    """Depthwise: input map ``i`` feeds exactly output maps ``i*m .. i*m+m-1``."""
    m = depth_multiplier(layer, weight)
    first = i * m
    fixed: dict[str, int | slice]
    if "out" in weight.axes:  # TFLite (1, kh, kw, in*mult)
        fixed = {a: (slice(first, first + m) if a == "out" else 0) for a in weight.axes if a not in SPATIAL_AXES}
        along = "out"
    else:
        fixed = {"in": i}
        along = "mult"
    slab, axes = _read(weight, fixed)
    outputs = [_entry(first + k, _take(slab, axes, along, k)[0], key="out") for k in range(m)]
    span = _span(first, first + m - 1)
    notes = [f"depthwise convolution (depth multiplier {m}): input map {i} feeds output maps {span} only"]
    return outputs, fixed, f"out[N] = in[{i}] ⋆ F[{i},N]  for N = {span}", notes


def _separable_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
    """Separable: input map ``i`` goes through its depthwise filters ``D[j]``
    (``j = i*m .. i*m+m-1``), and each ``D[j]`` feeds every output map ``N`` with the
    pointwise weight ``P[j, N]``."""
    depthwise = layer.weight("depthwise_kernel")
    if depthwise is None:
        raise SelectionError(f"'{layer.name}' has no depthwise_kernel in the file")
    m = depthwise.shape[depthwise.axis("mult")]
    first = i * m
    d_slab, d_axes = _read(depthwise, {"in": i})
    fixed: dict[str, int | slice] = {"in": slice(first, first + m)}
    p_slab, p_axes = _read(weight, fixed)
    outputs = []
    for k in range(m):
        values, _ = _take(d_slab, d_axes, "mult", k)
        row = _take(p_slab, p_axes, "in", k)[0].reshape(-1)  # (1, ..., out) -> (out,)
        for n, p in enumerate(row):
            effective = values * p
            outputs.append(
                _entry(n, values, effective, key="out", via=first + k, pointwise=float(p), effective_filter=effective.tolist())
            )
    notes = [
        f"separable convolution: input map {i} goes through depthwise filter(s) D[{_span(first, first + m - 1)}] "
        f"({native_slice(depthwise, {'in': i})}), each mixed into every output map by a pointwise row P[j, :]; "
        "'filter' is D[j], 'pointwise' is P[j,N]"
    ]
    return outputs, fixed, f"out[N] += Σ_{{j={_span(first, first + m - 1)}}} P[j,N] · (in[{i}] ⋆ D[j])  for every N", notes


_FEEDS_BUILDERS = {
    "conv": _conv_feeds,
    "conv_transpose": _conv_feeds,
    "dense": _conv_feeds,
    "depthwise_conv": _depthwise_feeds,
    "separable_conv": _separable_feeds,
}
