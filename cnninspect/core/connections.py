"""Which stored weight connects a layer's input maps to its output maps, read off the
weights' named axes: the same for every library."""

from __future__ import annotations

from .model import Layer, Weight
from .ops import SPECS
from .ops.base import SPATIAL_AXES
from .ops.conv import depth_multiplier


def filter_weight(layer: Layer) -> Weight | None:
    """The weight whose ``out`` axis (or ``in`` x ``mult`` for depthwise) numbers the
    output maps: the first of the op spec's filter roles the layer stores."""
    own = SPECS.get(layer.op)
    for role in own.filters.roles if own is not None and own.filters is not None else ():
        weight = layer.weight(role)
        if weight is not None and ("out" in weight.axes or "mult" in weight.axes):
            return weight
    return None


def out_maps(layer: Layer) -> int | None:
    weight = filter_weight(layer)
    if weight is None:
        return None
    if "out" in weight.axes:
        n = weight.shape[weight.axis("out")]
        return n * _groups(layer) if layer.op == "conv_transpose" else n
    return weight.shape[weight.axis("in")] * weight.shape[weight.axis("mult")]


def in_maps(layer: Layer) -> int | None:
    """Input maps (channels, or units for a dense layer) the layer reads. A depthwise
    kernel without an ``in`` axis (TFLite's ``(1, kh, kw, in*mult)``) holds
    ``in * depth_multiplier`` output maps."""
    weight = layer.weight("depthwise_kernel") if layer.op == "separable_conv" else filter_weight(layer)
    if weight is None:
        return None
    if "in" not in weight.axes:
        n_out = out_maps(layer)
        return n_out // depth_multiplier(layer, weight) if layer.op == "depthwise_conv" and n_out else None
    n = weight.shape[weight.axis("in")]
    return n * _groups(layer) if layer.op == "conv" else n


def kernel_size(layer: Layer) -> list[int] | None:
    """Spatial kernel size in (depth, height, width) order, whatever the stored order."""
    weight = layer.weight("depthwise_kernel") if layer.op == "separable_conv" else filter_weight(layer)
    if weight is None:
        return None
    sizes = {a: weight.shape[i] for i, a in enumerate(weight.axes) if a in SPATIAL_AXES}
    return [sizes[a] for a in ("kd", "kh", "kw") if a in sizes] or None


def _groups(layer: Layer) -> int:
    return int(layer.attrs.get("groups") or 1)
