"""``shapes --explain``: each layer's explanation (``reports/explain.py``) as a few lines
under the table, wrapped to the terminal's width without ever cutting a number: lines
break at spaces, else after a ``·``, and continue indented."""

from __future__ import annotations

import re
from typing import Any, Iterator

from rich.text import Text

INDENT = "    "


def explain_lines(report: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(style, line)`` for every layer that has an explanation: a heading, then one
    line per part. Spatial axes with the same arithmetic share a line (``h, w: ...``)."""
    for layer in report["layers"]:
        found = layer.get("explain") or {}
        if not found:
            continue
        yield "bold", f"#{layer['index']} {layer['path']} ({layer['type']})"
        for axes, item in _merged_axes(found.get("output", [])):
            note = f"  ({item['note']})" if item.get("note") else ""
            label = "size" if axes == ["flat"] else ", ".join(axes)
            yield "", f"{label}: {item['text']}{note}"
        for key, label in (("params", "params"), ("macs", "MACs")):
            if key in found:
                why = f"  ({found[key]['why']})" if found[key].get("why") else ""
                yield "", f"{label}: {found[key]['text']}{why}"
        if "maps" in found:
            yield "italic", found["maps"]


def _merged_axes(items: list[dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    merged: list[tuple[list[str], dict[str, Any]]] = []
    for item in items:
        same = next(
            (axes for axes, seen in merged if (seen["text"], seen.get("note")) == (item["text"], item.get("note"))),
            None,
        )
        if same is not None:
            same.append(item["axis"])
        else:
            merged.append(([item["axis"]], item))
    return merged


def explain_view(report: dict[str, Any], width: int) -> Iterator[Text]:
    """The explanations, each line wrapped to ``width`` columns."""
    lines = list(explain_lines(report))
    if not lines:
        return
    for piece in wrap("How each number is found (--explain):", width, "", INDENT):
        yield Text(piece, style="bold")
    for style, line in lines:
        first = INDENT[:2] if style == "bold" else INDENT
        for piece in wrap(line, width, first, first + INDENT):
            yield Text(piece, style=style, no_wrap=True, overflow="ignore")


def wrap(line: str, width: int, first: str, rest: str) -> list[str]:
    """``line`` in lines of at most ``width`` columns (``first`` and ``rest`` prefixed),
    broken at spaces; a word longer than a whole line is broken after a ``·``, and a
    number longer than a whole line stays whole."""
    out: list[str] = []
    current = first
    for word in re.findall(r" *[^ ]+", line):
        fresh = len(rest) + len(word.lstrip(" ")) <= width
        pieces = [word] if fresh or len(current) + len(word) <= width else re.findall(r" *[^·]+·?|·", word)
        for piece in pieces:
            if len(current) + len(piece) > width and current.strip():
                out.append(current)
                current = rest
                piece = piece.lstrip(" ")
            current += piece
    if current.strip():
        out.append(current)
    return out
