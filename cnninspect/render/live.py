"""Lay out the live part of a ``filters --input`` report: the inputs it ran on, the
contributions ``in[i] ⋆ F[i, n]`` ranked by their L2 norm, the equation with its numbers
(summed over the map) and the self-check against the executor's own output of the
layer. Nothing here computes a number the report does not hold, but the sums it adds up
to print them."""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .numbers import column_format, significant
from .tables import format_shape

ROUND_OFF = 1e-5  # relative: what float32 sums of thousands of terms may differ by


def live_view(report: dict[str, Any], top: Optional[int] = None) -> Iterator[RenderableType]:
    for i, given in enumerate(report["run_inputs"]):
        how = f", preprocess {given['preprocess']}" if given.get("preprocess") else ""
        yield Text(f"live, on input {i} '{given['name']}': {given['from']} as {format_shape(given['shape'])} {report['dtype']}{how}")
    yield from _table(report, top)
    yield from _equation(report)
    yield _self_check(report)


def _table(report: dict[str, Any], top: Optional[int]) -> Iterator[RenderableType]:
    entries = report["contributions"]
    shown = entries[:top] if top is not None else entries
    dense = report["layer"]["op"] == "dense"
    over = "summed over each map's units" if report.get("unflattened") else "" if dense and not report["output"]["shape"] else "over the map"
    yield Text(f"contributions in[i] {'·' if dense else '⋆'} {'W' if dense else 'F'}[i,{report['out']}], the {len(shown)} strongest "
               f"of {len(entries)} by L2 {over}".rstrip())  # fmt: skip
    table = Table(box=None)
    for name in ("rank", "in", "sum", "L2", "max |·|"):
        table.add_column(name, justify="right")
    sums = column_format([e["sum"] for e in shown], signed=True)
    l2 = column_format([e["l2"] for e in shown])
    peak = column_format([e["max_abs"] for e in shown])
    for rank, e in enumerate(shown, 1):
        table.add_row(str(rank), str(e["in"]), sums(e["sum"]), l2(e["l2"]), peak(e["max_abs"]))
    yield table


def _equation(report: dict[str, Any]) -> Iterator[RenderableType]:
    """The equation with its numbers: the bias, each contribution's sum and the
    pre-activation, summed over the map (one number for a dense unit)."""
    n = report["out"]
    pre, out = report["pre_activation"], report["output"]
    size = math.prod(pre["shape"])
    bias = report["bias"] or 0.0
    terms = [e["sum"] for e in report["contributions"]]
    shown = " + ".join(f"({significant(t)})" for t in terms[:3]) + (f" + … {len(terms) - 3} more" if len(terms) > 3 else "")
    b = f"{size}·({significant(bias)}) + " if size > 1 else f"{significant(bias)} + "
    where = "summed over the map: " if size > 1 else ""
    total = pre["stats"]["mean"] * size if pre["stats"]["mean"] is not None else float("nan")
    yield Text(f"pre-activation = b[{n}] + Σ_i contributions, {where}{b}{shown} = {significant(total)}")
    f = report["activation"]
    applied = f"{f}(z)[{n}]" if "(z)" in report["equation"] else f"{f}(pre-activation)"
    if pre["shape"]:
        yield Text(f"pre-activation {format_shape(pre['shape'])}: {_stats(pre['stats'])}")
        yield Text(f"out[{n}] = {applied} {format_shape(out['shape'])}: {_stats(out['stats'])}")
    else:
        yield Text(f"out[{n}] = {applied} = {significant(out['stats']['max'])}")


def _stats(s: dict[str, Any]) -> str:
    if s["min"] is None:
        return "empty"
    return (f"min {significant(s['min'])}, max {significant(s['max'])}, mean {significant(s['mean'])}, "
            f"std {significant(s['std'])}, zeros {100 * s['zeros']:.1f}%")  # fmt: skip


def _self_check(report: dict[str, Any]) -> Text:
    check = report["self_check"]
    verdict = "float32 round-off" if check["relative"] <= ROUND_OFF else "MORE than round-off: please report it"
    return Text(
        f"self-check: max |this sum through {report['activation']} − {check['against']}| = "
        f"{significant(check['max_abs_diff'], 3)} ({significant(check['relative'], 2)} of the terms' magnitude "
        f"{significant(check['magnitude'], 3)}): {verdict}",
        style="green" if check["relative"] <= ROUND_OFF else "bold red",
    )
