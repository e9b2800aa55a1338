"""The terminal view of the ``check`` report: one line per check that failed or that the
weights resolved, then the counts. It only lays out what the report holds."""

from __future__ import annotations

from typing import Any, Iterator

from rich.console import RenderableType
from rich.text import Text

from ..core.consistency import describe


def fact_line(fact: dict[str, Any]) -> Text:
    """One failed or resolved check, as the table's footnotes and ``check`` print it."""
    if fact["verdict"] == "resolved":
        source = "the weights" if fact["inferred_from"] == "weights" else "the library's own rule"
        return Text.assemble(("resolved ", "yellow"), f"{fact['layer']}: {fact['what']} = {fact['stored']}, "
                             f"inferred from {source} ({fact['evidence']})")  # fmt: skip
    return Text.assemble(("MISMATCH ", "bold red"), describe(fact))


def summary(block: dict[str, Any]) -> Text:
    """``212 checks, 212 agree`` (and how many failed, how many the weights resolved)."""
    parts = [f"{block['checked']} checks", f"{block['agree']} agree"]
    if block["mismatches"]:
        parts.append(f"{len(block['mismatches'])} mismatch" + ("es" if len(block["mismatches"]) > 1 else ""))
    if block["resolved"]:
        parts.append(f"{len(block['resolved'])} resolved")
    return Text(", ".join(parts), style="bold red" if block["mismatches"] else "green")


def check_view(report: dict[str, Any]) -> Iterator[RenderableType]:
    src = report["source"]
    writer = " ".join(x for x in (src.get("library"), src.get("library_version")) if x) or "unknown library"
    yield Text.assemble(("check ", "bold"), src["path"], f"  ({src['format']} written by {writer})")
    if not report["architecture"]:
        yield Text("no architecture in the file: only the weights' own config is checked, not the input they take")
    for fact in [*report["mismatches"], *report["resolved"]]:
        yield fact_line(fact)
    for left in report["unresolved"]:
        yield Text.assemble(("unknown ", "yellow"), f"{left['layer']}: {left['reason']}")
    yield summary(report)
