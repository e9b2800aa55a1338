"""The ``filters`` report: what feeds one output map of one layer.

Output map ``N`` of a layer is ``act(b[N] + sum_i in[i] * F[i, N])``: one filter per
(input map, output map) pair. Which inputs take part depends on the operation (groups,
depthwise, separable, transposed, dense); which axis of the stored kernel holds ``N``
depends on the file's layout, and is found by axis name. Only the slice shown is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..core.connections import filter_weight, in_maps, kernel_size, out_maps
from ..core.model import Layer, Model, Row, Weight
from ..core.ops import spec
from ..core.ops.base import SPATIAL_AXES, Filters
from ..core.ops.slicing import native_slice
from ..core.quantize import DEQUANTIZED_NOTE, dequantize_layer
from ..core.infer import infer_shapes
from ..errors import SelectionError, UsageError
from .shapes import source_json, weight_json

if TYPE_CHECKING:
    from ..loaders.inputs import Prepared

SCHEMA = "cnninspect.filters/1"
FEEDS_SCHEMA = "cnninspect.feeds/1"
WHOLE_VECTOR = ("softmax", "log_softmax", "logsoftmax")  # activations of the whole vector, not of one map

def filters_report(
    model: Model, row: Row, out: int, as_correlation: bool = False, dequantize: bool = False
) -> dict[str, Any]:
    layer, weight, notes = _connected(row, dequantize)
    n_out = out_maps(layer)
    assert n_out is not None
    _check_map(row, "output", out, n_out)
    inputs, fixed, equation_terms, built_notes = _filters(layer).forward(layer, weight, out)
    bias = layer.weight("bias")
    bias_value = float(bias.read((out,))) if bias is not None else None
    bias_mark = _nonfinite_mark(bias_value)
    # Without an architecture the activation is not recorded anywhere: say so.
    activation = layer.activation or ("linear" if model.architecture else "act")
    if not model.architecture:
        built_notes.append("weights only: the activation 'act' is not recorded in this file")
    equation = _equation(out, activation, bias is not None, equation_terms)
    return {
        "schema": SCHEMA,
        **_connection_json(model, row, weight, fixed, equation, built_notes + notes, as_correlation, "in", inputs),
        "out": out,
        "out_maps": n_out,
        "bias": bias_value,
        **({"bias_nonfinite": bias_mark} if bias_mark else {}),
        "activation": activation,
        "inputs": inputs,
        # a lone array records no architecture: its bias and activation are unknown, not absent
        "architecture": model.architecture,
        **({"unflattened": unflat} if (unflat := _unflattened(model, row)) else {}),
    }


def _equation(out: int, activation: str, has_bias: bool, terms: str) -> str:
    """``out[n] = f(b[n] + Σ …)``; an activation over the whole vector (softmax) takes
    every map's sum: ``softmax(z)[n]`` with ``z_j = b[j] + Σ …[i,j]``."""
    if activation in WHOLE_VECTOR:
        b = "b[j] + " if has_bias else ""
        return f"out[{out}] = {activation}(z)[{out}], z_j = {b}{terms.replace(f',{out}]', ',j]')}"
    b = f"b[{out}] + " if has_bias else ""
    return f"out[{out}] = " + (f"{b}{terms}" if activation == "linear" else f"{activation}({b}{terms})")


def _filters(layer: Layer) -> Filters:
    """How the layer's op slices its filters (only layers with a filter weight get here)."""
    filters = spec(layer.op).filters
    assert filters is not None
    return filters


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
    _mark_nonfinite(entries)
    finite = [e for e in entries if math.isfinite(e["l1"])]
    ranking = sorted(finite, key=lambda e: -e["l1"])
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
        # maps whose filters hold NaN or Inf: no norm to rank them by
        "ranking_nonfinite": len(entries) - len(finite),
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
        n_in = in_maps(layer)
        columns = n_in * depthwise.shape[depthwise.axis("mult")] if depthwise is not None and n_in is not None else n_out
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
    assert weight is not None
    summary = layer_summary(row)
    build = _filters(layer).forward
    summary["filters"] = [{"out": n, "inputs": build(layer, weight, n)[0]} for n in range(summary["out_maps"])]
    return summary


def _dequantize(layer: Layer, asked: bool) -> list[str]:
    """With ``--dequantize``, make the layer's quantized weights read real values; the
    note that says what was done."""
    if not asked:
        return []
    dequantize_layer(layer)  # idempotent: a second map of the same layer finds it done
    if any(w.quantization for w in layer.weights):
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


def strongest(report: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The connections of a forward (``inputs``) or reverse (``outputs``) report with the
    ``n`` largest L1 norms, in map order (a separable layer's entries are told apart by
    their intermediate map ``via``)."""
    key = "in" if "inputs" in report else "out"

    def ident(entry: dict[str, Any]) -> tuple:
        return entry.get("via"), entry[key]

    entries = report["inputs" if key == "in" else "outputs"]
    chosen = {ident(e) for e in report["ranking"][:n]} | {ident(e) for e in entries if "nonfinite" in e}
    return [e for e in entries if ident(e) in chosen]


def _nonfinite_mark(value: float | None) -> str | None:
    if value is None or math.isfinite(value):
        return None
    return "nan" if math.isnan(value) else "+inf" if value > 0 else "-inf"


def _mark_nonfinite(entries: list[dict[str, Any]]) -> None:
    """Give an entry whose filter holds NaN or Inf a count of each (its values stay: JSON
    writes them as null, the views draw them with their own marks)."""
    import numpy as np

    for entry in entries:
        values = np.asarray(entry.get("effective_filter", entry.get("filter")), dtype=float)
        if np.isfinite(values).all():
            continue
        entry["nonfinite"] = {
            "nan": int(np.isnan(values).sum()),
            "+inf": int(np.isposinf(values).sum()),
            "-inf": int(np.isneginf(values).sum()),
        }


def _unflattened(model: Model, row: Row) -> dict[str, Any] | None:
    """For a dense layer fed by a Flatten: the shape the units came from, in the order
    the library flattened them, so that unit ``i`` is the row-major index into ``shape``."""
    layer = row.layer
    if layer.op != "dense" or not layer.calls or len(layer.calls[0].tensor_inputs) != 1:
        return None
    graph = _graph_of(model, row)
    ref = layer.calls[0].tensor_inputs[0]
    flatten = next((x for x in graph.layers if x.name == ref.layer), None)
    if flatten is None or flatten.op != "flatten" or flatten.attrs.get("axis", 1) != 1 or not flatten.calls or len(flatten.calls[0].tensor_inputs) != 1:
        return None
    source_ref = flatten.calls[0].tensor_inputs[0]
    source = next((x for x in graph.layers if x.name == source_ref.layer), None)
    shape = infer_shapes(graph).shape_of(source, source_ref)
    # Keras' Flatten(data_format='channels_first') moves the channels last before flattening
    last = True if flatten.config.get("data_format") == "channels_first" else _channels_last(graph, source)
    if shape is None or len(shape) != 4 or None in shape[1:] or last is None:
        return None
    dims = list(shape[1:])
    if flatten.config.get("data_format") == "channels_first":
        dims = [*dims[1:], dims[0]]
    return {"shape": dims, "axes": ["h", "w", "c"] if last else ["c", "h", "w"]}


def _graph_of(model: Model, row: Row) -> Any:
    """The graph that holds ``row``'s layer (the model's, or a nested container's; layer
    names may hold '/' themselves, so the path is not split)."""
    graphs = [model.graph] + [r.layer.graph for r in model.rows() if r.layer.graph is not None]
    return next(g for g in graphs if any(x is row.layer for x in g.layers))


def _channels_last(graph: Any, layer: Any) -> bool | None:
    """Whether a tensor is channels-last, from the nearest layer upstream that says."""
    seen = 0
    while layer is not None and seen < 10_000:
        if "channels_last" in layer.attrs:
            return bool(layer.attrs["channels_last"])
        refs = layer.calls[0].tensor_inputs if layer.calls else []
        layer = next((x for x in graph.layers if refs and x.name == refs[0].layer), None)
        seen += 1
    return None


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
    outputs, fixed, equation, built_notes = _filters(layer).reverse(layer, weight, in_map)
    return {
        "schema": FEEDS_SCHEMA,
        **_connection_json(model, row, weight, fixed, equation, built_notes + notes, as_correlation, "out", outputs),
        "in": in_map,
        "in_maps": n_in,
        "out_maps": out_maps(layer),
        "outputs": outputs,
    }


# The equation, live: the layer run on given inputs.

LIVE_OPS = ("conv", "depthwise_conv", "dense")


def live_filters_report(
    model: Model,
    row: Row,
    out: int,
    inputs: Sequence[Prepared],
    dtype: Any = "float32",
    save: Path | None = None,
    as_correlation: bool = False,
    dequantize: bool = False,
) -> tuple[dict[str, Any], LiveMaps]:
    """``filters_report`` with the equation computed on ``inputs``: every input map's
    contribution ``in[i] ⋆ F[i, n]`` (the layer's own stride, padding, dilation and
    groups), ranked by its L2; their sum plus the bias, the pre-activation; through the
    activation, output map ``n``, checked against the executor's output of the layer
    (its first call). ``save`` writes each as ``.npy``. Raises ``NotComputable`` where the
    network cannot run up to the layer."""
    import numpy as np

    from ..forward.run import Execution
    from .activations import input_json, stats

    report = filters_report(model, row, out, as_correlation, dequantize)
    layer = row.layer
    if layer.op not in LIVE_OPS:
        raise UsageError(f"--input: the live equation is computed for convolutions, depthwise convolutions and dense layers; '{row.path}' is a {layer.type}")
    execution = Execution(model, [p.array for p in inputs], dtype, watch=(), keep=())
    node = next((n for n in execution.plan.nodes if n.path == row.path), None)
    if node is None or not node.read:
        raise UsageError(f"--input: layer '{row.path}' is not called in the model's graph: nothing runs it")
    source = node.read[0]
    execution.keep = {source[:2], (node.path, node.call)}
    for _ in execution:
        pass
    x = execution.kept[source[:2]][source[2]]
    engine = execution.kept[(node.path, node.call)][0]
    live = _live(model, layer, x, out, np.dtype(dtype), report.get("unflattened"))
    channels_last = bool(layer.attrs.get("channels_last", True))
    real = engine[0][..., out] if channels_last or layer.op == "dense" else engine[0][out]
    notes = [n for p in inputs for n in p.notes] + execution.notes
    if len(layer.calls) > 1:
        notes.append(f"the layer is called {len(layer.calls)} times: its first call is shown")
    ranked = sorted(range(len(live.contributions)), key=lambda k: -live.l2[k])
    contributions = [
        {"in": live.ins[k], "sum": float(live.contributions[k].sum(dtype=np.float64)), "l2": live.l2[k],
         "max_abs": float(np.abs(live.contributions[k]).max()) if live.contributions[k].size else 0.0}
        for k in ranked
    ]  # fmt: skip
    diff = float(np.abs(live.output.astype(np.float64) - real.astype(np.float64)).max(initial=0.0))
    report.update(
        run_inputs=[input_json(model, i, p) for i, p in enumerate(inputs)],
        dtype=np.dtype(dtype).name,
        contributions=contributions,
        pre_activation={"shape": list(np.shape(live.pre)), "stats": stats(live.pre)},
        output={"shape": list(np.shape(live.output)), "stats": stats(live.output)},
        # relative to the terms' magnitudes, as float32 round-off of a sum grows with them
        self_check={"max_abs_diff": diff, "relative": diff / max(1.0, live.magnitude), "magnitude": live.magnitude,
                    "against": f"the executor's output of '{row.path}' (call {node.call}), map {out}"},
    )  # fmt: skip
    report["notes"] = report["notes"] + notes + live.notes
    if save is not None:
        _save_live(save, report, live, ranked)
    return report, LiveMaps(live.ins, live.inputs, live.filters, live.contributions, live.pre, live.output, ranked)


@dataclass
class LiveMaps:
    """The arrays of the live equation, for the picture: per input map (in the layer's
    order) its number, the input map, its filter and its contribution, then the
    pre-activation and the output."""

    ins: list[int]
    inputs: list[Any]
    filters: list[Any]
    contributions: list[Any]
    pre: Any
    output: Any
    ranked: list[int]  # positions into the lists above, strongest contribution first


@dataclass
class _Live:
    ins: list[int]  # the input maps' numbers
    inputs: list[Any]
    filters: list[Any]
    contributions: list[Any]
    l2: list[float]
    pre: Any
    output: Any
    notes: list[str]
    magnitude: float  # the largest |b| + Σ_i |contribution_i| over the map


def _live(model: Model, layer: Layer, x: Any, out: int, dtype: Any, unflattened: dict[str, Any] | None) -> _Live:
    """The contributions, pre-activation and output of map ``out`` for the first sample of ``x``."""
    import numpy as np

    from ..forward import conv, dense
    from ..forward import layers as fl
    from ..forward.run import read_weight

    step = fl.Step(layer, layer.calls[0], model.source, dtype.type, lambda role, order: read_weight(layer, role, order, dtype))
    bias = step.weight("bias", ("out",))
    b = bias[out] if bias is not None else dtype.type(0)
    notes: list[str] = []
    if layer.op == "dense":
        w = step.need("kernel", ("in", "out"))
        parts = np.moveaxis(dense.dense_contributions(x, w, out), -1, 0)  # (in, *middle)
        pre = (parts.sum(axis=0, dtype=np.float64) + b).astype(dtype)  # summed exactly, rounded once
        maps = np.moveaxis(x[0], -1, 0)
        filters = w[:, out]
        ins = list(range(parts.shape[0]))
        if unflattened is not None and x.ndim == 2:
            # the units back on their maps: one contribution per map of the flattened tensor
            axis = unflattened["axes"].index("c")
            parts = np.moveaxis(parts.reshape(unflattened["shape"]), axis, 0)
            maps = np.moveaxis(x[0].reshape(unflattened["shape"]), axis, 0)
            filters = np.moveaxis(w[:, out].reshape(unflattened["shape"]), axis, 0)
            ins = list(range(parts.shape[0]))
            notes.append(f"the {x.shape[1]} units come from a Flatten of {tuple(unflattened['shape'])} "
                         f"({', '.join(unflattened['axes'])}): one contribution per map c, summed over its units")  # fmt: skip
        linear = lambda: dense.dense(x[:1], w, bias)  # noqa: E731
        channels_last = True
    else:
        kernel, strides, dilation = fl.geometry(step)
        rank = step.attrs["rank"]
        channels_last = bool(step.attrs["channels_last"])
        if layer.op == "depthwise_conv":
            role = "kernel" if layer.weight("kernel") is not None else "depthwise_kernel"
            w = fl.depthwise_kernel(step, role)
            groups = x.shape[-1 if channels_last else 1]
        else:
            w = step.need("kernel", ("out", "in", *fl.spatial_order(rank)))
            groups = int(step.attrs.get("groups") or 1)
        pads = fl.window_pads(step, x, kernel, strides, dilation)
        parts = conv.conv_contributions(x, w, out, strides, dilation, pads, groups, channels_last)
        first = out // (w.shape[0] // groups) * w.shape[1]
        ins = list(range(first, first + w.shape[1]))
        filters = w[out]
        maps = np.moveaxis(x[0], -1, 0)[first : first + w.shape[1]] if channels_last else x[0][first : first + w.shape[1]]
        linear = lambda: conv.conv(x[:1], w, bias, strides, dilation, pads, groups, channels_last)  # noqa: E731
        pre = (parts.sum(axis=0, dtype=np.float64) + b).astype(dtype)
    name = step.attrs.get("activation")
    if name in WHOLE_VECTOR:
        z = linear()
        (z[0][..., out] if channels_last else z[0][out])[...] = pre
        full = fl.fused(step, z)[0]
        output = full[..., out] if channels_last else full[out]
    else:
        output = fl.fused(step, pre)
    flat = parts.reshape(parts.shape[0], -1).astype(np.float64)
    l2 = [float(v) for v in np.sqrt((flat * flat).sum(axis=1))]
    magnitude = float(np.abs(parts).sum(axis=0, dtype=np.float64).max(initial=0.0)) + abs(float(b))
    return _Live(ins, list(maps), list(filters), list(parts), l2, pre, np.asarray(output), notes, magnitude)


def _save_live(folder: Path, report: dict[str, Any], live: _Live, ranked: list[int]) -> None:
    """Each contribution, the pre-activation and the output as ``.npy``, named in
    ``report`` as the activations report names its files."""
    from .activations import make_dir, save_array

    make_dir(folder)
    layer = report["layer"]

    def save(part: str, a: Any) -> str:
        return save_array(folder, {"index": layer["index"], "path": f"{layer['path']}_out{report['out']}_{part}", "call": 0}, a)

    for entry, k in zip(report["contributions"], ranked):
        entry["saved"] = save(f"in{live.ins[k]}", live.contributions[k])
    report["pre_activation"]["saved"] = save("pre_activation", live.pre)
    report["output"]["saved"] = save("output", live.output)
