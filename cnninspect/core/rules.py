"""``RULES``: the shape rule of every registered op kind, by name: a read-only view of the
op specs (``core/ops``), where the rules live."""

from __future__ import annotations

from types import MappingProxyType

from .ops import SPECS

RULES = MappingProxyType({op: s.shape for op, s in SPECS.items()})
