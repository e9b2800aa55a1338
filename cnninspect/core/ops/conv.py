"""Convolutions: ``conv`` (grouped or not), ``depthwise_conv``, ``separable_conv`` and
``conv_transpose``; with each, its shape, cost, receptive step, stored roles and filters.

Output map ``N`` of a convolution is ``act(b[N] + sum_i in[i] ⋆ F[i, N])``: one filter per
(input map, output map) pair. Which inputs take part depends on the kind (groups,
depthwise, separable, transposed); which axis of the stored kernel holds ``N`` depends on
the layout, and is found by axis name.
"""

from __future__ import annotations

from typing import Sequence

from ...errors import SelectionError
from ..arithmetic import spatial_join, spatial_split, transposed_length
from ..fields import end_step, slide_step
from ..model import Call, Layer, Shape, Weight
from ...forward import lazy
from .base import (
    RuleContext,
    SPATIAL,
    SPATIAL_AXES,
    Attrs,
    Count,
    Filters,
    OpSpec,
    channels,
    elements,
    finish,
    one_input,
    one_known,
    register,
    sliding,
    window,
)
from .slicing import entries, entry, native_slice, read, span, take

S = SPATIAL
BIAS = {"bias": {"*": (("out",),)}}

# ---------------------------------------------------------------------------------------
# Shapes


def conv_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    return [sliding(attrs, one_input(inputs), attrs["filters"])]


def depthwise_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    _, n = spatial_split(shape, attrs["rank"], attrs["channels_last"])
    out_channels = None if n is None else n * attrs.get("depth_multiplier", 1)
    return [sliding(attrs, shape, out_channels)]


def conv_transpose_shape(attrs: Attrs, inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    rank, last = attrs["rank"], attrs["channels_last"]
    if attrs.get("output_shape"):  # Keras 1 Deconvolution2D states its output
        return [(shape[0], *attrs["output_shape"][1:])]
    spatial, _ = spatial_split(shape, rank, last)
    dilation = attrs.get("dilation") or (1,) * rank
    out_pad = attrs.get("output_padding") or (None,) * rank
    padding = attrs.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    out = tuple(
        transposed_length(n, k, s, d, p, op)
        for n, k, s, d, p, op in zip(spatial, attrs["kernel_size"], attrs["strides"], dilation, pads, out_pad)
    )
    return [spatial_join(shape[0], out, attrs["filters"], last)]


# ---------------------------------------------------------------------------------------
# Costs


def conv_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    groups = int(layer.attrs.get("groups") or 1)
    macs = elements(outs[0]) * window(layer) * (channels(layer, one_known(ins)) // groups)
    return finish(layer, macs, outs)


def conv_transpose_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    groups = int(layer.attrs.get("groups") or 1)
    macs = elements(one_known(ins)) * window(layer) * (channels(layer, outs[0]) // groups)
    return finish(layer, macs, outs)


def depthwise_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    return finish(layer, elements(outs[0]) * window(layer), outs)


def separable_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Depthwise (``in x mult`` intermediate maps) then pointwise (1x1 over them)."""
    middle = channels(layer, one_known(ins)) * int(layer.attrs.get("depth_multiplier") or 1)
    positions = elements(outs[0]) // channels(layer, outs[0])
    macs = positions * middle * window(layer) + elements(outs[0]) * middle
    return finish(layer, macs, outs)


# ---------------------------------------------------------------------------------------
# Filters: forward (what feeds output map N) and reverse (what input map i feeds)


def depth_multiplier(layer: Layer, weight: Weight) -> int:
    """Output maps per input map of a depthwise kernel: its ``mult`` axis, else the
    layer's ``depth_multiplier``."""
    if "mult" in weight.axes:
        return weight.shape[weight.axis("mult")]
    return int(layer.attrs.get("depth_multiplier") or 1)


def operator(layer: Layer, notes: list[str]) -> str:
    """How an input map meets its filter: ``·`` (dense), ``⋆ᵀ`` (transposed, with the
    note that says what it means) or ``⋆`` (cross-correlation)."""
    if layer.op == "dense":
        return "·"
    if layer.op == "conv_transpose":
        notes.append("⋆ᵀ is a transposed convolution: each input value scatters F[i,N] into the output")
        return "⋆ᵀ"
    return "⋆"


def conv_filters(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Conv (grouped or not), transposed conv and dense: ``F[i, N]`` for the group's inputs."""
    import numpy as np

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
    slab, axes = read(weight, fixed)
    inputs = entries(range(first, first + per_group_in), np.moveaxis(slab, axes.index("in"), 0))
    notes = []
    if groups > 1:
        notes.append(
            f"grouped convolution ({groups} groups): output map {out} is in group {group}, "
            f"fed by input maps {first}-{first + per_group_in - 1} only"
        )
    star = operator(layer, notes)
    if layer.op == "dense":
        terms = f"Σ_i in[i] · W[i,{out}]"
    else:
        terms = f"Σ_{{i={first}..{first + per_group_in - 1}}} in[i] {star} F[i,{out}]"
    return inputs, fixed, terms, notes


def conv_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
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
    slab, axes = read(weight, fixed)
    outputs = entries(range(first, first + per_group_out), np.moveaxis(slab, axes.index("out"), 0), key="out")
    spanned = span(first, first + per_group_out - 1)
    notes = []
    if groups > 1:
        notes.append(f"grouped convolution ({groups} groups): input map {i} is in group {group}, feeding output maps {spanned} only")
    star = operator(layer, notes)
    equation = f"out[N] += in[{i}] {star} {'W' if layer.op == 'dense' else 'F'}[{i},N]  for N = {spanned}"
    return outputs, fixed, equation, notes


def depthwise_filters(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Depthwise: exactly one input map, ``N // depth_multiplier``. The kernel has ``in``
    and ``mult`` axes, or (TFLite) one ``out`` axis of ``in * mult`` maps."""
    m = depth_multiplier(layer, weight)
    i, j = divmod(out, m)
    fixed: dict[str, int | slice]
    if "out" in weight.axes:
        fixed = {a: (out if a == "out" else 0) for a in weight.axes if a not in SPATIAL_AXES}
    else:
        fixed = {"in": i, "mult": j}
    values, _ = read(weight, fixed)
    notes = [f"depthwise convolution (depth multiplier {m}): output map {out} sees input map {i} only"]
    return [entry(i, values)], fixed, f"in[{i}] ⋆ F[{i},{out}]", notes


def depthwise_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
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
    slab, axes = read(weight, fixed)
    outputs = [entry(first + k, take(slab, axes, along, k)[0], key="out") for k in range(m)]
    spanned = span(first, first + m - 1)
    notes = [f"depthwise convolution (depth multiplier {m}): input map {i} feeds output maps {spanned} only"]
    return outputs, fixed, f"out[N] = in[{i}] ⋆ F[{i},N]  for N = {spanned}", notes


def _depthwise_of(layer: Layer) -> Weight:
    depthwise = layer.weight("depthwise_kernel")
    if depthwise is None:
        raise SelectionError(f"'{layer.name}' has no depthwise_kernel in the file")
    return depthwise


def separable_filters(layer: Layer, weight: Weight, out: int) -> tuple[list, dict, str, list[str]]:
    """Separable: each input map through its depthwise filter(s), mixed by the pointwise
    column ``N``. The effective filter from input ``i`` is the pointwise-weighted sum."""
    depthwise = _depthwise_of(layer)
    fixed: dict[str, int | slice] = {"out": out}
    column, _ = read(weight, fixed)
    column = column.reshape(-1)  # pointwise (1, ..., in*m) -> (in*m,)
    dw_all = depthwise.read(())
    dw_axes = depthwise.axes
    m = depthwise.shape[depthwise.axis("mult")]
    inputs = []
    for j, p in enumerate(column):
        i, k = divmod(j, m)
        values, rest = take(dw_all, dw_axes, "in", i)
        values, _ = take(values, rest, "mult", k)
        effective = values * p
        inputs.append(entry(i, values, effective, via=j, pointwise=float(p), effective_filter=effective.tolist()))
    notes = [
        f"separable convolution: depthwise stage (multiplier {m}) then pointwise mix; "
        f"'filter' is the depthwise filter D[j] of intermediate map j = i*{m}+k, 'pointwise' is P[j,{out}]"
    ]
    return inputs, fixed, f"Σ_j P[j,{out}] · (in[j // {m}] ⋆ D[j])", notes


def separable_feeds(layer: Layer, weight: Weight, i: int) -> tuple[list, dict, str, list[str]]:
    """Separable: input map ``i`` goes through its depthwise filters ``D[j]``
    (``j = i*m .. i*m+m-1``), and each ``D[j]`` feeds every output map ``N`` with the
    pointwise weight ``P[j, N]``."""
    depthwise = _depthwise_of(layer)
    m = depthwise.shape[depthwise.axis("mult")]
    first = i * m
    d_slab, d_axes = read(depthwise, {"in": i})
    fixed: dict[str, int | slice] = {"in": slice(first, first + m)}
    p_slab, p_axes = read(weight, fixed)
    outputs = []
    for k in range(m):
        values, _ = take(d_slab, d_axes, "mult", k)
        row = take(p_slab, p_axes, "in", k)[0].reshape(-1)  # (1, ..., out) -> (out,)
        for n, p in enumerate(row):
            effective = values * p
            outputs.append(
                entry(n, values, effective, key="out", via=first + k, pointwise=float(p), effective_filter=effective.tolist())
            )
    notes = [
        f"separable convolution: input map {i} goes through depthwise filter(s) D[{span(first, first + m - 1)}] "
        f"({native_slice(depthwise, {'in': i})}), each mixed into every output map by a pointwise row P[j, :]; "
        "'filter' is D[j], 'pointwise' is P[j,N]"
    ]
    return outputs, fixed, f"out[N] += Σ_{{j={span(first, first + m - 1)}}} P[j,N] · (in[{i}] ⋆ D[j])  for every N", notes


CONV_FILTERS = Filters(("kernel",), conv_filters, conv_feeds)
KERNEL = {"weight": "kernel"}  # PyTorch's, ONNX's and TFLite's word

register(
    OpSpec(
        "conv",
        conv_shape,
        conv_cost,
        slide_step,
        roles={
            "kernel": {"keras": ((S, "in", "out"),), "keras-th": (("out", "in", S),), "torch": (("out", "in", S),),
                       "tflite": (("out", "kh", "kw", "in"),)},
            "weight": {"torch": (("out", "in", S),), "tflite": (("out", "kh", "kw", "in"),)},
            **BIAS,
        },  # fmt: skip
        aliases=KERNEL,
        filters=CONV_FILTERS,
        spatial_kernels=True,
        forward=lazy("conv_layer"),
        doc="convolution (cross-correlation), grouped or not",
    ),
    OpSpec(
        "conv_transpose",
        conv_transpose_shape,
        conv_transpose_cost,
        end_step,
        roles={
            "kernel": {"keras": ((S, "out", "in"),), "keras-th": (("out", "in", S),), "torch": (("in", "out", S),)},
            "weight": {"torch": (("in", "out", S),)},
            **BIAS,
        },
        aliases=KERNEL,
        filters=CONV_FILTERS,
        spatial_kernels=True,
        forward=lazy("conv_transpose_layer"),
        doc="transposed convolution: each input value scatters its kernel into the output",
    ),
    OpSpec(
        "depthwise_conv",
        depthwise_shape,
        depthwise_cost,
        slide_step,
        roles={
            "kernel": {"keras": ((S, "in", "mult"),), "torch": (("out", "in", S),), "tflite": (("d0", "kh", "kw", "out"),)},
            "weight": {"torch": (("out", "in", S),), "tflite": (("d0", "kh", "kw", "out"),)},
            **BIAS,
        },
        aliases=KERNEL,
        filters=Filters(("depthwise_kernel", "kernel"), depthwise_filters, depthwise_feeds),
        spatial_kernels=True,
        forward=lazy("depthwise_layer"),
        doc="depthwise convolution: each input map through its own depth_multiplier filters",
    ),
    OpSpec(
        "separable_conv",
        conv_shape,
        separable_cost,
        slide_step,
        roles=BIAS,
        filters=Filters(("pointwise_kernel",), separable_filters, separable_feeds),
        spatial_kernels=True,
        forward=lazy("separable_layer"),
        doc="depthwise then pointwise (1x1) convolution",
    ),
)
