"""Convolution arithmetic, shared by every sliding-window rule (conv, transposed conv,
depthwise, separable, pooling) in 1-D, 2-D and 3-D.

A padding is ``"valid"``, ``"same"``, ``"causal"``, ``"full"`` or an explicit
``(before, after)`` pair. A length of ``None`` (unknown) stays ``None``.
"""

from __future__ import annotations

from typing import Sequence, Union

from .model import Dim, Shape

Padding = Union[str, tuple[int, int]]


class ShapeError(ValueError):
    """A shape that cannot be determined, with the reason to show the user."""


def effective_kernel(k: int, dilation: int = 1) -> int:
    return dilation * (k - 1) + 1


def conv_length(n: Dim, k: int, stride: int = 1, dilation: int = 1, padding: Padding = "valid") -> Dim:
    """Output length of a convolution or pooling window along one axis."""
    if n is None:
        return None
    eff = effective_kernel(k, dilation)
    if padding in ("same", "causal"):
        return -(-n // stride)
    if padding == "valid":
        before = after = 0
    elif padding == "full":
        before = after = eff - 1
    else:
        before, after = (int(p) for p in padding)
    out = (n + before + after - eff) // stride + 1
    if out <= 0:
        raise ShapeError(f"window {eff} does not fit in length {n} with padding {padding!r}")
    return out


def transposed_length(
    n: Dim,
    k: int,
    stride: int = 1,
    dilation: int = 1,
    padding: Padding = "valid",
    output_padding: int | None = None,
) -> Dim:
    """Output length of a transposed convolution along one axis (Keras' convention when
    ``output_padding`` is None, the explicit formula otherwise)."""
    if n is None:
        return None
    eff = effective_kernel(k, dilation)
    if output_padding is None:
        if padding == "valid":
            return n * stride + max(eff - stride, 0)
        if padding == "same":
            return n * stride
        if padding == "full":
            return n * stride - (stride + eff - 2)
    if isinstance(padding, tuple):
        pad_total = padding[0] + padding[1]
    else:
        pad_total = 2 * {"same": eff // 2, "valid": 0, "full": eff - 1}[padding]
    return (n - 1) * stride + eff - pad_total + (output_padding or 0)


def spatial_split(shape: Shape, rank: int, channels_last: bool) -> tuple[Shape, Dim]:
    """Split a ``(batch, ..., channels)`` or ``(batch, channels, ...)`` shape into its
    spatial dims and channel count."""
    if len(shape) != rank + 2:
        raise ShapeError(f"expects a {rank + 2}-D input, got {len(shape)}-D {format_shape(shape)}")
    if channels_last:
        return tuple(shape[1:-1]), shape[-1]
    return tuple(shape[2:]), shape[1]


def spatial_axes(rank: int, channels_last: bool) -> list[int]:
    """The positions of the spatial axes in a ``(batch, ..., channels)`` or
    ``(batch, channels, ...)`` shape of ``rank`` spatial axes."""
    return list(range(1, rank + 1)) if channels_last else list(range(2, rank + 2))


def spatial_join(batch: Dim, spatial: Sequence[Dim], channels: Dim, channels_last: bool) -> Shape:
    if channels_last:
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """NumPy broadcasting over shapes that may hold unknown dims."""
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"cannot broadcast {', '.join(format_shape(s) for s in shapes)}")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def product(dims: Sequence[Dim]) -> Dim:
    n = 1
    for d in dims:
        if d is None:
            return None
        n *= d
    return n


def format_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"
