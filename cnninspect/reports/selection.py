"""Which layer ``--layer`` names.

A selector is the index ``shapes`` shows, a layer name, or a path (``outer/inner``, or
dotted as PyTorch names modules: ``outer.inner``).
PyTorch names the modules of an ``nn.Sequential`` by number, so ``2`` may be both the
index of one layer and the name of another: such a selector is refused as ambiguous, and
``#2`` (the index) or ``name:2`` (the name or path) says which.
"""

from __future__ import annotations

from ..core.connections import filter_weight
from ..core.model import Model, Row
from ..errors import SelectionError

INDEX_PREFIX = "#"
NAME_PREFIX = "name:"


def find_row(model: Model, spec: str) -> Row:
    """The row ``spec`` selects: ``#N`` an index, ``name:X`` a path or name, and a bare
    selector either, when only one layer answers to it."""
    rows = model.rows()
    if spec.startswith(INDEX_PREFIX):
        row = _by_index(rows, spec[len(INDEX_PREFIX) :])
    elif spec.startswith(NAME_PREFIX):
        row = _one(_named(rows, spec[len(NAME_PREFIX) :]), spec[len(NAME_PREFIX) :])
    else:
        row, named = _by_index(rows, spec), _named(rows, spec)
        others = [r for r in named if r is not row]
        if row is not None and others:
            raise SelectionError(
                f"--layer {spec} is ambiguous: index {row.index} is '{row.path}', but layer {others[0].index} is named "
                f"'{others[0].path}': say {INDEX_PREFIX}{spec} for the index or {NAME_PREFIX}{spec} for the name"
            )
        row = row or _one(named, spec)
    if row is None:
        raise SelectionError(f"no layer '{spec}' (indexes 0-{len(rows) - 1}); {_with_filters(rows)}")
    return row


def select_layer(model: Model, spec: str) -> Row:
    """The layer whose filters to show: ``find_row``, and it must have filters."""
    row = find_row(model, spec)
    if filter_weight(row.layer) is None:
        raise SelectionError(f"layer {row.index} '{row.path}' ({row.layer.type}) has no filters; {_with_filters(model.rows())}")
    return row


def _by_index(rows: list[Row], text: str) -> Row | None:
    if not text.lstrip("-").isdigit():
        return None
    i = int(text)
    return rows[i] if 0 <= i < len(rows) else None


def _named(rows: list[Row], text: str) -> list[Row]:
    """The row at path ``text`` (or at the dotted path PyTorch's ``named_modules()`` gives
    it: ``layer1.0.conv1`` for ``layer1/0/conv1``), else every row whose layer is named ``text``."""
    at_path = [r for r in rows if r.path == text] or [r for r in rows if r.path.replace("/", ".") == text]
    return at_path or [r for r in rows if r.layer.name == text]


def _one(named: list[Row], text: str) -> Row | None:
    if len(named) > 1:
        raise SelectionError(f"several layers are named '{text}': use a path: " + ", ".join(r.path for r in named))
    return named[0] if named else None


def _with_filters(rows: list[Row]) -> str:
    valid = [f"{r.index} {r.path} ({r.layer.type})" for r in rows if filter_weight(r.layer) is not None]
    if not valid:
        return "this model has no layer with filters"
    shown = ", ".join(valid[:12]) + (f", ... ({len(valid)} in all)" if len(valid) > 12 else "")
    return f"layers with filters: {shown}"
