"""NumPy ``.npy`` arrays and ``.npz`` archives of them: weights with no architecture.

Nothing here runs pickle: headers are parsed by ``numpy.lib.format`` (a literal dict, not
code), arrays are read with ``allow_pickle=False``, and an entry of Python objects (dtype
``object``, which only pickle can rebuild) is listed with a reader that refuses. Opening
reads headers only; a weight's reader maps the slice it is asked for (a ``.npy`` file or
an uncompressed npz member) or inflates just its own member (``savez_compressed``).

Layers are rebuilt from the entries' names (``conv2d/kernel``, ``features.0.weight``) or,
for ``np.savez(*arrays)``'s ``arr_0, arr_1, ...``, from their order and ranks. The layout
of each conv or dense kernel is then guessed from the evidence the shapes give (see
``_guess``), with a confidence and a reason, unless ``--layout`` names it.
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.layouts import USER_LAYOUTS, layout_for
from ..core.model import Graph, Layer, Model, Source, Weight
from ..errors import BrokenFile
from .zipped import data_offset, guard_members, is_zip, member_names, open_zip

NPY_MAGIC = b"\x93NUMPY"
POSITIONAL = re.compile(r"arr_(\d+)")
# Role suffixes recognised in names with no separator (Keras 1: ``convolution2d_1_W``).
SUFFIX_ROLES = sorted(
    ["W", "b", "kernel", "bias", "weight", "gamma", "beta"]
    + ["moving_mean", "moving_variance", "running_mean", "running_var"],
    key=len,
    reverse=True,
)
ROLE_ALIASES = {"W": "kernel", "b": "bias"}  # Keras 1 and Lasagne names
KERAS_BN_ROLES = ("gamma", "beta", "moving_mean", "moving_variance")  # get_weights() order
TORCH_NAMES = frozenset({"weight", "running_mean", "running_var", "num_batches_tracked"})
NON_TRAINABLE = frozenset({"moving_mean", "moving_variance", "running_mean", "running_var", "num_batches_tracked"})
MAX_WINDOW = 11  # the largest kernel side taken as a plausible window

# Evidence weights: a role's library name and the bias length are nearly decisive; a
# plausible window against an implausible one is good; a neighbour that chains is a hint.
NAME, BIAS, WINDOW, CHAIN = 3, 3, 2, 1
LIBRARY = {"keras": "Keras'", "torch": "PyTorch's"}


def sniff(head: bytes, path: Path) -> bool:
    if head.startswith(NPY_MAGIC):
        return True
    if not is_zip(head):
        return False
    names = member_names(path)
    if names:
        return all(n.endswith(".npy") for n in names)
    # No readable directory (truncated?): claim it if its first member is an array, so
    # that opening says what is wrong rather than "not a model file".
    name_len = int.from_bytes(head[26:28], "little") if len(head) >= 30 else 0
    return head[30 : 30 + name_len].endswith(b".npy")


# ---------------------------------------------------------------------------------------
# Entries: one array each, described from its header, read on demand


@dataclass
class Entry:
    key: str  # the name np.savez was given (the member name without .npy)
    shape: tuple[int, ...]
    dtype: Any  # numpy dtype
    reader: Callable[[tuple], Any] = field(repr=False)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def objects(self) -> bool:
        return bool(self.dtype.hasobject)


def _header(fp: Any, where: str) -> tuple[tuple[int, ...], bool, Any]:
    """Shape, Fortran order and dtype from a .npy header, leaving ``fp`` at the data."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):  # 3.0 only adds UTF-8 field names
            shape, fortran, dtype = npformat.read_array_header_2_0(fp)
        else:
            raise BrokenFile(f"{where} is .npy format version {version[0]}.{version[1]}, which NumPy never wrote")
    except ValueError as exc:
        reason = str(exc).splitlines()[0][:160]
        raise BrokenFile(f"{where} is not a valid .npy array ({reason})") from None
    if any(d < 0 for d in shape):
        raise BrokenFile(f"{where} has a negative dimension in its shape {shape}")
    return tuple(shape), fortran, dtype


def _check_size(where: str, shape: tuple[int, ...], dtype: Any, available: int) -> None:
    """Refuse a header that claims more data than the file holds: never allocate from it."""
    if dtype.hasobject:
        return  # pickled: its size is not the header's to say
    needed = math.prod(shape) * dtype.itemsize
    if needed > available:
        raise BrokenFile(
            f"{where} claims shape {shape} of {dtype} ({needed:,} bytes), but only {max(available, 0):,} bytes follow: "
            "truncated, or a lying header"
        )


def _mapped(path: Path, offset: int, shape: tuple[int, ...], dtype: Any, fortran: bool) -> Callable[[tuple], Any]:
    """A reader that maps the file and copies out only the slice asked for."""

    def read(index: tuple) -> Any:
        import numpy as np

        if math.prod(shape) == 0:
            return np.empty(shape, dtype)[index]
        mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
        return np.array(mm[index])

    return read


def _inflated(path: Path, member: int, where: str) -> Callable[[tuple], Any]:
    """A reader for a compressed member: inflates that member alone, then slices it."""

    def read(index: tuple) -> Any:
        import zlib

        import numpy as np
        from numpy.lib import format as npformat

        try:
            with zipfile.ZipFile(path) as zf, zf.open(zf.infolist()[member]) as fp:
                array = npformat.read_array(fp, allow_pickle=False)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise BrokenFile(f"{where} cannot be decompressed ({str(exc).splitlines()[0][:160]}): damaged?") from None
        return np.array(array[index]) if index else array

    return read


def _refusing(key: str) -> Callable[[tuple], Any]:
    def read(index: tuple) -> Any:
        raise BrokenFile(f"'{key}' holds Python objects, readable only by running pickle, which cnninspect never does")

    return read


def _entry(key: str, header: tuple, reader: Callable[[tuple], Any]) -> Entry:
    shape, _, dtype = header
    return Entry(key, shape, dtype, _refusing(key) if dtype.hasobject else reader)


def npy_entries(path: Path) -> list[Entry]:
    where = f".npy array '{path.name}'"
    with path.open("rb") as fh:
        header = _header(fh, where)
        offset = fh.tell()
    shape, fortran, dtype = header
    _check_size(where, shape, dtype, path.stat().st_size - offset)
    return [_entry(path.name.rsplit(".", 1)[0], header, _mapped(path, offset, shape, dtype, fortran))]


def npz_entries(path: Path) -> list[Entry]:
    entries = []
    size = path.stat().st_size
    with open_zip(path) as zf:
        guard_members(zf)
        for i, info in enumerate(zf.infolist()):
            key = info.filename[: -len(".npy")]
            where = f"npz entry '{key}'"
            if info.flag_bits & 0x1:
                raise BrokenFile(f"{where} is encrypted")
            if info.compress_type == zipfile.ZIP_STORED:
                start = data_offset(path, info)
                if start + info.file_size > size:
                    raise BrokenFile(f"{where} runs past the end of the file: truncated?")
                with path.open("rb") as fh:
                    fh.seek(start)
                    header = _header(fh, where)
                    offset = fh.tell()
                shape, fortran, dtype = header
                _check_size(where, shape, dtype, start + info.file_size - offset)
                reader = _mapped(path, offset, shape, dtype, fortran)
            else:
                header, header_len = _compressed_header(zf, info, where)
                _check_size(where, header[0], header[2], info.file_size - header_len)
                reader = _inflated(path, i, where)
            entries.append(_entry(key, header, reader))
    return entries


def _compressed_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> tuple[tuple, int]:
    import zlib

    try:
        with zf.open(info) as fp:
            return _header(fp, where), fp.tell()
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise BrokenFile(f"{where} cannot be decompressed ({exc}): damaged?") from None


# ---------------------------------------------------------------------------------------
# Entries into layers


@dataclass
class _Group:
    """One layer's entries, with the role each is stored under."""

    name: str
    members: list[tuple[str, Entry]]
    by_name: bool  # True when the names said which entries form the layer
    type: str = "?"
    op: str = "unknown"


def split_name(key: str) -> tuple[str, str] | None:
    """``block1/conv1/kernel:0`` → (``block1/conv1``, ``kernel``); ``features.0.weight``
    → (``features.0``, ``weight``); ``convolution2d_1_W`` → (``convolution2d_1``, ``W``);
    ``block/conv2d::0`` (the fixture script's ``get_weights()`` index) → (``block/conv2d``, ``0``)."""
    for sep in ("::", "/", "."):
        layer, _, role = key.rpartition(sep)
        if layer and role:
            return layer, re.sub(r":\d+$", "", role)
    for role in SUFFIX_ROLES:
        if key.endswith("_" + role) and len(key) > len(role) + 1:
            return key[: -len(role) - 1], role
    return None


def group_entries(entries: list[Entry], names: bool = True) -> tuple[list[_Group], bool]:
    """Layers from entries, in file order; also whether the entries were all positional.
    ``names=False`` ignores what the keys say (a lone .npy's key is its file name)."""
    positional = bool(entries) and all(POSITIONAL.fullmatch(e.key) for e in entries)
    if positional:
        entries = sorted(entries, key=lambda e: int(e.key[4:]))
    groups: list[_Group] = []
    named: dict[str, _Group] = {}
    run: list[Entry] = []
    for entry in entries:
        split = split_name(entry.key) if names and not positional else None
        if split is None:
            run.append(entry)
            continue
        groups.extend(_by_position(run))
        run = []
        layer, role = split
        if layer not in named:
            named[layer] = _Group(layer, [], True)
            groups.append(named[layer])
        named[layer].members.append((ROLE_ALIASES.get(role, role), entry))
    groups.extend(_by_position(run))
    n = 0
    for group in groups:  # named after their position, or else after their first entry
        if not group.name:
            group.name = f"layer_{n}" if positional else group.members[0][1].key
            n += 1
    return groups, positional


def _by_position(entries: list[Entry]) -> list[_Group]:
    """Unnamed entries (``np.savez(*model.get_weights())``): a rank>=2 array starts a
    layer; the vectors after it are its bias and/or BatchNormalization quadruples."""
    groups: list[_Group] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        if entry.objects:
            groups.append(_Group("", [("objects", entry)], False))
            i += 1
            continue
        kernel = entry if entry.ndim >= 2 else None
        start = i + 1 if kernel else i
        end = start
        while end < len(entries) and entries[end].ndim <= 1 and not entries[end].objects:
            end += 1
        vectors = entries[start:end]
        if kernel is not None:
            bias, vectors = _take_bias(vectors, kernel)
            groups.append(_Group("", [("kernel", kernel)] + ([("bias", bias)] if bias else []), False))
        while len(vectors) >= 4 and _quadruple(vectors[:4]):
            groups.append(_Group("", list(zip(KERAS_BN_ROLES, vectors[:4])), False))
            vectors = vectors[4:]
        if vectors:
            roles = ["vector"] if len(vectors) == 1 else [f"vector_{j}" for j in range(len(vectors))]
            groups.append(_Group("", list(zip(roles, vectors)), False))
        i = end
    return groups


def _quadruple(vectors: list[Entry]) -> bool:
    return all(v.ndim == 1 and v.shape == vectors[0].shape for v in vectors)


def _take_bias(vectors: list[Entry], kernel: Entry) -> tuple[Entry | None, list[Entry]]:
    """The vectors after a kernel are [bias] + BatchNormalization quadruples: no bias
    when they split into quadruples exactly (a bias-free conv followed by BN), nor when
    the first is not as long as the kernel's first or last axis (where layouts keep ``out``)."""
    if not vectors or vectors[0].ndim != 1 or vectors[0].shape[0] not in (kernel.shape[0], kernel.shape[-1]):
        return None, vectors
    if len(vectors) % 4 == 0 and all(_quadruple(vectors[j : j + 4]) for j in range(0, len(vectors), 4)):
        return None, vectors
    return vectors[0], vectors[1:]


def _numbered_roles(group: _Group) -> None:
    """Roles stored as indexes (``conv2d::0``, ``conv2d::1``): read by rank and order, as
    unnamed entries are, when that makes one layer of known roles; else ``var_<i>``."""
    if not group.members or not all(role.isdigit() for role, _ in group.members):
        return
    entries = [e for _, e in sorted(group.members, key=lambda m: int(m[0]))]
    inferred = _by_position(entries)
    if len(inferred) == 1 and not inferred[0].members[0][0].startswith(("vector", "objects")):
        group.members = inferred[0].members
    else:
        group.members = [(f"var_{role}", e) for role, e in group.members]


def classify(group: _Group) -> None:
    """The layer kind from a Keras default name (``depthwise_conv2d_1``), else from its
    roles and ranks (and ``embedding`` in its name)."""
    from .keras_weights import guess_class, op_of_class

    _numbered_roles(group)
    by_name = guess_class(group.name.rsplit("/", 1)[-1]) if group.by_name else None
    if by_name and op_of_class(by_name) != "unknown":
        group.type, group.op = by_name, op_of_class(by_name)
    else:
        _classify_by_shapes(group)
    if group.op == "embedding":
        group.members = [("embeddings" if r == "kernel" else r, e) for r, e in group.members]


def _classify_by_shapes(group: _Group) -> None:
    roles = {role: e for role, e in group.members if not e.objects}
    kernel_role = next((r for r in ("kernel", "weight") if r in roles and roles[r].ndim >= 2), None)
    if "embedding" in group.name.lower() or "embeddings" in roles:
        group.type, group.op = "Embedding", "embedding"
    elif "depthwise_kernel" in roles:
        rank = roles["depthwise_kernel"].ndim - 2
        if "pointwise_kernel" in roles:
            group.type, group.op = f"SeparableConv{rank}D", "separable_conv"
        else:
            group.type, group.op = f"DepthwiseConv{rank}D", "depthwise_conv"
    elif "recurrent_kernel" in roles:
        group.type, group.op = "RNN", "rnn"
    elif kernel_role and roles[kernel_role].ndim == 2:
        group.type, group.op = "Dense", "dense"
    elif kernel_role and roles[kernel_role].ndim in (3, 4, 5):
        group.type, group.op = f"Conv{roles[kernel_role].ndim - 2}D", "conv"
    elif {"moving_mean", "moving_variance"} <= roles.keys() or {"running_mean", "running_var"} <= roles.keys():
        group.type, group.op = "BatchNormalization", "batch_norm"


# ---------------------------------------------------------------------------------------
# Layout guesses for conv and dense kernels


def kernel_of(group: _Group, ops: tuple[str, ...] = ("conv", "dense")) -> tuple[str, Entry] | None:
    if group.op not in ops:
        return None
    return next(((r, e) for r, e in group.members if r in ("kernel", "weight") and e.ndim >= 2), None)


def _dims(shape: tuple[int, ...], convention: str) -> tuple[tuple[int, ...], int, int]:
    """(spatial indexes, in index, out index) of a kernel in a convention."""
    n = len(shape)
    if convention == "keras":
        return tuple(range(n - 2)), n - 2, n - 1
    return tuple(range(2, n)), 1, 0


def _window_text(shape: tuple[int, ...], spatial: tuple[int, ...]) -> str:
    size = "x".join(str(shape[d]) for d in spatial)
    if len(spatial) == 1:
        return f"dim {spatial[0]} is a {size}-wide window"
    return f"dims {spatial[0]}-{spatial[-1]} form a {size} window"


def _channels(group: _Group) -> int | None:
    """Channels of a BatchNormalization (the length of its vectors)."""
    if group.type != "BatchNormalization":
        return None
    vector = next((e for _, e in group.members if e.ndim == 1), None)
    return vector.shape[0] if vector else None


def _evidence(groups: list[_Group], i: int, convention: str) -> dict[str, tuple[int, str]]:
    """What supports reading layer ``i``'s kernel in ``convention``: clue kind → (weight, text)."""
    role, kernel = kernel_of(groups[i])  # type: ignore[misc]
    shape = kernel.shape
    spatial, d_in, d_out = _dims(shape, convention)
    clues: dict[str, tuple[int, str]] = {}
    if spatial and all(1 <= shape[d] <= MAX_WINDOW for d in spatial):
        clues["window"] = (WINDOW, _window_text(shape, spatial))
    stored_as = (split_name(kernel.key) or ("", ""))[1] if groups[i].by_name else ""
    if stored_as == ("kernel" if convention == "keras" else "weight"):
        clues["name"] = (NAME, f"it is named '{stored_as}', as {LIBRARY[convention]} layers name it")
    bias = next((e for r, e in groups[i].members if r == "bias" and e.ndim == 1), None)
    if bias is not None and bias.shape[0] == shape[d_out]:
        what = "its bias has" if groups[i].by_name else "the next vector has"
        clues["bias"] = (BIAS, f"{what} {bias.shape[0]} = dim {d_out} entries")
    for j, after in ((i + 1, True), (i - 1, False)):
        if not 0 <= j < len(groups):
            continue
        other, d_mine = groups[j], d_out if after else d_in
        where = "after" if after else "before"
        if _channels(other) == shape[d_mine]:
            clues[where] = (CHAIN, f"the BatchNormalization {where} it has {shape[d_mine]} = dim {d_mine} channels")
        pair = kernel_of(other)
        if pair is None or pair[1].ndim != kernel.ndim:
            continue
        _, o_in, o_out = _dims(pair[1].shape, convention)
        if after and pair[1].shape[o_in] == shape[d_out]:
            clues[where] = (CHAIN, f"its {shape[d_out]} outputs feed the next kernel's input dim")
        if not after and pair[1].shape[o_out] == shape[d_in]:
            clues[where] = (CHAIN, f"its {shape[d_in]} inputs are the previous kernel's outputs")
    return clues


@dataclass
class Guess:
    convention: str | None  # None: the shape fits both, decided by the rest of the file
    confidence: str
    reason: str


def _join(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + ", and " + texts[-1]


def _guess(groups: list[_Group], i: int) -> Guess:
    """Weigh the clues that tell (those that hold in one convention only) for each side.
    High confidence: only one side has clues, weighing 3 or more (a name, a bias, or a
    window and a neighbour); medium: the winner leads by 2 or more; else low. A tie is
    left to ``guess_layouts``."""
    keras = _evidence(groups, i, "keras")
    torch = _evidence(groups, i, "torch")
    for kind in keras.keys() & torch.keys():
        del keras[kind], torch[kind]
    score_k, score_t = sum(w for w, _ in keras.values()), sum(w for w, _ in torch.values())
    if score_k == score_t:
        return Guess(None, "low", "")
    won, lost = (keras, torch) if score_k > score_t else (torch, keras)
    high, low = max(score_k, score_t), min(score_k, score_t)
    confidence = "high" if low == 0 and high >= 3 else "medium" if high - low >= 2 else "low"
    reason = _join([text for _, text in won.values()])
    if lost:
        reason += "; against it: " + _join([text for _, text in lost.values()])
    return Guess("keras" if won is keras else "torch", confidence, reason)


def guess_layouts(groups: list[_Group], lone_npy: bool) -> dict[int, Guess]:
    """A guess for every conv and dense layer; those whose shapes fit both layouts follow
    the file's other kernels (one writer wrote them all)."""
    guesses = {i: _guess(groups, i) for i, g in enumerate(groups) if kernel_of(g) is not None}
    decided = [g.convention for g in guesses.values() if g.convention]
    for i, guess in guesses.items():
        if guess.convention:
            continue
        shape = kernel_of(groups[i])[1].shape  # type: ignore[index]
        fits = f"its shape {shape} fits both layouts"
        if decided:
            convention = max(set(decided), key=decided.count)
            order = f"in {LIBRARY[convention]} order"
            if len(set(decided)) == 1:
                others = f"the file's other {len(decided)} kernel(s) are {order}"
                guesses[i] = Guess(convention, "medium", f"{fits}; {others}")
            else:
                guesses[i] = Guess(convention, "low", f"{fits}; most of the file's other kernels are {order}")
        else:
            why = "a lone .npy kernel usually comes from TensorFlow code" if lone_npy else "nothing in the file tells"
            guesses[i] = Guess("keras", "low", f"{fits} and {why}: assuming TensorFlow's order")
    return guesses


# ---------------------------------------------------------------------------------------
# The model


def open_model(path: Path, options: Any = None) -> Model:
    with path.open("rb") as fh:
        lone = fh.read(len(NPY_MAGIC)) == NPY_MAGIC
    entries = npy_entries(path) if lone else npz_entries(path)
    groups, positional = group_entries(entries, names=not lone)
    for group in groups:
        classify(group)
    user = getattr(options, "layout", None)
    layers = _user_layers(groups, user) if user else _guessed_layers(groups, lone)
    return Model(
        name=path.name.rsplit(".", 1)[0] if "." in path.name else path.name,
        graph=Graph(layers, [], []),
        source=Source(str(path), "npy" if lone else "npz", None),
        notes=_notes(layers, lone, positional),
        architecture=False,
    )


def _user_layers(groups: list[_Group], user: str) -> list[Layer]:
    convention, flipped = USER_LAYOUTS[user]
    layers = [_layer(group, convention, flipped) for group in groups]
    for layer, group in zip(layers, groups):
        if kernel_of(group):
            layer.notes.append(f"layout from --layout {user}: {_kernel(layer).layout.code} ({convention})")
    return layers


def _guessed_layers(groups: list[_Group], lone: bool) -> list[Layer]:
    guesses = guess_layouts(groups, lone)
    layers = []
    for i, group in enumerate(groups):
        if i in guesses:
            layers.append(_layer(group, guesses[i].convention or "keras", False))
            _record(layers[-1], guesses[i])
        else:  # layers without a kernel to guess from: their names say the library
            torch_names = any(r in TORCH_NAMES for r, _ in group.members)
            layers.append(_layer(group, "torch" if torch_names else "keras", False))
    return layers


def _notes(layers: list[Layer], lone: bool, positional: bool) -> list[str]:
    if lone:
        notes = ["a lone array, no architecture: its kind and layout are guessed from its shape"]
    else:
        notes = [
            f"no architecture in the file: layers are rebuilt from the entries' {'order' if positional else 'names'}, "
            "their kinds and kernel layouts guessed from shapes"
        ]
    if positional:
        notes.append("entries are unnamed (arr_0, arr_1, ... from np.savez(*arrays)): the names layer_0, layer_1, ... "
                     "are positional")
    for layer in layers:
        for w in layer.weights:
            if w.dtype == "object":
                layer.notes.append(f"'{w.name}' is unreadable: Python objects, which only pickle can rebuild")
                notes.append(
                    f"'{w.name}' holds Python objects (dtype object), readable only by running pickle, "
                    "which cnninspect never does: its values are not shown"
                )
    if len({_kernel(layer).layout.convention for layer in layers if "layout_guess" in layer.attrs}) > 1:
        notes.append(
            "kernels were guessed in different layouts for different layers: give --layout if one writer wrote them all"
        )
    return notes


def named_layers(entries: list[Entry], convention: str, flipped: bool) -> list[Layer]:
    """Layers rebuilt from named tensors in a known layout (PyTorch state dicts,
    safetensors): grouped by name prefix, kinds from roles and ranks."""
    groups, _ = group_entries(entries)
    layers = []
    for group in groups:
        classify(group)
        _transposed_by_bias(group, convention)
        layers.append(_layer(group, convention, flipped))
    return layers


def _transposed_by_bias(group: _Group, convention: str) -> None:
    """A conv-shaped kernel whose bias is as long as its ``in`` axis, and not its ``out``
    axis, belongs to a transposed conv (whose kernels swap the two)."""
    pair = kernel_of(group, ("conv",))
    bias = next((e for r, e in group.members if r == "bias" and e.ndim == 1), None)
    if pair is None or bias is None:
        return
    shape = pair[1].shape
    _, i, o = _dims(shape, convention)
    if bias.shape[0] == shape[i] != shape[o]:
        group.type, group.op = f"Conv{len(shape) - 2}DTranspose", "conv_transpose"


def _layer(group: _Group, convention: str, flipped: bool) -> Layer:
    layer = Layer(name=group.name, type=group.type, op=group.op, attrs={"guessed": True})
    for role, entry in group.members:
        layer.weights.append(
            Weight(
                name=entry.key,
                role=role,
                shape=entry.shape,
                dtype="object" if entry.objects else str(entry.dtype),
                layout=layout_for(convention, group.op, role, entry.ndim, flipped),
                trainable=role not in NON_TRAINABLE,
                reader=entry.reader,
            )
        )
    pair = kernel_of(group, ("conv", "conv_transpose", "dense"))
    if pair is not None:
        kernel = layer.weight(pair[0])
        assert kernel is not None
        sizes = dict(zip(kernel.axes, kernel.shape))
        use_bias = layer.weight("bias") is not None
        if group.op == "dense":
            layer.attrs.update(units=sizes.get("out"), use_bias=use_bias)
        else:
            spatial = tuple(sizes.get(a) for a in ("kd", "kh", "kw") if a in sizes)
            layer.attrs.update(
                rank=len(spatial), filters=sizes.get("out"), kernel_size=spatial, groups=1, use_bias=use_bias
            )
    return layer


def _kernel(layer: Layer) -> Weight:
    return next(w for w in layer.weights if w.role in ("kernel", "weight") and len(w.shape) >= 2)


def _record(layer: Layer, guess: Guess) -> None:
    code = _kernel(layer).layout.code
    layer.attrs["layout_guess"] = {"layout": code, "confidence": guess.confidence, "reason": guess.reason}
    layer.notes.append(f"layout guessed {code} ({guess.convention}), {guess.confidence} confidence: {guess.reason}")
