"""PyTorch files (``.pt``, ``.pth``, ``.bin``...), recognised by content, never by extension:

- zip archives (PyTorch >= 1.6): ``<any top folder>/data.pkl``, raw storages in
  ``data/<key>``, ``version``, ``byteorder``;
- the legacy stream (before 1.6): pickles of the magic number, the protocol, ``sys_info``,
  the object and the storage keys, then each storage as an int64 count and raw bytes;
- TorchScript archives (``data.pkl`` + ``constants.pkl`` + ``code/``).

Pickles are read with ``_unpickle.RestrictedUnpickler``: nothing from the file is imported
or run, unknown classes become inert ``Opaque`` records. Tensors are handles on their
storages; a weight's reader maps only its own storage (``np.memmap`` on the zip member or
the stream position) and copies out the slice asked for.

What the object is decides the model: a state dict (dotted names → weights only, layers by
prefix, kinds guessed from roles and ranks), a checkpoint dict (the weights found under
``model``/``state_dict``/``net``..., said in a note), or a whole pickled module (the module
tree, each class translated into neutral ops, chained in registration order).
"""

from __future__ import annotations

import ast
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator

from ..core.dtypes import DType, from_torch_export, widen
from ..core.layouts import USER_LAYOUTS, layout_for
from ..core.model import Call, Graph, Layer, Model, Source, TensorRef, Weight
from ..errors import BrokenFile, UnrecognisedFile
from . import _unpickle as up
from .torch_aten import build_graph
from .torch_aten import translate as translate_aten
from .torch_graph import AtenGraph, GraphUnreadable, Param, from_export, from_torchscript
from .zipped import data_offset, guard_members, is_zip, member_names, open_zip

MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_HEAD = b"\x8a\x0a" + MAGIC.to_bytes(10, "little")  # LONG1 of 10 bytes, after PROTO
CHECKPOINT_KEYS = ("model", "state_dict", "model_state_dict", "net", "network", "module", "model_state", "weights")
NON_TRAINABLE = frozenset({"running_mean", "running_var", "num_batches_tracked"})
MAX_RANK = 32


def sniff(head: bytes, path: Path) -> bool:
    if head[:1] == b"\x80" and head[2:14] == LEGACY_HEAD:
        return True
    if not is_zip(head):
        return False
    names = member_names(path)
    return _archive_root(names) is not None or _export_root(names) is not None


def _export_root(names: frozenset[str]) -> str | None:
    """The top folder of a ``torch.export`` archive (``<top>/archive_format`` and
    ``<top>/models/model.json``), with its slash."""
    for name in names:
        folder, _, base = name.rpartition("/")
        if base == "archive_format" and "/" not in folder and f"{folder}/models/model.json" in names:
            return folder + "/"
    return None


def _archive_root(names: frozenset[str], wanted: tuple[str, ...] = ("data.pkl", "model.json")) -> str | None:
    """The top folder (with its slash, or '') that holds ``data.pkl`` (or TorchScript
    1.0's ``model.json``)."""
    for name in sorted(names):
        folder, _, base = name.rpartition("/")
        if base in wanted and "/" not in folder:
            return folder + "/" if folder else ""
    return None


# ---------------------------------------------------------------------------------------
# Where storages live, and readers of tensors in them


class _Located:
    """A storage's bytes: a file offset to map (stored members, legacy streams) or, for a
    compressed member, a function that inflates it."""

    def __init__(self, path: Path, offset: int | None, nbytes: int, inflate: Callable[[], bytes] | None = None):
        self.path, self.offset, self.nbytes, self.inflate = path, offset, nbytes, inflate


def _np_dtype(spec: DType, big_endian: bool) -> str:
    """The NumPy dtype the stored elements are read as (then widened by ``core.dtypes``)."""
    if spec.storage is None:
        raise BrokenFile(f"{spec.name} tensors are not stored as arrays cnninspect reads")
    code = spec.storage
    return (">" + code[1:]) if big_endian and code[0] == "<" else code


def _reader(tensor: up.TensorRef, where: _Located, big_endian: bool) -> Callable[[tuple], Any]:
    storage = tensor.storage
    spec = storage.type.spec

    def read(index: tuple) -> Any:
        import numpy as np

        dtype = np.dtype(_np_dtype(spec, big_endian))
        if tensor.numel == 0:
            return widen(np.empty(tensor.shape, dtype)[index], spec)
        if where.offset is not None:
            base: Any = np.memmap(where.path, dtype=dtype, mode="r", offset=where.offset, shape=(storage.view_offset + storage.numel,))
        else:
            assert where.inflate is not None
            base = np.frombuffer(where.inflate(), dtype=dtype, count=storage.view_offset + storage.numel)
        start = storage.view_offset + tensor.offset
        view = np.lib.stride_tricks.as_strided(
            base[start:], shape=tensor.shape, strides=tuple(s * dtype.itemsize for s in tensor.stride), writeable=False
        )
        return widen(np.array(view[index]), spec)

    return read


def _check_tensor(name: str, tensor: up.TensorRef, where: _Located) -> None:
    """Refuse a tensor that would read outside its storage, or a storage outside the file."""
    storage = tensor.storage
    if len(tensor.shape) > MAX_RANK or any(d < 0 for d in tensor.shape) or any(s < 0 for s in tensor.stride):
        raise BrokenFile(f"tensor '{name}' has an invalid shape {tensor.shape} or stride {tensor.stride}")
    if len(tensor.stride) != len(tensor.shape):
        raise BrokenFile(f"tensor '{name}' has {len(tensor.shape)} dims but {len(tensor.stride)} strides")
    if tensor.numel:
        last = tensor.offset + sum((d - 1) * s for d, s in zip(tensor.shape, tensor.stride))
        if tensor.offset < 0 or last >= storage.numel:
            raise BrokenFile(
                f"tensor '{name}' {tensor.shape} reaches element {last:,} of a {storage.numel:,}-element storage: a lying file"
            )
    needed = (storage.view_offset + storage.numel) * storage.type.itemsize
    if needed > where.nbytes:
        raise BrokenFile(f"storage '{storage.key}' needs {needed:,} bytes, but the file holds {where.nbytes:,}: truncated?")


# ---------------------------------------------------------------------------------------
# Opening the containers: zip archives and legacy streams


class _Opened:
    """What the file held: the unpickled object, where each storage lives, and facts."""

    def __init__(self, obj: Any, located: dict[str, _Located], big_endian: bool, fmt: str, version: str | None):
        self.obj, self.located, self.big_endian, self.format, self.version = obj, located, big_endian, fmt, version
        self.code: dict[str, str] = {}  # TorchScript: code/ file → source text (never run)

    def reader(self, name: str, tensor: up.TensorRef) -> Callable[[tuple], Any]:
        where = self.located.get(tensor.storage.key)
        if where is None:
            raise BrokenFile(f"tensor '{name}' names storage '{tensor.storage.key}', which the file does not hold")
        _check_tensor(name, tensor, where)
        return _reader(tensor, where, self.big_endian)


def _unpickle(data: Any, what: str) -> Any:
    try:
        return up.load(data)[0]
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            UnicodeDecodeError, OverflowError, MemoryError, RecursionError) as exc:  # fmt: skip
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise BrokenFile(f"{what} is not a pickle cnninspect can read ({type(exc).__name__}: {detail})") from None


def _open_zip(path: Path) -> _Opened:
    with open_zip(path) as zf:
        guard_members(zf)
        infos = {info.filename: info for info in zf.infolist()}
        root = _archive_root(frozenset(infos), ("data.pkl",))
        if root is None:
            return _open_script_v1(path, zf, infos)
        data_pkl = zf.read(infos[root + "data.pkl"])
        version = _text(zf, infos.get(root + "version"))
        big = (_text(zf, infos.get(root + "byteorder")) or "little") == "big"
        script = root + "constants.pkl" in infos or any(n.startswith(root + "code/") for n in infos)
        code = {n[len(root) + len("code/") :]: zf.read(i).decode("utf-8", "replace")
                for n, i in infos.items() if script and n.startswith(root + "code/") and n.endswith(".py")}  # fmt: skip
    obj = _unpickle(data_pkl, f"{root}data.pkl")
    size = path.stat().st_size
    located: dict[str, _Located] = {}
    for name, info in infos.items():
        if not name.startswith(root + "data/"):
            continue
        key = name[len(root + "data/") :]
        if info.compress_type == zipfile.ZIP_STORED:
            start = data_offset(path, info)
            located[key] = _Located(path, start, min(info.file_size, max(size - start, 0)))
        else:
            located[key] = _Located(path, None, info.file_size, _inflater(path, name))
    opened = _Opened(obj, located, big, "torchscript" if script else "pytorch-zip", version)
    opened.code = code
    return opened


# TorchScript 1.0: caffe2 TensorProto.DataType names (and numbers) → storage types
SCRIPT_V1_TYPES = {"FLOAT": "FloatStorage", "DOUBLE": "DoubleStorage", "FLOAT16": "HalfStorage", "INT64": "LongStorage",
                   "INT32": "IntStorage", "INT16": "ShortStorage", "INT8": "CharStorage", "UINT8": "ByteStorage",
                   "BOOL": "BoolStorage", "1": "FloatStorage", "13": "DoubleStorage", "12": "HalfStorage",
                   "10": "LongStorage", "2": "IntStorage", "9": "ShortStorage", "7": "CharStorage", "3": "ByteStorage",
                   "6": "ByteStorage", "5": "BoolStorage"}  # fmt: skip
MAX_JSON = 64 << 20


def _open_script_v1(path: Path, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> _Opened:
    """TorchScript 1.0 (PyTorch 1.0 and 1.1): ``model.json`` (a ModelDef in protobuf's JSON
    form: int64 as strings, camelCase names) lists every tensor (dims, strides, offset,
    dataType, ``data.key`` = ``tensors/N``) and the module tree whose parameters name
    tensors by index. Class names are not recorded: the tree becomes a state dict."""
    import json

    root = _archive_root(frozenset(infos), ("model.json",))
    if root is None:
        raise UnrecognisedFile("a zip archive without data.pkl or model.json: not a PyTorch file")
    info = infos[root + "model.json"]
    if info.file_size > MAX_JSON:
        raise BrokenFile(f"model.json of {info.file_size:,} bytes is larger than any real one")
    try:
        doc = json.loads(zf.read(info).decode("utf-8"))
        tensors = [_script_v1_tensor(i, t) for i, t in enumerate(_get(doc, "tensors", []))]
        state: OrderedDict[str, up.TensorRef] = OrderedDict()
        _script_v1_params(_get(doc, "mainModule", {}), "", tensors, state, 0)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, TypeError, ValueError, KeyError, IndexError,
            AttributeError) as exc:  # fmt: skip
        raise BrokenFile(f"model.json cannot be read as TorchScript 1.0 ({type(exc).__name__}: {str(exc)[:160]})") from None
    size = path.stat().st_size
    located: dict[str, _Located] = {}
    for tensor in tensors:
        member = infos.get(root + tensor.storage.key)
        if member is None:
            continue  # reported when a weight uses it
        if member.compress_type == zipfile.ZIP_STORED:
            start = data_offset(path, member)
            located[tensor.storage.key] = _Located(path, start, min(member.file_size, max(size - start, 0)))
        else:
            located[tensor.storage.key] = _Located(path, None, member.file_size, _inflater(path, member.filename))
    version = _get(doc, "producerVersion")
    return _Opened(state, located, False, "torchscript", str(version) if version is not None else None)


def _get(d: Any, camel: str, default: Any = None) -> Any:
    """A protobuf JSON field, in its camelCase or its original snake_case name."""
    if not isinstance(d, dict):
        raise TypeError(f"expected an object, found {type(d).__name__}")
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return d.get(camel, d.get(snake, default))


def _script_v1_tensor(i: int, t: Any) -> up.TensorRef:
    dims = tuple(int(d) for d in _get(t, "dims", []))
    strides = tuple(int(s) for s in _get(t, "strides", []))
    kind = SCRIPT_V1_TYPES.get(str(_get(t, "dataType", "FLOAT")))
    if kind is None:
        raise ValueError(f"tensor {i} has data type {_get(t, 'dataType')!r}")
    key = _get(_get(t, "data", {}), "key")
    if not isinstance(key, str):
        raise ValueError(f"tensor {i} names no data record")
    offset = int(_get(t, "offset", 0) or 0)
    # The record holds the whole storage: its element count is what the record's size allows.
    extent = offset + sum((d - 1) * s for d, s in zip(dims, strides)) + 1 if all(dims) else 0
    storage = up.Storage(key, up.StorageType(kind), extent)
    return up.TensorRef(storage, offset, dims, strides, bool(_get(t, "requiresGrad", False)))


def _script_v1_params(module: Any, prefix: str, tensors: list[up.TensorRef], out: dict, depth: int) -> None:
    if depth > 100:
        raise ValueError("modules nested more than 100 deep")
    for p in _get(module, "parameters", []) or []:
        name = f"{prefix}{_get(p, 'name')}"
        out[name] = tensors[int(_get(p, "tensorId"))]
    for sub in _get(module, "submodules", []) or []:
        _script_v1_params(sub, f"{prefix}{_get(sub, 'name')}.", tensors, out, depth + 1)


def _text(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> str | None:
    if info is None or info.file_size > 1024:
        return None
    return zf.read(info).decode("utf-8", "replace").strip() or None


def _inflater(path: Path, member: str) -> Callable[[], bytes]:
    def inflate() -> bytes:
        with zipfile.ZipFile(path) as zf:
            return zf.read(member)

    return inflate


def _open_legacy(path: Path) -> _Opened:
    size = path.stat().st_size
    with path.open("rb") as fh:
        magic = _unpickle(fh, "the legacy header")
        if magic != MAGIC:
            raise BrokenFile("a pickle stream without PyTorch's magic number")
        _unpickle(fh, "the legacy protocol version")
        sys_info = _unpickle(fh, "the legacy sys_info")
        unpickler = up.RestrictedUnpickler(fh)
        try:
            obj = unpickler.load()
            keys = up.RestrictedUnpickler(fh).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                UnicodeDecodeError, OverflowError, MemoryError, RecursionError) as exc:  # fmt: skip
            raise BrokenFile(f"the legacy object pickle cannot be read ({type(exc).__name__}: {str(exc)[:160]})") from None
        if not isinstance(keys, list):
            raise BrokenFile("the legacy storage key list is missing")
        big = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        located: dict[str, _Located] = {}
        pos = fh.tell()
        for key in keys:
            storage = unpickler.storages.get(str(key))
            if storage is None:
                raise BrokenFile(f"the legacy storage list names '{key}', which no tensor uses")
            fh.seek(pos)
            count = fh.read(8)
            if len(count) < 8:
                raise BrokenFile(f"legacy storage '{key}' is missing: truncated?")
            numel = int.from_bytes(count, "big" if big else "little")
            if numel != storage.numel:
                raise BrokenFile(f"legacy storage '{key}' holds {numel:,} elements, but the pickle says {storage.numel:,}")
            nbytes = numel * storage.type.itemsize
            located[str(key)] = _Located(path, pos + 8, min(nbytes, max(size - pos - 8, 0)))
            pos += 8 + nbytes
    return _Opened(obj, located, big, "pytorch-legacy", None)


# ---------------------------------------------------------------------------------------
# The object: state dict, checkpoint, or module tree


def open_model(path: Path, options: Any = None) -> Model:
    with path.open("rb") as fh:
        head = fh.read(16)
    user = getattr(options, "layout", None)
    convention, flipped = USER_LAYOUTS[user] if user else ("torch", False)
    name = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
    if head[2:14] != LEGACY_HEAD and _export_root(member_names(path)) is not None:
        return _export_model(path, name, convention, flipped)
    opened = _open_legacy(path) if head[2:14] == LEGACY_HEAD else _open_zip(path)
    notes: list[str] = []
    obj, where = _find_weights(opened.obj, notes)
    source = _source(path, opened)
    if _is_module(obj):
        builder = _ModuleBuilder(opened, convention, flipped)
        if opened.format == "torchscript" and opened.code and not where:
            scripted = _scripted_model(opened, obj, builder, name, source, notes)
            if scripted is not None:
                return scripted
        top = builder.layer(where or "", obj, top=True)
        notes.insert(0, f"a whole pickled module ({obj.qualname()}); its classes were read by name, never imported")
        notes.append(
            "execution order is not stored in the file: layers are chained in registration order, "
            "which is certain only inside nn.Sequential"
            + ("" if _all_sequential(obj) else f" ({', '.join(builder.custom) or 'a custom module'} defines its own forward())")
        )
        notes.append("the input's spatial size is not stored: give it with --input-shape (channels first, e.g. 3,32,32)")
        notes.extend(builder.notes)
        graph = top.graph
        assert graph is not None
        return Model(name=name, graph=graph, source=source, notes=notes, architecture=True)
    tensors = _state_dict(obj)
    if tensors is None:
        raise UnrecognisedFile(f"a PyTorch file holding {_describe(opened.obj)}, with no weights cnninspect can find")
    layers = _state_dict_layers(opened, tensors, convention, flipped)
    if opened.format == "torchscript":
        notes.append("TorchScript 1.0 (model.json): the module tree names parameters but records no classes")
    notes.insert(0, "a state dict, no architecture: layers are rebuilt from the dotted names, their kinds guessed "
                    "from roles and ranks (a ConvTranspose is told from a Conv only by a bias as long as its in axis)")  # fmt: skip
    return Model(name=name, graph=Graph(layers, [], []), source=source, notes=notes, architecture=False)


# ---------------------------------------------------------------------------------------
# Forward graphs stored in the file: TorchScript code, torch.export programs


def _scripted_model(opened: _Opened, obj: Any, builder: _ModuleBuilder, name: str, source: Source,
                    notes: list[str]) -> Model | None:  # fmt: skip
    """The model a TorchScript archive's forward code describes, or None (with a note)
    when the code cannot be followed: then the module tree is used instead."""
    try:
        aten = from_torchscript(opened.code, obj.qualname())
    except GraphUnreadable as exc:
        notes.append(f"the forward code could not be followed ({exc}): layers are chained in registration order")
        return None
    tensors = dict(_named_tensors(obj, ""))
    weights = _graph_weights(aten, {k: t for k, (t, _) in tensors.items()}, {k: g for k, (_, g) in tensors.items()},
                             builder.convention, builder.flipped, opened.reader)  # fmt: skip
    graph = build_graph(aten, weights)
    _list_unused(graph, tensors, builder.convention, builder.flipped, opened.reader)
    notes[:0] = [
        f"TorchScript ({obj.qualname()}): the graph is its forward() code, read as a graph and never run",
        "the input's shape is not stored: give it with --input-shape (channels first, e.g. 3,32,32)",
    ]
    return Model(name=name, graph=graph, source=source, notes=notes, architecture=True)


def _named_tensors(module: up.Opaque, prefix: str) -> Iterator[tuple[str, tuple[up.TensorRef, bool]]]:
    """Every parameter and buffer under ``module`` by its ``state_dict`` name."""
    for role, tensor, trainable in _tensors(module):
        yield (f"{prefix}.{role}" if prefix else role), (tensor, trainable)
    for child, sub in _children(module):
        yield from _named_tensors(sub, f"{prefix}.{child}" if prefix else child)


def _graph_weights(
    aten: AtenGraph,
    tensors: dict[str, up.TensorRef],
    trainable: dict[str, bool],
    convention: str,
    flipped: bool,
    reader: Callable[[str, up.TensorRef], Callable[[tuple], Any]],
) -> dict[str, Weight]:
    """The weights the graph's calls use, each laid out as the op that uses it stores it."""

    def shape_of(arg: Any) -> tuple[int, ...] | None:
        return tuple(tensors[arg.name].shape) if isinstance(arg, Param) and arg.name in tensors else None

    out: dict[str, Weight] = {}
    for node in aten.nodes:
        op = translate_aten(node, shape_of)[0]
        for arg in [*node.args, *node.kwargs.values()]:
            if not isinstance(arg, Param) or arg.name not in tensors or arg.name in out:
                continue
            tensor, role = tensors[arg.name], arg.name.rsplit(".", 1)[-1]
            out[arg.name] = Weight(
                name=arg.name, role=role, shape=tensor.shape, dtype=tensor.dtype,
                layout=layout_for(convention, op, role, len(tensor.shape), flipped),
                trainable=trainable.get(arg.name, True) and role not in NON_TRAINABLE,
                reader=reader(arg.name, tensor),
            )  # fmt: skip
    return out


def _list_unused(
    graph: Graph,
    tensors: dict[str, tuple[up.TensorRef, bool]],
    convention: str,
    flipped: bool,
    reader: Callable[[str, up.TensorRef], Callable[[tuple], Any]],
) -> None:
    """Every stored tensor is listed: one the graph's calls do not use (``num_batches_tracked``,
    a head never called) goes to its module's layer, or to a layer of its own that no call
    reaches."""
    used = {w.name for layer in graph.layers for w in layer.weights}
    by_name = {layer.name: layer for layer in graph.layers}
    for full, (tensor, trainable) in tensors.items():
        if full in used:
            continue
        owner_name, _, role = full.rpartition(".")
        owner = by_name.get(owner_name)
        if owner is None:
            reason = "its module is never called by forward()"
            owner = Layer(name=owner_name or "(model)", type="(not called)", op="unknown", attrs={"reason": reason})
            graph.layers.append(owner)
            by_name[owner.name] = owner
        owner.weights = [*owner.weights, Weight(
            name=full, role=role, shape=tensor.shape, dtype=tensor.dtype,
            layout=layout_for(convention, owner.op, role, len(tensor.shape), flipped),
            trainable=trainable and role not in NON_TRAINABLE, reader=reader(full, tensor),
        )]  # fmt: skip


MAX_PROGRAM_JSON = 256 << 20


def _export_model(path: Path, name: str, convention: str, flipped: bool) -> Model:
    """A ``torch.export`` archive (``torch.export.save``): the graph is JSON in
    ``models/model.json``, the weights raw tensors under ``data/weights/`` named by
    ``model_weights_config.json``; ``data/sample_inputs`` holds example inputs, not weights."""
    import json

    with open_zip(path) as zf:
        guard_members(zf)
        infos = {info.filename: info for info in zf.infolist()}
        root = _export_root(frozenset(infos))
        assert root is not None
        kind = _text(zf, infos.get(root + "archive_format"))
        if kind != "pt2":
            raise UnrecognisedFile(f"a torch.export-like archive whose archive_format is {kind!r}, not 'pt2'")
        documents = {}
        for member in ("models/model.json", "data/weights/model_weights_config.json"):
            info = infos.get(root + member)
            if info is None or info.file_size > MAX_PROGRAM_JSON:
                raise BrokenFile(f"a torch.export archive without a readable {member}")
            try:
                documents[member] = json.loads(zf.read(info))
            except (ValueError, RecursionError) as exc:
                raise BrokenFile(f"{member} of this torch.export archive is not JSON ({type(exc).__name__})") from None
    program = documents["models/model.json"]
    aten = from_export(program)
    config = documents["data/weights/model_weights_config.json"].get("config", {})
    tensors: dict[str, up.TensorRef] = {}
    located: dict[str, _Located] = {}
    size = path.stat().st_size
    for param, entry in config.items() if isinstance(config, dict) else []:
        try:
            meta, member = entry["tensor_meta"], root + "data/weights/" + entry["path_name"]
            dims = tuple(int(d["as_int"]) for d in meta["sizes"])
            strides = tuple(int(d["as_int"]) for d in meta["strides"])
            offset = int(meta.get("storage_offset", {}).get("as_int", 0))
            dtype = from_torch_export(int(meta["dtype"])).name
        except (KeyError, TypeError, ValueError) as exc:
            raise BrokenFile(f"weight '{param}' of this torch.export archive has no usable tensor_meta ({exc})") from None
        info = infos.get(member)
        if info is None or entry.get("use_pickle"):
            continue
        storage_type = up.StorageType(dtype)
        numel = info.file_size // max(storage_type.itemsize, 1)
        tensors[param] = up.TensorRef(up.Storage(member, storage_type, numel), offset, dims, strides)
        if info.compress_type == zipfile.ZIP_STORED:
            start = data_offset(path, info)
            located[member] = _Located(path, start, min(info.file_size, max(size - start, 0)))
        else:
            located[member] = _Located(path, None, info.file_size, _inflater(path, member))
    opened = _Opened(None, located, False, "torch-export", None)
    trainable = {p: bool(e.get("is_param", True)) for p, e in config.items()} if isinstance(config, dict) else {}
    graph = build_graph(aten, _graph_weights(aten, tensors, trainable, convention, flipped, opened.reader))
    _list_unused(graph, {k: (t, trainable.get(k, True)) for k, t in tensors.items()}, convention, flipped, opened.reader)
    version = program.get("torch_version") if isinstance(program, dict) else None
    schema = program.get("schema_version", {}) if isinstance(program, dict) else {}
    notes = [
        "a torch.export program: the graph and its input shapes are stored as JSON; nothing in it is run",
        f"written by torch {version}" if isinstance(version, str) else "the writing torch version is not recorded",
    ]
    if isinstance(schema, dict) and "major" in schema:
        notes.append(f"export schema version {schema.get('major')}.{schema.get('minor')}")
    source = Source(str(path), "torch-export", "pytorch", version if isinstance(version, str) else None)
    return Model(name=name, graph=graph, source=source, notes=notes, architecture=True)


def _source(path: Path, opened: _Opened) -> Source:
    """A zip's ``version`` record is its serialization format (3 since PyTorch 1.x), not a
    PyTorch version; TorchScript 1.0's model.json records the producer's version."""
    if opened.format == "torchscript" and opened.obj is not None and "." in str(opened.version or ""):
        return Source(str(path), opened.format, "pytorch", opened.version)
    label = f"archive format {opened.version}" if opened.version else None
    return Source(str(path), opened.format, "pytorch", None, format_version=label)


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        return "a dict with keys " + ", ".join(map(str, list(obj)[:8]))
    if isinstance(obj, up.Opaque):
        return f"a {obj.qualname()}"
    return f"a {type(obj).__name__}"


def _is_module(obj: Any) -> bool:
    if not isinstance(obj, up.Opaque):
        return False
    attrs = obj.attributes
    return isinstance(attrs.get("_modules"), dict) or isinstance(attrs.get("_parameters"), dict) or (
        type(obj).__module_name__.startswith("__torch__") and "training" in attrs
    )


def _state_dict(obj: Any) -> list[tuple[str, up.TensorRef]] | None:
    if not isinstance(obj, dict) or not obj:
        return None
    tensors = [(str(k), v) for k, v in obj.items() if isinstance(v, up.TensorRef)]
    return tensors if tensors and len(tensors) * 2 >= len(obj) else None


def _find_weights(obj: Any, notes: list[str]) -> tuple[Any, str | None]:
    """The state dict or module in the file, and under which checkpoint key it was.
    Several state dicts side by side (``netG``, ``netD``) are listed together, each under
    its key; failing all that, every tensor anywhere in the object, by its path."""
    if _is_module(obj) or _state_dict(obj) is not None:
        return obj, None
    if isinstance(obj, dict):
        keys = [k for k in CHECKPOINT_KEYS if k in obj] + [k for k in obj if k not in CHECKPOINT_KEYS]
        found = [k for k in keys if _is_module(obj[k]) or _state_dict(obj[k]) is not None]
        if found:
            key = found[0]
            others = [f"{k}={v!r}" if isinstance(v, (int, float, str)) else str(k) for k, v in obj.items() if k != key]
            named = [k for k in found if not _is_module(obj[k])]
            if len(named) > 1 and key not in CHECKPOINT_KEYS:
                merged = OrderedDict((f"{k}.{name}", t) for k in named for name, t in _state_dict(obj[k]) or [])
                notes.append(f"a checkpoint dict of {len(named)} state dicts: " + ", ".join(map(str, named))
                             + " (each layer's name starts with its key)")  # fmt: skip
                return merged, None
            notes.append(
                f"a checkpoint dict: the weights are under '{key}'"
                + (f"; it also holds {', '.join(others[:8])}" if others else "")
            )
            return obj[key], str(key)
    tensors: OrderedDict[str, up.TensorRef] = OrderedDict()
    _collect(obj, "", tensors, 0)
    if tensors:
        notes.append(f"no state dict or module in the file ({_describe(obj)}): every tensor it holds, by its path")
        return tensors, None
    return obj, None


def _collect(obj: Any, prefix: str, out: dict[str, up.TensorRef], depth: int) -> None:
    if depth > 50:
        return
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        name = f"{prefix}{k}"
        if isinstance(v, up.TensorRef):
            out[name] = v
        else:
            _collect(v, name + ".", out, depth + 1)


def _state_dict_layers(opened: _Opened, tensors: list[tuple[str, up.TensorRef]], convention: str, flipped: bool) -> list[Layer]:
    from .numpy_files import Entry, named_layers

    entries = [Entry(name, t.shape, t.storage.type.spec, opened.reader(name, t)) for name, t in tensors]
    layers = named_layers(entries, convention, flipped)
    for layer in layers:
        if layer.op == "conv":
            layer.notes.append("groups are not recorded in a state dict: read as 1 (a grouped conv shows in/groups inputs)")
    return layers


# ---------------------------------------------------------------------------------------
# Module trees: classes → neutral ops


CONV = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3}
TRANSPOSED = {"ConvTranspose1d": 1, "ConvTranspose2d": 2, "ConvTranspose3d": 3}
POOL = {f"{kind}Pool{r}d": r for kind in ("Max", "Avg") for r in (1, 2, 3)}
ADAPTIVE = {f"Adaptive{kind}Pool{r}d": r for kind in ("Max", "Avg") for r in (1, 2, 3)}
# Shape-keeping modules, by neutral kind (the activations' function is ACTIVATIONS' name,
# else the class name in lower case).
SHAPE_KEEPING = {
    **dict.fromkeys("BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm".split(), "batch_norm"),
    **dict.fromkeys("LayerNorm GroupNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d LocalResponseNorm".split(), "normalization"),
    **dict.fromkeys("ReLU ReLU6 LeakyReLU PReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardswish Hardsigmoid Hardtanh "
                    "Softplus Softsign Tanhshrink Softmax LogSoftmax Softmax2d".split(), "activation"),
    **dict.fromkeys("Dropout Dropout1d Dropout2d Dropout3d AlphaDropout".split(), "dropout"),
    "Identity": "identity",
}  # fmt: skip
ACTIVATIONS = {"ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
               "GELU": "gelu", "SiLU": "silu", "ELU": "elu", "Softmax": "softmax", "Hardswish": "hard_swish"}  # fmt: skip
CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})


def _all_sequential(module: up.Opaque) -> bool:
    children = _children(module)
    if not children:
        return True
    return module.class_name == "Sequential" and all(_all_sequential(m) for _, m in children)


def _children(module: up.Opaque) -> list[tuple[str, up.Opaque]]:
    attrs = module.attributes
    source = attrs["_modules"] if isinstance(attrs.get("_modules"), dict) else attrs  # TorchScript: inline
    return [(str(k), v) for k, v in source.items() if _is_module(v)]


def _tensors(module: up.Opaque) -> list[tuple[str, up.TensorRef, bool]]:
    """(name, tensor, trainable) of a module's own parameters and buffers."""
    attrs = module.attributes
    if isinstance(attrs.get("_parameters"), dict):
        params = [(str(k), v, True) for k, v in attrs["_parameters"].items() if isinstance(v, up.TensorRef)]
        found = attrs.get("_buffers")
        buffers: dict[Any, Any] = found if isinstance(found, dict) else {}
        skipped = attrs.get("_non_persistent_buffers_set") or set()
        return params + [(str(k), v, False) for k, v in buffers.items() if isinstance(v, up.TensorRef) and k not in skipped]
    return [(str(k), v, v.requires_grad) for k, v in attrs.items() if isinstance(v, up.TensorRef)]


def _pairs(value: Any, rank: int) -> list[int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value] * rank
    if isinstance(value, (list, tuple)) and len(value) == rank and all(isinstance(v, int) for v in value):
        return list(value)
    return None


def translate(cls: str, h: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """A torch.nn class and its hyperparameters → (op, attrs, why shapes are unknown)."""
    if cls in CONV or cls in TRANSPOSED:
        rank = CONV.get(cls) or TRANSPOSED[cls]
        kernel, stride, dilation = _pairs(h.get("kernel_size"), rank), _pairs(h.get("stride", 1), rank), _pairs(h.get("dilation", 1), rank)
        padding: Any = h.get("padding", 0)
        if padding not in ("same", "valid"):
            pads = _pairs(padding, rank)
            padding = None if pads is None else [(p, p) for p in pads]
        attrs = {"rank": rank, "filters": h.get("out_channels"), "kernel_size": kernel, "strides": stride,
                 "dilation": dilation, "padding": padding, "groups": h.get("groups", 1), "channels_last": False}  # fmt: skip
        why = None
        if None in (kernel, stride, dilation, padding) or not isinstance(h.get("out_channels"), int):
            why = "its hyperparameters (kernel_size, stride, padding, ...) are not all in the file"
        elif h.get("padding_mode", "zeros") != "zeros" and padding == "same":
            why = None
        if cls in TRANSPOSED:
            attrs["output_padding"] = _pairs(h.get("output_padding", 0), rank)
            if padding == "same":
                why = "a transposed convolution with padding='same'"
            return "conv_transpose", attrs, why
        return "conv", attrs, why
    if cls in POOL:
        rank = POOL[cls]
        kernel = _pairs(h.get("kernel_size"), rank)
        stride = _pairs(h.get("stride"), rank) if h.get("stride") not in (None, [], ()) else kernel
        pads = _pairs(h.get("padding", 0), rank)
        dilation = _pairs(h.get("dilation", 1), rank)
        attrs = {"rank": rank, "kernel_size": kernel, "strides": stride, "dilation": dilation,
                 "padding": None if pads is None else [(p, p) for p in pads], "channels_last": False,
                 "ceil_mode": bool(h.get("ceil_mode"))}  # fmt: skip
        why = "its kernel_size, stride or padding are not in the file" if None in (kernel, stride, pads, dilation) else None
        return "pool", attrs, why
    if cls in ADAPTIVE:
        rank = ADAPTIVE[cls]
        size = _pairs(h.get("output_size"), rank)
        if rank == 2 and size is not None:
            return "resize", {"sizes": [None, None, *size], "channels_last": False}, None
        return "unknown", {}, "adaptive pooling to an output size of None (keeps the input's) or in 1-D/3-D"
    if cls == "Linear":
        return "dense", {"units": h.get("out_features")}, None if isinstance(h.get("out_features"), int) else "out_features is not in the file"
    if cls == "Flatten":
        if h.get("start_dim", 1) == 1 and h.get("end_dim", -1) == -1:
            return "flatten", {}, None
        return "unknown", {}, f"Flatten(start_dim={h.get('start_dim')}, end_dim={h.get('end_dim')}) is not modelled"
    if cls in SHAPE_KEEPING:
        attrs = {"activation": ACTIVATIONS[cls]} if cls in ACTIVATIONS else {}
        if SHAPE_KEEPING[cls] == "activation":
            attrs["function"] = ACTIVATIONS.get(cls, cls.lower())
        return SHAPE_KEEPING[cls], attrs, None
    return "unknown", {}, f"no shape rule for {cls} (its forward() is code, which is never run)"


HYPER = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode",
         "output_padding", "in_features", "out_features", "num_features", "eps", "momentum", "affine",
         "track_running_stats", "ceil_mode", "count_include_pad", "output_size", "start_dim", "end_dim", "p",
         "inplace", "negative_slope", "dim", "normalized_shape", "num_groups", "num_channels")  # fmt: skip


class _ModuleBuilder:
    def __init__(self, opened: _Opened, convention: str, flipped: bool) -> None:
        self.opened, self.convention, self.flipped = opened, convention, flipped
        self.notes: list[str] = []
        self.custom: list[str] = []
        self._constants: dict[str, dict[str, Any]] = {}

    def hyper(self, module: up.Opaque) -> dict[str, Any]:
        attrs = module.attributes
        h = {k: _plain(attrs[k]) for k in HYPER if k in attrs}
        if type(module).__module_name__.startswith("__torch__"):
            h.update({k: v for k, v in self.script_constants(module).items() if k not in h})
        return h

    def script_constants(self, module: up.Opaque) -> dict[str, Any]:
        """TorchScript keeps hyperparameters as ``name : Final[...] = value`` lines in the
        class's code: read as literals (``ast.literal_eval``), never run."""
        qual = module.qualname()
        if qual not in self._constants:
            mod = type(module).__module_name__
            text = self.opened.code.get(mod.replace(".", "/") + ".py", "")
            found: dict[str, Any] = {}
            block = re.search(rf"^class {re.escape(module.class_name)}\(.*?(?=^class |\Z)", text, re.M | re.S)
            for m in re.finditer(r"^  (\w+) : Final\[.*\] = (.+)$", block.group(0) if block else "", re.M):
                try:
                    found[m.group(1)] = ast.literal_eval(m.group(2).strip())
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    continue
            self._constants[qual] = found
        return self._constants[qual]

    def layer(self, name: str, module: up.Opaque, prefix: str = "", top: bool = False) -> Layer:
        """``prefix`` is the module's dotted path, as its state dict names it."""
        cls = module.class_name
        children = _children(module)
        weights = self.weights(module, prefix)
        if children or cls in CONTAINERS or top:
            if cls not in CONTAINERS and children:
                self.custom.append(cls)
            graph = self.chain([self.layer(child, sub, f"{prefix}.{child}" if prefix else child) for child, sub in children])
            layer = Layer(name=name or "model", type=cls, op="model", graph=graph, config=self.hyper(module))
            layer.weights = weights
            if weights:
                layer.notes.append("this container holds weights of its own, used by code that is not in the file")
            return layer
        h = self.hyper(module)
        op, attrs, why = translate(cls, h)
        if why is not None:
            op, attrs = "unknown", {"reason": why}
        if op == "conv" and isinstance(h.get("groups"), int) and h["groups"] > 1 and h["groups"] == h.get("in_channels"):
            attrs["depthwise"] = True  # groups == in_channels: one input map per group
        layer = Layer(name=name, type=cls, op=op, attrs=attrs, config=h)
        layer.weights = weights
        return layer

    def weights(self, module: up.Opaque, prefix: str) -> list[Weight]:
        out = []
        for role, tensor, trainable in _tensors(module):
            cls = module.class_name
            op = "conv_transpose" if cls in TRANSPOSED else "conv" if cls in CONV else "dense" if cls == "Linear" else "identity"
            full = f"{prefix}.{role}" if prefix else role
            out.append(
                Weight(
                    name=full,
                    role=role,
                    shape=tensor.shape,
                    dtype=tensor.dtype,
                    layout=layout_for(self.convention, op, role, len(tensor.shape), self.flipped),
                    trainable=trainable and role not in NON_TRAINABLE,
                    reader=self.opened.reader(full, tensor),
                )
            )
        return out

    def chain(self, layers: list[Layer]) -> Graph:
        """Children in registration order, each fed by the one before; a synthetic input
        first, whose shape is unknown unless --input-shape gives it."""
        first = Layer(name="input", type="Input", op="input", attrs={"shape": None}, synthetic=True, calls=[Call()])
        layers = [first] + layers
        for prev, layer in zip(layers, layers[1:]):
            layer.calls = [Call(inputs=[TensorRef(prev.name)])]
        return Graph(layers, [TensorRef(first.name)], [TensorRef(layers[-1].name)])


def _plain(value: Any) -> Any:
    """A hyperparameter as JSON-friendly data (tuples → lists of plain values)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)
