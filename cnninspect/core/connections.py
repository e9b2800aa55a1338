"""Which stored weight connects a layer's input maps to its output maps, read off the
weights' named axes: the same for every library."""

from __future__ import annotations

from .layouts import SPATIAL_AXES
from .model import Layer, Weight

# The weight whose ``out`` axis (or ``in`` x ``mult`` for depthwise) numbers the output maps.
FILTER_ROLES = {
    "conv": ("kernel", "weight"),
    "conv_transpose": ("kernel", "weight"),
    "depthwise_conv": ("depthwise_kernel", "kernel", "weight"),
    "separable_conv": ("pointwise_kernel",),
    "dense": ("kernel", "weight"),
}


def filter_weight(layer: Layer) -> Weight | None:
    for role in FILTER_ROLES.get(layer.op, ()):
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


def depth_multiplier(layer: Layer, weight: Weight) -> int:
    """Output maps per input map of a depthwise kernel: its ``mult`` axis, else the
    layer's ``depth_multiplier``."""
    if "mult" in weight.axes:
        return weight.shape[weight.axis("mult")]
    return int(layer.attrs.get("depth_multiplier") or 1)


def kernel_size(layer: Layer) -> list[int] | None:
    """Spatial kernel size in (depth, height, width) order, whatever the stored order."""
    weight = layer.weight("depthwise_kernel") if layer.op == "separable_conv" else filter_weight(layer)
    if weight is None:
        return None
    sizes = {a: weight.shape[i] for i, a in enumerate(weight.axes) if a in SPATIAL_AXES}
    return [sizes[a] for a in ("kd", "kh", "kw") if a in sizes] or None


def _groups(layer: Layer) -> int:
    return int(layer.attrs.get("groups") or 1)
