"""NumPy forward kernels: what each neutral op computes, on plain arrays.

Imported only by the commands that run a network (never by the loaders or the
shape reports), so ``--version`` and every static command stay free of it.

Conventions shared by every kernel:

- Activations carry a batch axis first. A kernel with spatial axes takes
  ``channels_last``: ``True`` means ``(N, *spatial, C)`` (Keras, TFLite),
  ``False`` means ``(N, C, *spatial)`` (PyTorch, ONNX, Keras ``channels_first``).
  The output uses the same layout as the input.
- Weights use one neutral layout whatever library wrote them (the executor
  transposes a stored weight by its named axes, see ``core.layouts``):
  convolution ``(out, in / groups, *k)``; transposed convolution
  ``(in, out / groups, *k)``; dense ``(in, out)``. A depthwise convolution is a
  grouped one with ``groups == in`` and ``out == in * depth_multiplier``
  (output channel ``c * multiplier + m``, Keras' order).
- Pads are explicit per side: one ``(before, after)`` pair per spatial axis.
  :func:`conv.conv_pads` and :func:`conv.transposed_pads` turn the libraries'
  named paddings into them with ``core.arithmetic``'s rules.
- The input's dtype decides the computation's: float32 stays float32 and
  float64 stays float64; weights are cast to it, never the input upcast.
- Memory: a kernel allocates its output, the padded input when there are pads,
  and at most one working buffer: a convolution's im2col block, at most
  ``conv.IM2COL_BYTES`` (larger layers run in blocks of output rows), or the
  product of a depthwise tap. Windows are strided views; a 1x1 stride-1
  convolution multiplies the input itself.

Modules: ``conv`` (convolutions, their pads, the per-input-map contributions),
``pool``, ``resize``, ``activations``, ``norm``, ``dense``, ``tensor``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.ops.base import Forward


def lazy(name: str) -> Forward:
    """The forward function ``name`` of :mod:`cnninspect.forward.layers`, imported on its
    first call: op specs name their forward without importing NumPy."""

    def forward(step: Any, inputs: Any) -> Any:
        from . import layers

        return getattr(layers, name)(step, inputs)

    forward.__name__ = forward.__qualname__ = name
    return forward
