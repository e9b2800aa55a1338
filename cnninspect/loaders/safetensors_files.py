"""safetensors files: a little-endian u64 header length, a JSON header
``{name: {dtype, shape, data_offsets}}`` (plus an optional ``__metadata__`` of strings),
then the raw tensors back to back.

The header is read by hand (no safetensors package needed) and checked before anything
trusts it: its length fits the file, every dtype is known, every tensor's byte range lies
inside the data section, matches its shape exactly and overlaps no other. Values are read
lazily through ``np.memmap``, only the slice asked for. Dtypes NumPy lacks (``bfloat16``,
the float8s) are listed by their own names and read widened to float32 (``core.dtypes``).

Layers come from the names' dotted prefixes, as in PyTorch state dicts
(``features.0.weight`` is role ``weight`` of layer ``features.0``); kinds from roles and
ranks; layouts are PyTorch's (``(out, in, kh, kw)`` conv, ``(out, in)`` linear).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.dtypes import DType, from_safetensors, widen
from ..core.model import Graph, Model, Source
from ..errors import BrokenFile

MAX_HEADER = 100_000_000  # the safetensors library's own limit on the JSON header
MAX_RANK = 32
LIBRARIES = {"pt": "pytorch", "tf": "tensorflow", "np": "numpy", "flax": "flax", "mlx": "mlx", "paddle": "paddle"}


def sniff(head: bytes, path: Path) -> bool:
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    # The JSON object starts right after the length: '{"', '{}' or '{' and whitespace.
    return 2 <= n < 1 << 48 and head[8:9] == b"{" and head[9:10] in (b'"', b"}", b" ", b"\n", b"\r", b"\t")


@dataclass
class Tensor:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    start: int
    end: int


def read_header(path: Path) -> tuple[list[Tensor], dict[str, str], int]:
    """The validated tensors (in data order), the metadata, and where the data starts."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise BrokenFile(f"safetensors file of {size} bytes: too short for its 8-byte header length")
        n = int.from_bytes(prefix, "little")
        if n > size - 8:
            raise BrokenFile(f"safetensors header claims {n:,} bytes, but the file has {size - 8:,} after the length: truncated?")
        if n > MAX_HEADER:
            raise BrokenFile(f"safetensors header of {n:,} bytes is larger than any real one ({MAX_HEADER:,})")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BrokenFile(f"safetensors header is not valid JSON ({reason})") from None
    if not isinstance(header, dict):
        raise BrokenFile(f"safetensors header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise BrokenFile("safetensors __metadata__ is not an object of strings")
    data_size = size - 8 - n
    tensors = [_tensor(name, info, data_size) for name, info in header.items()]
    _check_overlaps(sorted(tensors, key=lambda t: (t.start, t.end)))
    return tensors, {str(k): str(v) for k, v in metadata.items()}, 8 + n


def _tensor(name: str, info: Any, data_size: int) -> Tensor:
    where = f"safetensors tensor '{name}'"
    if not isinstance(info, dict):
        raise BrokenFile(f"{where} is described by a {type(info).__name__}, not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    try:
        spec = from_safetensors(str(dtype))
    except KeyError:
        raise BrokenFile(f"{where} has unknown dtype {dtype!r}") from None
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_natural(d) for d in shape):
        raise BrokenFile(f"{where} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(o) for o in offsets)):
        raise BrokenFile(f"{where} has invalid data_offsets {offsets!r}")
    start, end = offsets
    if start > end or end > data_size:
        raise BrokenFile(
            f"{where} lies at bytes {start:,}-{end:,} of a {data_size:,}-byte data section: truncated, or a lying header"
        )
    needed = spec.nbytes(math.prod(shape))
    if end - start != needed:
        raise BrokenFile(f"{where} claims shape {tuple(shape)} of {dtype} ({needed:,} bytes) in {end - start:,} bytes: a lying header")
    return Tensor(name, spec, tuple(shape), start, end)


def _natural(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_overlaps(tensors: list[Tensor]) -> None:
    last: Tensor | None = None  # the non-empty tensor that reaches furthest so far
    for t in tensors:
        if t.end == t.start:
            continue
        if last is not None and t.start < last.end:
            raise BrokenFile(f"safetensors tensors '{last.name}' and '{t.name}' overlap (bytes {t.start:,}-{min(t.end, last.end):,})")
        if last is None or t.end > last.end:
            last = t


def _reader(path: Path, offset: int, tensor: Tensor) -> Callable[[tuple], Any]:
    spec = tensor.dtype

    def read(index: tuple) -> Any:
        import numpy as np

        if spec.storage is None:
            raise BrokenFile(f"'{tensor.name}' is {spec.name}, which cnninspect cannot read as an array: its values are not shown")
        if math.prod(tensor.shape) == 0:
            return widen(np.empty(tensor.shape, spec.storage)[index], spec)
        mm = np.memmap(path, dtype=spec.storage, mode="r", offset=offset + tensor.start, shape=tensor.shape)
        return widen(np.array(mm[index]), spec)

    return read


def open_model(path: Path, options: Any = None) -> Model:
    from ..core.layouts import USER_LAYOUTS
    from .numpy_files import Entry, named_layers

    tensors, metadata, offset = read_header(path)
    tensors.sort(key=lambda t: _natural_key(t.name))  # writers sort by dtype or name: show 2 before 10
    entries = [Entry(t.name, t.shape, t.dtype, _reader(path, offset, t)) for t in tensors]
    user = getattr(options, "layout", None)
    convention, flipped = USER_LAYOUTS[user] if user else ("torch", False)
    layers = named_layers(entries, convention, flipped)
    notes = [
        "no architecture in a safetensors file: layers are rebuilt from the tensors' dotted names, their kinds "
        f"guessed from roles and ranks, kernels read in {'PyTorch' if convention == 'torch' else user}'s layout"
        + ("" if user else " (--layout keras if a TensorFlow program wrote it)")
    ]
    if metadata:
        notes.append("metadata: " + ", ".join(f"{k}={v}" for k, v in metadata.items()))
    return Model(
        name=path.name.rsplit(".", 1)[0] if "." in path.name else path.name,
        graph=Graph(layers, [], []),
        source=Source(str(path), "safetensors", LIBRARIES.get(metadata.get("format", ""))),
        notes=notes,
        architecture=False,
    )


def _natural_key(name: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))

