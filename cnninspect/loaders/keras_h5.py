"""Keras HDF5 full models: Keras 1, Keras 2, tf.keras and Keras 3's legacy ``.h5``.

Only metadata is read here (attributes, the config, dataset shapes and dtypes); weight
values are read through lazy handles when a command asks for them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..core.layouts import layout_for
from ..core.model import Layer, Model, Source, Weight
from ..errors import BrokenFile, UnrecognisedFile
from .keras_config import build_graph

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# Keras 1 weight suffixes (``convolution2d_1_W``) as the roles later Keras names.
KERAS1_ROLES = {
    "W": "kernel",
    "b": "bias",
    "U": "recurrent_kernel",
    "running_mean": "moving_mean",
    "running_std": "moving_variance",
    "alphas": "alpha",
}
NON_TRAINABLE_ROLES = frozenset({"moving_mean", "moving_variance", "mean", "variance", "count"})


def sniff(head: bytes, path: Path) -> bool:
    # HDF5 allows a user block of 512, 1024, 2048, ... bytes before the signature.
    return any(head[o : o + 8] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048) if len(head) >= o + 8)


def text(value: Any) -> str:
    """An HDF5 string attribute (fixed-length bytes, variable-length str, ...) as str."""
    if hasattr(value, "tolist") and not isinstance(value, (bytes, str)):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def name_list(attrs: Any, key: str) -> list[str]:
    """A list attribute, also when Keras split it into ``key0``, ``key1``, ... chunks."""
    if key in attrs:
        chunks = [attrs[key]]
    else:
        chunks = []
        while f"{key}{len(chunks)}" in attrs:
            chunks.append(attrs[f"{key}{len(chunks)}"])
    names: list[str] = []
    for chunk in chunks:
        values = chunk.tolist() if hasattr(chunk, "tolist") else chunk
        if not isinstance(values, list):
            values = [values]
        # Keras 1 stores an empty list as a float64 array of shape (0,).
        names.extend(text(v) for v in values if isinstance(v, (bytes, str)))
    return names


def describe_hdf5(f: Any) -> str:
    keys = list(f.keys())[:6]
    attrs = list(f.attrs.keys())[:6]
    groups = "groups " + ", ".join(keys) if keys else "no groups"
    return f"HDF5 with {groups}" + (f" and attributes {', '.join(attrs)}" if attrs else "")


def open_model(path: Path, options: Any = None) -> Model:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(")[0].strip().rstrip(".") or "unreadable"
        raise BrokenFile(f"HDF5 signature, but the file cannot be opened ({reason}): truncated or damaged?") from None
    try:
        return _read(f, path)
    except BaseException:
        f.close()
        raise


def _read(f: Any, path: Path) -> Model:
    if "model_config" not in f.attrs:
        if "layer_names" in f.attrs or "layer_names0" in f.attrs or "layers" in f:
            raise UnrecognisedFile(
                "Keras weights-only HDF5 (no model_config): weights-only files are not supported yet"
            )
        raise UnrecognisedFile(f"{describe_hdf5(f)}, not a Keras model (no model_config attribute)")
    raw = text(f.attrs["model_config"])
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BrokenFile(f"Keras HDF5 whose model_config is not valid JSON ({exc.msg} at char {exc.pos})") from None
    version = text(f.attrs["keras_version"]) if "keras_version" in f.attrs else None
    backend = text(f.attrs["backend"]) if "backend" in f.attrs else None
    name, graph = build_graph(config)
    model = Model(
        name=name,
        graph=graph,
        source=Source(str(path), "keras-h5", "keras", version, backend),
        _close=f.close,
    )
    if "model_weights" in f:
        _attach_weights(model, f["model_weights"], backend, version)
    return model


def trained_by_theano(backend: str | None, version: str | None, weight_names: list[str]) -> bool:
    """Theano computes a true convolution, so its kernels are flipped. Keras 2 records
    the backend; Keras 1 does not, but TensorFlow names variables ``name:0`` and Theano
    never did."""
    if backend is not None:
        return backend == "theano"
    if version is not None and not version.startswith("1."):
        return False
    return bool(weight_names) and not any(re.search(r":\d+$", n) for n in weight_names)


def _attach_weights(model: Model, root: Any, backend: str | None, version: str | None) -> None:
    top = {layer.name: layer for layer in model.graph.layers}
    groups = [(g, name_list(root[g].attrs, "weight_names") if g in root else []) for g in name_list(root.attrs, "layer_names")]
    theano = trained_by_theano(backend, version, [n for _, names in groups for n in names])
    for group_name, weight_names in groups:
        layer = top.get(group_name)
        if layer is None or group_name not in root:
            model.notes.append(f"weights group '{group_name}' matches no layer of the config; not shown")
            continue
        group = root[group_name]
        for weight_name in weight_names:
            if weight_name not in group:
                raise BrokenFile(f"layer '{group_name}' lists weight '{weight_name}', which is not in the file")
            chain = _owners(layer, weight_name)
            trainable = all(x.config.get("trainable", True) is not False for x in chain)
            weight = _weight(group[weight_name], weight_name, chain[-1], theano)
            weight.trainable = weight.trainable and trainable
            chain[-1].weights.append(weight)
    for row in model.rows():
        _disambiguate_roles(row.layer)


def _owners(layer: Layer, weight_name: str) -> list[Layer]:
    """The chain of layers from ``layer`` down to the leaf a weight belongs to. In a
    nested model the weight's name holds the inner layers' names, with or without the
    names of the containers in between."""
    chain = [layer]
    for part in weight_name.split("/")[:-1]:
        if chain[-1].graph is None:
            break
        found = _find(chain[-1], part)
        if found:
            chain.extend(found)
    return chain


def _find(container: Layer, name: str) -> list[Layer]:
    """The path of layers below ``container`` to the first one named ``name``."""
    assert container.graph is not None
    for inner in container.graph.layers:
        if inner.name == name:
            return [inner]
        if inner.graph is not None:
            below = _find(inner, name)
            if below:
                return [inner, *below]
    return []


def _role(weight_name: str, layer_name: str) -> str:
    base = re.sub(r":\d+$", "", weight_name.rsplit("/", 1)[-1])
    if "/" not in weight_name and base.startswith(layer_name + "_"):
        base = base[len(layer_name) + 1 :]  # Keras 1.0: convolution2d_1_W
    return KERAS1_ROLES.get(base, base)


def _weight(dataset: Any, weight_name: str, layer: Layer, theano: bool) -> Weight:
    role = _role(weight_name, layer.name)
    op = layer.attrs.get("layer", {}).get("op", layer.op) if layer.op == "time_distributed" else layer.op
    if layer.op == "bidirectional":
        op = "rnn"
    trainable = layer.config.get("trainable", True) is not False and role not in NON_TRAINABLE_ROLES
    convention = "keras-th" if layer.config.get("dim_ordering") == "th" else "keras"
    return Weight(
        name=dataset.name.lstrip("/"),
        role=role,
        shape=tuple(int(d) for d in dataset.shape),
        dtype=str(dataset.dtype),
        layout=layout_for(convention, op, role, len(dataset.shape), theano),
        trainable=trainable,
        reader=lambda index, ds=dataset: ds[index] if index else ds[()],
    )


def _disambiguate_roles(layer: Layer) -> None:
    """Wrappers (Bidirectional, ...) hold several weights with the same role: prefix each
    with the first part of its name that tells it apart from the others."""
    by_role: dict[str, list[Weight]] = {}
    for w in layer.weights:
        by_role.setdefault(w.role, []).append(w)
    for same in by_role.values():
        if len(same) < 2:
            continue
        parts = [w.name.split("/") for w in same]
        for w, own in zip(same, parts):
            differing = [p for i, p in enumerate(own[:-1]) if any(i >= len(o) or o[i] != p for o in parts)]
            if differing:
                w.role = f"{differing[0]}/{w.role}"
