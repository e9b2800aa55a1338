"""What each neutral op kind computes on a layer call: the kernels of this package bound
to a layer's attrs, config and weights.

Every function here is an op spec's ``forward`` (``core/ops``, each spec names its own
through :func:`cnninspect.forward.lazy`): ``forward(step, inputs) -> outputs``, where
``step`` is the :class:`Step` the executor (``run.py``) hands it: the layer, the call,
its weights already in the kernels' neutral layouts, and the computation's dtype.

A forward that meets a configuration it does not know raises :class:`NotComputable`
with the reason: the executor stops there, and never reports a wrong number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..core.model import Call, Layer, Source
from ..core.ops import shape as shape_rules
from ..core.ops.base import RuleContext
from . import activations, conv, dense, norm, pool, resize, tensor
from ._window import channel_axis, spatial_axes


class NotComputable(ValueError):
    """This layer call cannot be computed here (an op or a configuration with no forward)."""


@dataclass
class Step:
    """One layer call as a forward function sees it."""

    layer: Layer
    call: Call
    source: Source  # the writing library decides some defaults (Keras 3's hard_sigmoid)
    dtype: Any  # np.float32 or np.float64
    weight: Callable[[str, Sequence[str]], Optional[np.ndarray]]  # (role, neutral axis order) -> array or None
    # An operand's stored value (ONNX Constant outputs, read through the loader's hooks).
    constant: Callable[[], Optional[np.ndarray]] = field(default=lambda: None)

    @property
    def attrs(self) -> dict[str, Any]:
        return self.layer.attrs

    @property
    def config(self) -> dict[str, Any]:
        return self.layer.config

    def need(self, role: str, order: Sequence[str]) -> np.ndarray:
        found = self.weight(role, order)
        if found is None:
            raise NotComputable(f"its weight '{role}' is not stored")
        return found

    def scalar(self, value: Any) -> Any:
        return np.asarray(value, dtype=self.dtype)


Arrays = list[np.ndarray]
# The slope of a leaky ReLU whose file does not state it: Keras' LeakyReLU layer 0.3, ONNX
# LeakyRelu 0.01, Keras' leaky_relu activation function 0.2.
LEAKY_DEFAULTS = {"LeakyReLU": 0.3, "LeakyRelu": 0.01}

# --------------------------------------------------------------------------------------
# Activations (fused ones too)


def _apply(step: Step, name: Optional[str], x: np.ndarray) -> np.ndarray:
    """The activation ``name`` with the file's own parameters (from the layer's config)."""
    if name in (None, "linear", "identity"):
        return x
    c = step.config
    if name == "relu":
        slope = float(c.get("negative_slope") or 0.0)
        return activations.relu(x, c.get("max_value"), slope, float(c.get("threshold") or 0.0))
    if name in ("leaky_relu", "leakyrelu"):
        alpha = c.get("negative_slope", c.get("alpha"))
        return activations.leaky_relu(x, float(LEAKY_DEFAULTS.get(step.layer.type, 0.2) if alpha is None else alpha))
    if name == "elu":
        return activations.elu(x, float(c.get("alpha", 1.0)))
    if name in ("softmax", "log_softmax", "logsoftmax"):
        axis = c.get("axis", -1)
        if isinstance(axis, list):
            if len(axis) != 1:
                raise NotComputable(f"a softmax over axes {axis} has no forward")
            axis = axis[0]
        if step.source.format == "onnx" and x.ndim > 2 and axis % x.ndim != x.ndim - 1:
            raise NotComputable("an ONNX Softmax not over the last axis: its meaning depends on the opset")
        normalise = activations.softmax if name == "softmax" else activations.log_softmax
        return normalise(x, axis=axis)
    if name == "hardsigmoid":  # ONNX
        return activations.hard_sigmoid(x, float(c.get("alpha", 0.2)), float(c.get("beta", 0.5)))
    if name == "thresholdedrelu":  # ONNX
        return np.where(x > step.scalar(c.get("alpha", 1.0)), x, step.scalar(0))
    if name == "celu":  # ONNX
        alpha = step.scalar(c.get("alpha", 1.0))
        return np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha))
    if name == "mish":
        return x * np.tanh(activations.softplus(x))
    if name in ONNX_UNARY:
        return ONNX_UNARY[name](x)
    if name == "hard_sigmoid":
        return activations.hard_sigmoid(x, 1 / 6, 0.5) if _keras3(step) else activations.hard_sigmoid(x)
    if name == "gelu":  # Keras: approximate True/False; ONNX: "none" or "tanh"
        approximate = c.get("approximate", False)
        return activations.gelu(x, approximate is True or approximate == "tanh")
    if name == "rescale":
        return x * step.scalar(c.get("scale", 1.0)) + step.scalar(c.get("offset", 0.0))
    if name in ("prelu",):
        alpha = step.need("alpha", ())
        if step.layer.type == "PReLU" and alpha.ndim == x.ndim - 1:  # Keras: the input's shape, no batch
            return activations.prelu(x, alpha)
        # PyTorch/ONNX: one slope per channel (or one), along axis 1
        shape = [1] * x.ndim
        if alpha.size > 1:
            shape[1] = alpha.size
        return activations.prelu(x, alpha.reshape(shape))
    if name in ("quantize", "dequantize"):  # the computation stays in real numbers
        return x
    kernel = activations.ACTIVATIONS.get(name)
    if kernel is None:
        raise NotComputable(f"activation '{name}' has no forward")
    return kernel(x)


def _keras3(step: Step) -> bool:
    return step.source.library == "keras" and str(step.source.library_version or "").startswith("3")


def fused(step: Step, x: np.ndarray) -> np.ndarray:
    name = step.attrs.get("activation")
    return _apply(step, name if isinstance(name, str) else None, x)


# ONNX's element-wise functions that are plain NumPy ones (ONNX Round rounds half to even, as NumPy).
ONNX_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "hardswish": activations.hard_swish, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
    "neg": np.negative, "floor": np.floor, "ceil": np.ceil, "reciprocal": np.reciprocal, "sin": np.sin,
    "cos": np.cos, "sign": np.sign, "round": np.round,
}  # fmt: skip


def activation(step: Step, inputs: Arrays) -> Arrays:
    name = step.attrs.get("function") or step.attrs.get("activation")
    if name == "clip":  # ONNX: bounds as operands (opset 11 on) or attributes
        low, high = operand(step, inputs, 1), operand(step, inputs, 2)
        low = step.config.get("min") if low is None else low
        high = step.config.get("max") if high is None else high
        x = inputs[0]
        return [np.clip(x, -np.inf if low is None else low, np.inf if high is None else high).astype(x.dtype)]
    return [_apply(step, name, inputs[0])]


def passthrough(step: Step, inputs: Arrays) -> Arrays:
    """Dropout, noise and identity layers: the input, unchanged, at inference."""
    return [tensor.dropout(inputs[0])]


# --------------------------------------------------------------------------------------
# Convolutions and dense layers


def spatial_order(rank: int) -> tuple[str, ...]:
    return ("kh", "kw")[2 - rank :] if rank <= 2 else ("kd", "kh", "kw")


def window_pads(step: Step, x: np.ndarray, kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]) -> Any:
    padding = step.attrs.get("padding", "valid")
    if padding == "same" and step.config.get("auto_pad") == "SAME_LOWER":  # ONNX: the odd pixel before
        padding = "same_lower"
    rank = step.attrs["rank"]
    spatial = list(x.shape[1 : 1 + rank] if step.attrs["channels_last"] else x.shape[2:])
    if isinstance(padding, str) and padding.lower() not in ("valid", "same", "causal", "full", "same_lower"):
        raise NotComputable(f"padding '{padding}' has no forward")
    return conv.conv_pads(spatial, kernel, strides, dilation, padding.lower() if isinstance(padding, str) else padding)


def geometry(step: Step) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    a = step.attrs
    rank = a["rank"]
    kernel = tuple(a["kernel_size"])
    return kernel, tuple(a.get("strides") or (1,) * rank), tuple(a.get("dilation") or (1,) * rank)


def _bias(step: Step) -> Optional[np.ndarray]:
    return step.weight("bias", ("out",))


def conv_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    kernel, strides, dilation = geometry(step)
    w = step.need("kernel", ("out", "in", *spatial_order(step.attrs["rank"])))
    pads = window_pads(step, x, kernel, strides, dilation)
    out = conv.conv(x, w, _bias(step), strides, dilation, pads, int(step.attrs.get("groups") or 1), step.attrs["channels_last"])
    return [fused(step, out)]


def depthwise_kernel(step: Step, role: str) -> np.ndarray:
    """``(in * mult, 1, *k)`` from any stored layout: Keras ``(*k, in, mult)``, PyTorch
    ``(out, 1, *k)``, TFLite ``(1, *k, out)``."""
    k = spatial_order(step.attrs["rank"])
    keras = step.weight(role, ("in", "mult", *k))
    if keras is not None:
        return keras.reshape(-1, 1, *keras.shape[2:])
    w = step.weight(role, ("out", "in", *k))
    if w is None:
        w = step.need(role, ("out", "d0", *k))
    return w


def depthwise_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    kernel, strides, dilation = geometry(step)
    w = depthwise_kernel(step, "kernel" if step.layer.weight("kernel") is not None else "depthwise_kernel")
    pads = window_pads(step, x, kernel, strides, dilation)
    groups = x.shape[channel_axis(step.attrs["channels_last"])]
    out = conv.conv(x, w, _bias(step), strides, dilation, pads, groups, step.attrs["channels_last"])
    return [fused(step, out)]


def separable_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    kernel, strides, dilation = geometry(step)
    dw = depthwise_kernel(step, "depthwise_kernel")
    pw = step.need("pointwise_kernel", ("out", "in", *spatial_order(step.attrs["rank"])))
    pads = window_pads(step, x, kernel, strides, dilation)
    out = conv.separable_conv(x, dw, pw, _bias(step), strides, dilation, pads, step.attrs["channels_last"])
    return [fused(step, out)]


def conv_transpose_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    a = step.attrs
    kernel, strides, dilation = geometry(step)
    w = step.need("kernel", ("in", "out", *spatial_order(a["rank"])))
    padding = a.get("padding", "valid")
    spatial = list(x.shape[1:-1] if a["channels_last"] else x.shape[2:])
    pads: Any
    extra: Any
    if a.get("output_shape"):
        if "output_shape" not in step.config:
            raise NotComputable("a transposed convolution with a stated output shape (Keras 1) has no forward")
        pads, extra = _onnx_transposed_pads(step, spatial, kernel, strides, dilation)
    elif isinstance(padding, str):
        pads, extra = conv.transposed_pads(spatial, kernel, strides, dilation, padding.lower(), a.get("output_padding"))
    else:
        pads, extra = padding, a.get("output_padding") or 0
    out = conv.conv_transpose(x, w, _bias(step), strides, dilation, pads, extra, int(a.get("groups") or 1), a["channels_last"])
    return [fused(step, out)]


def _onnx_transposed_pads(step: Step, spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """ONNX ConvTranspose with ``output_shape``: the pads its spec derives from it (the
    odd pixel after for SAME_UPPER, before otherwise); a negative total is output padding."""
    wanted = list(step.config["output_shape"])[-len(spatial):]
    upper = step.config.get("auto_pad") == "SAME_UPPER"
    extra = list(step.attrs.get("output_padding") or [0] * len(spatial))
    pads, more = [], []
    for n, k, s, d, want, add in zip(spatial, kernel, strides, dilation, wanted, extra):
        total = s * (n - 1) + add + (k - 1) * d + 1 - want
        if total < 0:
            pads.append((0, 0))
            more.append(add - total)
            continue
        small, large = total // 2, total - total // 2
        pads.append((small, large) if upper else (large, small))
        more.append(add)
    return pads, more


def dense_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    w = step.need("kernel", ("in", "out"))
    c = step.config
    if step.layer.type == "Gemm":
        if c.get("transA"):
            raise NotComputable("a Gemm with transA has no forward")
        alpha, beta = step.scalar(c.get("alpha", 1.0)), step.scalar(c.get("beta", 1.0))
        bias = _bias(step)
        out = dense.dense(x, w) * alpha
        return [out + beta * bias if bias is not None else out]
    if step.attrs.get("keep_num_dims") is False and x.ndim > 2:  # TFLite FULLY_CONNECTED
        x = x.reshape(-1, w.shape[0])
    return [fused(step, dense.dense(x, w, _bias(step)))]


# --------------------------------------------------------------------------------------
# Normalisation


def batch_norm_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    c = step.config
    if "axis" in c:  # Keras: its epsilon (default 1e-3) and axis
        axis, epsilon = c["axis"], c.get("epsilon", 1e-3)
        if isinstance(axis, list):
            if len(axis) != 1:
                raise NotComputable(f"a batch normalisation over axes {axis} has no forward")
            axis = axis[0]
    else:  # PyTorch (eps) and ONNX (epsilon): channels on axis 1, default 1e-5
        axis, epsilon = 1, c.get("eps", c.get("epsilon", 1e-5))
    mean = step.need("moving_mean", ("channels",))
    variance = step.need("moving_variance", ("channels",))
    out = norm.batch_norm(x, mean, variance, step.weight("gamma", ("channels",)), step.weight("beta", ("channels",)), float(epsilon), int(axis))
    return [fused(step, out)]


def normalization_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    c = step.config
    mean = step.weight("mean", ())
    if mean is not None or "mean" in c and c["mean"] is not None:  # Keras' Normalization (preprocessing)
        variance = step.weight("variance", ())
        if mean is None:
            mean, variance = np.asarray(c["mean"], step.dtype), np.asarray(c["variance"], step.dtype)
        if variance is None:
            raise NotComputable("its variance is not stored")
        if c.get("invert"):
            raise NotComputable("an inverted Normalization has no forward")
        eps = step.scalar(1e-7)
        return [(x - mean) / np.maximum(np.sqrt(variance), eps)]
    if step.layer.type == "LayerNormalization" and "epsilon" in c and "axis" in c:
        if c.get("rms_scaling"):
            raise NotComputable("an RMS-scaled LayerNormalization has no forward")
        axis = c["axis"]
        return [norm.layer_norm(x, step.weight("gamma", ("channels",)), step.weight("beta", ("channels",)), float(c["epsilon"]), axis)]
    raise NotComputable(f"{step.layer.type} has no forward")


# --------------------------------------------------------------------------------------
# Pooling


def _pool_kind(layer: Layer) -> str:
    kind = str(layer.attrs.get("kind") or layer.type).lower()
    if "max" in kind:
        return "max"
    if "av" in kind or "mean" in kind:
        return "avg"
    raise NotComputable(f"{layer.type} pooling has no forward")


def pool_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    a = step.attrs
    kernel, strides, dilation = geometry(step)
    pads = window_pads(step, x, kernel, strides, dilation)
    include = bool(step.config.get("count_include_pad", step.layer.type.startswith("AvgPool")))
    ceil = bool(step.attrs.get("ceil_mode") or step.config.get("ceil_mode"))
    out = pool.pool(x, _pool_kind(step.layer), kernel, strides, pads, dilation, ceil, include, a["channels_last"])
    return [fused(step, out)]


def global_pool_layer(step: Step, inputs: Arrays) -> Arrays:
    a = step.attrs
    return [pool.global_pool(inputs[0], _pool_kind(step.layer), a["channels_last"], bool(a.get("keepdims")))]


# --------------------------------------------------------------------------------------
# Merges and tensor shapes

MERGE_KINDS = {"add": "add", "sum": "add", "subtract": "sub", "sub": "sub", "multiply": "mul", "mul": "mul",
               "div": "div", "maximum": "max", "max": "max", "minimum": "min", "min": "min", "average": "mean",
               "mean": "mean", "pow": "pow", "truediv": "div", "divide": "div"}  # fmt: skip


def elementwise_layer(step: Step, inputs: Arrays) -> Arrays:
    name = str(step.attrs.get("kind") or step.layer.type).lower()
    kind = MERGE_KINDS.get(name.rsplit(".", 1)[-1])  # tf.keras TFOpLambda: __operators__.add, math.multiply
    if kind is None:
        raise NotComputable(f"element-wise '{name}' has no forward")
    operands = _operands(step, inputs)
    if "y" in step.call.kwargs:  # tf.keras TFOpLambda: x + y with a number y
        operands.append(np.asarray(step.call.kwargs["y"], dtype=step.dtype))
    return [fused(step, tensor.elementwise(kind, *operands))]


def _operands(step: Step, inputs: Arrays) -> Arrays:
    """The call's operands in order: its tensors, and its constants (``x + 3.0``), or
    (ONNX) stored tensors."""
    if step.call.operands is not None:
        found = [operand(step, inputs, p) for p in range(len(step.call.operands))]
        return [x for x in found if x is not None]
    if not any(not hasattr(i, "layer") for i in step.call.inputs):
        return inputs
    given = iter(inputs)
    out = []
    for item in step.call.inputs:
        out.append(next(given) if hasattr(item, "layer") else np.asarray(item.value, dtype=step.dtype))
    return out


def concat_layer(step: Step, inputs: Arrays) -> Arrays:
    return [fused(step, tensor.concat(inputs, int(step.attrs.get("axis", -1))))]


def flatten_layer(step: Step, inputs: Arrays) -> Arrays:
    """Flatten to 2-D around ``axis`` (1: batch and everything else; a Keras
    ``channels_first`` Flatten moves the channels last first; a PyTorch ``end_dim`` other
    than the last has no forward)."""
    x = inputs[0]
    c = step.config
    axis = int(step.attrs.get("axis", c.get("start_dim", 1)))
    if int(c.get("end_dim", -1)) not in (-1, x.ndim - 1):
        raise NotComputable("a Flatten that keeps trailing axes has no forward")
    return [tensor.flatten(x, axis, c.get("data_format") == "channels_first")]


def reshape_layer(step: Step, inputs: Arrays) -> Arrays:
    """Keras ``Reshape`` (the target leaves the batch out), or with ``batch_included`` a
    target that names it (``tf.reshape``, ONNX, ``x.view``): 0 copies the input's dim
    unless ``allowzero``, -1 takes what is left; the target as the shape rule finds it."""
    x = operand(step, inputs, 0)
    assert x is not None
    if not step.attrs.get("batch_included"):
        return [tensor.reshape(x, [-1 if d is None else d for d in step.attrs["target_shape"]])]
    target = shape_rules.reshape_target(step.attrs, _context(step, inputs))
    if target is None:
        raise NotComputable("its target shape is not known")
    if not step.attrs.get("allowzero"):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return [x.reshape([-1 if d is None else int(d) for d in target])]


def transpose_layer(step: Step, inputs: Arrays) -> Arrays:
    perm = step.attrs.get("perm")
    if perm is None:
        return [inputs[0].transpose()]
    return [tensor.transpose(inputs[0], perm)]


def pad_layer(step: Step, inputs: Arrays) -> Arrays:
    """Pad by (before, after) pairs over ``axes``, as the shape rule reads them (Keras
    ZeroPadding, ONNX Pad with its mode and fill value)."""
    x = operand(step, inputs, 0)
    assert x is not None
    pads, axes = shape_rules.pads_of(step.attrs, _context(step, inputs), x.ndim)
    if pads is None:
        raise NotComputable("its pads are not known")
    pairs = [(0, 0)] * x.ndim
    for (before, after), axis in zip(pads, axes):
        pairs[axis] = (int(before), int(after))
    value = operand(step, inputs, 2) if step.call.operands is not None else None
    fill = float(np.asarray(value).reshape(-1)[0]) if value is not None and np.size(value) else float(step.config.get("value", 0.0))
    return [tensor.pad(x, pairs, str(step.config.get("mode", "constant")), fill)]


def crop_layer(step: Step, inputs: Arrays) -> Arrays:
    a = step.attrs
    return [tensor.crop(inputs[0], a["cropping"], a["channels_last"])]


def upsample_layer(step: Step, inputs: Arrays) -> Arrays:
    a = step.attrs
    size = a["size"]
    factors = [size] * a["rank"] if isinstance(size, int) else list(size)
    return [resize.upsample(inputs[0], factors, str(step.config.get("interpolation", "nearest")), a["channels_last"])]


def resize_layer(step: Step, inputs: Arrays) -> Arrays:
    """ONNX Resize and Upsample (``interpolates``: by scales or to sizes); Keras Resizing
    (TensorFlow's half-pixel resize) and CenterCrop; PyTorch's adaptive pooling."""
    if step.attrs.get("interpolates"):
        return _interpolate(step, inputs)
    x = inputs[0]
    a, c, kind = step.attrs, step.config, step.layer.type
    last = a["channels_last"]
    axes = spatial_axes(x.ndim, last)
    size = [int(n) for i, n in enumerate(a["sizes"]) if i in axes]
    if kind.startswith("Adaptive"):
        return [pool.adaptive_pool(x, _pool_kind(step.layer), size, last)]
    if kind == "CenterCrop" and all(x.shape[ax] >= n for ax, n in zip(axes, size)):
        index = [slice(None)] * x.ndim
        for ax, n in zip(axes, size):
            start = (x.shape[ax] - n) // 2
            index[ax] = slice(start, start + n)
        return [x[tuple(index)]]
    if kind == "Resizing" and not c.get("crop_to_aspect_ratio") and not c.get("pad_to_aspect_ratio"):
        mode = str(c.get("interpolation", "bilinear"))
        if mode in ("bilinear", "nearest"):
            linear = mode == "bilinear"
            return [resize.resize(x, size, "linear" if linear else "nearest", "half_pixel", "round_prefer_ceil" if not linear else "floor", None, last)]
    raise NotComputable(f"{kind} with this configuration has no forward")


def _interpolate(step: Step, inputs: Arrays) -> Arrays:
    """ONNX Resize and Upsample (channels first), by scales or sizes."""
    x = operand(step, inputs, 0)
    assert x is not None
    c, a = step.config, step.attrs
    mode = str(c.get("mode", "nearest"))
    if mode not in ("nearest", "linear", "bilinear") or c.get("exclude_outside") or c.get("antialias"):
        raise NotComputable(f"resize mode '{mode}' has no forward")
    legacy = step.layer.type == "Upsample" or a.get("scales_at") == 1  # Upsample, Resize-10
    coordinates = "asymmetric" if legacy else str(c.get("coordinate_transformation_mode", "half_pixel"))
    nearest = "floor" if legacy else str(c.get("nearest_mode", "round_prefer_floor"))
    sizes, scales = shape_rules.resize_amounts(a, _context(step, inputs))
    factors: Optional[list[float]] = None
    if sizes is not None and len(sizes):
        given = np.asarray([x.shape[i] if s is None else s for i, s in enumerate(sizes)]).reshape(-1)
        size = [int(v) for v in given[2:]]
        keeps = [int(v) for v in given[:2]] == list(x.shape[:2])
    elif scales is not None and len(scales):
        given = np.asarray(scales, dtype=float).reshape(-1)
        factors = [float(v) for v in given[2:]]
        size = [int(np.floor(n * f)) for n, f in zip(x.shape[2:], factors)]
        keeps = [float(v) for v in given[:2]] == [1.0, 1.0]
    else:
        raise NotComputable("neither its scales nor its sizes are known")
    if given.size != x.ndim or not keeps:
        raise NotComputable("it resizes the batch or channel axes")
    return [resize.resize(x, size, "linear" if mode != "nearest" else "nearest", coordinates, nearest, factors, False)]


# --------------------------------------------------------------------------------------
# Graphs of tensor operations (ONNX): operands may be computed tensors or stored ones


def operand(step: Step, inputs: Arrays, position: int) -> Optional[np.ndarray]:
    """The call's operand at ``position``: a computed tensor, a stored one (its value as
    the loader read it, else the weight stored for it), or None when omitted."""
    operands = step.call.operands
    if operands is None:
        return inputs[position] if position < len(inputs) else None
    if position >= len(operands) or operands[position].kind == "none":
        return None
    found = operands[position]
    if found.kind == "tensor":
        return inputs[found.index]
    stored = [p for p, o in enumerate(operands) if o.kind == "const"].index(position)
    array = np.asarray(found.value) if found.value is not None else np.asarray(step.layer.weights[stored].read())
    return array.astype(step.dtype) if array.dtype.kind == "f" else array


def _context(step: Step, inputs: Arrays) -> RuleContext:
    """The shape rule's view of the call, with the computed operands' values: the
    forward reads pads, targets and sizes exactly as the rule does."""
    return RuleContext.of(step.call, dict(enumerate(inputs)))


def _ints(values: Optional[np.ndarray]) -> Optional[list[int]]:
    return None if values is None else [int(v) for v in np.asarray(values).reshape(-1)]


def constant_layer(step: Step, inputs: Arrays) -> Arrays:
    value = step.constant()
    if value is None:
        raise NotComputable("its value is not known (a constant too large to fold, or computed)")
    return [value.astype(step.dtype) if value.dtype.kind == "f" else value]


def shape_of_layer(step: Step, inputs: Arrays) -> Arrays:
    a = step.attrs
    return [np.asarray(inputs[0].shape, dtype=np.int64)[a.get("start", 0) : a.get("end")]]


def gather_layer(step: Step, inputs: Arrays) -> Arrays:
    indices = operand(step, inputs, 1)
    if indices is None:
        raise NotComputable("its indices are not known")
    return [np.take(inputs[0], np.asarray(indices).astype(np.intp), axis=int(step.attrs.get("axis", 0)))]


def _axes(step: Step, inputs: Arrays, position: int = 1) -> Optional[list[int]]:
    axes = step.attrs.get("axes")
    return list(axes) if axes is not None else _ints(operand(step, inputs, position))


def unsqueeze_layer(step: Step, inputs: Arrays) -> Arrays:
    axes = _axes(step, inputs)
    if axes is None:
        raise NotComputable("its axes are not known")
    x = inputs[0]
    rank = x.ndim + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = np.expand_dims(x, axis)
    return [x]


def squeeze_layer(step: Step, inputs: Arrays) -> Arrays:
    axes = _axes(step, inputs)
    x = inputs[0]
    return [x.squeeze() if axes is None else x.squeeze(tuple(a % x.ndim for a in axes))]


def split_layer(step: Step, inputs: Arrays) -> Arrays:
    x = inputs[0]
    axis = int(step.attrs.get("axis", 0)) % x.ndim
    sizes = step.attrs.get("split") or _ints(operand(step, inputs, 1))
    if not sizes:
        parts = int(step.attrs.get("outputs") or 1)
        if x.shape[axis] % parts:
            raise NotComputable(f"{x.shape[axis]} does not split into {parts} equal parts")
        sizes = [x.shape[axis] // parts] * parts
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


REDUCTIONS: dict[str, Callable[..., np.ndarray]] = {"mean": np.mean, "max": np.max, "min": np.min, "sum": np.sum, "prod": np.prod}


def reduce_layer(step: Step, inputs: Arrays) -> Arrays:
    kind = step.layer.type.lower().removeprefix("reduce")
    fn = REDUCTIONS.get(kind)
    if fn is None:
        raise NotComputable(f"reduction '{step.layer.type}' has no forward")
    x = inputs[0]
    axes = _axes(step, inputs)
    if not axes and step.attrs.get("noop_with_empty_axes"):
        return [x]
    keep = bool(step.attrs.get("keepdims", 1))
    return [fn(x, axis=None if not axes else tuple(a % x.ndim for a in axes), keepdims=keep).astype(x.dtype)]


# --------------------------------------------------------------------------------------
# Keras layers of sequences and indexing


def repeat_layer(step: Step, inputs: Arrays) -> Arrays:
    return [np.repeat(inputs[0][:, None, :], int(step.attrs["n"]), axis=1)]


def embedding_layer(step: Step, inputs: Arrays) -> Arrays:
    if step.config.get("mask_zero"):
        raise NotComputable("it masks token 0, and the mask the layers after it follow is not computed here")
    return [tensor.embedding(inputs[0], step.need("embeddings", ()), step.dtype)]


def dot_layer(step: Step, inputs: Arrays) -> Arrays:
    """Keras Dot: per sample, the sum of products along one axis of each input."""
    x, y = inputs
    axes = step.attrs.get("axes", -1)
    ax, ay = (axes, axes) if isinstance(axes, int) else axes
    ax, ay = ax % x.ndim, ay % y.ndim
    if (step.attrs.get("normalize") or step.config.get("normalize")):
        x = x / np.sqrt(np.maximum(np.square(x).sum(axis=ax, keepdims=True), step.scalar(1e-12)))
        y = y / np.sqrt(np.maximum(np.square(y).sum(axis=ay, keepdims=True), step.scalar(1e-12)))
    out = np.stack([np.tensordot(a, b, axes=(ax - 1, ay - 1)) for a, b in zip(x, y)])
    return [out[:, None] if out.ndim == 1 else out]


def getitem_layer(step: Step, inputs: Arrays) -> Arrays:
    """Keras 3 GetItem, tf.keras SlicingOpLambda: ``x[key]`` with a key of slices,
    integers, None and Ellipsis."""
    items = [i.value for i in step.call.inputs if not hasattr(i, "layer")]
    if "slice_spec" in step.call.kwargs:  # tf.keras SlicingOpLambda
        items.append(step.call.kwargs["slice_spec"])
    if len(inputs) != 1 or len(items) != 1:
        raise NotComputable("its index is computed")
    key = items[0] if isinstance(items[0], (list, tuple)) else [items[0]]
    if not all(k is None or k is Ellipsis or isinstance(k, (slice, int)) for k in key):
        raise NotComputable(f"index {key!r} has no forward")
    return [inputs[0][tuple(key)]]


# --------------------------------------------------------------------------------------
# Operators known by their recorded output shapes (TFLite)


def reads(layer: Layer) -> Optional[tuple[int, ...]]:
    """The tensor inputs a layer's forward reads, when not all: a TFLite RESHAPE whose
    output shape is recorded takes it from there, not from its shape operand (whose
    Shape/StridedSlice/Pack arithmetic then need not run)."""
    if layer.op == "recorded" and layer.type == "RESHAPE" and _recorded_target(layer) is not None:
        return (0,)
    return None


def _recorded_target(layer: Layer) -> Optional[list[int]]:
    shapes = layer.attrs.get("output_shapes") or []
    if len(shapes) != 1 or any(d is None for d in shapes[0][1:]):
        return None
    return [-1 if d is None else int(d) for d in shapes[0]]


def _block(step: Step) -> tuple[list[int], list[tuple[int, int]]]:
    """SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND: the block shape and the pads (or crops)."""
    block, pairs = step.weight("input_1", ()), step.weight("input_2", ())
    if block is None or pairs is None:
        raise NotComputable("its block shape or paddings are computed")
    return [int(b) for b in block.reshape(-1)], [(int(a), int(b)) for a, b in pairs.reshape(-1, 2)]


def _space_to_batch(step: Step, x: np.ndarray) -> np.ndarray:
    """(N, *S, C) padded, each spatial axis split into (S / b, b), the b's moved before N."""
    block, pads = _block(step)
    m = len(block)
    x = np.pad(x, [(0, 0), *pads, *[(0, 0)] * (x.ndim - 1 - m)])
    n, spatial, rest = x.shape[0], x.shape[1 : 1 + m], x.shape[1 + m :]
    if any(s % b for s, b in zip(spatial, block)):
        raise NotComputable(f"padded spatial size {list(spatial)} is not a multiple of block {block}")
    split = x.reshape(n, *[d for s, b in zip(spatial, block) for d in (s // b, b)], *rest)
    order = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, split.ndim))
    return split.transpose(order).reshape(n * int(np.prod(block)), *[s // b for s, b in zip(spatial, block)], *rest)


def _batch_to_space(step: Step, x: np.ndarray) -> np.ndarray:
    """The inverse: the block's batches back into space, then the crops."""
    block, crops = _block(step)
    m = len(block)
    total = int(np.prod(block))
    if x.shape[0] % total:
        raise NotComputable(f"batch {x.shape[0]} is not a multiple of block {block}")
    n, spatial, rest = x.shape[0] // total, x.shape[1 : 1 + m], x.shape[1 + m :]
    split = x.reshape(*block, n, *spatial, *rest)
    order = [m] + [d for i in range(m) for d in (m + 1 + i, i)] + list(range(2 * m + 1, split.ndim))
    out = split.transpose(order).reshape(n, *[s * b for s, b in zip(spatial, block)], *rest)
    index = (slice(None), *[slice(a, out.shape[1 + i] - b) for i, (a, b) in enumerate(crops)])
    return out[index]


def recorded_layer(step: Step, inputs: Arrays) -> Arrays:
    if step.layer.type == "SPACE_TO_BATCH_ND":
        return [_space_to_batch(step, inputs[0])]
    if step.layer.type == "BATCH_TO_SPACE_ND":
        return [_batch_to_space(step, inputs[0])]
    target = _recorded_target(step.layer) if step.layer.type == "RESHAPE" else None
    if target is None:
        raise NotComputable(f"{step.layer.type} has no forward here (an operator known only by its recorded output shapes)")
    return [inputs[0].reshape(target)]


# --------------------------------------------------------------------------------------
# Keras recurrent layers (a loop over time steps; each step one matrix product)


def _recurrent(step: Step, kind: str, c: dict[str, Any], x: np.ndarray, prefix: str = "") -> Arrays:
    """SimpleRNN, LSTM or GRU over ``x`` (N, T, F) with the weights ``prefix + role``:
    the output (every step's, or the last) and the final states."""
    if kind not in ("SimpleRNN", "LSTM", "GRU") or c.get("stateful") or c.get("time_major"):
        raise NotComputable(f"a {kind} with this configuration has no forward")
    w = step.need(prefix + "kernel", ("in", "gates"))
    u = step.need(prefix + "recurrent_kernel", ("units", "gates"))
    bias = step.weight(prefix + "bias", ())
    units = u.shape[0]

    def act(v: np.ndarray) -> np.ndarray:
        return _apply(step, c.get("activation", "tanh"), v)

    def gate(v: np.ndarray) -> np.ndarray:
        return _apply(step, c.get("recurrent_activation", "sigmoid"), v)

    seq = x[:, ::-1] if c.get("go_backwards") else x
    reset_after = kind == "GRU" and bias is not None and bias.ndim == 2
    b_in = bias[0] if reset_after else bias  # type: ignore[index]
    b_rec = bias[1] if reset_after else None  # type: ignore[index]
    xs = seq @ w
    if b_in is not None:
        xs = xs + b_in
    h = np.zeros((x.shape[0], units), dtype=x.dtype)
    cell = np.zeros_like(h)
    outs = []
    for t in range(seq.shape[1]):
        if kind == "SimpleRNN":
            h = act(xs[:, t] + h @ u)
        elif kind == "LSTM":
            i, f, g, o = np.split(xs[:, t] + h @ u, 4, axis=-1)
            cell = gate(f) * cell + gate(i) * act(g)
            h = gate(o) * act(cell)
        else:
            xz, xr, xh = np.split(xs[:, t], 3, axis=-1)
            if reset_after:
                rz, rr, rh = np.split(h @ u + b_rec, 3, axis=-1)
                z, r = gate(xz + rz), gate(xr + rr)
                candidate = act(xh + r * rh)
            else:
                rz, rr = np.split(h @ u[:, : 2 * units], 2, axis=-1)
                z, r = gate(xz + rz), gate(xr + rr)
                candidate = act(xh + (r * h) @ u[:, 2 * units :])
            h = z * h + (1 - z) * candidate
        outs.append(h)
    output = np.stack(outs, axis=1) if c.get("return_sequences") else h
    states = [h, cell] if kind == "LSTM" else [h]
    return [output, *states]


def rnn_layer(step: Step, inputs: Arrays) -> Arrays:
    if len(inputs) != 1:
        raise NotComputable("initial states given as inputs have no forward")
    outs = _recurrent(step, step.layer.type, step.config, inputs[0])
    return outs if step.config.get("return_state") else outs[:1]


def bidirectional_layer(step: Step, inputs: Arrays) -> Arrays:
    """Keras Bidirectional: the wrapped layer forwards and backwards (the backward
    sequence put back in time order), merged as ``merge_mode`` says."""
    c = step.config
    inner = (c.get("layer") or {}).get("config") or {}
    kind = (c.get("layer") or {}).get("class_name", "")
    if len(inputs) != 1 or inner.get("return_state"):
        raise NotComputable("a Bidirectional returning states has no forward")
    name = inner.get("name", "")
    forward_name = name if name.startswith("forward_") else f"forward_{name}"
    backward = c.get("backward_layer")  # Keras 3 writes the backward layer (go_backwards set)
    if backward:
        if backward.get("class_name") != kind:
            raise NotComputable("a Bidirectional whose backward layer is of another kind has no forward")
        back_config = backward.get("config") or {}
    else:
        back_config = {**inner, "name": "backward_" + forward_name.removeprefix("forward_"), "go_backwards": not inner.get("go_backwards")}
    ahead = _recurrent(step, kind, inner, inputs[0], forward_name + "/")[0]
    back = _recurrent(step, kind, back_config, inputs[0], back_config.get("name", "") + "/")[0]
    if inner.get("return_sequences"):
        back = back[:, ::-1]
    mode = c.get("merge_mode", "concat")
    merged = {"concat": lambda: np.concatenate([ahead, back], axis=-1), "sum": lambda: ahead + back,
              "mul": lambda: ahead * back, "ave": lambda: (ahead + back) / step.scalar(2)}  # fmt: skip
    if mode is None:
        return [ahead, back]
    if mode not in merged:
        raise NotComputable(f"merge_mode '{mode}' has no forward")
    return [merged[mode]()]


def time_distributed_layer(step: Step, inputs: Arrays) -> Arrays:
    """Keras TimeDistributed: the wrapped layer on every time step (time folded into the batch)."""
    from ..core.ops import SPECS

    wrapped = step.attrs.get("layer") or {}
    inner_config = ((step.config.get("layer") or {}).get("config")) or {}
    spec = SPECS.get(wrapped.get("op", ""))
    if spec is None or spec.forward is None or len(inputs) != 1:
        raise NotComputable(f"the wrapped {wrapped.get('type', 'layer')} has no forward")
    inner = Layer(step.layer.name, wrapped.get("type", ""), wrapped["op"], attrs=dict(wrapped.get("attrs") or {}), config=inner_config)
    inner.weights = step.layer.weights
    x = inputs[0]
    n, t = x.shape[:2]
    outs = spec.forward(Step(inner, Call(), step.source, step.dtype, step.weight, step.constant), [x.reshape(n * t, *x.shape[2:])])
    return [o.reshape(n, t, *o.shape[1:]) for o in outs]
