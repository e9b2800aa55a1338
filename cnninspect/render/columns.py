"""The optional columns of the ``shapes`` table and how their numbers read (SI or binary
units). No heavy imports: the command checks ``--columns`` and ``--units`` before reading."""

from __future__ import annotations

from ..errors import UsageError

# name -> header; "shape" is the output shape (or, for weights-only files, channels and kernel).
COLUMNS = {"shape": "Output shape", "params": "Params", "macs": "MACs", "flops": "FLOPs", "memory": "Memory", "rf": "RF"}
# The layer's own settings, as Keras summary() and torchinfo users look for them; asked by
# name, or all six with "attrs" ("all" is the counting columns above).
ATTR_COLUMNS = {
    "trainable": "Trainable", "kernel": "Kernel", "stride": "Stride",
    "padding": "Padding", "dilation": "Dilation", "groups": "Groups",
}  # fmt: skip
HEADERS = {**COLUMNS, **ATTR_COLUMNS}
DEFAULT_COLUMNS = ("shape", "params", "macs")
# Without an architecture nothing is counted: MACs would be a column of '?'.
WEIGHTS_ONLY_COLUMNS = ("shape", "params")
UNITS = ("si", "binary")


def parse_columns(text: str | None) -> tuple[str, ...] | None:
    """``shape,params,macs`` (in that order), ``all`` (the counting columns), ``attrs``
    (the layer settings: trainable, kernel, stride, padding, dilation, groups), or names
    and groups mixed; None for the default, which depends on the file (``default_columns``)."""
    if text is None:
        return None
    groups = {"all": tuple(COLUMNS), "attrs": tuple(ATTR_COLUMNS)}
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in HEADERS and n not in groups]
    if bad or not names:
        raise UsageError(f"--columns {text!r}: valid columns are {', '.join(HEADERS)}, or the groups all, attrs")
    return tuple(dict.fromkeys(c for n in names for c in groups.get(n, (n,))))


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


def format_trainable(layer: dict) -> str:
    """``yes``, ``no`` or ``partly`` (some weights frozen); empty without weights."""
    if not layer["params"]:
        return ""
    if layer["trainable_params"] == layer["params"]:
        return "yes"
    return "no" if not layer["trainable_params"] else "partly"


def format_sizes(sizes: list | None) -> str:
    """``3×3``: one number per spatial axis."""
    return "" if sizes is None else "×".join("?" if s is None else str(s) for s in sizes)


def attr_cells(layer: dict) -> dict[str, str]:
    """The layer-settings columns of a shapes-report layer: trainable from its params;
    kernel, stride, padding, dilation and groups from its ``window`` (sliding-window
    layers; empty for the others and for what does not apply, ``?`` where unknown)."""
    window = layer.get("window")
    if window is None:  # not a sliding-window layer
        kernel = format_sizes(layer["kernel_size"])
        return {"trainable": format_trainable(layer), "kernel": kernel, "stride": "", "padding": "", "dilation": "", "groups": ""}

    def known(name: str) -> str:  # absent: does not apply; None (weights alone do not say): unknown
        if name not in window:
            return ""
        value = window[name]
        if isinstance(value, list) and value and isinstance(value[0], list):  # per-axis [before, after]
            return "×".join(str(b) if b == a else f"{b}/{a}" for b, a in value)
        return "?" if value is None else value if isinstance(value, str) else str(value) if isinstance(value, int) else format_sizes(value)

    return {
        "trainable": format_trainable(layer),
        "kernel": format_sizes(window.get("kernel_size") or layer["kernel_size"]) or "?",
        "stride": known("strides"),
        "padding": known("padding"),
        "dilation": known("dilation"),
        "groups": known("groups"),
    }


def default_columns(architecture: bool) -> tuple[str, ...]:
    return DEFAULT_COLUMNS if architecture else WEIGHTS_ONLY_COLUMNS
