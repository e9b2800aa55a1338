"""The loader registry: which module reads which file, decided by content.

Each format is one entry: the module whose cheap ``sniff(head, path)`` looks at the first
bytes (and, for zip archives, the member names) and whose ``open_model(path, options)``
reads it. Modules are imported in this order only until one claims the file, so an HDF5
file never imports the PyTorch, ONNX or TFLite loaders; and loader modules import their
heavy libraries only inside ``open_model``, so sniffing costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..core.model import Model
from ..errors import BrokenFile, FileNotReadable, UnrecognisedFile, UsageError
from .sniff import HEAD_SIZE, describe, zip_head_members, zip_kind
from .zipped import is_zip, member_names


@dataclass(frozen=True)
class OpenOptions:
    """What the user can tell a loader that the file itself may not say."""

    config: Path | None = None  # an architecture file (to_json / to_yaml) for a weights-only file
    layout: str | None = None  # the layout convention of files that do not record one


@dataclass(frozen=True)
class Loader:
    format: str
    module: str  # imported only when the files before it were not this loader's

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


LOADERS: list[Loader] = [
    Loader("keras-h5", "cnninspect.loaders.keras_h5"),
    # Text with a top-level class_name; its module costs nothing once keras_h5 is imported.
    Loader("keras-architecture", "cnninspect.loaders.keras_architecture"),
    # Before the zip and pickle formats, whose heavier modules it then spares: its sniff
    # (a u64 length below 2**48, then '{') matches none of their first bytes.
    Loader("safetensors", "cnninspect.loaders.safetensors_files"),
    Loader("keras-archive", "cnninspect.loaders.keras_archive"),
    Loader("numpy", "cnninspect.loaders.numpy_files"),
    Loader("pytorch", "cnninspect.loaders.pytorch"),
    Loader("tflite", "cnninspect.loaders.tflite_files"),
    Loader("onnx", "cnninspect.loaders.onnx_files"),  # last: protobuf has no magic
]


# The loaders that read --config: Keras weights-only HDF5 files (save_weights).
CONFIG_FORMATS = frozenset({"keras-h5"})


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
        module = loader.load()
        if module.sniff(head, path):
            if options.config is not None and loader.format not in CONFIG_FORMATS:
                raise UsageError(f"--config {options.config}: a {loader.format} file holds its own architecture "
                                 "(or none a Keras config describes); --config is for Keras weights-only HDF5 files")
            return module.open_model(path, options)
    if is_zip(head) and not member_names(path):
        names = zip_head_members(head)
        first = f", whose first member is {names[0]}" if names else ""
        raise BrokenFile(f"{zip_kind(names)}{first}, damaged or truncated: its directory at the end cannot be read")
    raise UnrecognisedFile(f"not a model file cnninspect reads: {describe(head, path)}")
