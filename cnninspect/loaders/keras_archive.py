"""``.keras`` archives (Keras 3, and tf.keras 2.13-2.15): a zip of ``metadata.json``,
``config.json`` and ``model.weights.h5`` (or ``model.weights.npz``).

Members are read in place, never extracted: an uncompressed weights file is opened as a
window onto the archive, so only the metadata and the slices asked for are read.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..core.model import Model
from ..errors import BrokenFile
from . import keras_h5
from .keras_config import parse_config
from .sniff import zip_kind
from .zipped import data_offset, guard_members, is_zip, member_names, open_zip

MAX_JSON_BYTES = 256 * 1024 * 1024


def sniff(head: bytes, path: Path) -> bool:
    return is_zip(head) and "config.json" in member_names(path)


def open_model(path: Path, options: Any = None) -> Model:
    zf = open_zip(path)
    try:
        guard_members(zf)
        config = _json(zf, "config.json")
        metadata = _json(zf, "metadata.json") if "metadata.json" in zf.namelist() else {}
        version = metadata.get("keras_version") if isinstance(metadata, dict) else None
        names = zf.namelist()
        if "model.weights.h5" in names:
            f = keras_h5.open_hdf5(_member_file(zf, path, "model.weights.h5"))
            model = keras_h5.assemble(f, path, "keras-archive", config, version, None, f)
        else:
            model = keras_h5.assemble(None, path, "keras-archive", config, version, None, None)
            model.notes.append(
                "the weights are in model.weights.npz, whose entries are pickled Python dicts (Keras' NpzIOStore): "
                "cnninspect never runs pickle, so only the architecture is shown"
                if "model.weights.npz" in names
                else "the archive holds no weights file: architecture only"
            )
        close_weights = model._close

        def close() -> None:
            if close_weights is not None:
                close_weights()
            zf.close()

        model._close = close
        return model
    except BaseException:
        zf.close()
        raise


def read_config(path: Path) -> Any:
    """The architecture in an archive's ``config.json`` (``--config model.keras``)."""
    zf = open_zip(path)
    try:
        guard_members(zf)
        if "config.json" not in zf.namelist():
            raise BrokenFile(f"{zip_kind(zf.namelist())} without config.json, not a .keras archive")
        return _json(zf, "config.json")
    finally:
        zf.close()


def _json(zf: zipfile.ZipFile, name: str) -> Any:
    info = zf.getinfo(name)
    if info.file_size > MAX_JSON_BYTES:
        raise BrokenFile(f"{name} in the archive claims {info.file_size:,} bytes: too large for a config")
    try:
        return parse_config(zf.read(name))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BrokenFile(f".keras archive whose {name} is not valid JSON ({exc})") from None
    except RecursionError:
        raise BrokenFile(f".keras archive whose {name} is nested too deeply to be a config") from None


def _member_file(zf: zipfile.ZipFile, path: Path, name: str) -> Any:
    """A seekable file object over one member: a window onto the archive when the member
    is stored uncompressed, else zipfile's own (slower to seek) decompressing reader."""
    info = zf.getinfo(name)
    if info.compress_type == zipfile.ZIP_STORED:
        return _Window(path, data_offset(path, info), info.file_size)
    return zf.open(name)


class _Window(io.RawIOBase):
    """Bytes ``[start, start + size)`` of a file, as a read-only seekable file."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        super().__init__()
        self._fh = path.open("rb", buffering=0)
        self._start, self._size, self._pos = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        data = _pread(self._fh, n, self._start + self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _pread(fh: Any, n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset``. libhdf5 makes thousands of small reads at scattered
    offsets: one ``os.pread`` each, where the OS has it (not Windows), rather than a
    seek and a read."""
    if hasattr(os, "pread"):
        return os.pread(fh.fileno(), n, offset)
    fh.seek(offset)
    return fh.read(n)
