"""Storage dtypes: one table of every element type the libraries write, and how to read it.

A ``DType`` has a neutral name (NumPy's spelling where NumPy has the type, ``float32``,
``int8``; ml_dtypes' and PyTorch's where it has not, ``bfloat16``, ``float8_e4m3fn``), a
kind, a width in bits, and how its bytes are read: ``storage`` is the NumPy dtype the stored
bytes are mapped as (little-endian), and ``widen`` turns what was read into NumPy numbers.
NumPy's own types come back unchanged; ``bfloat16`` (the top half of a float32) and the
8-bit floats (one 256-entry table each) come back as float32, exactly. Packed sub-byte types
(int4, float4) and strings have no ``storage``: they are listed, never read.

Loaders look a dtype up by their library's spelling once (``from_torch``,
``from_safetensors``, ``from_numpy``, ``from_tflite``, ``from_onnx``) and keep its neutral
name; everything else asks this module by that name (``lookup``, ``itemsize``, ``nbytes``).
Nothing here imports NumPy except ``widen`` and names NumPy alone knows (``<U5``, ``object``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

KINDS = ("float", "int", "uint", "bool", "complex", "string", "object", "opaque")


@dataclass(frozen=True)
class DType:
    name: str  # neutral name
    kind: str  # one of KINDS
    bits: int | None  # per element; None when elements vary in size (strings)
    storage: str | None  # NumPy dtype the stored bytes are read as; None: not readable as an array
    native: bool = True  # NumPy has the type: what ``storage`` reads are the values
    # 8-bit floats: (exponent bits, mantissa bits, exponent bias, special values), see _minifloat
    minifloat: tuple[int, int, int, str] | None = None

    @property
    def itemsize(self) -> int:
        if self.bits is None or self.bits % 8:
            raise ValueError(f"{self.name} has no whole-byte item size")
        return self.bits // 8

    def nbytes(self, count: int) -> int:
        """Bytes of ``count`` elements (packed sub-byte types round up)."""
        if self.bits is None:
            raise ValueError(f"{self.name} elements have no fixed size")
        return (count * self.bits + 7) // 8

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int", "uint", "bool", "complex")

    @property
    def hasobject(self) -> bool:
        """Python objects, as NumPy's dtypes say it: a DType and a NumPy dtype answer alike."""
        return self.kind == "object"

    @property
    def readable(self) -> bool:
        return self.storage is not None

    @property
    def read_as(self) -> str | None:
        """The NumPy dtype name reads give after ``widen``."""
        if self.storage is None:
            return None
        return self.name if self.native else "float32"

    def __str__(self) -> str:
        return self.name


_ALL = (
    DType("float64", "float", 64, "<f8"),
    DType("float32", "float", 32, "<f4"),
    DType("float16", "float", 16, "<f2"),
    DType("bfloat16", "float", 16, "<u2", native=False),
    DType("float8_e4m3fn", "float", 8, "u1", False, (4, 3, 7, "fn")),
    DType("float8_e4m3fnuz", "float", 8, "u1", False, (4, 3, 8, "fnuz")),
    DType("float8_e5m2", "float", 8, "u1", False, (5, 2, 15, "ieee")),
    DType("float8_e5m2fnuz", "float", 8, "u1", False, (5, 2, 16, "fnuz")),
    DType("float8_e8m0fnu", "float", 8, "u1", False, (8, 0, 127, "e8m0")),
    DType("float6_e2m3fn", "float", 6, None, native=False),
    DType("float6_e3m2fn", "float", 6, None, native=False),
    DType("float4_e2m1fn", "float", 4, None, native=False),
    DType("float4_e2m1fn_x2", "float", 8, None, native=False),  # PyTorch: two packed float4 per element
    *(DType(f"{kind}{bits}", kind, bits, ("<" if bits > 8 else "") + f"{kind[0]}{bits // 8}")
      for kind in ("int", "uint") for bits in (64, 32, 16, 8)),  # "<i8" ... "u1"
    *(DType(f"{kind}{bits}", kind, bits, None, native=False) for kind in ("int", "uint") for bits in (4, 2)),  # packed
    DType("bool", "bool", 8, "?"),
    DType("complex128", "complex", 128, "<c16"),
    DType("complex64", "complex", 64, "<c8"),
    DType("complex32", "complex", 32, None, native=False),  # two float16: NumPy has no such complex
    DType("string", "string", None, None, native=False),
    DType("object", "object", 64, None),  # Python objects (NumPy object arrays): one pointer each, never read
    DType("resource", "opaque", None, None, native=False),
    DType("variant", "opaque", None, None, native=False),
)
BY_NAME: dict[str, DType] = {d.name: d for d in _ALL}

# Each library's spelling → neutral name.
TORCH: dict[str, str] = {
    # storage classes (every PyTorch version's pickles)
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
    # torch.dtype attribute names (``_rebuild_tensor_v3`` pickles the dtype itself)
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
    "uint64": "uint64", "bool": "bool", "complex128": "complex128", "cdouble": "complex128",
    "complex64": "complex64", "cfloat": "complex64", "complex32": "complex32", "chalf": "complex32",
    "float8_e4m3fn": "float8_e4m3fn", "float8_e4m3fnuz": "float8_e4m3fnuz", "float8_e5m2": "float8_e5m2",
    "float8_e5m2fnuz": "float8_e5m2fnuz", "float8_e8m0fnu": "float8_e8m0fnu", "float4_e2m1fn_x2": "float4_e2m1fn_x2",
}  # fmt: skip
# torch.export's serialized ScalarType (torch/_export/serde/schema.py)
TORCH_EXPORT: dict[int, str] = {
    1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float16", 7: "float32", 8: "float64",
    9: "complex32", 10: "complex64", 11: "complex128", 12: "bool", 13: "bfloat16", 28: "uint16",
    29: "float8_e4m3fn", 30: "float8_e5m2", 31: "float8_e4m3fnuz", 32: "float8_e5m2fnuz", 33: "float8_e8m0fnu",
}  # fmt: skip
SAFETENSORS: dict[str, str] = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2": "float8_e5m2",
    "F8_E5M2FNUZ": "float8_e5m2fnuz", "F8_E8M0": "float8_e8m0fnu",
}  # fmt: skip
# TFLite schema TensorType
TFLITE: dict[int, str] = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource", 14: "variant",
    15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16", 19: "int2", 20: "uint4",
}  # fmt: skip
# ONNX TensorProto.DataType (STRING: onnx reads it as an object array of bytes)
ONNX: dict[int, str] = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "object", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
    17: "float8_e4m3fn", 18: "float8_e4m3fnuz", 19: "float8_e5m2", 20: "float8_e5m2fnuz", 21: "uint4", 22: "int4",
    23: "float4_e2m1fn", 24: "float8_e8m0fnu", 25: "uint2", 26: "int2", 27: "float6_e2m3fn", 28: "float6_e3m2fn",
}  # fmt: skip
# NumPy's short codes and aliases (byte order stripped first: it is the reader's business)
NUMPY: dict[str, str] = {
    "f8": "float64", "f4": "float32", "f2": "float16", "i8": "int64", "i4": "int32", "i2": "int16", "i1": "int8",
    "u8": "uint64", "u4": "uint32", "u2": "uint16", "u1": "uint8", "b1": "bool", "?": "bool", "c16": "complex128",
    "c8": "complex64", "double": "float64", "single": "float32", "half": "float16", "float": "float64",
    "bool_": "bool", "complex": "complex128",
}  # fmt: skip
_NUMPY_KINDS = {"f": "float", "i": "int", "u": "uint", "b": "bool", "c": "complex", "U": "string", "S": "string",
                "O": "object"}  # fmt: skip


def _table(spelling: Any, table: dict[Any, str], library: str) -> DType:
    name = table.get(spelling)
    if name is None:
        raise KeyError(f"{library} dtype {spelling!r} is not one cnninspect knows")
    return BY_NAME[name]


def from_torch(name: str) -> DType:
    """A storage class name (``BFloat16Storage``) or a ``torch.dtype`` name (``bfloat16``)."""
    return _table(name, TORCH, "PyTorch")


def from_torch_export(number: int) -> DType:
    return _table(number, TORCH_EXPORT, "torch.export")


def from_safetensors(code: str) -> DType:
    return _table(code, SAFETENSORS, "safetensors")


def from_tflite(number: int) -> DType:
    return _table(number, TFLITE, "TFLite")


def from_onnx(number: int) -> DType:
    return _table(number, ONNX, "ONNX")


def from_numpy(spelling: Any) -> DType:
    """A NumPy dtype or its name (``float32``, ``<f4``, ``>i2``, ``object``); ml_dtypes'
    names (``bfloat16``) too. Names of no fixed type (``<U5``) ask NumPy itself."""
    text = str(spelling)
    bare = text.lstrip("<>=|")
    known = BY_NAME.get(bare) or BY_NAME.get(NUMPY.get(bare, ""))
    if known is not None:
        return known
    import numpy as np

    try:
        dt = np.dtype(spelling)
    except TypeError:
        raise KeyError(f"NumPy dtype {text!r} is not one cnninspect knows") from None
    return DType(str(dt), _NUMPY_KINDS.get(dt.kind, "opaque"), dt.itemsize * 8, None if dt.hasobject else dt.str)


lookup = from_numpy  # a neutral name is also its NumPy spelling


def itemsize(name: str) -> int:
    """Bytes per element of the dtype called ``name`` (neutral or NumPy spelling)."""
    return lookup(name).itemsize


def nbytes(name: str, count: int) -> int:
    """Bytes of ``count`` elements of ``name``; packed sub-byte types round up."""
    return lookup(name).nbytes(count)


def widen(raw: np.ndarray, dtype: DType) -> np.ndarray:
    """``raw``, read from a file as ``dtype.storage``, as NumPy numbers: unchanged for
    NumPy's own types; bfloat16 and the 8-bit floats as float32 (exactly)."""
    if dtype.native:
        return raw
    import numpy as np

    if dtype.minifloat is not None:
        return _minifloat(dtype.minifloat)[raw]
    if dtype.name == "bfloat16":  # the top half of a float32
        wide = np.array(raw, dtype=np.uint32)
        wide <<= 16
        return wide.view(np.float32)
    raise ValueError(f"{dtype.name} values cannot be read as an array")


@lru_cache(maxsize=None)
def _minifloat(spec: tuple[int, int, int, str]) -> np.ndarray:
    """The float32 value of each of the 256 bytes of an 8-bit float.

    ``ieee``: the top exponent is Inf (mantissa 0) or NaN; ``fn``: finite, only all-ones
    is NaN; ``fnuz``: finite, 0x80 (negative zero) is the only NaN; ``e8m0``: unsigned
    powers of two, 0xFF NaN."""
    import numpy as np

    exp_bits, man_bits, bias, special = spec
    top = (1 << exp_bits) - 1
    values = []
    for byte in range(256):
        if special == "e8m0":
            values.append(float("nan") if byte == 0xFF else 2.0 ** (byte - bias))
            continue
        sign = -1.0 if byte & 0x80 else 1.0
        e, m = (byte >> man_bits) & top, byte & ((1 << man_bits) - 1)
        if special == "fnuz" and byte == 0x80:
            values.append(float("nan"))
        elif special == "ieee" and e == top:
            values.append(sign * float("inf") if m == 0 else float("nan"))
        elif special == "fn" and e == top and m == (1 << man_bits) - 1:
            values.append(float("nan"))
        elif e == 0:
            values.append(sign * m * 2.0 ** (1 - bias - man_bits))
        else:
            values.append(sign * (1 + m / (1 << man_bits)) * 2.0 ** (e - bias))
    return np.array(values, dtype=np.float32)
