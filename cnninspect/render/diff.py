"""The terminal view of the ``diff`` report: the pairing with each pair's verdict, what
could not be paired, the counts and the verdict. It only lays out what the report holds."""

from __future__ import annotations

from typing import Any, Iterator

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"different": "bold red", "not_compared": "yellow"}
VERDICT_TEXT = {
    "equal": "equal",
    "equal_within_tolerance": "equal within tol.",
    "equal_after_layout_change": "equal, transposed",
    "equal_after_theano_flip": "equal, Theano flip",
    "equal_after_flatten_reorder": "equal, flatten reorder",
    "different": "DIFFERENT",
    "not_compared": "not compared",
}
FACT_KINDS = {"conv", "conv_transpose", "separable_conv", "dense", "batchnorm"}  # the kinds whose facts are compared


def _source(label: str, src: dict[str, Any]) -> Text:
    writer = " ".join(x for x in (src.get("library"), src.get("library_version")) if x) or "unknown library"
    return Text.assemble((f"{label} ", "bold"), src["path"], f"  ({src['format']} written by {writer})")


def _number(value: float | None, fmt: str = ".3g") -> str:
    return "?" if value is None else format(value, fmt)


def diff_view(report: dict[str, Any]) -> Iterator[RenderableType]:
    yield _source("A", report["a"])
    yield _source("B", report["b"])
    pairs = report["pairs"]
    # Checkpoints of one format: the layers that moved most first. Ports: in model order.
    order = report["ranking"] + [i for i in range(len(pairs)) if i not in report["ranking"]] if report["same_format"] else range(len(pairs))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header, justify in (("A", "left"), ("B", "left"), ("Layout", "left"), ("Weights", "left"), ("Max |Δ|", "right"),
                            ("Rel L2", "right"), ("Changed", "right"), ("Facts", "left")):  # fmt: skip
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for i in order:
        p = pairs[i]
        # Between checkpoints a difference is a change, not a fault.
        word = "changed" if report["same_format"] and p["verdict"] == "different" else VERDICT_TEXT.get(p["verdict"], p["verdict"])
        verdict = Text(word, style=VERDICT_STYLE.get(p["verdict"], "green"))
        changed = "?" if p["changed_fraction"] is None else f"{p['changed']}/{p['size']}"
        facts = (
            Text("differ", style="bold red") if p["facts_differ"]
            else Text("?") if p["facts_unknown"]  # stated in one file only: the line below the table names them
            else Text("same" if p["kind"] in FACT_KINDS else "")
        )  # fmt: skip
        layout = p["a_layout"] if p["a_layout"] == p["b_layout"] else f"{p['a_layout']}→{p['b_layout']}"
        table.add_row(p["a"], p["b"], layout or "", verdict, _number(p["max_abs_diff"]), _number(p["rel_l2"]), changed, facts)
    yield table
    for p in pairs:
        where = f"{p['a']} ↔ {p['b']}: "
        for fact in p["facts_differ"]:
            yield Text(where + f"{fact['fact']} {fact['a']} in A, {fact['b']} in B", style="bold red")
        if p.get("hint"):
            yield Text(where + p["hint"], style=VERDICT_STYLE.get(p["verdict"], "red"))
        for note in p["notes"]:
            yield Text(where + note, style="dim")
    unknown = list(dict.fromkeys(f for p in pairs for f in p["facts_unknown"]))
    if unknown:
        yield Text(f"facts ?: stated in one file only, not compared: {', '.join(unknown)}", style="dim")
    for label, key in (("A", "unpaired_a"), ("B", "unpaired_b")):
        for u in report[key]:
            shapes = ", ".join(f"{role} {tuple(shape)}" for role, shape in u["shapes"].items())
            yield Text(f"only in {label}: {u['layer']} ({u['type']}; {shapes})", style="yellow")
    c = report["counts"]
    yield Text(
        f"{c['pairs']} pair{'' if c['pairs'] == 1 else 's'}: {c['identical']} identical, {c['changed']} changed; "
        f"{c['only_in_a']} only in A, {c['only_in_b']} only in B   (tolerance {report['tolerance']:g} of each tensor's largest |value|)"
    )
    if report["same_network"]:
        yield Text("same network", style="bold green")
    else:
        yield Text("different networks", style="bold red")
