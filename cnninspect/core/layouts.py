"""Named axes of stored weights, per library convention.

A convention says, for an operation kind and a weight role, which axis of the stored array
means what; each op spec declares its roles' axes per convention (``core/ops``). Loaders
name the convention of their file; nothing else needs to know which library wrote it:
filters, slices and reports index weights by axis name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ops import SPECS
from .ops.base import SPATIAL, SPATIAL_AXES, Roles, layout_axes

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
    "positions": "P",
    "patch": "K",
    "ih": "Y",
    "iw": "X",
    "oh": "R",
    "ow": "S",
}



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


def _generic(ndim: int) -> tuple[str, ...]:
    return tuple(f"d{i}" for i in range(ndim))


# Roles every op kind may store, with the axes they have whatever the op: normalisation
# vectors, biases, and the Keras depthwise/pointwise kernels. An op's own roles come first.
COMMON_ROLES: Roles = {
    **{role: {"*": (("channels",),)} for role in ("gamma", "beta", "moving_mean", "moving_variance")},
    "bias": {"*": (("out",),)},
    "depthwise_kernel": {"keras": ((SPATIAL, "in", "mult"),)},
    "pointwise_kernel": {"keras": ((SPATIAL, "in", "out"),)},
}


# The layout conventions op specs name in their roles.
CONVENTIONS: dict[str, str] = {
    "keras": "Keras 2, tf.keras, Keras 3 and Keras 1 'tf' ordering: channels-last kernels",
    "keras-th": "Keras 1 'th' ordering: (out, in, ...) conv kernels",
    "torch": "PyTorch and ONNX: (out, in, ...) conv weights, (out, in) linear",
    "tflite": "TensorFlow Lite: (out, kh, kw, in) conv, (1, kh, kw, in*mult) depthwise",
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

def layout_for(convention: str, op: str, role: str, ndim: int, true_convolution: bool = False) -> Layout:
    """The layout of one stored weight, from the op's spec (its roles), else the roles
    every op shares. ``true_convolution`` says the writer computed a true convolution
    (Theano), so its spatial kernels are flipped."""
    if convention not in CONVENTIONS:
        raise KeyError(convention)
    own = SPECS.get(op)
    axes = (
        (layout_axes(own.roles, convention, role, ndim) if own is not None else None)
        or layout_axes(COMMON_ROLES, convention, role, ndim)
        or _generic(ndim)
    )
    flipped = true_convolution and own is not None and own.spatial_kernels and bool(SPATIAL_AXES & set(axes))
    return Layout(convention, axes, flipped)
