"""Keras weights onto layers: by name in legacy HDF5 groups, by creation order in Keras 3
``layers/<key>/vars/<i>`` stores; and layers from the weights alone when there is no
architecture. Shared by the HDF5 file loader and the ``.keras`` archive loader."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Iterator

from ..core.layouts import layout_for
from ..core.model import Graph, Layer, Weight
from ..errors import BrokenFile
from .keras_config import CONTAINERS, KERAS1_CLASSES, TRANSLATORS, op_of_class

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


def text(value: Any) -> str:
    """An HDF5 string attribute (fixed-length bytes, variable-length str, ...) as str."""
    if hasattr(value, "tolist") and not isinstance(value, (bytes, str)):
        value = value.tolist()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BrokenFile(f"an HDF5 attribute holds bytes that are not UTF-8 text ({value[:24]!r}...): damaged") from None
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


def trained_by_theano(backend: str | None, version: str | None, weight_names: list[str]) -> bool:
    """Theano computes a true convolution, so its kernels are flipped. Keras 2 records
    the backend; Keras 1 does not, but TensorFlow names variables ``name:0`` and Theano
    never did."""
    if backend is not None:
        return backend == "theano"
    if version is not None and not version.startswith("1."):
        return False
    return bool(weight_names) and not any(re.search(r":\d+$", n) for n in weight_names)


def make_weight(
    home: Any,
    dataset: Any,
    role: str,
    layer: Layer,
    theano: bool = False,
    trainable: bool = True,
    convention: str | None = None,
) -> Weight:
    """A lazy weight over an h5py dataset (or anything with name, shape, dtype, []).
    The convention follows the layer's ``dim_ordering`` unless given.

    The reader does not keep ``dataset`` open: it finds it again by its absolute name in
    ``home``, a group of the same file that the model holds anyway. Every dataset left
    open pins its object header in libhdf5 (over 10 KB) and is one more to close: on a
    model of thousands of weights that is tens of MB and a slower exit, for the one or
    two tensors a command reads."""
    op = layer.op
    if op == "time_distributed":
        op = (layer.attrs.get("layer") or {}).get("op", "unknown")
    elif op == "bidirectional":
        op = "rnn"
    if convention is None:  # channels-first layouts: Keras 1 'th' kernels, tf-keras' locally connected ones
        first = layer.config.get("dim_ordering") == "th" or (op == "local" and layer.config.get("data_format") == "channels_first")
        convention = "keras-th" if first else "keras"
    base_role = role.rsplit("/", 1)[-1]
    name = dataset.name
    if not hasattr(dataset, "shape"):  # a damaged file can name a group or a committed type
        raise BrokenFile(f"weight {name} is a {type(dataset).__name__.lower()} in the file, not a dataset")
    return Weight(
        name=name.lstrip("/"),
        role=role,
        shape=tuple(int(d) for d in dataset.shape),
        dtype=str(dataset.dtype),
        layout=layout_for(convention, op, base_role, len(dataset.shape), theano),
        trainable=trainable and layer.config.get("trainable", True) is not False and base_role not in NON_TRAINABLE_ROLES,
        reader=partial(_read_named, home, name),
    )


# A dataset may inflate from compressed chunks, but not this far: beyond, it is a bomb.
MAX_INFLATION = 1000
MIN_BOMB_BYTES = 1 << 30


def _read_named(home: Any, name: str, index: tuple) -> Any:
    return _read_checked(home[name], index)


def _read_checked(dataset: Any, index: tuple) -> Any:
    """Read ``dataset[index]`` after checking that the file really stores what the
    dataset's header claims (a damaged or hostile header can claim petabytes)."""
    claimed = dataset.size * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if dataset.chunks is None and stored < claimed:
        raise BrokenFile(f"dataset {dataset.name} claims {claimed:,} bytes but the file stores {stored:,}: damaged")
    if claimed > MIN_BOMB_BYTES and claimed > MAX_INFLATION * max(stored, 1):
        raise BrokenFile(f"dataset {dataset.name} claims {claimed:,} bytes from {stored:,} stored: refused")
    try:
        return dataset[index] if index else dataset[()]
    except OSError as exc:
        raise BrokenFile(f"dataset {dataset.name} cannot be read ({str(exc).split('(')[0].strip()}): damaged") from None


# ---------------------------------------------------------------------------------------
# Legacy HDF5 (Keras 1, 2, tf.keras, Keras 3's .h5): groups named after layers


def legacy_groups(root: Any) -> list[tuple[str, list[str]]]:
    """``(layer name, weight names)`` in the order of ``layer_names``."""
    out = []
    for name in name_list(root.attrs, "layer_names"):
        try:
            out.append((name, name_list(root[name].attrs, "weight_names")))
        except KeyError:
            out.append((name, []))
    return out


def attach_legacy(graph: Graph, root: Any, theano: bool, notes: list[str]) -> None:
    """Give each top-level layer a loader for its group: a group's metadata is read when
    one of its layers' weights is first asked for (a nested model's group holds the
    weights of all its inner layers, so they share the loader)."""
    top = {layer.name: layer for layer in graph.layers}
    for group_name in name_list(root.attrs, "layer_names"):
        layer = top.get(group_name)
        if layer is None:
            if group_name in root and name_list(root[group_name].attrs, "weight_names"):
                notes.append(f"weights group '{group_name}' matches no layer of the architecture; not shown")
            continue
        loader = partial(_load_group, root, group_name, layer, theano)
        for x in _subtree(layer):
            x.weights_loader = loader


def _load_group(root: Any, group_name: str, layer: Layer, theano: bool) -> None:
    subtree = list(_subtree(layer))
    for x in subtree:
        x.weights_loader = None
    try:
        group = root[group_name]
    except KeyError:
        return
    for weight_name in name_list(group.attrs, "weight_names"):
        try:
            dataset = group[weight_name]
        except KeyError:
            raise BrokenFile(f"layer '{group_name}' lists weight '{weight_name}', which is not in the file") from None
        chain = _owners(layer, weight_name)
        trainable = all(x.config.get("trainable", True) is not False for x in chain)
        chain[-1].weights.append(make_weight(root, dataset, _role(weight_name, chain[-1].name), chain[-1], theano, trainable))
    for x in subtree:
        _disambiguate_roles(x)


def _subtree(layer: Layer) -> Iterator[Layer]:
    yield layer
    if layer.graph is not None:
        for inner in layer.graph.layers:
            yield from _subtree(inner)


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


# ---------------------------------------------------------------------------------------
# Keras 3 stores: layers/<snake_case class name, counted per container>/vars/<i>


def snake_case(name: str) -> str:
    """Keras 3's key for a class name: ``BatchNormalization`` → ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# Sub-objects a layer keeps its variables in, in the order their variables were created.
SUB_OBJECTS = ("forward_layer", "backward_layer", "cell", "layer")


def var_roles(cls: str, cfg: dict, keras2: bool = False) -> list[str]:
    """The roles of a layer's variables in creation order (trainable first), as Keras 3
    names them, or tf.keras when ``keras2`` (its depthwise kernel is ``depthwise_kernel``)."""
    bias = ["bias"] if cfg.get("use_bias", True) else []
    if keras2 and cls in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return ["depthwise_kernel", *bias]
    if cls in ("SeparableConv1D", "SeparableConv2D"):
        return ["depthwise_kernel", "pointwise_kernel", *bias]
    if cls in ("BatchNormalization",):
        return [*(["gamma"] if cfg.get("scale", True) else []), *(["beta"] if cfg.get("center", True) else []), "moving_mean", "moving_variance"]
    if cls in ("LayerNormalization", "GroupNormalization"):
        return [*(["gamma"] if cfg.get("scale", True) else []), *(["beta"] if cfg.get("center", True) else [])]
    if cls == "Embedding":
        return ["embeddings"]
    if cls == "PReLU":
        return ["alpha"]
    if cls == "Normalization":
        return ["mean", "variance", "count"]
    if cls in ("SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell"):
        return ["kernel", "recurrent_kernel", *bias]
    if op_of_class(cls) in ("conv", "conv_transpose", "depthwise_conv", "dense"):
        return ["kernel", *bias]
    return []


def _store_vars(group: Any, skip: frozenset[str] = frozenset()) -> list[tuple[str, Any]]:
    """``(sub-object path, dataset)`` of every variable under a layer's key, in order: its
    own ``vars``, then the sub-objects Keras keeps variables in (``cell``, ...), then any
    other child group (a custom layer's attributes), so that no stored tensor is left out.
    ``skip`` names children the caller reads itself (a container's ``layers``)."""
    out: list[tuple[str, Any]] = []
    members = list(group)  # one listing, not an HDF5 lookup per possible member
    if "vars" in members:
        variables = group["vars"]
        names = sorted(variables, key=lambda n: int(n) if n.isdigit() else 10**9)
        out += [("", variables[n]) for n in names]
    others = [m for m in members if m not in SUB_OBJECTS and m != "vars" and m not in skip]
    for sub in [*(s for s in SUB_OBJECTS if s in members), *others]:
        child = group[sub]
        if hasattr(child, "keys"):
            out += [(f"{sub}/{p}".rstrip("/"), d) for p, d in _store_vars(child)]
        else:
            out.append((sub, child))  # a dataset outside any vars group: still a stored tensor
    return out


def _roles_for(layer: Layer, variables: list[tuple[str, Any]], keras2: bool = False) -> list[str]:
    inner = layer.config.get("layer") if isinstance(layer.config.get("layer"), dict) else None
    cls, cfg = (inner.get("class_name", ""), inner.get("config") or {}) if inner else (layer.type, layer.config)
    base = var_roles(cls, cfg, keras2)
    roles = []
    per_sub: dict[str, int] = {}
    for sub, _ in variables:
        i = per_sub.get(sub, 0)
        per_sub[sub] = i + 1
        count = sum(1 for s, _ in variables if s == sub)
        if count == len(base) - 1 and base[-1:] == ["bias"] and not cfg:
            base = base[:-1]  # no config to say use_bias=False, but one variable short of it
        top = sub.split("/")[0]
        own = top in ("", *SUB_OBJECTS)
        expected = base if own else _sub_object_roles(cls, cfg, top)
        role = expected[i] if count == len(expected) else f"var_{i}"
        if top in ("forward_layer", "backward_layer"):
            role = f"{top}/{role}"
        elif not own:
            role = f"{sub}/{role}"  # a sub-object of its own (a layer's attribute)
        roles.append(role)
    return roles


# Layers that keep their variables in sub-layers of their own, stored under the
# attribute's name: each of these holds a kernel and (with use_bias) a bias.
DENSE_SUB_OBJECTS = {"MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense")}


def _sub_object_roles(cls: str, cfg: dict, sub: str) -> list[str]:
    if sub in DENSE_SUB_OBJECTS.get(cls, ()):
        return ["kernel", *(["bias"] if cfg.get("use_bias", True) else [])]
    return []


def attach_keras3(graph: Graph, layers_group: Any, notes: list[str], keras2: bool = False, where: str = "layers") -> None:
    """Match ``layers/<key>`` groups to the graph's layers, container by container.
    ``keras2``: the store was written by tf.keras (2.13+), whose names differ a little.
    Keys no layer of the architecture claims are named in a note, with their tensors."""
    used: dict[str, int] = {}
    present = set(layers_group)  # one listing, not an HDF5 lookup per layer
    claimed: set[str] = set()
    for layer in graph.layers:
        if layer.synthetic or layer.attrs.get("operation"):
            continue
        key = snake_case(layer.type)
        used[key] = used.get(key, -1) + 1
        if used[key]:
            key = f"{key}_{used[key]}"
        if key not in present:
            continue
        claimed.add(key)
        group = layers_group[key]
        if layer.graph is not None:
            if "layers" in group:
                attach_keras3(layer.graph, group["layers"], notes, keras2, f"{where}/{key}/layers")
            own = _store_vars(group, skip=frozenset({"layers"}))
            layer.weights.extend(make_weight(layers_group, d, f"var_{i}", layer) for i, (_, d) in enumerate(own))
            continue
        variables = _store_vars(group)
        roles = _roles_for(layer, variables, keras2)
        layer.weights.extend(make_weight(layers_group, d, r, layer) for (_, d), r in zip(variables, roles))
        if any(r.rsplit("/", 1)[-1].startswith("var_") for r in roles):
            notes.append(f"the variables of '{layer.name}' ({layer.type}) do not match its class's known order; shown by index")
    for key in sorted(present - claimed):
        count = _count_tensors(layers_group[key])
        if count:
            notes.append(f"{where}/{key} holds {count} tensor(s) that no layer of the architecture claims; not shown")


def _count_tensors(group: Any) -> int:
    if not hasattr(group, "keys"):
        return 1
    return sum(_count_tensors(group[m]) for m in group)


# ---------------------------------------------------------------------------------------
# No architecture: layers from the weights alone


def _class_names() -> dict[str, str]:
    """Default layer names back to classes: ``conv2d`` (Keras 2/3) and ``convolution2d``
    (Keras 1, lowercase) both name their class."""
    table = {}
    for cls in [*TRANSLATORS, *KERAS1_CLASSES]:
        table[cls.lower()] = cls
        table[snake_case(cls)] = cls
    table["input"] = "InputLayer"  # Keras 2 names inputs input_1, input_2, ...
    return table


CLASS_BY_NAME = _class_names()


def guess_class(name: str) -> str | None:
    """The class a layer's default name comes from: ``conv2d_3`` → ``Conv2D``."""
    return CLASS_BY_NAME.get(re.sub(r"_\d+$", "", name))


def layer_from_weights(
    home: Any, name: str, datasets: list[tuple[str, Any]], theano: bool, convention: str = "keras"
) -> Layer:
    """A layer known only by its name and weights (``(role, dataset)`` pairs, found in the
    group ``home``). Its kind comes from its default name when it has one, else from its
    weights' roles and ranks."""
    roles = {role: d for role, d in datasets}
    cls = guess_class(name)
    if cls is None:
        kernel = roles.get("kernel")
        if "depthwise_kernel" in roles and "pointwise_kernel" in roles:
            cls = f"SeparableConv{len(roles['depthwise_kernel'].shape) - 2}D"
        elif kernel is not None and len(kernel.shape) in (3, 4, 5):
            cls = f"Conv{len(kernel.shape) - 2}D"
        elif kernel is not None and len(kernel.shape) == 2:
            cls = "Dense"
        elif "moving_mean" in roles:
            cls = "BatchNormalization"
        elif "embeddings" in roles:
            cls = "Embedding"
    op = op_of_class(cls) if cls else "unknown"
    layer = Layer(name=name, type=cls or "?", op=op, attrs={"guessed": True, "reason": "no architecture"}, config={})
    layer.weights = [make_weight(home, d, role, layer, theano, convention=convention) for role, d in datasets]
    if cls and guess_class(name) is None:
        layer.notes.append(f"kind guessed from its weights ({', '.join(roles)})")
    return layer


def graph_from_legacy(root: Any, theano: bool, version: str | None) -> Graph:
    """Layers from a Keras 1/2 ``save_weights`` file. Theano-era Keras 1 defaulted to the
    'th' ordering, so its kernels are taken as ``(out, in, kh, kw)``. A group whose
    weights name other layers (``conv2d/kernel:0`` in group ``block``) is a nested model."""
    convention = "keras-th" if theano and (version is None or version.startswith("1.")) else "keras"
    layers = []
    for group_name, weight_names in legacy_groups(root):
        group: Any = root[group_name] if group_name in root else None
        if group is None:
            present: list = []
        else:
            present = [w for w in weight_names if w in group]
        owners = {w: _owner_name(w, group_name) for w in present}
        if present and all(owner != group_name for owner in owners.values()):
            inner: dict[str, list[tuple[str, Any]]] = {}
            for w in present:
                inner.setdefault(owners[w], []).append((_role(w, owners[w]), group[w]))
            graph = Graph([layer_from_weights(root, n, pairs, theano, convention) for n, pairs in inner.items()], [], [])
            layers.append(Layer(name=group_name, type="Model", op="model", graph=graph, attrs={"guessed": True}))
            continue
        pairs = [(_role(w, group_name), group[w]) for w in present]
        layers.append(layer_from_weights(root, group_name, pairs, theano, convention))
    return Graph(layers, [], [])


def _owner_name(weight_name: str, group_name: str) -> str:
    """The layer a weight's name points at: its group's own name when the name starts
    with it (``conv2d_1/conv2d_1_1/kernel:0``) or has no path (Keras 1)."""
    parts = weight_name.split("/")[:-1]
    if not parts or parts[0] == group_name:
        return group_name
    return parts[-1]


def graph_from_keras3(layers_group: Any) -> Graph:
    """Layers from a Keras 3 store alone: one per key, a key with ``layers`` below it a
    container of its own (its class from its key), every stored tensor on some layer."""
    layers = []
    for key in layers_group:
        group = layers_group[key]
        if "layers" in group:
            kind = re.sub(r"_\d+$", "", key)
            container_cls = next((c for c in sorted(CONTAINERS) if snake_case(c) == kind), "?")
            container = Layer(name=key, type=container_cls, op="model", graph=graph_from_keras3(group["layers"]), attrs={"guessed": True})
            own = _store_vars(group, skip=frozenset({"layers"}))
            container.weights = [make_weight(layers_group, d, f"var_{i}", container) for i, (_, d) in enumerate(own)]
            layers.append(container)
            continue
        variables = _store_vars(group)
        roles = _roles_for(Layer(name=key, type=guess_class(key) or "?", op="unknown", config={}), variables)
        layers.append(layer_from_weights(layers_group, key, list(zip(roles, (d for _, d in variables))), False))
    return Graph(layers, [], [])
