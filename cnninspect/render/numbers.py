"""How numbers read in a column: one format for every number of a column, its decimals
chosen from the column's largest magnitude, so that ``1.040`` stands beside ``0.951``
(never ``1.04`` beside ``0.9506``); integers print as integers; a value that rounds to
zero prints without a sign (never ``-0.000``); NaN and ±Inf print as ``nan``, ``+inf``,
``-inf``."""

from __future__ import annotations

import math
from typing import Callable, Iterable

Format = Callable[[float], str]
MAX_DECIMALS = 8


def decimals(magnitude: float, significant: int) -> int:
    """Decimals that give ``magnitude`` its ``significant`` digits (none for >= 10**significant)."""
    if magnitude <= 0 or not math.isfinite(magnitude):
        return 0
    return min(MAX_DECIMALS, max(0, significant - 1 - math.floor(math.log10(magnitude))))


def nonfinite_text(value: float, signed: bool = True) -> str:
    if math.isnan(value):
        return "nan"
    return ("+inf" if signed else "inf") if value > 0 else "-inf"


def column_format(values: Iterable[float], significant: int = 4, signed: bool = False, least: int = 0) -> Format:
    """One format for ``values``: integers when every finite value is a whole number,
    else fixed decimals (at least ``least``) giving the largest magnitude ``significant``
    digits; scientific notation when that would show the smallest non-zero magnitude
    with no significant digit at all (a column spanning many orders of magnitude)."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    sign = "+" if signed else ""
    if all(v == int(v) and v < 1e15 for v in finite):
        return fixed(f"{sign}.0f", signed)
    largest = max(finite)
    places = max(least, decimals(largest, significant))
    smallest = min((v for v in finite if v), default=largest)
    if places < MAX_DECIMALS and smallest < 0.5 * 10.0**-places:
        return fixed(f"{sign}.{significant - 1}e", signed)
    return fixed(f"{sign}.{places}f", signed)


def fixed(spec: str, signed: bool = True) -> Format:
    """``format(v, spec)``, with no sign on a value that rounds to zero and words for
    the non-finite ones."""

    def text(value: float) -> str:
        if not math.isfinite(value):
            return nonfinite_text(value, signed)
        out = format(value, spec)
        if out[:1] in "+-" and not any(c in "123456789" for c in out.split("e")[0]):
            return " " + out[1:] if signed else out[1:]
        return out

    return text


def significant(value: float, digits: int = 4) -> str:
    """One number alone (a scale, a bound): ``digits`` significant digits."""
    return nonfinite_text(value, False) if not math.isfinite(value) else f"{value:.{digits}g}"
