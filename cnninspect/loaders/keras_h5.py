"""Keras HDF5 files: full models (Keras 1, Keras 2, tf.keras, Keras 3's legacy ``.h5``),
Keras 1/2 weights-only files (``save_weights``) and Keras 3 ``.weights.h5`` stores.

Only metadata is read here (attributes, the config, dataset shapes and dtypes); weight
values are read through lazy handles when a command asks for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.consistency import config_misfit
from ..core.model import Model, Source
from ..errors import BrokenFile, UnrecognisedFile, UsageError
from . import keras_weights as kw
from .architecture import load_architecture, sibling_architecture
from .keras_config import build_graph, parse_config

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def sniff(head: bytes, path: Path) -> bool:
    # HDF5 allows a user block of 512, 1024, 2048, ... bytes before the signature.
    return any(head[o : o + 8] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048) if len(head) >= o + 8)


def describe_hdf5(f: Any) -> str:
    keys = list(f.keys())[:6]
    attrs = list(f.attrs.keys())[:6]
    groups = "groups " + ", ".join(keys) if keys else "no groups"
    return f"HDF5 with {groups}" + (f" and attributes {', '.join(attrs)}" if attrs else "")


def open_hdf5(source: Any) -> Any:
    """h5py.File on a path or a file object, with a one-line error for damaged files."""
    import h5py

    try:
        return h5py.File(source, "r")
    except OSError as exc:
        reason = str(exc).split("(")[0].strip().rstrip(".") or "unreadable"
        raise BrokenFile(f"HDF5 signature, but the file cannot be opened ({reason}): truncated or damaged?") from None


def open_model(path: Path, options: Any = None) -> Model:
    f = open_hdf5(path)
    try:
        return read_hdf5(f, path, getattr(options, "config", None))
    except BaseException:
        f.close()
        raise


def read_hdf5(f: Any, path: Path, config_path: Path | None, fmt: str = "keras-h5") -> Model:
    """A model from an open Keras HDF5 file; ``config_path`` supplies the architecture of
    a weights-only file."""
    attrs = f.attrs
    version = kw.text(attrs["keras_version"]) if "keras_version" in attrs else None
    backend = kw.text(attrs["backend"]) if "backend" in attrs else None
    if "model_config" in attrs:
        if config_path is not None:
            raise UsageError(f"--config {config_path}: this file holds its own architecture (model_config); "
                             "--config is for weights-only files")
        config = _parse_config(kw.text(attrs["model_config"]), "model_config")
        model = assemble(f, path, fmt, config, version, backend, f["model_weights"] if "model_weights" in f else None)
        if "optimizer_weights" in f:
            count = _count_datasets(f["optimizer_weights"])
            model.notes.append(f"optimizer state (optimizer_weights, {count} tensors) is not part of the model: not listed")
        return model
    if "layer_names" in attrs or "layer_names0" in attrs:  # Keras 1/2 save_weights
        return _fitted(assemble(f, path, "keras-h5-weights", _architecture(config_path), version, backend, f), config_path)
    if "layers" in f and not attrs.keys():  # Keras 3 .weights.h5
        fmt = "keras3-weights-h5" if fmt == "keras-h5" else fmt
        return _fitted(assemble(f, path, fmt, _architecture(config_path), version, backend, f), config_path)
    raise UnrecognisedFile(f"{describe_hdf5(f)}, not a Keras model (no model_config, layer_names or layers/)")


def _fitted(model: Model, config_path: Path | None) -> Model:
    """A weights-only file read with the --config architecture, which must fit its weights."""
    misfit = config_misfit(model.graph) if config_path is not None else None
    if misfit is not None:
        model.close()
        raise UsageError(misfit)
    return model


def _count_datasets(group: Any) -> int:
    import h5py

    found: list[str] = []
    group.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return len(found)


def _parse_config(raw: str, what: str) -> Any:
    try:
        return parse_config(raw)
    except json.JSONDecodeError as exc:
        raise BrokenFile(f"Keras HDF5 whose {what} is not valid JSON ({exc.msg} at char {exc.pos})") from None
    except RecursionError:
        raise BrokenFile(f"Keras HDF5 whose {what} is nested too deeply to be a model config") from None


def _architecture(config_path: Path | None) -> Any:
    return load_architecture(config_path) if config_path is not None else None


def assemble(
    f: Any, path: Path, fmt: str, config: Any, version: str | None, backend: str | None, root: Any
) -> Model:
    """Architecture (when there is one) plus weights (legacy groups or Keras 3 vars)."""
    keras3_store = root is not None and "layers" in root and "layer_names" not in getattr(root, "attrs", {})
    theano = False
    if root is not None and not keras3_store:
        names = [] if backend is not None else [n for _, group in kw.legacy_groups(root) for n in group]
        theano = kw.trained_by_theano(backend, version, names)
    notes: list[str] = []
    if config is not None:
        name, graph = build_graph(config)
        if keras3_store:
            kw.attach_keras3(graph, root["layers"], notes, keras2=(version or "").startswith("2."))
        elif root is not None:
            kw.attach_legacy(graph, root, theano, notes)
    else:
        name = path.stem
        graph = kw.graph_from_keras3(root["layers"]) if keras3_store else kw.graph_from_legacy(root, theano, version)
        notes.append(
            "weights only: no architecture in this file, so spatial dims are unknown and layer kinds come from "
            "default names and weight shapes; frozen layers cannot be told apart (only moving statistics count as "
            "non-trainable); --config FILE would resolve all of this"
        )
        sibling = sibling_architecture(path)
        if sibling is not None:
            notes.append(f"{sibling.name} beside this file looks like its architecture: add --config {sibling}")
    model = Model(name=name, graph=graph, source=Source(str(path), fmt, "keras", version, backend), notes=notes)
    model.architecture = config is not None
    model._close = f.close if f is not None else None
    return model

