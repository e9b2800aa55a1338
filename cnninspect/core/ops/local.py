"""Locally connected layers: ``local``, a convolution whose weights are not shared, each
output position with a filter of its own (Keras ``LocallyConnected1D``/``2D``).

Its output is a convolution's (kernel, strides, padding), and so are its receptive field
and its multiply-accumulates (each output element reads one kernel window of every input
map); only the parameters grow with the output's size. Keras stores, with implementation 1
(Keras 1's only one, and tf-keras' default), the kernel ``(output positions, kernel window
* input maps, filters)``: ``positions`` in row-major order, ``patch`` the window's values
in the input's layout ((kh, kw, in) channels last, (in, kh, kw) channels first). With
implementation 2, tf-keras stores a dense mask-shaped kernel, ``(ih, iw, in, oh, ow, out)``
channels last and ``(in, ih, iw, out, oh, ow)`` channels first (the ``keras-th``
convention); 1-D kernels drop ``ih``/``oh``. The bias is ``(oh, ow, out)`` (``(ow, out)`` in
1-D) in every layout. Filters are not sliced: no single ``F[i, N]`` exists per map pair.
"""

from __future__ import annotations

from ..fields import slide_step
from .base import OpSpec, register
from .conv import conv_cost, conv_shape

register(
    OpSpec(
        "local",
        conv_shape,
        conv_cost,
        slide_step,
        roles={
            "kernel": {
                "keras": (("positions", "patch", "out"), ("ih", "iw", "in", "oh", "ow", "out"), ("iw", "in", "ow", "out")),
                "keras-th": (("in", "ih", "iw", "out", "oh", "ow"), ("in", "iw", "out", "ow")),
            },
            "bias": {"*": (("oh", "ow", "out"), ("ow", "out"))},
        },
        doc="locally connected: a convolution whose filters differ at every output position",
    ),
)
