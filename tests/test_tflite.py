"""TFLite files written by TensorFlow's converter, against what ``tf.lite.Interpreter``
reported for them (``tests/fixtures/tflite/truth.json``, written by
``scripts/make_tflite_fixtures.py``): tensor shapes, operator wiring, kernel slices
(sliced by TFLite's documented layouts in the script, not by cnninspect's layout code)
and quantization parameters. Damaged copies must give one line, never a traceback."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json

from cnninspect.core.infer import infer_shapes
from cnninspect.core.ops import spec
from cnninspect.core.ops.base import RuleContext
from cnninspect.errors import BrokenFile
from cnninspect.loaders import open_model
from cnninspect.loaders.tflite_files import sniff

DIR = FIXTURES / "tflite"
TRUTH = json.loads((DIR / "truth.json").read_text())
FILES = sorted(TRUTH["files"])
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _signature(tensor: dict) -> tuple:
    return tuple(None if d < 0 else d for d in tensor["shape_signature"])


def _opened(name: str):
    model = open_model(DIR / name)
    return model, infer_shapes(model.graph)


def _op_layers(model, truth: dict) -> list:
    """Layers of the file's operators, in operator order (after the input layers)."""
    layers = [layer for layer in model.graph.layers if layer.op != "input"]
    assert len(layers) == len(truth["ops"])
    return layers


@pytest.mark.parametrize("name", FILES)
def test_sniffed_and_source(name: str) -> None:
    path = DIR / name
    assert sniff(path.read_bytes()[:64], path)
    model = open_model(path)
    assert (model.source.format, model.source.library) == ("tflite", "tflite")
    assert "min runtime" in model.source.format_version  # the writer's version only where the file stores one
    assert not sniff(b"\x00" * 64, path)


@pytest.mark.parametrize("name", FILES)
def test_shapes_and_wiring_equal_the_interpreter(name: str) -> None:
    truth = TRUTH["files"][name]
    tensors = {t["index"]: t for t in truth["tensors"]}
    model, result = _opened(name)
    inputs = [layer for layer in model.graph.layers if layer.op == "input"]
    assert [layer.name for layer in inputs] == [tensors[i]["name"] for i in truth["inputs"]]
    assert [result.output_shapes(layer)[0][0] for layer in inputs] == [_signature(tensors[i]) for i in truth["inputs"]]
    producer = {i: tensors[i]["name"] for i in truth["inputs"]}
    for layer, op in zip(_op_layers(model, truth), truth["ops"]):
        assert layer.type == op["op_name"]
        assert result.reason(layer) is None, (layer.name, result.reason(layer))
        assert result.output_shapes(layer)[0] == [_signature(tensors[o]) for o in op["outputs"]], layer.name
        wired = [producer[i] for i in op["inputs"] if i in producer]
        assert [ref.layer for ref in layer.calls[0].tensor_inputs] == wired, layer.name
        for o in op["outputs"]:
            producer[o] = layer.name
    assert [ref.layer for ref in model.graph.outputs] == [producer[i] for i in truth["outputs"]]


@pytest.mark.parametrize("name", ["small_float.tflite", "small_int8.tflite"])
def test_conv_arithmetic_agrees_with_stored_shapes(name: str) -> None:
    """The core's conv/depthwise/pool rules, fed the stored input shape, give the stored output."""
    truth = TRUTH["files"][name]
    tensors = {t["index"]: t for t in truth["tensors"]}
    checked = set()
    for layer, op in zip(_op_layers(open_model(DIR / name), truth), truth["ops"]):
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"):
            assert layer.op in ("conv", "depthwise_conv", "pool")
            out = spec(layer.op).shape(layer.attrs, [_signature(tensors[op["inputs"][0]])], RuleContext())
            assert out == [_signature(tensors[op["outputs"][0]])], layer.name
            checked.add(op["op_name"])
    assert checked == {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"}


def test_attributes_from_builtin_options() -> None:
    model = open_model(DIR / "small_float.tflite")
    by_type: dict[str, list] = {}
    for layer in model.graph.layers:
        by_type.setdefault(layer.type, []).append(layer)
    first = by_type["CONV_2D"][0]
    assert (first.attrs["strides"], first.attrs["padding"], first.attrs["activation"]) == ([2, 2], "same", "relu")
    assert by_type["DEPTHWISE_CONV_2D"][0].attrs["depth_multiplier"] == 2
    assert by_type["AVERAGE_POOL_2D"][0].attrs["kernel_size"] == [3, 3]
    assert by_type["AVERAGE_POOL_2D"][0].attrs["padding"] == "valid"
    assert by_type["MAX_POOL_2D"][0].attrs["strides"] == [2, 2]
    assert by_type["CONCATENATION"][0].op == "concat"
    kernel = first.weight("kernel")
    assert kernel.axes == ("out", "kh", "kw", "in") and kernel.layout.convention == "tflite"
    assert by_type["DEPTHWISE_CONV_2D"][0].weight("kernel").axes == ("d0", "kh", "kw", "out")
    assert by_type["FULLY_CONNECTED"][0].weight("kernel").axes == ("out", "in")


def _slices() -> list:
    cases = []
    for name in FILES:
        if name == "sparse_dense.tflite":
            continue  # stored sparse: refused, see test_sparse_kernel_is_refused_in_one_line
        truth = TRUTH["files"][name]
        for s in truth["kernel_slices"]:
            op = truth["ops"][s["op"]]["op_name"]
            cases.append(pytest.param(name, s, id=f"{name}:op{s['op']}:{op}:out{s['out']}"))
    return cases


@pytest.mark.parametrize(("name", "piece"), _slices())
def test_filters_equal_the_stored_kernel(name: str, piece: dict) -> None:
    truth = TRUTH["files"][name]
    op = truth["ops"][piece["op"]]
    index = len(truth["inputs"]) + piece["op"]  # input layers come first in `shapes`
    n = piece["out"]
    report = cli_json("filters", DIR / name, "--layer", str(index), "--out", str(n))
    assert report["layer"]["type"] == op["op_name"]
    values = np.asarray(piece["values"])
    if op["op_name"] == "DEPTHWISE_CONV_2D":  # values = W[0, :, :, N]
        assert report["native_slice"] == f"kernel[0, :, :, {n}]"
        assert [e["in"] for e in report["inputs"]] == [n // 2]
        assert np.array_equal(np.asarray(report["inputs"][0]["filter"]), values)
    elif op["op_name"] == "CONV_2D":  # values = W[N]: (kh, kw, in)
        assert report["native_slice"] == f"kernel[{n}]"
        assert len(report["inputs"]) == values.shape[-1]
        for e in report["inputs"]:
            assert np.array_equal(np.asarray(e["filter"]), values[:, :, e["in"]])
    else:  # FULLY_CONNECTED, values = W[N]: (in,)
        assert report["native_slice"] == f"kernel[{n}]"
        assert [e["filter"] for e in report["inputs"]] == values.tolist()


def test_quantized_weights_raw_with_scale_and_zero_point() -> None:
    truth = TRUTH["files"]["small_int8.tflite"]
    tensors = {t["index"]: t for t in truth["tensors"]}
    model = open_model(DIR / "small_int8.tflite")
    assert any("quantized" in note for note in model.notes)
    seen = 0
    for layer, op in zip(_op_layers(model, truth), truth["ops"]):
        if op["op_name"] not in KERNEL_OPS:
            continue
        kernel = tensors[op["inputs"][1]]
        weight = layer.weight("kernel")
        assert weight.dtype == kernel["dtype"] == "int8"
        q = layer.attrs["quantization"]["kernel"]
        assert q["scale"] == pytest.approx(kernel["quantization"]["scales"], rel=1e-6)
        assert q["zero_point"] == kernel["quantization"]["zero_points"]
        assert q["quantized_dimension"] == kernel["quantization"]["quantized_dimension"]
        out = tensors[op["outputs"][0]]["quantization"]
        assert layer.attrs["quantization"]["output"]["zero_point"] == out["zero_points"]
        assert any("quantized" in note and "kernel" in note for note in layer.notes)
        assert weight.read((0,)).dtype == np.int8
        seen += 1
    assert seen == 5
    report = cli_json("filters", DIR / "small_int8.tflite", "--layer", "2", "--out", "1")
    assert report["weight"]["dtype"] == "int8"
    shapes = cli_json("shapes", DIR / "small_int8.tflite")
    conv = next(layer for layer in shapes["layers"] if layer["type"] == "CONV_2D")
    assert any("scale" in note and "zero point" in note for note in conv["notes"])
    filt = np.asarray(report["inputs"][0]["filter"])
    assert filt.shape == (3, 3) and np.array_equal(filt, np.round(filt)) and np.abs(filt).max() <= 127


def test_buffers_stored_after_the_flatbuffer() -> None:
    """Buffers with ``offset``/``size`` (the layout of files over 2 GB) are read from there."""
    truth = TRUTH["files"]["buffer_offsets.tflite"]
    model = open_model(DIR / "buffer_offsets.tflite")
    conv = next(layer for layer in model.graph.layers if layer.type == "CONV_2D")
    piece = next(s for s in truth["kernel_slices"] if truth["ops"][s["op"]]["op_name"] == "CONV_2D")
    kernel = conv.weight("kernel")
    assert np.array_equal(kernel.read((piece["out"],)), np.asarray(piece["values"], dtype=np.float32))
    assert kernel.read(()).shape == kernel.shape


def test_sparse_kernel_is_refused_in_one_line() -> None:
    """A sparse tensor's buffer is not an array of its shape: listed, never misread."""
    model = open_model(DIR / "sparse_dense.tflite")
    dense = next(layer for layer in model.graph.layers if layer.type == "FULLY_CONNECTED")
    assert dense.weight("kernel").shape == (32, 32)
    assert any("sparse" in note for note in dense.notes)
    with pytest.raises(BrokenFile, match="sparse"):
        dense.weight("kernel").read((0,))
    result = cli("filters", DIR / "sparse_dense.tflite", "--layer", "1", "--out", "0")
    assert result.exit_code == 5 and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------
# Damaged files


def _damaged(tmp_path: Path, data: bytes, label: str) -> Path:
    path = tmp_path / f"{label}.tflite"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", FILES)
def test_truncated_files_give_one_line(tmp_path: Path, name: str) -> None:
    data = (DIR / name).read_bytes()
    for cut in (8, 12, 64, 500, len(data) // 3, len(data) // 2, len(data) - 100):  # the end may be padding
        path = _damaged(tmp_path, data[:cut], f"cut{cut}")
        with pytest.raises(BrokenFile) as info:
            model = open_model(path)
            infer_shapes(model.graph)
            for weight in model.weights():
                weight.read(())
        assert "\n" not in info.value.message


def test_truncated_file_cli_exit_5(tmp_path: Path) -> None:
    data = (DIR / "small_float.tflite").read_bytes()
    path = _damaged(tmp_path, data[: len(data) // 2], "half")
    result = cli("shapes", path)
    assert result.exit_code == 5
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def _flips(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    positions = list(range(8, 72)) + [rng.randrange(8, len(data)) for _ in range(count)]
    out = []
    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        out.append(bytes(flipped))
    return out


@pytest.mark.parametrize("name", FILES)
def test_bit_flips_open_or_one_line(tmp_path: Path, name: str) -> None:
    """Flipped bits anywhere: the model opens and its shapes and weights are read, or
    BrokenFile says what is wrong in one line; never another exception."""
    for k, data in enumerate(_flips((DIR / name).read_bytes(), 400, 1234)):
        path = _damaged(tmp_path, data, f"flip{k}")
        try:
            with open_model(path) as model:
                infer_shapes(model.graph)
                for weight in model.weights():
                    weight.read(())
        except BrokenFile as exc:
            assert "\n" not in exc.message


@pytest.mark.parametrize("name", ["small_float.tflite", "small_int8.tflite"])
def test_bit_flips_never_crash_the_cli(tmp_path: Path, name: str) -> None:
    """Through the CLI: a report or one line (exit 5), never a traceback (exit 1)."""
    for k, data in enumerate(_flips((DIR / name).read_bytes(), 16, 99)[::2]):
        path = _damaged(tmp_path, data, f"flip{k}")
        for command in ("shapes", "weights"):
            result = cli(command, path)
            assert result.exit_code in (0, 5), (k, command, result.stderr, result.exception)
            if result.exit_code == 5:
                assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_quantization_is_in_the_weight_json() -> None:
    """Every quantized weight carries the scale and zero point the interpreter reports."""
    truth = json.loads((FIXTURES / "tflite" / "truth.json").read_text())["files"]["small_int8.tflite"]
    by_name = {t["name"]: t["quantization"] for t in truth["tensors"]}
    report = cli_json("weights", FIXTURES / "tflite" / "small_int8.tflite")
    quantized = [t for t in report["tensors"] if by_name[t["path"]]["scales"]]
    assert quantized
    for t in quantized:
        expected = by_name[t["path"]]
        assert t["quantization"]["scale"] == pytest.approx(expected["scales"])
        assert t["quantization"]["zero_point"] == expected["zero_points"]


# ---------------------------------------------------------------------------------------
# Dequantization: real = scale * (q - zero_point), with the interpreter's parameters


def _fixed_axis(op_name: str) -> int:
    """The axis the script's truth slice fixes: ``W[0, :, :, N]`` for depthwise, else ``W[N]``."""
    return 3 if op_name == "DEPTHWISE_CONV_2D" else 0


def _real(values: np.ndarray, quant: dict, op_name: str, n: int) -> np.ndarray:
    """The truth slice dequantized by hand: the scale of channel ``n`` when the quantized
    dimension is the fixed axis, else one scale along the slice's matching axis."""
    scales, zeros = np.asarray(quant["scales"]), np.asarray(quant["zero_points"])
    if len(scales) == 1:
        return (values - zeros[0]) * scales[0]
    assert quant["quantized_dimension"] == _fixed_axis(op_name)
    return (values - zeros[n]) * scales[n]


def _int8_slices() -> list:
    truth = TRUTH["files"]["small_int8.tflite"]
    return [pytest.param(s, id=f"op{s['op']}:out{s['out']}") for s in truth["kernel_slices"]]


@pytest.mark.parametrize("piece", _int8_slices())
def test_dequantize_gives_real_values_close_to_the_float_model(piece: dict) -> None:
    truth, float_truth = TRUTH["files"]["small_int8.tflite"], TRUTH["files"]["small_float.tflite"]
    op = truth["ops"][piece["op"]]["op_name"]
    quant = truth["tensors"][piece["tensor"]]["quantization"]
    expected = _real(np.asarray(piece["values"], dtype=np.float64), quant, op, piece["out"])
    report = cli_json("filters", DIR / "small_int8.tflite", "--layer", str(len(truth["inputs"]) + piece["op"]),
                      "--out", str(piece["out"]), "--dequantize")  # fmt: skip
    assert report["weight"]["dtype"] == "int8" and report["weight"]["quantization"]["dequantized"] is True
    assert any("--dequantize" in note for note in report["notes"])
    if op == "CONV_2D":
        shown = np.stack([e["filter"] for e in report["inputs"]], axis=-1)  # (kh, kw, in) as stored
    else:
        shown = np.asarray(report["inputs"][0]["filter"] if op == "DEPTHWISE_CONV_2D" else
                           [e["filter"] for e in report["inputs"]])  # fmt: skip
    np.testing.assert_allclose(shown, expected, rtol=1e-6, atol=1e-7)
    # the same layer of the float model (same Keras weights): within half a quantization step
    k = [s for s in truth["kernel_slices"] if truth["ops"][s["op"]]["op_name"] == op].index(piece)
    floats = [s for s in float_truth["kernel_slices"] if float_truth["ops"][s["op"]]["op_name"] == op][k]
    step = max(quant["scales"])
    np.testing.assert_allclose(shown, np.asarray(floats["values"]), atol=step / 2 + 1e-6)


def test_dequantized_reads_of_any_slice_use_the_right_channel_scales() -> None:
    from cnninspect.core.quantize import dequantized

    truth = TRUTH["files"]["small_int8.tflite"]
    model, _ = _opened("small_int8.tflite")
    checked = 0
    for layer in model.graph.layers:
        for w in layer.weights:
            quant = next(t["quantization"] for t in truth["tensors"] if t["name"] == w.name)
            if len(quant["scales"]) < 2:
                continue
            raw = w.read(()).astype(np.float64)
            along = [1] * raw.ndim
            along[quant["quantized_dimension"]] = -1
            scales = np.asarray(quant["scales"]).reshape(along)
            zeros = np.asarray(quant["zero_points"]).reshape(along)
            real = dequantized(w)
            np.testing.assert_allclose(real.read(()), (raw - zeros) * scales, rtol=1e-6)
            np.testing.assert_allclose(real.read((slice(1, 3),)), ((raw - zeros) * scales)[1:3], rtol=1e-6)
            checked += 1
    assert checked >= 3


def test_weights_stats_on_dequantized_values() -> None:
    """Streamed statistics of the real values equal NumPy's over the whole tensor
    dequantized by hand with the interpreter's (per-channel) scales."""
    real = cli_json("weights", DIR / "small_int8.tflite", "--stats", "--dequantize")
    truth = {t["name"]: t["quantization"] for t in TRUTH["files"]["small_int8.tflite"]["tensors"]}
    stored = {w.name: w for layer in _opened("small_int8.tflite")[0].graph.layers for w in layer.weights}
    checked = 0
    for t in real["tensors"]:
        quant = truth[t["path"]]
        if not quant["scales"]:
            continue
        raw = stored[t["path"]].read(()).astype(np.float64)
        along = [1] * raw.ndim
        along[quant["quantized_dimension"]] = -1
        expected = (raw - np.asarray(quant["zero_points"]).reshape(along)) * np.asarray(quant["scales"]).reshape(along)
        assert t["dtype"] in ("int8", "int32") and t["quantization"]["dequantized"] is True
        assert t["bytes"] == raw.size * np.dtype(t["dtype"]).itemsize  # the stored tensor's bytes
        for key, value in (("min", expected.min()), ("max", expected.max()), ("mean", expected.mean()),
                           ("std", expected.std())):  # fmt: skip
            assert t["stats"][key] == pytest.approx(value, rel=1e-5, abs=1e-9), (t["path"], key)
        checked += 1
    assert checked >= 5
    assert any("--dequantize" in note for note in real["notes"])


def test_dequantize_on_a_float_model_says_nothing_changed() -> None:
    report = cli_json("filters", DIR / "small_float.tflite", "--layer", "1", "--out", "0", "--dequantize")
    assert any("not quantized" in note for note in report["notes"])


def test_channels_of_every_kernel_op_are_the_interpreters_tensor_channels() -> None:
    """A depthwise kernel (1, kh, kw, in*mult) has no in axis: its input channels are still
    those of the tensor the interpreter feeds it (NHWC, last axis)."""
    for name in ("small_float.tflite", "small_int8.tflite"):
        truth = TRUTH["files"][name]
        report = cli_json("shapes", DIR / name)
        for op in truth["ops"]:
            if op["op_name"] not in KERNEL_OPS:
                continue
            layer = report["layers"][len(truth["inputs"]) + op["index"]]
            data, out = truth["tensors"][op["inputs"][0]], truth["tensors"][op["outputs"][0]]
            expected_in = data["shape"][-1] if op["op_name"] != "FULLY_CONNECTED" else int(np.prod(data["shape"][1:]))
            assert layer["channels"] == {"in": expected_in, "out": out["shape"][-1]}, (name, op["op_name"])
