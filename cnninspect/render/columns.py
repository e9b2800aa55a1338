"""The optional columns of the ``shapes`` table and how their numbers read (SI or binary
units). No heavy imports: the command checks ``--columns`` and ``--units`` before reading."""

from __future__ import annotations

from ..errors import UsageError

# name -> header; "shape" is the output shape (or, for weights-only files, channels and kernel).
COLUMNS = {"shape": "Output shape", "params": "Params", "macs": "MACs", "flops": "FLOPs", "memory": "Memory", "rf": "RF"}
DEFAULT_COLUMNS = ("shape", "params", "macs")
# Without an architecture nothing is counted: MACs would be a column of '?'.
WEIGHTS_ONLY_COLUMNS = ("shape", "params")
UNITS = ("si", "binary")


def parse_columns(text: str | None) -> tuple[str, ...] | None:
    """``shape,params,macs`` (in that order), or ``all``; None for the default, which
    depends on the file (``default_columns``)."""
    if text is None:
        return None
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return tuple(COLUMNS)
    bad = [n for n in names if n not in COLUMNS]
    if bad or not names:
        raise UsageError(f"--columns {text!r}: valid columns are {', '.join(COLUMNS)}, or all")
    return tuple(dict.fromkeys(names))


def check_units(units: str) -> str:
    if units not in UNITS:
        raise UsageError(f"--units {units!r} is not one of: {', '.join(UNITS)}")
    return units


def format_count(n: int | None) -> str:
    """MACs and FLOPs: SI prefixes (k, M, G, T), three significant digits."""
    if n is None:
        return "?"
    return _scaled(n, 1000, ("", " k", " M", " G", " T"))


def format_bytes(n: int | None, units: str = "si") -> str:
    if n is None:
        return "?"
    if units == "binary":
        return _scaled(n, 1024, (" B", " KiB", " MiB", " GiB", " TiB"))
    return _scaled(n, 1000, (" B", " kB", " MB", " GB", " TB"))


def _scaled(n: int, base: int, prefixes: tuple[str, ...]) -> str:
    value, i = float(n), 0
    while value >= base and i < len(prefixes) - 1:
        value, i = value / base, i + 1
    return f"{n}{prefixes[0]}" if i == 0 else f"{value:.3g}{prefixes[i]}"


def format_field(field: dict | None) -> str:
    """``5×5 j2``: the receptive field's size and jump per spatial axis."""
    if field is None:
        return ""
    size = "×".join("?" if s is None else f"{s:g}" for s in field["size"])
    jumps = ["?" if j is None else f"{j:g}" for j in field["jump"]]
    jump = jumps[0] if len(set(jumps)) == 1 else "×".join(jumps)
    return f"{size} j{jump}"


def default_columns(architecture: bool) -> tuple[str, ...]:
    return DEFAULT_COLUMNS if architecture else WEIGHTS_ONLY_COLUMNS
