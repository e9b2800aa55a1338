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
    if "activations_compared" in report:
        yield from _activations(report)
    if report["same_network"]:
        yield Text("same network", style="bold green")
    elif report["same_network"] is None:
        yield Text("weights the same; the run stopped before every layer was compared: not decided", style="bold yellow")
    else:
        yield Text("different networks", style="bold red")


def _activations(report: dict[str, Any]) -> Iterator[RenderableType]:
    """The --input run: what ran, the first paired layer whose outputs differ, or where it stopped."""
    shown = ", ".join(f"{x['from']} as {tuple(x['shape'])}" for x in report["inputs"]["a"])
    for note in report["notes"]:
        yield Text(f"note: {note}", style="dim")
    n = report["activations_compared"]
    ran = f"run on {shown}: {n} paired layer output{'' if n == 1 else 's'} compared in A's layout"
    first = report["first_divergent_activation"]
    if first is not None:
        size = (f"max |Δ| {_number(first['max_abs_diff'])}, rel L2 {_number(first['rel_l2'])}" if first["max_abs_diff"] is not None
                else f"shapes {first['shapes'][0]} vs {first['shapes'][1]}")  # fmt: skip
        yield Text(f"{ran}; first divergent: {first['a']} ↔ {first['b']} ({size})", style="bold red")
    elif "activations_stopped" in report:
        stop = report["activations_stopped"]
        yield Text(f"{ran}; none differed, then {stop['side']} could not be run further, the comparison stopped there: {stop['reason']}", style="bold yellow")
    else:
        yield Text(f"{ran}; none differs beyond the tolerance", style="green")
