"""A restricted unpickler for PyTorch files: it rebuilds data, never code.

``find_class`` never imports anything. A short allow-list maps the globals PyTorch files
need (tensor rebuilders, storage types, dtypes, ``OrderedDict``, ``set``, ...) to local,
harmless stand-ins; every other global, whatever its module (``os.system``,
``builtins.eval``, ``__main__.Net``, ``torch.nn.modules.conv.Conv2d``), becomes an inert
``Opaque`` class that only records what it was called with and the state it was given.
Tensors become ``TensorRef`` handles on their storages (dtype, shape, stride, offset):
their values are read later, from the zip member or stream position the storage names.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from ..core.dtypes import TORCH, DType, from_torch


@dataclass(frozen=True)
class StorageType:
    """``torch.FloatStorage`` and friends, or a ``torch.float32`` dtype: a name only."""

    name: str  # as the pickle names it: FloatStorage, UntypedStorage, float8_e4m3fn, ...

    @property
    def spec(self) -> DType:
        return from_torch(self.name)

    @property
    def dtype(self) -> str:
        return self.spec.name

    @property
    def itemsize(self) -> int:
        return self.spec.itemsize


@dataclass
class Storage:
    """A storage a persistent id names: its key (the zip member ``data/<key>`` or the
    legacy stream's key), element type and element count."""

    key: str
    type: StorageType
    numel: int
    location: str = "cpu"
    view_offset: int = 0  # legacy storage views: elements into the root storage


@dataclass
class TensorRef:
    """A tensor, described; its data stays in the file."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    requires_grad: bool = False
    parameter: bool = False

    @property
    def dtype(self) -> str:
        return self.storage.type.dtype

    def __setstate__(self, state: Any) -> None:
        """A BUILD on a rebuilt tensor (hooks, or a hostile file) changes nothing."""

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class Opaque:
    """An instance of a class that was never imported: its qualified name, the arguments
    it was built with, the state it was given, and items appended or set on it."""

    __module_name__ = "?"
    __class_name__ = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Opaque:
        # NEWOBJ builds instances through __new__ alone: record everything here.
        self = super().__new__(cls)
        self.args = args
        self.kwargs = kwargs
        self.state = None
        self.items = []
        self.mapping = {}
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    args: tuple
    kwargs: dict[str, Any]
    state: Any
    items: list[Any]
    mapping: dict[Any, Any]

    @classmethod
    def qualname(cls) -> str:
        return f"{cls.__module_name__}.{cls.__class_name__}"

    @property
    def class_name(self) -> str:
        return type(self).__class_name__

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.mapping[key] = value

    def append(self, value: Any) -> None:
        self.items.append(value)

    def extend(self, values: Any) -> None:
        self.items.extend(values)

    @property
    def attributes(self) -> dict[str, Any]:
        """The instance's ``__dict__`` as pickled (``(dict, slots)`` state merged)."""
        state = self.state
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            merged: dict[str, Any] = {}
            for part in state:
                merged.update(part or {})
            return merged
        return state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"<{self.qualname()} (not imported)>"


def opaque_class(module: str, name: str) -> type[Opaque]:
    """A fresh inert class standing for ``module.name``; nothing is imported."""
    return type(name if name.isidentifier() else "Opaque", (Opaque,), {"__module_name__": module, "__class_name__": name})


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> Any:
    if not isinstance(storage, Storage):
        return opaque_class("torch._utils", "_rebuild_tensor_v2")(storage, offset, size, stride, *rest)
    requires_grad = bool(rest[0]) if rest else False
    return TensorRef(storage, int(offset), tuple(int(d) for d in size), tuple(int(s) for s in stride), requires_grad)


def _rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any,
                       dtype: Any = None, *rest: Any) -> Any:  # fmt: skip
    """PyTorch 2 pickles tensors of dtypes without a storage class (float8, uint16, ...)
    this way: an untyped storage counted in bytes, and the dtype."""
    tensor = _rebuild_tensor(storage, offset, size, stride, requires_grad)
    if isinstance(tensor, TensorRef) and isinstance(dtype, StorageType):
        old = tensor.storage
        numel = old.numel * old.type.itemsize // dtype.itemsize  # the same bytes, counted in elements of dtype
        tensor.storage = Storage(old.key, dtype, numel, old.location, old.view_offset)
    return tensor


def _rebuild_parameter(data: Any, requires_grad: Any = True, *rest: Any) -> Any:
    if isinstance(data, TensorRef):
        data.parameter, data.requires_grad = True, bool(requires_grad)
    return data


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
    if func in SAFE_FUNCTIONS and isinstance(args, tuple):
        return func(*args)
    return opaque_class("torch._tensor", "_rebuild_from_type_v2")(func, new_type, args, state)


class _Parameter:
    """``torch.nn.parameter.Parameter(data, requires_grad)`` as old files pickle it, by
    REDUCE or NEWOBJ: it stands for its tensor."""

    def __new__(cls, data: Any = None, requires_grad: Any = True, *rest: Any) -> Any:
        if isinstance(data, TensorRef):
            return _rebuild_parameter(data, requires_grad)
        return opaque_class("torch.nn.parameter", "Parameter")(data, requires_grad, *rest)


def _codecs_encode(text: Any, encoding: str = "utf-8", *rest: Any) -> Any:
    """Protocol-2 pickles write bytes as ``_codecs.encode(str, 'latin1')``."""
    if isinstance(text, str) and encoding in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        return text.encode(encoding)
    return opaque_class("_codecs", "encode")(text, encoding)


def _as_list(value: Any = (), *rest: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _first(value: Any = None, *rest: Any) -> Any:
    return value


def _size(value: Any = ()) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


SAFE_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    {_rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter, _rebuild_from_type, _codecs_encode, _as_list, _first}
)

# (module, name) → what find_class returns instead of importing it.
ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Size"): _size,
    ("torch.nn.parameter", "Parameter"): _Parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _codecs_encode,
    ("torch.jit._pickle", "build_intlist"): _as_list,
    ("torch.jit._pickle", "build_doublelist"): _as_list,
    ("torch.jit._pickle", "build_boollist"): _as_list,
    ("torch.jit._pickle", "build_tensorlist"): _as_list,
    ("torch.jit._pickle", "build_genericlist"): _as_list,
    ("torch.jit._pickle", "restore_type_tag"): _first,
}
for _name in TORCH:  # storage classes and dtypes
    ALLOWED[("torch", _name)] = StorageType(_name)
    if _name.endswith("Storage"):
        ALLOWED[("torch.cuda", _name)] = StorageType(_name)
ALLOWED[("torch.storage", "UntypedStorage")] = StorageType("UntypedStorage")


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickles PyTorch data without importing or running anything from the file.

    It builds on the pure-Python unpickler: its memo is a dict, whereas the C one grows an
    array to the largest index a ``LONG_BINPUT`` names (a flipped byte asks for billions).

    ``storage_for(key, type, numel, location, view)`` turns a persistent id into a
    ``Storage`` (the loader knows where storages live); ``module_sources`` collects the
    classes legacy files name in ``('module', cls, file, source)`` ids."""

    def __init__(self, data: bytes | Any, storage_for: Callable[..., Storage] | None = None) -> None:
        super().__init__(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
        self._classes: dict[tuple[str, str], type[Opaque]] = {}
        self.storage_for = storage_for or (lambda key, type_, numel, location, view: Storage(key, type_, numel, location))
        self.globals_seen: list[str] = []
        self.storages: dict[str, Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified not in self.globals_seen:
            self.globals_seen.append(qualified)
        allowed = ALLOWED.get((module, name))
        if isinstance(allowed, StorageType):
            return StorageType(allowed.name)  # a fresh one: a BUILD cannot touch the table
        if allowed is not None:
            return allowed
        key = (module, name)
        if key not in self._classes:
            self._classes[key] = opaque_class(module, name)
        return self._classes[key]

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        kind = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module" and len(pid) >= 2:  # legacy whole modules: (module, cls, file, source)
            return pid[1]
        if kind != "storage" or len(pid) < 5:
            raise pickle.UnpicklingError(f"unexpected persistent id kind {kind!r}")
        type_, key, location, numel = pid[1], str(pid[2]), pid[3], pid[4]
        view = pid[5] if len(pid) > 5 else None
        if isinstance(type_, Opaque) or (isinstance(type_, type) and issubclass(type_, Opaque)):
            raise pickle.UnpicklingError(f"storage {key} has an unknown type {type_!r}")
        if not isinstance(type_, StorageType) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"storage {key} is described as {pid[1:5]!r}")
        if key not in self.storages:
            self.storages[key] = self.storage_for(key, type_, numel, str(location), None)
        storage = self.storages[key]
        if view is not None:  # legacy views: (view_key, offset, view_size)
            view_key, offset, size = view
            return Storage(storage.key, storage.type, int(size), storage.location, storage.view_offset + int(offset))
        return storage


def load(data: bytes | Any, storage_for: Callable[..., Storage] | None = None) -> tuple[Any, RestrictedUnpickler]:
    """Unpickle one object with the restricted unpickler; returns it and the unpickler."""
    unpickler = RestrictedUnpickler(data, storage_for)
    return unpickler.load(), unpickler
