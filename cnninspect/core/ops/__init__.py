"""One spec per neutral operation kind, grouped by family; ``spec(op)`` finds it.

To add an op kind, register one ``OpSpec`` (see ``base.py``) in the family module it
belongs to: its shape, cost and receptive-field rules, stored roles and filters live there.
"""

from __future__ import annotations

from . import activation, conv, linear, local, merge, norm, opaque, pool, rearrange, recurrent, shape, values  # noqa: F401  (they register)
from .base import SPECS, OpSpec, register

__all__ = ["SPECS", "OpSpec", "register", "spec"]


def spec(op: str) -> OpSpec:
    """The spec of ``op``; KeyError when no spec is registered."""
    return SPECS[op]
