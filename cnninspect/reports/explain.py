"""``shapes --explain``: each layer's numbers as the arithmetic that gives them, with its
own numbers plugged in (a teaching aid: why a 3x3 conv of 32 maps onto 32 maps holds
9,248 params).

An explanation is plain data (the ``explain`` field of a layer in the shapes JSON)::

    {"output": [{"axis": "h", "value": 28, "text": "28 = ⌊(28 + 2·1 − 3) / 1⌋ + 1",
                 "padding": [1, 1], "note": "..."}],
     "params": {"value": 9248, "terms": [[3, 3, 32, 32], [32]], "text": "9,248 = 3·3·32·32 + 32",
                "why": "32 output maps, ..."},
     "macs": {"value": ..., "terms": [[28, 28, 32, 3, 3, 32]], "text": ...},
     "maps": "each of the 32 output maps is the sum of ..."}

``terms`` is a sum of products (``value`` is their sum); ``text`` is rendered from them.
Output lengths come from ``core/arithmetic`` (``conv_length``, ``transposed_length``); the
text writes the same formula with the layer's numbers. Each part is there only where
the layer has it and its numbers are known.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..core.arithmetic import ShapeError, conv_length, effective_kernel, product, spatial_split, transposed_length
from ..core.connections import in_maps, kernel_size, out_maps
from ..core.infer import Inference
from ..core.model import Graph, Layer, Shape, Weight

Explanation = dict[str, Any]
# A sum of products, each product written as groups of factors ("28·28·32 · 3·3·32").
Grouped = list[list[list[int]]]

CONVS = ("conv", "conv_transpose", "depthwise_conv", "separable_conv")
AXIS_NAMES = {1: ("length",), 2: ("h", "w"), 3: ("d", "h", "w")}
# Where each named weight axis goes when a kernel's size is written as a product.
FACTOR_ORDER = {"kd": 0, "kh": 1, "kw": 2, "in": 3, "mult": 4, "out": 5}


def explain_graph(graph: Graph, inferred: Inference) -> dict[int, Explanation]:
    """Every layer's explanation (nested layers too), by layer identity; a container's is
    empty (its layers have theirs)."""
    out: dict[int, Explanation] = {}
    by_name = {layer.name: layer for layer in graph.layers}
    for layer in graph.layers:
        if layer.graph is not None:
            out[id(layer)] = {}
            out.update(explain_graph(layer.graph, inferred))
            continue
        calls = inferred.output_shapes(layer)
        ins: list[Shape | None] = []
        if layer.calls:
            ins = inferred.call_inputs(layer, 0, by_name)
        producer = (
            by_name.get(layer.calls[0].tensor_inputs[0].layer) if layer.calls and layer.calls[0].tensor_inputs else None
        )
        outs = calls[0] if calls else []
        out[id(layer)] = explain_layer(layer, ins, outs, producer, single_call=len(layer.calls) == 1)
    return out


def explain_layer(
    layer: Layer,
    ins: Sequence[Shape | None],
    outs: Sequence[Shape | None],
    producer: Layer | None = None,
    single_call: bool = True,
) -> Explanation:
    """The explanation of one layer's first call (its MACs only when it has one call)."""
    found: Explanation = {}
    data = ins[0] if len(ins) == 1 else None
    result = outs[0] if len(outs) == 1 else None
    output = _output(layer, data, result, producer) if data is not None and result is not None else None
    if output:
        found["output"] = output
    if any(w.parameter and not w.buffer for w in layer.weights):  # operands and buffers are not params
        found["params"] = _params(layer)
    macs = _macs(layer, data, result) if single_call and data is not None and result is not None else None
    if macs is not None:
        found["macs"] = macs
    maps = _maps_sentence(layer)
    if maps:
        found["maps"] = maps
    return found


# ---------------------------------------------------------------------------------------
# Sums of products, and how they read


def sum_of_products(grouped: Grouped, why: str | None = None) -> Explanation:
    """``{"value", "terms", "text"}`` (and ``why``) of a sum of products."""
    terms = [[f for group in term for f in group] for term in grouped]
    value = sum(product(t) or 0 for t in terms)
    text = f"{value:,} = " + " + ".join(_product_text(term) for term in _collapse(grouped))
    return {"value": value, "terms": terms, "text": text, **({"why": why} if why else {})}


def _product_text(term: list[list[int]]) -> str:
    groups = [g for g in term if g]
    return " · ".join("·".join(str(f) for f in g) for g in groups) if groups else "1"


def _collapse(grouped: Grouped) -> Grouped:
    """Equal products written once with their count: ``4·32``, not ``32 + 32 + 32 + 32``."""
    out: Grouped = []
    counts: list[int] = []
    for term in grouped:
        if term in out:
            counts[out.index(term)] += 1
        else:
            out.append(term)
            counts.append(1)
    return [[[n, *term[0]], *term[1:]] if n > 1 and term else term for term, n in zip(out, counts)]


# ---------------------------------------------------------------------------------------
# Output lengths


def _output(layer: Layer, data: Shape, result: Shape, producer: Layer | None) -> list[Explanation] | None:
    if layer.op in ("conv", "depthwise_conv", "separable_conv", "pool"):  # sliding windows
        # ceil_mode rounds up, with its own rule for the last window: not this formula
        return None if layer.attrs.get("ceil_mode") else _sliding(layer, data, conv_axis)
    if layer.op == "conv_transpose" and not layer.attrs.get("output_shape"):
        return _sliding(layer, data, transposed_axis)
    if layer.op == "flatten" and layer.attrs.get("axis", 1) == 1 and result[1:] and result[1] is not None:
        dims, axes = list(data[1:]), _data_axes(producer, len(data))
        if layer.config.get("data_format") == "channels_first" and len(dims) > 1:  # Keras moves axis 1 last first
            dims, axes = [*dims[1:], dims[0]], axes and [*axes[1:], axes[0]]
        return [_flattened(dims, result[1], axes)]
    if layer.op == "flatten" and result[-1] is not None:  # ONNX Flatten around another axis
        axis = layer.attrs.get("axis", 1) % (len(data) + 1)
        named = _data_axes(producer, len(data))
        return [_flattened(data[axis:], result[-1], named[axis - 1 :] if named and axis else None)]
    return None


AxisRule = Callable[[str, int, int, int, int, Any, Optional[int]], Explanation]


def _sliding(layer: Layer, data: Shape, rule: AxisRule) -> list[Explanation] | None:
    """Per spatial axis of a sliding window, the output length as ``rule`` explains it."""
    attrs = layer.attrs
    rank = attrs.get("rank")
    if not rank or "kernel_size" not in attrs:
        return None
    try:
        spatial, _ = spatial_split(data, rank, attrs["channels_last"])
    except ShapeError:
        return None
    sizes = attrs["kernel_size"]
    strides = attrs.get("strides") or sizes
    dilation = attrs.get("dilation") or (1,) * rank
    padding = attrs.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    extra = attrs.get("output_padding") or (None,) * rank
    found = []
    for name, n, k, s, d, p, op in zip(AXIS_NAMES[rank], spatial, sizes, strides, dilation, pads, extra):
        if n is not None:
            found.append(rule(name, n, k, s, d, tuple(p) if isinstance(p, list) else p, op))
    return found or None


def conv_axis(name: str, n: int, k: int, s: int, d: int, padding: Any, _: int | None) -> Explanation:
    """``out = ⌊(n + before + after − eff) / s⌋ + 1``; 'same' and 'causal' padding as the
    per-side amounts they imply ('same' as TensorFlow and PyTorch split it: an odd total
    puts the extra one at the end; 'causal' all before)."""
    value = conv_length(n, k, s, d, padding)
    assert value is not None
    eff = effective_kernel(k, d)
    if padding == "same":
        total = max((value - 1) * s + eff - n, 0)
        before, after = total // 2, total - total // 2
    elif padding == "causal":
        before, after = eff - 1, 0
    elif padding == "valid":
        before = after = 0
    elif padding == "full":
        before = after = eff - 1
    else:
        before, after = padding
    pads = f" + 2·{before}" if before == after and before else f" + {before} + {after}" if before or after else ""
    window = str(k) if d == 1 else f"({d}·({k} − 1) + 1)"
    found: Explanation = {
        "axis": name,
        "value": value,
        "text": f"{value} = ⌊({n}{pads} − {window}) / {s}⌋ + 1",
        "padding": [before, after],
    }
    if isinstance(padding, str) and padding != "valid":
        found["note"] = f"padding '{padding}' adds {before} before and {after} after" + (
            " (an odd total puts the extra one at the end)" if padding == "same" and before != after else ""
        )
    return found


def transposed_axis(name: str, n: int, k: int, s: int, d: int, padding: Any, output_padding: int | None) -> Explanation:
    """A transposed convolution's length: Keras' rule without ``output_padding``, else
    ``(n − 1)·s + eff − pads + output_padding``."""
    value = transposed_length(n, k, s, d, padding, output_padding)
    assert value is not None
    eff = effective_kernel(k, d)
    window = str(k) if d == 1 else f"({d}·({k} − 1) + 1)"
    if output_padding is None and padding == "valid":
        text = f"{n}·{s} + max({window} − {s}, 0)"
    elif output_padding is None and padding == "same":
        text = f"{n}·{s}"
    elif output_padding is None and padding == "full":
        text = f"{n}·{s} − ({s} + {window} − 2)"
    else:
        if isinstance(padding, tuple):
            before, after = padding
        else:  # what transposed_length takes off each side
            before = after = {"same": eff // 2, "valid": 0, "full": eff - 1}[padding]
        pads = f" − 2·{before}" if before == after and before else "".join(f" − {p}" for p in (before, after) if p)
        extra = f" + {output_padding}" if output_padding else ""
        text = f"({n} − 1)·{s} + {window}{pads}{extra}"
    return {"axis": name, "value": value, "text": f"{value} = {text}"}


def _data_axes(producer: Layer | None, ndim: int) -> list[str] | None:
    """The names of a tensor's axes after the batch, where its producer's layout says them."""
    attrs = producer.attrs if producer is not None else {}
    rank = attrs.get("rank")
    if not isinstance(rank, int) or rank + 2 != ndim or "channels_last" not in attrs:
        return None
    spatial = list(AXIS_NAMES[rank])
    return [*spatial, "c"] if attrs["channels_last"] else ["c", *spatial]


def _flattened(dims: Sequence[int | None], value: int, axes: list[str] | None) -> Explanation:
    known = [d for d in dims if d is not None]
    order = f"({', '.join(axes)})" if axes and len(axes) == len(dims) else "stored"
    return {
        "axis": "flat",
        "value": value,
        "terms": [known],
        "text": f"{value} = " + "·".join(str(d) for d in known),
        "note": f"flattened in {order} order, the last axis varying fastest",
    }


# ---------------------------------------------------------------------------------------
# Params


def _weight_factors(weight: Weight) -> list[int]:
    """A weight's dims, spatial first, then in, mult and out (``3·3·32·32`` whatever the layout)."""
    named = sorted(
        range(len(weight.shape)), key=lambda i: FACTOR_ORDER.get(weight.axes[i], 6) if i < len(weight.axes) else 6
    )
    return [weight.shape[i] for i in named]


def _params(layer: Layer) -> Explanation:
    grouped: Grouped = [[_weight_factors(w)] for w in layer.weights if w.parameter and not w.buffer]  # as params count
    return sum_of_products(grouped, _params_why(layer))


def _params_why(layer: Layer) -> str:
    n_in, n_out = in_maps(layer), out_maps(layer)
    bias = ", plus a bias" if layer.weight("bias") is not None else ""
    groups = int(layer.attrs.get("groups") or 1)
    if n_in is not None and n_out is not None:
        if layer.op == "conv":
            within = f" of its group ({groups} groups)" if groups > 1 else ""
            return f"{n_out} output maps, each the sum of {_count(n_in // groups, 'filtered input map')}{within}{bias}"
        if layer.op == "conv_transpose":
            within = f" of its group ({groups} groups)" if groups > 1 else ""
            return f"{n_in} input maps, each scattering a filter into {_count(n_out // groups, 'output map')}{within}{bias}"
        if layer.op == "depthwise_conv":
            return f"{n_out} output maps, each one input map filtered{bias}"
        if layer.op == "separable_conv":
            return f"a filter per input map ({n_in}), then a 1×1 mix of them into {n_out} output maps{bias}"
        if layer.op == "dense":
            return f"{n_out} outputs, each a weighted sum of {n_in} inputs{bias}"
    roles = ", ".join(w.role for w in layer.weights if w.parameter and not w.buffer)
    return f"per channel: {roles}" if layer.op == "batch_norm" else f"one term per stored weight: {roles}"


# ---------------------------------------------------------------------------------------
# MACs: the product the cost rule counts (core/ops: one MAC per weight per output position)


def _positions(shape: Shape) -> list[int]:
    """A tensor's dims, its batch left out when it is one sample (or unknown, which counts as one)."""
    return [d for i, d in enumerate(shape) if d is not None and not (i == 0 and d == 1)]


def _macs(layer: Layer, data: Shape, result: Shape) -> Explanation | None:
    if None in data[1:] or None in result[1:]:
        return None
    if layer.op == "dense":
        inner = data[-1]
        return None if inner is None else sum_of_products([[_positions(result), [inner]]])
    attrs = layer.attrs
    if layer.op not in CONVS or "rank" not in attrs or "kernel_size" not in attrs:
        return None
    window = list(attrs["kernel_size"])
    groups = int(attrs.get("groups") or 1)
    try:
        _, c_in = spatial_split(data, attrs["rank"], attrs["channels_last"])
        spatial_out, c_out = spatial_split(result, attrs["rank"], attrs["channels_last"])
    except (KeyError, ShapeError):
        return None
    if c_in is None or c_out is None:
        return None
    if layer.op == "conv":
        return sum_of_products([[_positions(result), [*window, c_in // groups]]])
    if layer.op == "conv_transpose":
        return sum_of_products([[_positions(data), [*window, c_out // groups]]])
    if layer.op == "depthwise_conv":
        return sum_of_products([[_positions(result), window]])
    middle = c_in * int(layer.attrs.get("depth_multiplier") or 1)  # separable: depthwise, then 1x1
    places = _positions((result[0], *spatial_out))
    return sum_of_products([[places, [middle], window], [_positions(result), [middle]]])


# ---------------------------------------------------------------------------------------
# The sentence that answers "why 32 x 32?"


def _maps_sentence(layer: Layer) -> str | None:
    n_in, n_out, kernel = in_maps(layer), out_maps(layer), kernel_size(layer)
    if n_in is None or n_out is None:
        return None
    if layer.op == "dense":
        return f"each of the {n_out} outputs is a weighted sum of all {n_in} inputs: {n_in}·{n_out} weights, one per (input, output) pair"
    if kernel is None:
        return None
    size = "×".join(str(k) for k in kernel) if len(kernel) > 1 else f"size {kernel[0]}"
    groups = int(layer.attrs.get("groups") or 1)
    if layer.op == "conv":
        per = n_in // groups
        within = f" of its group ({groups} groups of {per})" if groups > 1 else ""
        not_maps = f", not {n_out} × {per} maps" if per > 1 else ""
        return (
            f"each of the {n_out} output maps is the sum of {_count(per, 'filtered input map')}{within}: "
            f"{n_out}·{per} filters of {size}{not_maps}"
        )
    if layer.op == "conv_transpose":
        per = n_out // groups
        within = f" of its group ({groups} groups)" if groups > 1 else ""
        return f"each of the {n_in} input maps scatters a filter of {size} into each of {_count(per, 'output map')}{within}: {n_in}·{per} filters of {size}"
    if layer.op == "depthwise_conv":
        m = n_out // n_in if n_in else 1
        return f"each input map is filtered on its own ({_count(m, 'filter')} of {size} each): {n_out} output maps from {n_in} input maps, no sums across maps"
    if layer.op == "separable_conv":
        return f"each of the {n_in} input maps is filtered on its own (a filter of {size}), then each of the {n_out} output maps is a weighted sum of those maps (1×1)"
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
