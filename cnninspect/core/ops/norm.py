"""Normalisation: ``batch_norm`` (per-channel statistics stored) and ``normalization``
(layer, group, instance, local-response, L2 and unit normalisation). At inference both
are a scale and a shift per element: 2 FLOPs each."""

from __future__ import annotations

from ..fields import preserve_step
from .activation import NORM_ALIASES, TORCH_VECTORS, per_element, same_shape
from ...forward import lazy
from .base import OpSpec, register

register(
    OpSpec("batch_norm", same_shape, per_element(2), preserve_step, roles=TORCH_VECTORS, aliases=NORM_ALIASES,
           forward=lazy("batch_norm_layer"), doc="batch normalisation: stored per-channel mean, variance, scale and shift"),
    OpSpec("normalization", same_shape, per_element(2), preserve_step, roles=TORCH_VECTORS, aliases=NORM_ALIASES,
           forward=lazy("normalization_layer"), doc="layer, group, instance, local-response, L2 or unit normalisation"),
)  # fmt: skip
