"""TensorFlow Lite ``.tflite`` files: a FlatBuffer with the identifier ``TFL3``.

The FlatBuffer is read with a few bounds-checked accessors of our own (``_Table``) rather
than the ``tflite`` package's generated readers: those trust every offset, so a damaged
file gives an ``IndexError`` deep inside, or garbage; here every offset, vector length and
buffer is checked against the file's size and a damaged file is one ``BrokenFile`` line.
No dependency is needed: the file is memory-mapped and read with ``struct``.

Subgraph 0 becomes the graph: each operator is a layer named after its (first) output
tensor, wired to the operators that produce its input tensors; the subgraph's inputs are
``input`` layers. Every TFLite tensor stores its shape (``shape_signature`` has -1 for a
dynamic dimension): conv, depthwise, pooling, dense, elementwise and concatenation get the
core's shape rules (the tests check they agree with the stored shapes, which are also the
fallback), every other operator the ``recorded`` rule, which returns the stored shapes.
Constant input tensors (with a buffer) are the operator's weights, read lazily from a
memory map of the file; int8/uint8 tensors keep their scale and zero point in
``layer.attrs["quantization"]`` and are shown raw. The stored operands of operators that
are not layers (RESHAPE's shape, STRIDED_SLICE's begin, end and strides, a PACK's
constant inputs) are listed under the schema's names for them, apart from the layers'
weights (kernel, bias, alpha).

The writer's version is the converter's TensorFlow version where the file stores one
(``CONVERSION_METADATA``); ``min_runtime_version`` is the oldest runtime that can run the
file, labelled as such in the format version, never taken for a writer's version.
"""

from __future__ import annotations

import math
import mmap
import struct
from pathlib import Path
from typing import Any, Callable

from ..core.dtypes import DType, from_tflite, widen
from ..core.layouts import layout_for
from ..core.model import Call, Graph, Layer, Model, Shape, Source, TensorRef, Weight
from ..errors import BrokenFile, FileNotReadable

IDENTIFIER = b"TFL3"

# Field slots of the schema's tables (schema.fbs), in declaration order.
MODEL_VERSION, MODEL_OPCODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS = 0, 1, 2, 3, 4
MODEL_METADATA = 6
OPCODE_DEPRECATED, OPCODE_CUSTOM, OPCODE_BUILTIN = 0, 1, 3
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = 0, 1, 2, 3, 4
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANT, TENSOR_SPARSITY, TENSOR_SIGNATURE = 0, 1, 2, 3, 4, 6, 7
QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DIMENSION = 2, 3, 6
OP_OPCODE, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS = 0, 1, 2, 3, 4
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2
METADATA_NAME, METADATA_BUFFER = 0, 1
# conversion_metadata.fbs: ConversionMetadata.environment, Environment.tensorflow_version, .api_version
CONVERSION_ENVIRONMENT, ENVIRONMENT_TF_VERSION, ENVIRONMENT_API_VERSION = 0, 0, 1

# BuiltinOperator values 0-127 (the schema's enum order); later ones are named by number.
BUILTIN_NAMES = (
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP "
    "FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC "
    "LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX "
    "SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD "
    "UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE "
    "UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE "
    "BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL "
    "LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT "
    "RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT "
    "UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR "
    "LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK "
    "ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 "
    "NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL"
).split()

ACTIVATIONS = {0: None, 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
PADDING = {0: "same", 1: "valid"}

ELEMENTWISE = {"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW", "FLOOR_DIV", "FLOOR_MOD"}
# Shape-keeping operators, by neutral kind (an activation's function is the operator's
# name in lower case).
SAME_SHAPE = {
    **dict.fromkeys(("RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "SOFTMAX", "LOG_SOFTMAX", "QUANTIZE",
                     "DEQUANTIZE", "HARD_SWISH", "LEAKY_RELU", "ELU", "ABS", "NEG", "EXP", "LOG", "SQRT", "RSQRT",
                     "SQUARE", "PRELU", "FLOOR", "CEIL", "ROUND", "SIN", "COS"), "activation"),
    **dict.fromkeys(("L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION"), "normalization"),
    "CAST": "identity",
}  # fmt: skip
# Operators whose input 1 is the kernel and input 2 the bias.
KERNEL_OPS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise_conv", "FULLY_CONNECTED": "dense"}
# Stored operands that are not parameters, by the names the schema gives them (a stored
# input of any other operator not listed here is ``input_<position>``).
OPERAND_ROLES = {
    "RESHAPE": {1: "shape"},
    "STRIDED_SLICE": {1: "begin", 2: "end", 3: "strides"},
    "SLICE": {1: "begin", 2: "size"},
    **dict.fromkeys(("PAD", "PADV2", "MIRROR_PAD"), {1: "paddings", 2: "constant_values"}),
    "TRANSPOSE": {1: "perm"},
    **dict.fromkeys(("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY"), {1: "axis"}),
    "EXPAND_DIMS": {1: "axis"},
    "GATHER": {1: "indices"},
    "TILE": {1: "multiples"},
    **dict.fromkeys(("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"), {1: "size"}),
    "SPLIT": {0: "axis"},
    "SPLIT_V": {1: "size_splits", 2: "axis"},
    "FILL": {0: "dims", 1: "value"},
}  # fmt: skip


def sniff(head: bytes, path: Path) -> bool:
    return len(head) >= 8 and head[4:8] == IDENTIFIER


# ---------------------------------------------------------------------------------------
# Bounds-checked FlatBuffer access


class _File:
    def __init__(self, data: Any, size: int) -> None:
        self.data = data
        self.size = size

    def check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise BrokenFile(f"damaged TFLite flatbuffer: {what} at byte {pos} runs past the end of the file ({self.size:,} bytes)")

    def unpack(self, fmt: str, pos: int, what: str) -> Any:
        self.check(pos, struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int, what: str) -> _Table:
        vtable = pos - self.unpack("<i", pos, what)
        vsize = self.unpack("<H", vtable, what + " vtable")
        if vsize < 4 or vsize % 2:
            raise BrokenFile(f"damaged TFLite flatbuffer: {what} has an impossible vtable size {vsize}")
        self.check(vtable, vsize, what + " vtable")
        return _Table(self, pos, vtable, vsize, what)


class _Table:
    def __init__(self, f: _File, pos: int, vtable: int, vsize: int, what: str) -> None:
        self.f, self.pos, self.vtable, self.vsize, self.what = f, pos, vtable, vsize, what

    def _field(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry >= self.vsize:
            return None
        off = self.f.unpack("<H", self.vtable + entry, self.what)
        return self.pos + off if off else None

    def scalar(self, slot: int, fmt: str, default: Any = 0) -> Any:
        pos = self._field(slot)
        return default if pos is None else self.f.unpack("<" + fmt, pos, self.what)

    def _indirect(self, slot: int) -> int | None:
        pos = self._field(slot)
        return None if pos is None else pos + self.f.unpack("<I", pos, self.what)

    def table(self, slot: int, what: str) -> _Table | None:
        pos = self._indirect(slot)
        return None if pos is None else self.f.table(pos, what)

    def vector(self, slot: int, size: int, what: str) -> tuple[int, int] | None:
        """(start, length) of a vector of ``size``-byte elements, checked to fit."""
        pos = self._indirect(slot)
        if pos is None:
            return None
        n = self.f.unpack("<I", pos, what)
        self.f.check(pos + 4, n * size, f"{what} ({n:,} elements)")
        return pos + 4, n

    def scalars(self, slot: int, fmt: str, what: str) -> list[Any] | None:
        vec = self.vector(slot, struct.calcsize(fmt), what)
        if vec is None:
            return None
        start, n = vec
        return list(struct.unpack_from(f"<{n}{fmt}", self.f.data, start))

    def string(self, slot: int, what: str) -> str | None:
        vec = self.vector(slot, 1, what)
        if vec is None:
            return None
        start, n = vec
        return bytes(self.f.data[start : start + n]).decode("utf-8", "replace")

    def tables(self, slot: int, what: str) -> list[_Table]:
        vec = self.vector(slot, 4, what)
        if vec is None:
            return []
        start, n = vec
        out = []
        for k in range(n):
            pos = start + 4 * k
            out.append(self.f.table(pos + self.f.unpack("<I", pos, what), f"{what}[{k}]"))
        return out


# ---------------------------------------------------------------------------------------
# Tensors and operators, as plain data


class _Tensor:
    def __init__(self, index: int, t: _Table, buffers: list[tuple[int, int]]) -> None:
        what = f"tensor {index}"
        self.index = index
        self.name = t.string(TENSOR_NAME, what + " name") or f"tensor_{index}"
        self.shape = tuple(t.scalars(TENSOR_SHAPE, "i", what + " shape") or ())
        signature = t.scalars(TENSOR_SIGNATURE, "i", what + " shape_signature")
        self.signature: Shape = tuple(None if d < 0 else d for d in (signature or self.shape))
        self.type = t.scalar(TENSOR_TYPE, "b")
        buffer = t.scalar(TENSOR_BUFFER, "I")
        if buffer >= max(len(buffers), 1):
            raise BrokenFile(f"damaged TFLite file: tensor {index} '{self.name}' names buffer {buffer} of {len(buffers)}")
        self.data = buffers[buffer] if buffer and buffers[buffer][1] else None  # (offset, size)
        # A sparse tensor's buffer holds only its non-zero blocks: not an array of its shape.
        self.sparse = t.table(TENSOR_SPARSITY, what + " sparsity") is not None
        self.quantization: dict[str, Any] | None = None
        q = t.table(TENSOR_QUANT, what + " quantization")
        if q is not None:
            scale = q.scalars(QUANT_SCALE, "f", what + " scales") or []
            zero = q.scalars(QUANT_ZERO_POINT, "q", what + " zero points") or []
            if scale:
                self.quantization = {
                    "scale": [float(s) for s in scale],
                    "zero_point": [int(z) for z in zero],
                    "quantized_dimension": q.scalar(QUANT_DIMENSION, "i"),
                }
        if any(d < 0 for d in self.shape):
            raise BrokenFile(f"damaged TFLite file: tensor {index} '{self.name}' has a negative dimension {self.shape}")

    @property
    def spec(self) -> DType | None:
        try:
            return from_tflite(self.type)
        except KeyError:
            return None

    @property
    def dtype(self) -> str | None:
        """The dtype's name when the tensor reads as an array (strings, int4 do not), else None."""
        spec = self.spec
        return spec.name if spec is not None and spec.readable else None

    @property
    def type_name(self) -> str:
        spec = self.spec
        return spec.name if spec is not None else f"type {self.type}"


def _buffers(f: _File, root: _Table) -> list[tuple[int, int]]:
    """(file offset, size) of every buffer's data."""
    out = []
    for k, b in enumerate(root.tables(MODEL_BUFFERS, "buffers")):
        vec = b.vector(BUFFER_DATA, 1, f"buffer {k} data")
        if vec is not None and vec[1]:
            out.append(vec)
            continue
        offset, size = b.scalar(BUFFER_OFFSET, "Q"), b.scalar(BUFFER_SIZE, "Q")
        if offset > 1:  # data stored after the flatbuffer (files over 2 GB)
            f.check(offset, size, f"buffer {k} data")
            out.append((offset, size))
        else:
            out.append((0, 0))
    return out


def _opcodes(root: _Table) -> list[str]:
    names = []
    for k, code in enumerate(root.tables(MODEL_OPCODES, "operator codes")):
        builtin = max(code.scalar(OPCODE_DEPRECATED, "b"), code.scalar(OPCODE_BUILTIN, "i"))
        if builtin == 32:  # CUSTOM
            names.append(code.string(OPCODE_CUSTOM, f"operator code {k}") or "CUSTOM")
        else:
            names.append(BUILTIN_NAMES[builtin] if 0 <= builtin < len(BUILTIN_NAMES) else f"BUILTIN_{builtin}")
    return names


def _metadata(f: _File, root: _Table, buffers: list[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Each metadata entry's buffer, (start, size), by name."""
    out = {}
    for k, m in enumerate(root.tables(MODEL_METADATA, "metadata")):
        name, buffer = m.string(METADATA_NAME, f"metadata {k}"), m.scalar(METADATA_BUFFER, "I")
        if name and buffer < len(buffers):
            out[name] = buffers[buffer]
    return out


def _writing(f: _File, root: _Table, buffers: list[tuple[int, int]]) -> tuple[str | None, str, list[str]]:
    """What the file records about its writing: the converter's TensorFlow version (from
    ``CONVERSION_METADATA``, None when not stored), the format version (schema, and the
    oldest runtime that runs the file: ``min_runtime_version``, not a writer's version)
    and notes."""
    metadata = _metadata(f, root, buffers)
    labels, notes = [f"schema {root.scalar(MODEL_VERSION, 'I')}"], []
    if "min_runtime_version" in metadata:
        start, size = metadata["min_runtime_version"]
        runtime = bytes(f.data[start : start + min(size, 64)]).split(b"\0")[0].decode("ascii", "replace").strip()
        if runtime:
            labels.append(f"min runtime {runtime}")
    version = None
    if "CONVERSION_METADATA" in metadata:
        start, size = metadata["CONVERSION_METADATA"]
        try:
            env = f.table(start + f.unpack("<I", start, "conversion metadata"), "conversion metadata").table(
                CONVERSION_ENVIRONMENT, "conversion environment")
            version = env.string(ENVIRONMENT_TF_VERSION, "converter version") if env is not None else None
            api = env.scalar(ENVIRONMENT_API_VERSION, "I") if env is not None else 0
        except BrokenFile:
            notes.append("its CONVERSION_METADATA cannot be read (damaged)")
        else:
            if version:
                notes.append(f"converted by the TFLite converter of TensorFlow {version}" + (f" (converter API {api})" if api else ""))
    description = root.string(MODEL_DESCRIPTION, "model description")
    if description:
        notes.append(f"description: {description.strip()[:120]}")
    if len(labels) > 1:
        notes.append(f"'{labels[1]}' is the oldest TFLite runtime that can run this file (min_runtime_version), not the writer's version")
    return version or None, ", ".join(labels), notes


# ---------------------------------------------------------------------------------------
# Operators -> layers


def _options(op_name: str, opts: _Table | None, kernel: _Tensor | None, first_in: _Tensor | None) -> tuple[str, dict[str, Any]]:
    """The neutral op kind and normalised attributes of one operator."""
    g = opts.scalar if opts is not None else (lambda slot, fmt, default=0: default)
    if op_name in ("CONV_2D", "DEPTHWISE_CONV_2D") and kernel is not None and len(kernel.shape) == 4:
        depthwise = op_name == "DEPTHWISE_CONV_2D"
        attrs = {
            "rank": 2,
            "channels_last": True,
            "kernel_size": [kernel.shape[1], kernel.shape[2]],
            "padding": PADDING.get(g(0, "b"), "same"),
            "strides": [g(2, "i", 1), g(1, "i", 1)],
            "dilation": [g(6 if depthwise else 5, "i", 1), g(5 if depthwise else 4, "i", 1)],
            "activation": ACTIVATIONS.get(g(4 if depthwise else 3, "b")),
        }
        if depthwise:
            channels = first_in.shape[-1] if first_in is not None and first_in.shape else 0
            # The runtime derives the multiplier from the shapes; the option may say 1.
            attrs["depth_multiplier"] = kernel.shape[3] // channels if channels else g(3, "i", 1)
            return "depthwise_conv", attrs
        attrs["filters"] = kernel.shape[0]
        return "conv", attrs
    if op_name in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D"):
        return "pool", {
            "rank": 2,
            "channels_last": True,
            "kernel_size": [g(4, "i", 1), g(3, "i", 1)],
            "padding": PADDING.get(g(0, "b"), "same"),
            "strides": [g(2, "i", 1), g(1, "i", 1)],
            "activation": ACTIVATIONS.get(g(5, "b")),
        }
    if op_name == "FULLY_CONNECTED" and kernel is not None and len(kernel.shape) == 2:
        attrs = {"units": kernel.shape[0], "activation": ACTIVATIONS.get(g(0, "b")), "keep_num_dims": bool(g(2, "b"))}
        # Without keep_num_dims the runtime flattens a higher-rank input: the stored shape says.
        if first_in is not None and len(first_in.shape) != 2 and not attrs["keep_num_dims"]:
            return "recorded", attrs
        return "dense", attrs
    if op_name == "CONCATENATION":
        return "concat", {"axis": g(0, "i"), "activation": ACTIVATIONS.get(g(1, "b"))}
    if op_name in ELEMENTWISE:
        return "elementwise", {"activation": ACTIVATIONS.get(g(0, "b"))} if op_name in ("ADD", "SUB", "MUL", "DIV") else {}
    if op_name in SAME_SHAPE:
        return SAME_SHAPE[op_name], {"function": op_name.lower()} if SAME_SHAPE[op_name] == "activation" else {}
    return "recorded", {}


def _roles(op_name: str, positions: list[int]) -> dict[int, str]:
    """The role of each stored input: a layer's weights (kernel, bias, PReLU's alpha), the
    schema's name for an operand that is not a parameter, else ``input_<position>``."""
    if op_name in KERNEL_OPS:
        return {p: {1: "kernel", 2: "bias"}.get(p, f"input_{p}") for p in positions}
    if op_name == "PACK":  # every input is one of the values stacked
        return dict.fromkeys(positions, "values")
    names = {1: "alpha"} if op_name == "PRELU" else OPERAND_ROLES.get(op_name, {})
    return {p: names.get(p, f"input_{p}") for p in positions}


def _reader(path: Path, offset: int, shape: tuple[int, ...], spec: DType) -> Callable[[tuple], Any]:
    storage = spec.storage  # little-endian, as TFLite stores
    assert storage is not None, "_weight reads readable dtypes only"

    def read(index: tuple) -> Any:
        import numpy as np

        if math.prod(shape) == 0:
            return widen(np.empty(shape, storage)[index], spec)
        mm = np.memmap(path, dtype=storage, mode="r", offset=offset, shape=shape)
        return widen(np.array(mm[index]), spec)

    return read


def _refusing(name: str, why: str) -> Callable[[tuple], Any]:
    def read(index: tuple) -> Any:
        raise BrokenFile(f"tensor '{name}' {why}, which cnninspect cannot read as an array")

    return read


def _weight(path: Path, t: _Tensor, op: str, role: str) -> Weight:
    dtype, spec = t.dtype, t.spec
    reader = None
    if dtype is not None and spec is not None and t.data is not None and not t.sparse:
        needed = spec.nbytes(math.prod(t.shape))
        if needed != t.data[1]:
            raise BrokenFile(
                f"damaged TFLite file: tensor '{t.name}' claims shape {t.shape} of {dtype} ({needed:,} bytes) "
                f"but its buffer holds {t.data[1]:,} bytes"
            )
        reader = _reader(path, t.data[0], t.shape, spec)
    elif t.data is not None:
        reader = _refusing(t.name, "is stored sparse (only its non-zero blocks)")
    layout = layout_for("tflite", op, role, len(t.shape))
    return Weight(
        t.name, role, tuple(t.shape), str(dtype), layout, trainable=False, reader=reader, quantization=t.quantization
    )


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}_{k}"
    taken.add(out)
    return out


def _graph(path: Path, sub: _Table, tensors: list[_Tensor], opcodes: list[str]) -> Graph:
    n = len(tensors)

    def valid(indices: list[int] | None, what: str) -> list[int]:
        for i in indices or []:
            if not -1 <= i < n:
                raise BrokenFile(f"damaged TFLite file: {what} names tensor {i}, but the subgraph has {n}")
        return indices or []

    layers: list[Layer] = []
    taken: set[str] = set()
    producer: dict[int, TensorRef] = {}
    for i in valid(sub.scalars(SUBGRAPH_INPUTS, "i", "subgraph inputs"), "the subgraph's inputs"):
        t = tensors[i]
        name = _unique(t.name, taken)
        layers.append(Layer(name, "Input", "input", attrs={"shape": t.signature}, calls=[Call()]))
        producer[i] = TensorRef(name)

    operators = []
    for k, op in enumerate(sub.tables(SUBGRAPH_OPERATORS, "operators")):
        code = op.scalar(OP_OPCODE, "I")
        if code >= len(opcodes):
            raise BrokenFile(f"damaged TFLite file: operator {k} uses operator code {code} of {len(opcodes)}")
        ins = valid(op.scalars(OP_INPUTS, "i", f"operator {k} inputs"), f"operator {k}")
        outs = valid(op.scalars(OP_OUTPUTS, "i", f"operator {k} outputs"), f"operator {k}")
        outs = [o for o in outs if o >= 0]
        options = op.table(OP_OPTIONS, f"operator {k} options") if op.scalar(OP_OPTIONS_TYPE, "B") else None
        operators.append((k, opcodes[code], ins, outs, options))
        name = _unique(tensors[outs[0]].name if outs else f"op_{k}", taken)
        for j, o in enumerate(outs):
            producer[o] = TensorRef(name, 0, j)

    for k, op_name, ins, outs, options in operators:
        name = producer[outs[0]].layer if outs else f"op_{k}"
        if not outs:
            taken.add(name)
        consts = [p for p, i in enumerate(ins) if i >= 0 and i not in producer and tensors[i].data is not None]
        kernel = tensors[ins[1]] if op_name in KERNEL_OPS and len(ins) > 1 and 1 in consts else None
        first_in = tensors[ins[0]] if ins and ins[0] >= 0 else None
        kind, attrs = _options(op_name, options, kernel, first_in)
        if kind == "elementwise" and consts:
            kind = "recorded"  # a constant operand broadcasts: the stored shape says
        attrs["output_shapes"] = [tensors[o].signature for o in outs]
        call = Call()
        for p, i in enumerate(ins):
            if i < 0 or p in consts:
                continue
            call.inputs.append(producer.get(i, TensorRef(tensors[i].name)))
            call.recorded_shapes.append(tensors[i].signature)
        layer = Layer(name, op_name, kind, attrs=attrs, calls=[call])
        roles = _roles(op_name, consts)
        layer.weights = [_weight(path, tensors[ins[p]], kind, roles[p]) for p in consts if tensors[ins[p]].dtype]
        for p in consts:
            if tensors[ins[p]].sparse:
                layer.notes.append(f"{roles[p]} is stored sparse (TFLite sparsity): its values cannot be shown")
            if not tensors[ins[p]].dtype:  # int4, strings: no NumPy array to show
                layer.notes.append(f"constant input {p} '{tensors[ins[p]].name}' is of type {tensors[ins[p]].type_name}: not listed")
        quantization = {roles[p]: tensors[ins[p]].quantization for p in consts if tensors[ins[p]].quantization}
        if outs and tensors[outs[0]].quantization:
            quantization["output"] = tensors[outs[0]].quantization
        if quantization:
            attrs["quantization"] = quantization
            for role, q in quantization.items():
                if role != "output" and q is not None:
                    layer.notes.append(_quant_note(role, q))
        layers.append(layer)

    outputs = []
    for i in valid(sub.scalars(SUBGRAPH_OUTPUTS, "i", "subgraph outputs"), "the subgraph's outputs"):
        outputs.append(producer.get(i, TensorRef(tensors[i].name)))
    inputs = [producer[i] for i in sub.scalars(SUBGRAPH_INPUTS, "i", "subgraph inputs") or [] if i in producer]
    return Graph(layers, inputs, outputs)


def _quant_note(role: str, q: dict[str, Any]) -> str:
    scales, zeros = q["scale"], q["zero_point"]
    if len(scales) == 1:
        return f"{role} is quantized: real = {scales[0]:.6g} * (q - {zeros[0] if zeros else 0}); shown raw (--dequantize for real values)"
    return (
        f"{role} is quantized per channel (axis {q['quantized_dimension']}, {len(scales)} scales "
        f"{min(scales):.6g}..{max(scales):.6g}, zero points {sorted(set(zeros))[:4]}): "
        f"real = scale[c] * (q - zero_point[c]); shown raw (--dequantize for real values)"
    )


def open_model(path: Path, options: Any = None) -> Model:
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise FileNotReadable(f"cannot be read ({exc.strerror or exc})") from None
    with fh:
        size = path.stat().st_size
        if size < 8:
            raise BrokenFile("damaged TFLite file: too short to hold a flatbuffer")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _read(path, _File(data, size))
    except BrokenFile:
        raise
    except (struct.error, ValueError, OverflowError, IndexError, KeyError, UnicodeError, MemoryError) as exc:
        raise BrokenFile(f"damaged TFLite flatbuffer ({type(exc).__name__}: {str(exc)[:120]})") from None
    finally:
        data.close()


def _read(path: Path, f: _File) -> Model:
    root = f.table(f.unpack("<I", 0, "root offset"), "model")
    buffers = _buffers(f, root)
    opcodes = _opcodes(root)
    subgraphs = root.tables(MODEL_SUBGRAPHS, "subgraphs")
    if not subgraphs:
        raise BrokenFile("damaged TFLite file: it has no subgraph")
    sub = subgraphs[0]
    tensors = [_Tensor(k, t, buffers) for k, t in enumerate(sub.tables(SUBGRAPH_TENSORS, "tensors"))]
    graph = _graph(path, sub, tensors, opcodes)
    version, label, notes = _writing(f, root, buffers)
    if len(subgraphs) > 1:
        notes.append(f"this file has {len(subgraphs)} subgraphs; only subgraph 0 (the main graph) is shown")
    if any(t.quantization and t.dtype in ("int8", "uint8", "int16") for t in tensors):
        notes.append(
            "quantized tensors: stored integers are shown raw (--dequantize shows real values); "
            "each layer's notes give scale and zero point"
        )
    model = Model(
        name=sub.string(SUBGRAPH_NAME, "subgraph name") or path.stem,
        graph=graph,
        source=Source(str(path), "tflite", "tflite", version, format_version=label),
        notes=notes,
    )
    return model
