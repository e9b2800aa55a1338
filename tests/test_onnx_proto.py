"""cnninspect's own ONNX protobuf reader against the ``onnx`` package as oracle.

Every fixture under tests/fixtures/onnx, the benchmark models when they have been made
(``scripts/make_benchmark_onnx.py``), and a model built here with ``onnx.helper`` that
uses every field and attribute kind the reader knows are parsed by both ``onnx.load`` and
``onnx_proto.load``, and compared field by field, walking the reader's own field tables
(so a field added to a table is compared too). Tensor values come from
``onnx.numpy_helper.to_array``; attribute values from ``onnx.helper.get_attribute_value``.
Damaged bytes must give one ``CnnInspectError``, never another exception or a hang.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, ROOT
from cnninspect.errors import BrokenFile, CnnInspectError, UnrecognisedFile
from cnninspect.loaders import onnx_proto as op

onnx = pytest.importorskip("onnx")
from onnx import AttributeProto, TensorProto, helper, numpy_helper  # noqa: E402

FIXTURE_FILES = sorted((FIXTURES / "onnx").glob("*.onnx"))
FILES = FIXTURE_FILES + sorted((ROOT / "benchmarks" / "data").glob("*.onnx"))  # made by scripts/make_benchmark_onnx.py
DATA_KINDS = {op.DATA_F32: np.float32, op.DATA_F64: np.float64}


# ---------------------------------------------------------------------------------------
# Field by field against onnx


def _same_scalar(ours: object, theirs: object, kind: int, where: str) -> None:
    if kind == op.REAL:
        assert isinstance(ours, float) and isinstance(theirs, float), where
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), (where, ours, theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs, (where, ours, theirs)


def _same(ours: op._Message, theirs: object, where: str) -> None:
    """Every field of our message's table equals the onnx message's field of that name."""
    for name, kind, repeated, _ in type(ours)._fields.values():
        at = f"{where}.{name}"
        if kind in op.DATA:
            expected = np.array(list(getattr(theirs, name)), dtype=DATA_KINDS.get(kind, getattr(ours, name).dtype))
            np.testing.assert_array_equal(getattr(ours, name), expected, err_msg=at)
        elif kind == op.RAW:
            assert ours.HasField(name) == theirs.HasField(name) and getattr(ours, name) == getattr(theirs, name), at
        elif kind == op.UNREAD:
            if repeated:
                assert len(getattr(ours, name)) == len(getattr(theirs, name)), at
            else:
                assert ours.HasField(name) == theirs.HasField(name), at
        elif repeated:
            mine, other = list(getattr(ours, name)), list(getattr(theirs, name))
            assert len(mine) == len(other), at
            for i, (a, b) in enumerate(zip(mine, other)):
                _same(a, b, f"{at}[{i}]") if kind == op.MESSAGE else _same_scalar(a, b, kind, f"{at}[{i}]")
        else:
            assert ours.HasField(name) == theirs.HasField(name), at
            if kind == op.MESSAGE:
                _same(getattr(ours, name), getattr(theirs, name), at)
            else:
                _same_scalar(getattr(ours, name), getattr(theirs, name), kind, at)


def _tensors(graph: object) -> list:
    """Every tensor of a graph: initializers, sparse ones' parts, attribute tensors, and those of subgraphs."""
    found = list(graph.initializer)
    found += [t for s in graph.sparse_initializer for t in (s.values, s.indices)]
    for node in graph.node:
        for a in node.attribute:
            found += [a.t, *a.tensors, a.sparse_tensor.values, *[s.values for s in a.sparse_tensors]]
            for g in [a.g, *a.graphs]:
                found += _tensors(g)
    return found


def _attributes(graph: object) -> list:
    found = [a for node in graph.node for a in node.attribute]
    for a in list(found):
        for g in [a.g, *a.graphs]:
            found += _attributes(g)
    return found


def _same_values(ours: object, theirs: object, folder: Path) -> None:
    if not theirs.HasField("data_type"):
        return
    expected = numpy_helper.to_array(theirs, str(folder))
    got = op.to_array(ours, folder)
    if expected.dtype.name == "bfloat16":  # NumPy has none: we widen to float32
        expected = expected.astype(np.float32)
    elif expected.dtype.name in ("int4", "uint4"):  # to int8/uint8
        expected = expected.astype(np.int8 if expected.dtype.name == "int4" else np.uint8)
    assert got.dtype == expected.dtype and got.shape == expected.shape, (theirs.name, got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected, err_msg=theirs.name)
    assert op.dtype_name(ours.data_type) == str(helper.tensor_dtype_to_np_dtype(theirs.data_type))


def _compare(path: Path) -> op.ModelProto:
    ours, theirs = op.load(path), onnx.load(str(path), load_external_data=False)
    _same(ours, theirs, path.name)
    for a, b in zip(_tensors(ours.graph), _tensors(theirs.graph)):
        _same_values(a, b, path.parent)
    for a, b in zip(_attributes(ours.graph), _attributes(theirs.graph)):
        if b.ref_attr_name:
            with pytest.raises(BrokenFile, match="outside any function"):
                op.get_attribute_value(a)
            continue
        got, expected = op.get_attribute_value(a), helper.get_attribute_value(b)
        if isinstance(expected, list) and expected and isinstance(expected[0], onnx.TensorProto):
            for x, y in zip(got, expected):
                _same_values(x, y, path.parent)
        elif isinstance(expected, onnx.TensorProto):
            _same_values(got, expected, path.parent)
        elif all(isinstance(v, (int, float, bytes)) for v in (expected if isinstance(expected, list) else [expected])):
            assert repr(got) == repr(expected), (a.name, got, expected)  # repr: NaN equals NaN, 1 is not 1.0
        else:  # graphs, sparse tensors, types: compared field by field above
            names = [type(v).__name__ for v in (got if isinstance(got, list) else [got])]
            assert names == [type(v).__name__ for v in (expected if isinstance(expected, list) else [expected])]
    return ours


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_every_file_reads_as_onnx_reads_it(path: Path) -> None:
    model = _compare(path)
    assert model.graph.node and model.opset_import


def _every_field_model() -> object:
    """A model with every message, field and attribute kind the reader knows."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")  # raw_data
    typed = [
        helper.make_tensor("f32", TensorProto.FLOAT, [2, 2], [1.5, -0.0, float("inf"), 3.25]),
        helper.make_tensor("i8", TensorProto.INT8, [3], [-128, 0, 127]),
        helper.make_tensor("u16", TensorProto.UINT16, [2], [0, 65535]),
        helper.make_tensor("f16", TensorProto.FLOAT16, [2], [0.5, -2.0]),
        helper.make_tensor("bf16", TensorProto.BFLOAT16, [3], [1.0, -2.5, 3.0]),
        helper.make_tensor("flag", TensorProto.BOOL, [2], [True, False]),
        helper.make_tensor("i32", TensorProto.INT32, [3], [-(2**31), -1, 2**31 - 1]),
        helper.make_tensor("i64", TensorProto.INT64, [4], [-(2**63), -1, 0, 2**40]),
        helper.make_tensor("f64", TensorProto.DOUBLE, [2], [1e300, -1e-300]),
        helper.make_tensor("u32", TensorProto.UINT32, [2], [0, 2**32 - 1]),
        helper.make_tensor("u64", TensorProto.UINT64, [2], [0, 2**64 - 1]),
        helper.make_tensor("c64", TensorProto.COMPLEX64, [2], [1 + 2j, -3j]),
        helper.make_tensor("c128", TensorProto.COMPLEX128, [1], [1 - 1j]),
        helper.make_tensor("text", TensorProto.STRING, [2], [b"ab", "\u00e9".encode()]),
        helper.make_tensor("i4", TensorProto.INT4, [3], [1, -2, 7]),
        helper.make_tensor("u4", TensorProto.UINT4, [3], [1, 15, 0]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 3], []),
        helper.make_tensor("scalar", TensorProto.INT64, [], [5]),
        helper.make_tensor("big_typed", TensorProto.FLOAT, [20000], np.linspace(-1, 1, 20000, dtype=np.float32)),  # packed: mapped
    ]
    raw = [
        numpy_helper.from_array(np.array([[1, -2], [3, -4]], np.int64), "raw_i64"),
        numpy_helper.from_array(np.array([0.5, 2.0], np.float16), "raw_f16"),
        helper.make_tensor("raw_bf16", TensorProto.BFLOAT16, [2], np.array([0x3FC0, 0xC020], "<u2").tobytes(), raw=True),
        helper.make_tensor("raw_i4", TensorProto.INT4, [3], bytes([0xE1, 0x07]), raw=True),
        numpy_helper.from_array(rng.standard_normal(40000).astype(np.float32), "big"),  # memory-mapped
    ]
    branch = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["b_out"], name="inner")], "branch", [],
        [helper.make_tensor_value_info("b_out", TensorProto.FLOAT, [4, 3, 3, 3])],
        initializer=[helper.make_tensor("inner_c", TensorProto.FLOAT, [1], [2.0])],
    )  # fmt: skip
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "sv"), numpy_helper.from_array(np.array([0, 3], np.int64), "si"), [2, 2]
    )
    odd = helper.make_node(
        "Odd", ["x", "", "w"], ["y", ""], name="every_attribute", domain="com.example",
        f=-1.25, i=-3, s="same", t=typed[0], g=branch, floats=[0.5, float("nan")], ints=[-1, 2**40, 0],
        strings=["a", "b"], tensors=typed[1:3], graphs=[branch, branch], sparse_tensor=sparse,
        type_protos=[helper.make_tensor_type_proto(TensorProto.FLOAT, [1])], doc_string="an odd node",
    )  # fmt: skip
    odd.attribute.append(helper.make_attribute_ref("alpha", AttributeProto.FLOAT))
    undefined = AttributeProto(name="old")  # type UNDEFINED: an IR 1 attribute
    odd.attribute.append(undefined)
    nodes = [
        odd,
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], auto_pad="NOTSET"),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3))),
        helper.make_node("Constant", [], ["kf"], value_floats=[1.0, 2.0]),
        helper.make_node("Cast", ["k"], ["kc"], to=TensorProto.FLOAT),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, None, 8]),
        helper.make_tensor_value_info("unshaped", TensorProto.FLOAT, None),
        helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, [2]),
        onnx.ValueInfoProto(name="untyped"),
    ]
    outputs = [helper.make_tensor_value_info("c", TensorProto.FLOAT, [None, 4, None, 8]), helper.make_tensor_value_info("y", TensorProto.FLOAT, [])]
    graph = helper.make_graph(
        nodes, "every_field", inputs, outputs, initializer=[w, *typed, *raw], doc_string="a graph",
        value_info=[helper.make_tensor_value_info("k", TensorProto.INT64, [2, 3])], sparse_initializer=[sparse],
    )  # fmt: skip
    function = helper.make_function("com.example", "Fn", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])], [helper.make_opsetid("", 18)])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)], producer_name="tests",
        producer_version="1.0", domain="org.example", model_version=7, doc_string="docs \u00e9", functions=[function],
    )  # fmt: skip
    helper.set_model_props(model, {"author": "cnninspect", "licence": "MIT"})
    return model


@pytest.fixture(scope="module")
def every_field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx_proto") / "every_field.onnx"
    onnx.save(_every_field_model(), str(path))
    return path


def test_every_field_and_attribute_kind(every_field: Path) -> None:
    model = _compare(every_field)
    node = model.graph.node[0]
    kinds = "UNDEFINED FLOAT INT STRING TENSOR GRAPH FLOATS INTS STRINGS TENSORS GRAPHS SPARSE_TENSOR TYPE_PROTOS".split()
    assert {a.type for a in node.attribute} == {getattr(AttributeProto, k) for k in kinds}
    x, unshaped, seq, untyped = model.graph.input
    dims = x.type.tensor_type.shape.dim
    assert [(d.HasField("dim_value"), d.dim_value, d.dim_param) for d in dims] == [(False, 0, "batch"), (True, 3, ""), (False, 0, ""), (True, 8, "")]
    assert not unshaped.type.tensor_type.HasField("shape") and seq.type.HasField("sequence_type") and not untyped.HasField("type")
    assert len(model.functions) == 1 and len(model.graph.sparse_initializer) == 1
    for name in ("big", "big_typed"):
        assert isinstance(op.to_array(next(t for t in model.graph.initializer if t.name == name)), np.memmap)


def test_data_is_read_when_asked_not_when_parsed(tmp_path: Path) -> None:
    """The reader keeps offsets: bytes changed in place after parsing are what to_array returns."""
    path = tmp_path / "lazy.onnx"
    path.write_bytes((FIXTURES / "onnx" / "cnn_opset9.onnx").read_bytes())
    model = op.load(path)
    tensor = max(model.graph.initializer, key=lambda t: t.raw_span[1] if t.raw_span else 0)
    offset, length = tensor.raw_span
    data = bytearray(path.read_bytes())
    assert bytes(data[offset : offset + length]) == onnx.load(str(path)).graph.initializer[list(model.graph.initializer).index(tensor)].raw_data
    data[offset : offset + length] = np.full(length // 4, 7.5, np.float32).tobytes()
    path.write_bytes(bytes(data))
    assert (op.to_array(tensor) == 7.5).all()


def test_parsing_reads_at_most_a_page_at_each_end_of_a_tensor(every_field: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[tuple[int, int]] = []
    real = op._Window._read  # noqa: SLF001

    def read(window: object, offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return real(window, offset, length)

    monkeypatch.setattr(op._Window, "_read", read)  # noqa: SLF001
    model = op.load(every_field)
    big = next(t for t in model.graph.initializer if t.name == "big")
    start, length = big.raw_span
    assert length == 160000
    inside = sum(max(0, min(o + n, start + length) - max(o, start)) for o, n in reads)
    assert inside <= 2 * 4096
    assert sum(n for _, n in reads) < every_field.stat().st_size - length + 2 * 4096


def test_external_data_is_recorded_and_read_beside_the_model(tmp_path: Path) -> None:
    model = onnx.load(str(FIXTURES / "onnx" / "cnn_opset9.onnx"))
    expected = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="ext.data", size_threshold=0)
    ours = _compare(path)
    for tensor in ours.graph.initializer:
        assert tensor.data_location == TensorProto.EXTERNAL and tensor.raw_span is None
        assert {e.key for e in tensor.external_data} >= {"location", "offset", "length"}
        np.testing.assert_array_equal(op.to_array(tensor, tmp_path), expected[tensor.name])
        with pytest.raises(BrokenFile, match="folder is not known"):
            op.to_array(tensor)
    (tmp_path / "ext.data").unlink()
    with pytest.raises(BrokenFile, match="'ext.data', which is not beside the model"):
        op.to_array(ours.graph.initializer[0], tmp_path)


def test_external_locations_outside_the_folder_are_refused(tmp_path: Path) -> None:
    for location in ("../secret", "/etc/passwd", ""):
        tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1], data_location=TensorProto.EXTERNAL)
        tensor.external_data.add(key="location", value=location)
        model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[tensor]))
        ours = op.load_from_string(model.SerializeToString()).graph.initializer[0]
        with pytest.raises(BrokenFile, match="not a file name beside the model"):
            op.to_array(ours, tmp_path)


def test_tensors_whose_data_do_not_fit_their_dims_are_refused() -> None:
    liar = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100000, 100000, 3, 3], raw_data=bytes(64))
    short = TensorProto(name="s", data_type=TensorProto.INT64, dims=[3], int64_data=[1, 2])
    negative = TensorProto(name="n", data_type=TensorProto.FLOAT, dims=[-1], raw_data=bytes(4))
    unknown = TensorProto(name="u", data_type=99, dims=[1], raw_data=bytes(4))
    float4 = TensorProto(name="f4", data_type=TensorProto.FLOAT4E2M1, dims=[2], raw_data=bytes(1))
    model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[liar, short, negative, unknown, float4]))
    tensors = op.load_from_string(model.SerializeToString()).graph.initializer
    for tensor, words in zip(tensors, ["holds 64 bytes", "holds 2 values", "negative dimension", "unknown data type", "cannot read"]):
        with pytest.raises(BrokenFile, match=words):
            op.to_array(tensor)
    assert op.dtype_name(TensorProto.FLOAT8E4M3FN) == "float8_e4m3fn"
    with pytest.raises(ValueError, match="no NumPy dtype"):
        op.np_dtype(TensorProto.BFLOAT16)
    assert op.np_dtype(TensorProto.FLOAT16) == np.float16


def test_float8_reads_as_onnx_values_in_float32() -> None:
    raw = bytes(range(0, 256, 5))
    for data_type in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2):
        tensor = TensorProto(name="f8", data_type=data_type, dims=[len(raw)], raw_data=raw)
        ours = op.to_array(op.load_from_string(helper.make_model(helper.make_graph(
            [], "g", [], [], initializer=[tensor])).SerializeToString()).graph.initializer[0])
        theirs = numpy_helper.to_array(tensor).astype(np.float32)
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == np.float32


def test_unpacked_and_packed_arrays_read_alike() -> None:
    """proto2 writes dims/ints/floats unpacked and the data arrays packed; either is valid for every one."""
    def key(field: int, wire: int) -> bytes:
        return _varint(field << 3 | wire)

    dims = key(1, 2) + _varint(2) + _varint(2) + _varint(3)  # packed dims [2, 3]
    data = b"".join(key(4, 5) + struct.pack("<f", v) for v in range(6))  # float_data unpacked
    tensor = dims + key(2, 0) + _varint(1) + data + key(8, 2) + _varint(1) + b"t"
    graph = key(5, 2) + _varint(len(tensor)) + tensor
    blob = key(1, 0) + _varint(8) + key(7, 2) + _varint(len(graph)) + graph
    (t,) = op.load_from_string(blob).graph.initializer
    assert list(t.dims) == [2, 3] and t.data_spans() == [(blob.index(data), len(data))]
    np.testing.assert_array_equal(op.to_array(t), np.arange(6, dtype=np.float32).reshape(2, 3))


# ---------------------------------------------------------------------------------------
# Damaged bytes


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not out[-1] & 0x80:
            return bytes(out)


HEAD = b"\x08\x07"  # ir_version 7, as every ONNX file starts


@pytest.mark.parametrize(
    "data, words",
    [
        (HEAD + b"\x3a" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),  # graph length: an 11-byte varint
        (HEAD + b"\x3a\x0b\x18" + b"\xff" * 9 + b"\x7f", "above 64 bits"),  # an unknown varint field
        (HEAD + b"\x3a" + _varint(1000) + b"\x0a\x00", "runs past the end"),  # graph of 1000 bytes in a 6-byte file
        (HEAD + b"\x38\x01", "ModelProto.graph has wire type 0"),  # graph as a varint
        (HEAD + b"\x3a\x02\x0d\x00", "GraphProto.node has wire type 5"),
        (HEAD + b"\x3a\x04\x0a\x02\x15\x00", "NodeProto.output has wire type 5"),
        (HEAD + b"\x3a\x03\x12\x01\xff", "GraphProto.name is not valid UTF-8"),
        (HEAD + b"\x3a\x02\x1b\x1c", "wire type 3, which ONNX never writes"),  # a protobuf group, unknown field
        (HEAD + b"\x3a\x02\x0e\x00", "wire type 6"),
        (HEAD + b"\x3a\x02\x00\x00", "field numbered 0"),
        (HEAD + b"\x3a\x02\x2a\x05", "runs past the end"),  # an initializer longer than its graph
        (HEAD + b"\x3a\x02\xf9\x07", "runs past the end"),  # an unknown fixed64 field cut short
        (HEAD + b"\x3a\x01\x80", "truncated in a varint"),
    ],
)
def test_damage_is_one_line(data: bytes, words: str) -> None:
    with pytest.raises(BrokenFile, match=words) as raised:
        op.load_from_string(data)
    assert "\n" not in raised.value.message and raised.value.message.startswith("starts like an ONNX protobuf")


def test_read_varint_for_sniffers() -> None:
    """Sniffing calls read_varint on a file's first bytes: values, or Malformed (a ValueError)."""
    assert op.read_varint(b"\x08\x96\x01", 1, 3) == (150, 3)
    assert op.read_varint(b"\xff" * 9 + b"\x01", 0, 10) == (2**64 - 1, 10)
    for data in (b"\x96", b"\xff" * 10 + b"\x01", b"\xff" * 9 + b"\x02"):
        with pytest.raises(op.Malformed):
            op.read_varint(data, 0, len(data))


def test_nesting_is_bounded() -> None:
    graph = b""
    for _ in range(200):  # a graph attribute of a node of a graph ...
        attribute = b"\x32" + _varint(len(graph)) + graph  # AttributeProto.g
        node = b"\x2a" + _varint(len(attribute)) + attribute  # NodeProto.attribute
        graph = b"\x0a" + _varint(len(node)) + node  # GraphProto.node
    with pytest.raises(BrokenFile, match="nested more than 64 deep"):
        op.load_from_string(HEAD + b"\x3a" + _varint(len(graph)) + graph)


def test_other_protobufs_are_not_onnx() -> None:
    with pytest.raises(UnrecognisedFile, match="no ONNX graph"):
        op.load_from_string(b"\x08\x01\x12\x03\xff\xfe\x00")  # a field 2 that is not UTF-8, no graph


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(BrokenFile, match="empty"):
        op.load(tmp_path / "empty.onnx")


def _graph_span(data: bytes) -> tuple[int, int]:
    """Where ModelProto.graph's bytes start and end."""
    pos = 0
    while True:
        key, pos = op.read_varint(data, pos, len(data))
        if key == 7 << 3 | 2:
            length, pos = op.read_varint(data, pos, len(data))
            return pos, pos + length
        pos = op._skip(data, pos, len(data), key & 7, pos)  # noqa: SLF001


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f.name for f in FIXTURE_FILES])
def test_every_cut_inside_the_graph_is_broken(path: Path) -> None:
    data = path.read_bytes()
    start, end = _graph_span(data)
    cuts = range(start, end) if end - start < 4000 else np.linspace(start, end - 1, 1500).astype(int)
    for cut in cuts:
        with pytest.raises(BrokenFile):
            op.load_from_string(data[:cut])
    for cut in range(1, start):  # in the header: damaged, not ONNX, or a model without its graph
        try:
            assert not op.load_from_string(data[:cut]).HasField("graph")
        except CnnInspectError as exc:
            assert "\n" not in exc.message


def _read_everything(model: op.ModelProto) -> None:
    """What cnninspect asks of a model: every attribute value and every tensor's data."""
    for tensor in _tensors(model.graph):
        try:
            op.to_array(tensor)
        except BrokenFile:
            pass
    for attribute in _attributes(model.graph):
        try:
            op.get_attribute_value(attribute)
        except BrokenFile:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_files_fail_in_one_line_or_read(every_field: Path, data: st.DataObject) -> None:
    raw = bytearray(every_field.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        model = op.load_from_string(bytes(raw))
    except CnnInspectError as exc:
        assert "\n" not in exc.message
        return
    _read_everything(model)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_fail_in_one_line_or_read(tail: bytes) -> None:
    try:
        model = op.load_from_string(HEAD + tail)
    except CnnInspectError as exc:
        assert "\n" not in exc.message
        return
    _read_everything(model)
