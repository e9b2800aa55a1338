"""ONNX's protobuf messages, read without the ``onnx`` package.

An ONNX file is one ``ModelProto`` in protobuf's wire format: a sequence of fields, each a
varint key (field number << 3 | wire type) then a varint, 4 or 8 bytes, or a varint length
and that many bytes (a string, a nested message, or a packed array). This module walks
those fields for the messages cnninspect uses and builds small Python objects whose
attribute names are those of the ``onnx`` package's (``model.graph.node``,
``node.attribute``, ``tensor.dims``, ``HasField``), so that code written for ``onnx``
reads them unchanged.

Weights are never copied while parsing. ``raw_data`` is recorded as (offset, length) in
the file, and typed arrays (``float_data``, ``int64_data`` ...) as the byte spans that hold
them; ``to_array`` reads them only when asked, through ``np.memmap`` for big ones. The
file is parsed with seek and read, a page or a small message at a time, so opening a
500 MB model reads its non-weight bytes and at most a page at each end of a tensor; NumPy
is imported only to read a tensor.

Every length, varint and wire type is checked against the bytes that are there: a
damaged file raises ``BrokenFile`` with one line saying what is wrong and where, never a
library traceback or a read past the end.

Field numbers are those of onnx/onnx's ``onnx/onnx.proto`` (each message's ``_fields``
table cites them). Not read: ``FunctionProto`` (``functions``), ``TrainingInfoProto``,
quantization annotations, and the sequence/map/optional/opaque kinds of ``TypeProto``,
which are recorded as present (``HasField``) but not parsed.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..core.dtypes import from_onnx, widen
from ..errors import BrokenFile, UnrecognisedFile

if TYPE_CHECKING:
    import numpy as np

MAX_DEPTH = 64  # nested messages (graphs inside If/Loop attributes): deeper is a hostile file
MEMMAP_FROM = 1 << 16  # bytes: tensors at least this big are memory-mapped, smaller ones read

# Wire types (protobuf encoding): groups (3, 4) are not used by ONNX and refused.
VARINT, I64, LEN, I32 = 0, 1, 2, 5

# Field kinds: how a field's bytes become a value.
INTEGER = 0  # varint, int64/int32/enum: two's complement
REAL = 1  # fixed32 IEEE float
TEXT = 2  # UTF-8 string: a name, which must decode
DOC = 3  # UTF-8 string that is only shown: undecodable bytes are replaced
BYTES = 4
MESSAGE = 5  # a nested message, parsed
UNREAD = 6  # a nested message recorded as (offset, length), not parsed
RAW = 7  # TensorProto.raw_data: (offset, length)
DATA_F32, DATA_F64, DATA_VARINT = 8, 9, 10  # typed arrays: spans, decoded by to_array
DATA = (DATA_F32, DATA_F64, DATA_VARINT)
WIRE_OF = {INTEGER: VARINT, REAL: I32, DATA_F32: I32, DATA_F64: I64, DATA_VARINT: VARINT}

PACKED, FIELDS = 0, 1  # a span holds one packed payload, or consecutive (key, value) fields


# ---------------------------------------------------------------------------------------
# Messages


class Unread:
    """A nested message that is recorded, not parsed (a sequence type, a function)."""

    def __init__(self, offset: int, length: int) -> None:
        self.offset, self.length = offset, length

    def __repr__(self) -> str:
        return f"Unread(offset={self.offset}, length={self.length})"


class _Message:
    """Fields are instance attributes once read; absent ones fall back to the class
    defaults (``""``, ``0``, ``()``, or a shared empty message), as protobuf's do."""

    # field number -> (attribute, kind, repeated, message class)
    _fields: dict[int, tuple[str, int, bool, Any]] = {}

    def HasField(self, name: str) -> bool:  # noqa: N802 - the onnx package's name
        return name in self.__dict__ or "_" + name in self.__dict__

    def _present(self) -> list[str]:
        """The names of the fields present, in field-number order."""
        return [spec[0] for _, spec in sorted(self._fields.items()) if self.HasField(spec[0])]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}"[:80] for name in self._present())
        return f"{type(self).__name__}({shown})"


class StringStringEntryProto(_Message):
    key = ""
    value = ""
    _fields = {1: ("key", TEXT, False, None), 2: ("value", TEXT, False, None)}


class OperatorSetIdProto(_Message):
    domain = ""
    version = 0
    _fields = {1: ("domain", TEXT, False, None), 2: ("version", INTEGER, False, None)}


class TensorShapeProto(_Message):
    class Dimension(_Message):
        dim_value = 0
        dim_param = ""
        denotation = ""
        _fields = {1: ("dim_value", INTEGER, False, None), 2: ("dim_param", TEXT, False, None), 3: ("denotation", DOC, False, None)}

    dim: Sequence[TensorShapeProto.Dimension] = ()
    _fields = {1: ("dim", MESSAGE, True, Dimension)}


class TypeProto(_Message):
    class Tensor(_Message):
        elem_type = 0
        shape: TensorShapeProto
        _fields = {1: ("elem_type", INTEGER, False, None), 2: ("shape", MESSAGE, False, TensorShapeProto)}

    tensor_type: TypeProto.Tensor
    sequence_type: Optional[Unread] = None
    map_type: Optional[Unread] = None
    opaque_type: Optional[Unread] = None
    sparse_tensor_type: Optional[Unread] = None
    optional_type: Optional[Unread] = None
    denotation = ""
    _fields = {
        1: ("tensor_type", MESSAGE, False, Tensor),
        4: ("sequence_type", UNREAD, False, None),
        5: ("map_type", UNREAD, False, None),
        6: ("denotation", DOC, False, None),
        7: ("opaque_type", UNREAD, False, None),
        8: ("sparse_tensor_type", UNREAD, False, None),
        9: ("optional_type", UNREAD, False, None),
    }


class ValueInfoProto(_Message):
    name = ""
    type: TypeProto
    doc_string = ""
    metadata_props: Sequence[StringStringEntryProto] = ()
    _fields = {
        1: ("name", TEXT, False, None),
        2: ("type", MESSAGE, False, TypeProto),
        3: ("doc_string", DOC, False, None),
        4: ("metadata_props", MESSAGE, True, StringStringEntryProto),
    }


class TensorProto(_Message):
    # DataType
    UNDEFINED, FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL = range(10)
    FLOAT16, DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16 = range(10, 17)
    FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, UINT4, INT4, FLOAT4E2M1 = range(17, 24)
    FLOAT8E8M0, UINT2, INT2, FLOAT6E2M3, FLOAT6E3M2 = range(24, 29)
    # DataLocation
    DEFAULT, EXTERNAL = 0, 1

    class Segment(_Message):
        begin = 0
        end = 0
        _fields = {1: ("begin", INTEGER, False, None), 2: ("end", INTEGER, False, None)}

    dims: Sequence[int] = ()
    data_type = 0
    segment: TensorProto.Segment
    string_data: Sequence[bytes] = ()
    name = ""
    doc_string = ""
    external_data: Sequence[StringStringEntryProto] = ()
    data_location = 0
    metadata_props: Sequence[StringStringEntryProto] = ()
    _source: _Source
    _fields = {
        1: ("dims", INTEGER, True, None),
        2: ("data_type", INTEGER, False, None),
        3: ("segment", MESSAGE, False, Segment),
        4: ("float_data", DATA_F32, True, None),  # packed
        5: ("int32_data", DATA_VARINT, True, None),  # packed
        6: ("string_data", BYTES, True, None),
        7: ("int64_data", DATA_VARINT, True, None),  # packed
        8: ("name", TEXT, False, None),
        9: ("raw_data", RAW, False, None),
        10: ("double_data", DATA_F64, True, None),  # packed
        11: ("uint64_data", DATA_VARINT, True, None),  # packed
        12: ("doc_string", DOC, False, None),
        13: ("external_data", MESSAGE, True, StringStringEntryProto),
        14: ("data_location", INTEGER, False, None),
        16: ("metadata_props", MESSAGE, True, StringStringEntryProto),
    }

    @property
    def raw_data(self) -> bytes:
        """The bytes, read from the file now (``to_array`` maps big ones instead)."""
        span = self.__dict__.get("_raw_data")
        return b"" if span is None else self._source.read(*span)

    @property
    def raw_span(self) -> tuple[int, int] | None:
        """(offset, length) of ``raw_data`` in the parsed file, or None without one."""
        return self.__dict__.get("_raw_data")

    def data_spans(self) -> list[tuple[int, int]]:
        """(offset, length) of every byte range holding this tensor's data in the file."""
        spans = [self.raw_span] if self.raw_span else []
        for name, kind, _, _ in self._fields.values():
            if kind in DATA:
                spans += [(start, end - start) for _, start, end in self.__dict__.get("_" + name, ())]
        return spans

    @property
    def float_data(self) -> np.ndarray:
        return self._typed("float_data")

    @property
    def int32_data(self) -> np.ndarray:
        return self._typed("int32_data")

    @property
    def int64_data(self) -> np.ndarray:
        return self._typed("int64_data")

    @property
    def double_data(self) -> np.ndarray:
        return self._typed("double_data")

    @property
    def uint64_data(self) -> np.ndarray:
        return self._typed("uint64_data")

    def _typed(self, name: str) -> np.ndarray:
        import numpy as np

        kind = {"float_data": DATA_F32, "double_data": DATA_F64}.get(name, DATA_VARINT)
        parts = []
        for how, start, end in self.__dict__.get("_" + name, ()):
            if how == PACKED and kind != DATA_VARINT:  # fixed width: mapped when big, as raw_data
                width = 4 if kind == DATA_F32 else 8
                if (end - start) % width:
                    raise _damaged(start, f"a packed array of {end - start} bytes, not a multiple of {width}")
                parts.append(self._source.array(start, end - start, _DECODED[kind], (end - start) // width))
            else:
                parts.append(_decode(self._source.read(start, end - start), how, kind, start))
        values = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, _DECODED[kind])
        return values.view(np.int64).astype(np.int32) if name == "int32_data" else values.view(np.int64) if name == "int64_data" else values


class SparseTensorProto(_Message):
    values: TensorProto
    indices: TensorProto
    dims: Sequence[int] = ()
    _fields = {1: ("values", MESSAGE, False, TensorProto), 2: ("indices", MESSAGE, False, TensorProto), 3: ("dims", INTEGER, True, None)}


class AttributeProto(_Message):
    # AttributeType
    UNDEFINED, FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS = range(11)
    SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS = 11, 12, 13, 14

    name = ""
    ref_attr_name = ""
    doc_string = ""
    type = 0
    f = 0.0
    i = 0
    s = b""
    t: TensorProto
    g: GraphProto
    sparse_tensor: SparseTensorProto
    tp: TypeProto
    floats: Sequence[float] = ()
    ints: Sequence[int] = ()
    strings: Sequence[bytes] = ()
    tensors: Sequence[TensorProto] = ()
    graphs: Sequence[GraphProto] = ()
    sparse_tensors: Sequence[SparseTensorProto] = ()
    type_protos: Sequence[TypeProto] = ()
    _fields: dict[int, tuple[str, int, bool, Any]] = {
        1: ("name", TEXT, False, None),
        2: ("f", REAL, False, None),
        3: ("i", INTEGER, False, None),
        4: ("s", BYTES, False, None),
        5: ("t", MESSAGE, False, TensorProto),
        6: ("g", MESSAGE, False, None),  # GraphProto, set below
        7: ("floats", REAL, True, None),
        8: ("ints", INTEGER, True, None),
        9: ("strings", BYTES, True, None),
        10: ("tensors", MESSAGE, True, TensorProto),
        11: ("graphs", MESSAGE, True, None),  # GraphProto, set below
        13: ("doc_string", DOC, False, None),
        14: ("tp", MESSAGE, False, TypeProto),
        15: ("type_protos", MESSAGE, True, TypeProto),
        20: ("type", INTEGER, False, None),
        21: ("ref_attr_name", TEXT, False, None),
        22: ("sparse_tensor", MESSAGE, False, SparseTensorProto),
        23: ("sparse_tensors", MESSAGE, True, SparseTensorProto),
    }


class NodeProto(_Message):
    input: Sequence[str] = ()
    output: Sequence[str] = ()
    name = ""
    op_type = ""
    domain = ""
    overload = ""
    attribute: Sequence[AttributeProto] = ()
    doc_string = ""
    metadata_props: Sequence[StringStringEntryProto] = ()
    _fields = {
        1: ("input", TEXT, True, None),
        2: ("output", TEXT, True, None),
        3: ("name", TEXT, False, None),
        4: ("op_type", TEXT, False, None),
        5: ("attribute", MESSAGE, True, AttributeProto),
        6: ("doc_string", DOC, False, None),
        7: ("domain", TEXT, False, None),
        8: ("overload", TEXT, False, None),
        9: ("metadata_props", MESSAGE, True, StringStringEntryProto),
    }


class GraphProto(_Message):
    node: Sequence[NodeProto] = ()
    name = ""
    initializer: Sequence[TensorProto] = ()
    sparse_initializer: Sequence[SparseTensorProto] = ()
    doc_string = ""
    input: Sequence[ValueInfoProto] = ()
    output: Sequence[ValueInfoProto] = ()
    value_info: Sequence[ValueInfoProto] = ()
    metadata_props: Sequence[StringStringEntryProto] = ()
    _fields = {
        1: ("node", MESSAGE, True, NodeProto),
        2: ("name", TEXT, False, None),
        5: ("initializer", MESSAGE, True, TensorProto),
        10: ("doc_string", DOC, False, None),
        11: ("input", MESSAGE, True, ValueInfoProto),
        12: ("output", MESSAGE, True, ValueInfoProto),
        13: ("value_info", MESSAGE, True, ValueInfoProto),
        15: ("sparse_initializer", MESSAGE, True, SparseTensorProto),
        16: ("metadata_props", MESSAGE, True, StringStringEntryProto),
    }


class ModelProto(_Message):
    ir_version = 0
    opset_import: Sequence[OperatorSetIdProto] = ()
    producer_name = ""
    producer_version = ""
    domain = ""
    model_version = 0
    doc_string = ""
    graph: GraphProto
    metadata_props: Sequence[StringStringEntryProto] = ()
    functions: Sequence[Unread] = ()
    _fields = {
        1: ("ir_version", INTEGER, False, None),
        2: ("producer_name", TEXT, False, None),
        3: ("producer_version", TEXT, False, None),
        4: ("domain", TEXT, False, None),
        5: ("model_version", INTEGER, False, None),
        6: ("doc_string", DOC, False, None),
        7: ("graph", MESSAGE, False, GraphProto),
        8: ("opset_import", MESSAGE, True, OperatorSetIdProto),
        14: ("metadata_props", MESSAGE, True, StringStringEntryProto),
        25: ("functions", UNREAD, True, None),
    }


AttributeProto._fields[6] = ("g", MESSAGE, False, GraphProto)
AttributeProto._fields[11] = ("graphs", MESSAGE, True, GraphProto)
# Absent sub-messages read as empty ones, as in protobuf (shared: parsed messages are never changed).
TypeProto.Tensor.shape = TensorShapeProto()
TypeProto.tensor_type = TypeProto.Tensor()
ValueInfoProto.type = TypeProto()
TensorProto.segment = TensorProto.Segment()
SparseTensorProto.values = SparseTensorProto.indices = TensorProto()
AttributeProto.t = TensorProto()
AttributeProto.g = GraphProto()
AttributeProto.sparse_tensor = SparseTensorProto()
AttributeProto.tp = TypeProto()
ModelProto.graph = GraphProto()


# ---------------------------------------------------------------------------------------
# Reading


class _Source:
    """Where a tensor's bytes are: the parsed file (read again by path when asked) or bytes."""

    def __init__(self, path: Path | None, data: bytes | None) -> None:
        self.path, self.data = path, data

    def read(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + length]
        assert self.path is not None
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise BrokenFile(f"'{self.path.name}' became shorter than when it was parsed")
        return data

    def array(self, offset: int, length: int, dtype: str, count: int) -> np.ndarray:
        """``count`` elements of ``dtype`` at ``offset``: mapped when big and in a file."""
        import numpy as np

        if self.path is not None and length >= MEMMAP_FROM:
            if offset + length > self.path.stat().st_size:
                raise BrokenFile(f"'{self.path.name}' became shorter than when it was parsed")
            return np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=(count,))
        return np.frombuffer(self.read(offset, length), dtype=dtype, count=count)


class _Window:
    """A file read on demand: byte by byte from one cached block, slices by a read each.
    Not a memory map: mapped pages count in the RSS, and where the page cache holds the
    file in huge folios one touched byte maps 2 MiB of weights."""

    BLOCK = 4096  # a page: next to a tensor, a block holds little of its data

    def __init__(self, file: Any, size: int) -> None:
        self.file, self.size, self.start, self.block = file, size, -1, b""

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            offset = key.start - self.start
            if 0 <= offset and key.stop - self.start <= len(self.block):
                return self.block[offset : key.stop - self.start]
            return self._read(key.start, key.stop - key.start)
        if not 0 <= key - self.start < len(self.block):
            self.start = key - key % self.BLOCK
            self.block = self._read(self.start, min(self.BLOCK, self.size - self.start))
        return self.block[key - self.start]

    def _read(self, offset: int, length: int) -> bytes:
        self.file.seek(offset)
        data = self.file.read(length)
        if len(data) != length:
            raise BrokenFile("the file became shorter while it was read")
        return data


def load(path: str | Path) -> ModelProto:
    """Parse an ONNX file's structure, reading only its non-weight bytes: tensors' data
    stays in the file (reading a big message through the file, small ones at once)."""
    path = Path(path)
    with open(path, "rb", buffering=0) as f:
        size = f.seek(0, 2)
        if size == 0:
            raise BrokenFile("an empty file cannot be an ONNX model")
        return _parse_model(_Window(f, size), _Source(path, None))


def load_from_string(data: bytes) -> ModelProto:
    """Parse a serialized ModelProto held in memory."""
    return _parse_model(data, _Source(None, bytes(data)))


def _parse_model(buf: Any, source: _Source) -> ModelProto:
    try:
        model = _parse(ModelProto, buf, 0, len(buf), 0, source, 0)
    except BrokenFile:
        if not _has_graph_field(buf):  # another protobuf that starts like ONNX (a TF saved_model.pb)
            raise UnrecognisedFile("a protobuf that starts like ONNX, but holds no ONNX graph") from None
        raise
    return model


def _has_graph_field(buf: Any) -> bool:
    """Whether the top level holds a ModelProto.graph (field 7) before any damage."""
    pos, end = 0, len(buf)
    try:
        while pos < end:
            key, pos = read_varint(buf, pos, end)
            if key >> 3 == 7:
                return True
            pos = _skip(buf, pos, end, key & 7, pos)
    except Malformed:
        pass
    return False


class Malformed(ValueError):
    """Bytes that are not protobuf, at a position in the buffer being read."""

    def __init__(self, pos: int, what: str) -> None:
        super().__init__(what)
        self.pos, self.what = pos, what


def _damaged(pos: int, what: str) -> BrokenFile:
    return BrokenFile(f"starts like an ONNX protobuf, but is damaged at byte {pos}: {what}")


def read_varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    """The varint at buf[pos:end] and the position after it; Malformed if there is none."""
    if pos >= end:
        raise Malformed(pos, "truncated in a varint")
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    start, value, shift = pos, byte & 0x7F, 7
    pos += 1
    while True:
        if pos >= end:
            raise Malformed(pos, "truncated in a varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 63:
            raise Malformed(start, "a varint longer than 10 bytes")
    if value >> 64:
        raise Malformed(start, "a varint above 64 bits")
    return value, pos


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _skip(buf: Any, pos: int, end: int, wire: int, start: int) -> int:
    """The position after an unknown field's value."""
    if wire == VARINT:
        return read_varint(buf, pos, end)[1]
    if wire == LEN:
        length, pos = read_varint(buf, pos, end)
        stop = pos + length
    elif wire in (I64, I32):
        stop = pos + (8 if wire == I64 else 4)
    else:
        raise Malformed(start, f"wire type {wire}, which ONNX never writes")
    if stop > end:
        raise Malformed(pos, f"a field of {stop - pos} bytes runs past the end of its message")
    return stop


SMALL = 1 << 16  # bytes: a nested message up to this size is read at once from a file


def _parse(cls: Any, buf: Any, pos: int, end: int, base: int, source: _Source, depth: int) -> Any:
    """One message from buf[pos:end], whose byte 0 is at ``base`` in the file: its fields
    read, its data arrays located by file offset."""
    try:
        return _fields_of(cls, buf, pos, end, base, source, depth)
    except Malformed as exc:
        raise _damaged(base + exc.pos, exc.what) from None


def _fields_of(cls: Any, buf: Any, pos: int, end: int, base: int, source: _Source, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Malformed(pos, f"messages nested more than {MAX_DEPTH} deep")
    message = cls.__new__(cls)
    d = message.__dict__
    if cls is TensorProto:
        d["_source"] = source
    fields = cls._fields
    while pos < end:
        start = pos
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        spec = fields.get(number)
        if spec is None:
            if number == 0:
                raise Malformed(start, "a field numbered 0")
            pos = _skip(buf, pos, end, wire, start)
            continue
        name, kind, repeated, sub = spec
        value: Any
        if wire == LEN:
            length, pos = read_varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise Malformed(pos, f"{cls.__name__}.{name} of {length} bytes runs past the end of its message")
            if kind == MESSAGE and length <= SMALL and isinstance(buf, _Window):
                value = _parse(sub, buf[pos:stop], 0, length, base + pos, source, depth + 1)
            elif kind == MESSAGE:
                value = _parse(sub, buf, pos, stop, base, source, depth + 1)
            elif kind == TEXT or kind == DOC:
                value = _text(buf[pos:stop], kind, pos, cls, name)
            elif kind == BYTES:
                value = bytes(buf[pos:stop])
            elif kind == UNREAD:
                value = Unread(base + pos, length)
            elif kind == RAW:
                value, name = (base + pos, length), "_" + name
            elif kind in DATA:
                d.setdefault("_" + name, []).append([PACKED, base + pos, base + stop])
                pos = stop
                continue
            elif repeated:  # packed ints or floats (proto2 writes dims, ints, floats unpacked, but either is valid)
                d.setdefault(name, []).extend(_packed(buf[pos:stop], kind, pos))
                pos = stop
                continue
            else:
                raise _wrong_wire(start, cls, name, wire)
            pos = stop
        elif wire != WIRE_OF.get(kind):
            raise _wrong_wire(start, cls, name, wire)
        elif kind in DATA:  # one element: consecutive ones share a span
            pos = _skip(buf, pos, end, wire, start)
            spans = d.setdefault("_" + name, [])
            if spans and spans[-1][0] == FIELDS and spans[-1][2] == base + start:
                spans[-1][2] = base + pos
            else:
                spans.append([FIELDS, base + start, base + pos])
            continue
        elif kind == INTEGER:
            raw, pos = read_varint(buf, pos, end)
            value = _signed(raw)
        else:  # REAL
            if pos + 4 > end:
                raise Malformed(pos, f"{cls.__name__}.{name} runs past the end of its message")
            value = _F32.unpack(buf[pos : pos + 4])[0]
            pos += 4
        if repeated:
            d.setdefault(name, []).append(value)
        else:
            d[name] = value
    return message


_F32 = struct.Struct("<f")


def _wrong_wire(pos: int, cls: Any, name: str, wire: int) -> Malformed:
    return Malformed(pos, f"{cls.__name__}.{name} has wire type {wire}, which its type never has")


def _text(raw: bytes, kind: int, pos: int, cls: Any, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if kind == DOC:
            return raw.decode("utf-8", "replace")
        raise Malformed(pos, f"{cls.__name__}.{name} is not valid UTF-8") from None


def _packed(raw: bytes, kind: int, pos: int) -> list:
    """The values of a small packed array (dims, ints, floats) that starts at ``pos``."""
    if kind == REAL:
        if len(raw) % 4:
            raise Malformed(pos, f"a packed float array of {len(raw)} bytes")
        return [v for (v,) in _F32.iter_unpack(raw)]
    values, at, end = [], 0, len(raw)
    while at < end:
        try:
            value, at = read_varint(raw, at, end)
        except Malformed as exc:
            raise Malformed(pos + exc.pos, "a packed varint array ends inside a varint") from None
        values.append(_signed(value))
    return values


# ---------------------------------------------------------------------------------------
# Typed data arrays, decoded on demand

_DECODED = {DATA_F32: "<f4", DATA_F64: "<f8", DATA_VARINT: "<u8"}


def _decode(raw: bytes, how: int, kind: int, base: int) -> np.ndarray:
    """One span of a typed array: consecutive (key, value) fields, or packed varints."""
    import numpy as np

    if how == FIELDS:  # checked while parsing
        values, pos = [], 0
        try:
            while pos < len(raw):
                pos = read_varint(raw, pos, len(raw))[1]  # the key: the same field every time
                if kind == DATA_VARINT:
                    value, pos = read_varint(raw, pos, len(raw))
                    values.append(value)
                else:
                    values.append(struct.unpack_from("<f" if kind == DATA_F32 else "<d", raw, pos)[0])
                    pos += 4 if kind == DATA_F32 else 8
        except (Malformed, struct.error):
            raise _damaged(base + pos, "the file changed since it was parsed") from None
        return np.array(values, dtype=_DECODED[kind])
    return _varints(raw, base)  # packed fixed-width arrays are mapped by TensorProto._typed


def _varints(raw: bytes, base: int) -> np.ndarray:
    """Every varint of a packed payload at once, as uint64 (wrapping as protobuf does)."""
    import numpy as np

    data = np.frombuffer(raw, dtype=np.uint8)
    if not len(data):
        return np.zeros(0, np.uint64)
    if data[-1] & 0x80:
        raise _damaged(base + len(raw), "a packed varint array ends inside a varint")
    last = np.flatnonzero(data < 0x80)  # the final byte of each varint
    first = np.concatenate(([0], last[:-1] + 1))
    if int((last - first).max()) > 9:
        raise _damaged(base, "a varint longer than 10 bytes in a packed array")
    place = np.arange(len(data)) - np.repeat(first, last - first + 1)
    parts = (data & 0x7F).astype(np.uint64) << (7 * place).astype(np.uint64)
    return np.bitwise_or.reduceat(parts, first)


# ---------------------------------------------------------------------------------------
# Values: the onnx package's helper.get_attribute_value and numpy_helper.to_array

_ATTRIBUTE_FIELDS = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 11: "sparse_tensor", 13: "tp"}
_ATTRIBUTE_LISTS = {6: "floats", 7: "ints", 8: "strings", 9: "tensors", 10: "graphs", 12: "sparse_tensors", 14: "type_protos"}


def get_attribute_value(attr: AttributeProto) -> Any:
    """An attribute's value by its ``type``, as ``onnx.helper.get_attribute_value``
    gives it: None for UNDEFINED, lists for the repeated kinds, tensors unread."""
    if attr.ref_attr_name:
        raise BrokenFile(f"attribute '{attr.name}' refers to '{attr.ref_attr_name}' of a function, outside any function")
    if attr.type in _ATTRIBUTE_FIELDS:
        return getattr(attr, _ATTRIBUTE_FIELDS[attr.type])
    if attr.type in _ATTRIBUTE_LISTS:
        return list(getattr(attr, _ATTRIBUTE_LISTS[attr.type]))
    if attr.type == AttributeProto.UNDEFINED:
        return None
    raise BrokenFile(f"attribute '{attr.name}' has unknown type {attr.type}")


# data_type -> (the name NumPy or ml_dtypes prints for it, NumPy dtype or None, typed field)
# The repeated field of a TensorProto that holds a data type's values when it has no
# raw_data (onnx.proto); every type not listed uses int32_data.
VALUE_FIELDS = {1: "float_data", 14: "float_data", 7: "int64_data", 8: "string_data", 11: "double_data",
                15: "double_data", 12: "uint64_data", 13: "uint64_data"}  # fmt: skip


def dtype_name(data_type: int) -> str:
    """The dtype name ``onnx.helper.tensor_dtype_to_np_dtype`` prints (``float32``,
    ``bfloat16``); KeyError for a data type ONNX does not define. No NumPy import."""
    return from_onnx(data_type).name


def np_dtype(data_type: int) -> np.dtype:
    """The NumPy dtype of a data type, as ``onnx.helper.tensor_dtype_to_np_dtype``;
    ValueError for the types NumPy lacks (bfloat16, float8, int4...), KeyError for unknown."""
    import numpy as np

    spec = from_onnx(data_type)
    if not spec.native or (spec.storage is None and spec.name != "object"):
        raise ValueError(f"{spec.name} has no NumPy dtype")
    return np.dtype(spec.storage or object)


def to_array(tensor: TensorProto, base_dir: str | Path | None = None) -> np.ndarray:
    """A tensor's values as ``onnx.numpy_helper.to_array`` gives them, read only now:
    ``raw_data`` and external data of 64 KiB or more come back as a read-only
    ``np.memmap`` (index it to copy a slice). bfloat16 is widened to float32 (NumPy has
    no bfloat16); int4/uint4 to int8/uint8. External data is read from ``base_dir``."""
    import numpy as np

    name = tensor.name or "a tensor"
    try:
        spec = from_onnx(tensor.data_type)
    except KeyError:
        raise BrokenFile(f"ONNX tensor '{name}' has unknown data type {tensor.data_type}") from None
    type_name, field = spec.name, VALUE_FIELDS.get(tensor.data_type, "int32_data")
    if tensor.HasField("segment"):
        raise BrokenFile(f"ONNX tensor '{name}' is a segment of a larger tensor, which cnninspect does not join")
    shape = tuple(tensor.dims)
    if any(d < 0 for d in shape):
        raise BrokenFile(f"ONNX tensor '{name}' has a negative dimension in {list(shape)}")
    count = 1
    for d in shape:
        count *= d
    nibbles = type_name in ("int4", "uint4")
    if spec.storage is None and not nibbles and type_name != "object":
        raise BrokenFile(f"ONNX tensor '{name}' is {type_name}, which cnninspect cannot read")
    if tensor.data_location == TensorProto.EXTERNAL or tensor.raw_span is not None:
        if type_name == "object":
            raise BrokenFile(f"ONNX string tensor '{name}' has raw data, which ONNX does not allow")
        nbytes = spec.nbytes(count)
        if tensor.data_location == TensorProto.EXTERNAL:
            source, offset, length = _external(tensor, name, base_dir, nbytes)
        else:
            source, (offset, length) = tensor._source, tensor.raw_span  # type: ignore[misc]
        if length != nbytes:
            raise BrokenFile(f"ONNX tensor '{name}' holds {length} bytes, but {type_name} {list(shape)} needs {nbytes}")
        if nibbles:
            return _unpack_nibbles(source.array(offset, length, "u1", length), type_name == "int4")[:count].reshape(shape)
        return widen(source.array(offset, length, spec.storage or "", count), spec).reshape(shape)
    if type_name == "object":  # UTF-8 strings, as str (as onnx gives them)
        try:
            values = np.array([v.decode("utf-8") for v in tensor.string_data], dtype=object)
        except UnicodeDecodeError:
            raise BrokenFile(f"ONNX string tensor '{name}' holds bytes that are not UTF-8") from None
    else:
        values = getattr(tensor, field)
        if nibbles:
            values = _unpack_nibbles(values.astype(np.uint8), type_name == "int4")[:count]
        elif type_name == "float16":  # bit patterns kept in int32_data
            values = values.astype(np.uint16).view(np.float16)
        elif not spec.native:  # bfloat16 and the 8-bit floats: bit patterns in int32_data
            values = widen(values.astype(spec.storage), spec)
        elif type_name.startswith("complex"):
            if values.size % 2:
                raise BrokenFile(f"ONNX tensor '{name}' holds an odd count of {field} values for {type_name}")
            values = values.view(spec.storage)
        else:
            values = values.astype(spec.storage, copy=False)
    if values.size != count:
        raise BrokenFile(f"ONNX tensor '{name}' holds {values.size} values in {field}, but {list(shape)} needs {count}")
    return values.reshape(shape)


def _unpack_nibbles(packed: np.ndarray, signed: bool) -> np.ndarray:
    """Two 4-bit values per byte, the first in the low nibble."""
    import numpy as np

    out = np.empty(2 * len(packed), np.uint8)
    out[0::2], out[1::2] = packed & 0x0F, packed >> 4
    return ((out.astype(np.int8) << 4) >> 4) if signed else out


def _external(tensor: TensorProto, name: str, base_dir: str | Path | None, nbytes: int) -> tuple[_Source, int, int]:
    """The file, offset and length (``nbytes`` when the tensor records none) of a tensor
    stored beside the model."""
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    where = Path(location)
    if not location or where.is_absolute() or ".." in where.parts:
        raise BrokenFile(f"ONNX tensor '{name}' is stored in '{location}', which is not a file name beside the model")
    if base_dir is None:
        raise BrokenFile(f"ONNX tensor '{name}' is stored in '{location}', and the model's folder is not known")
    path = Path(base_dir) / where
    if not path.is_file():
        raise BrokenFile(f"'{name}' is stored in '{location}', which is not beside the model")
    try:
        size = path.stat().st_size
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else nbytes
    except ValueError:
        raise BrokenFile(f"ONNX tensor '{name}' has external data offset/length that are not numbers") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise BrokenFile(f"ONNX tensor '{name}' runs past the end of '{location}'")
    return _Source(path, None), offset, length
