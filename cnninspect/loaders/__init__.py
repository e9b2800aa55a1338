"""The loader registry: which module reads which file, decided by content.

Each format is one entry: a cheap ``sniff(head, path)`` over the first bytes (and, for
zip archives, the member names) and the module whose ``open_model(path, options)`` reads
it. Loader modules import their heavy libraries only inside ``open_model``, so sniffing
costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.model import Model
from ..errors import FileNotReadable, UnrecognisedFile
from . import keras_archive, keras_h5, numpy_files, onnx_files, pytorch, safetensors_files, tflite_files
from .sniff import HEAD_SIZE, describe


@dataclass(frozen=True)
class OpenOptions:
    """What the user can tell a loader that the file itself may not say."""

    config: Path | None = None  # an architecture file (to_json / to_yaml) for a weights-only file
    layout: str | None = None  # the layout convention of files that do not record one


@dataclass(frozen=True)
class Loader:
    format: str
    sniff: Callable[[bytes, Path], bool]
    module: str  # imported only when the file is this loader's


LOADERS: list[Loader] = [
    Loader("keras-h5", keras_h5.sniff, "cnninspect.loaders.keras_h5"),
    Loader("keras-archive", keras_archive.sniff, "cnninspect.loaders.keras_archive"),
    Loader("numpy", numpy_files.sniff, "cnninspect.loaders.numpy_files"),
    Loader("pytorch", pytorch.sniff, "cnninspect.loaders.pytorch"),
    Loader("safetensors", safetensors_files.sniff, "cnninspect.loaders.safetensors_files"),
    Loader("tflite", tflite_files.sniff, "cnninspect.loaders.tflite_files"),
    Loader("onnx", onnx_files.sniff, "cnninspect.loaders.onnx_files"),  # last: protobuf has no magic
]


def read_head(path: Path) -> bytes:
    if not path.exists():
        raise FileNotReadable("no such file")
    if path.is_dir():
        raise FileNotReadable("is a directory, not a model file")
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_SIZE)
    except OSError as exc:
        raise FileNotReadable(f"cannot be read ({exc.strerror or exc})") from None


def open_model(path: Path, options: OpenOptions = OpenOptions()) -> Model:
    head = read_head(path)
    for loader in LOADERS:
        if loader.sniff(head, path):
            return importlib.import_module(loader.module).open_model(path, options)
    raise UnrecognisedFile(f"not a model file cnninspect reads: {describe(head, path)}")
