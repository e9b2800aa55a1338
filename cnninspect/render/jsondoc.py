"""A report as JSON text, the one way every command and ``explore``'s export write it.

JSON has no NaN or Infinity: a non-finite number is written as ``null`` (the reports say
beside it how many there were and of which kind), never as the invalid ``NaN`` token and
never as a failure to write. Arrays (anything with ``tolist``) become lists."""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(document: dict[str, Any], indent: int | None = None) -> str:
    return json.dumps(_finite(document), indent=indent, allow_nan=False, default=_plain)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (containers rebuilt only
    where they hold one)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        fields = {k: _finite(v) for k, v in value.items()}
        return value if all(fields[k] is v for k, v in value.items()) else fields
    if isinstance(value, (list, tuple)):
        items = [_finite(v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
