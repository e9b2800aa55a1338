"""Named axes of stored weights, per library convention.

A convention says, for an operation kind and a weight role, which axis of the stored array
means what. Loaders name the convention of their file; nothing else needs to know which
library wrote it: filters, slices and reports index weights by axis name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

SPATIAL = {1: ("kw",), 2: ("kh", "kw"), 3: ("kd", "kh", "kw")}

AXIS_LETTERS = {
    "kd": "D",
    "kh": "H",
    "kw": "W",
    "in": "I",
    "out": "O",
    "mult": "M",
    "channels": "C",
    "units": "U",
    "gates": "G",
    "token": "T",
    "dim": "E",
}

# Spatial axes of a kernel: the ones a filter is drawn over.
SPATIAL_AXES = frozenset({"kd", "kh", "kw"})


@dataclass(frozen=True)
class Layout:
    convention: str
    axes: tuple[str, ...]
    # True when the kernel was learned for a true convolution (Theano), i.e. it is
    # spatially flipped relative to the cross-correlation TensorFlow and PyTorch compute.
    flipped: bool = False

    @property
    def code(self) -> str:
        """A compact name such as ``HWIO`` (axes without a letter show as ``?``)."""
        return "".join(AXIS_LETTERS.get(a, "?") for a in self.axes)


AxesRule = Callable[[str, str, int], "tuple[str, ...] | None"]


def _generic(ndim: int) -> tuple[str, ...]:
    return tuple(f"d{i}" for i in range(ndim))


def _shared_axes(op: str, role: str, ndim: int) -> tuple[str, ...] | None:
    """Axes every convention agrees on: vectors and matrices of non-conv layers."""
    if role in ("gamma", "beta", "moving_mean", "moving_variance") and ndim == 1:
        return ("channels",)
    if role == "bias" and ndim == 1:
        return ("gates",) if op == "rnn" else ("out",)
    if op == "embedding" and ndim == 2:
        return ("token", "dim")
    if op == "rnn" and ndim == 2:
        if role == "kernel":
            return ("in", "gates")
        if role == "recurrent_kernel":
            return ("units", "gates")
        if role == "bias":  # GRU with reset_after: input and recurrent biases
            return ("part", "gates")
    return None


def _keras_axes(op: str, role: str, ndim: int) -> tuple[str, ...] | None:
    """Keras 2, tf.keras and Keras 3: channels-last kernels whatever the data format."""
    spatial = SPATIAL.get(ndim - 2)
    if spatial:
        if op == "conv" and role == "kernel":
            return spatial + ("in", "out")
        if op == "conv_transpose" and role == "kernel":
            return spatial + ("out", "in")
        if role == "depthwise_kernel" or (op == "depthwise_conv" and role == "kernel"):
            return spatial + ("in", "mult")
        if role == "pointwise_kernel":
            return spatial + ("in", "out")
    if op == "dense" and role == "kernel" and ndim == 2:
        return ("in", "out")
    return _shared_axes(op, role, ndim)


def _theano_axes(op: str, role: str, ndim: int) -> tuple[str, ...] | None:
    """Keras 1 with ``dim_ordering: th``: ``(out, in, kh, kw)`` conv kernels."""
    spatial = SPATIAL.get(ndim - 2)
    if spatial and op in ("conv", "conv_transpose") and role == "kernel":
        return ("out", "in") + spatial
    return _keras_axes(op, role, ndim)


def _torch_axes(op: str, role: str, ndim: int) -> tuple[str, ...] | None:
    """PyTorch (and ONNX): ``(out, in/groups, ...)`` conv weights, ``(in, out/groups, ...)``
    for transposed convs, ``(out, in)`` linear weights."""
    spatial = SPATIAL.get(ndim - 2)
    if spatial and role in ("weight", "kernel"):
        if op == "conv_transpose":
            return ("in", "out") + spatial
        if op in ("conv", "depthwise_conv"):
            return ("out", "in") + spatial
    if op == "dense" and role in ("weight", "kernel") and ndim == 2:
        return ("out", "in")
    if op == "identity" and ndim == 1 and role in ("weight", "bias", "running_mean", "running_var"):
        return ("channels",)
    return _shared_axes(op, role, ndim)


def _tflite_axes(op: str, role: str, ndim: int) -> tuple[str, ...] | None:
    """TensorFlow Lite: conv kernels ``(out, kh, kw, in)``, depthwise ``(1, kh, kw, in*mult)``
    (the multiplier is the layer's ``depth_multiplier``), fully-connected ``(out, in)``."""
    if ndim == 4 and role in ("kernel", "weight"):
        if op == "conv":
            return ("out", "kh", "kw", "in")
        if op == "depthwise_conv":
            return ("d0", "kh", "kw", "out")
    if op == "dense" and role in ("kernel", "weight") and ndim == 2:
        return ("out", "in")
    return _shared_axes(op, role, ndim)


@dataclass(frozen=True)
class Convention:
    name: str
    axes: AxesRule
    description: str = ""


CONVENTIONS: dict[str, Convention] = {
    "keras": Convention("keras", _keras_axes, "Keras 2, tf.keras, Keras 3 and Keras 1 'tf' ordering: channels-last kernels"),
    "keras-th": Convention("keras-th", _theano_axes, "Keras 1 'th' ordering: (out, in, ...) conv kernels"),
    "torch": Convention("torch", _torch_axes, "PyTorch and ONNX: (out, in, ...) conv weights, (out, in) linear"),
    "tflite": Convention("tflite", _tflite_axes, "TensorFlow Lite: (out, kh, kw, in) conv, (1, kh, kw, in*mult) depthwise"),
}

# What ``--layout`` accepts: a convention, and whether its kernels were learned for a true
# convolution (Theano and Lasagne flip them).
USER_LAYOUTS: dict[str, tuple[str, bool]] = {
    "keras": ("keras", False),
    "tensorflow": ("keras", False),
    "torch": ("torch", False),
    "pytorch": ("torch", False),
    "onnx": ("torch", False),
    "theano": ("keras-th", True),
    "lasagne": ("keras-th", True),
}

# Ops whose kernels slide over space (and so can be stored flipped).
SPATIAL_OPS = frozenset({"conv", "conv_transpose", "depthwise_conv", "separable_conv"})


def layout_for(convention: str, op: str, role: str, ndim: int, true_convolution: bool = False) -> Layout:
    """The layout of one stored weight. ``true_convolution`` says the writer computed a
    true convolution (Theano), so its spatial kernels are flipped."""
    axes = CONVENTIONS[convention].axes(op, role, ndim) or _generic(ndim)
    flipped = true_convolution and op in SPATIAL_OPS and bool(SPATIAL_AXES & set(axes))
    return Layout(convention, axes, flipped)
