"""The NumPy loader (``.npy``, ``.npz``) against what NumPy and Keras wrote.

Truth comes from outside cnninspect: Keras' own ``truth.json`` and ``get_weights()``
arrays for the committed fixtures, and ``np.load`` plus this file's own indexing for the
files written here with NumPy (which is the writer of the format). Expected layouts are
written out per class, not taken from cnninspect's layout code.
"""

from __future__ import annotations

import json
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json, load_truth, run
from cnninspect.errors import BrokenFile
from cnninspect.loaders import OpenOptions, open_model

KERAS3, TFKERAS = FIXTURES / "keras3", FIXTURES / "tfkeras"
# Keras' kernel layouts, by class: spatial dims first, then in, out.
KERAS_CODES = {"Conv1D": "WIO", "Conv2D": "HWIO", "Conv3D": "DHWIO", "Dense": "IO"}
TORCH_CODES = {"Conv1D": "OIW", "Conv2D": "OIHW", "Conv3D": "OIDHW", "Dense": "OI"}


def _truth_layers(path: Path) -> list[dict]:
    """The truth's layers that hold weights, in order."""
    return [layer for layer in load_truth(path)["layers"] if layer["weights"]]


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _mnist_arrays(api_dir: Path) -> list[np.ndarray]:
    arrays = _arrays(api_dir / "mnist_cnn.npz")
    return [arrays[f"arr_{i}"] for i in range(len(arrays))]


def _to_torch(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Keras' (kh, kw, in, out) and (in, out) as PyTorch's (out, in, kh, kw) and (out, in)."""
    return [a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T if a.ndim == 2 else a for a in arrays]


def _guesses(model) -> list[dict]:
    return [layer.attrs["layout_guess"] for layer in model.graph.layers if "layout_guess" in layer.attrs]


def _fails(result, status: int, *words: str) -> None:
    """Exit ``status`` with one line on stderr that says each of ``words``."""
    assert result.exit_code == status, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    for word in words:
        assert word in result.stderr


# ---------------------------------------------------------------------------------------
# Committed fixtures written by Keras


@pytest.mark.parametrize("api_dir", [KERAS3, TFKERAS], ids=["keras3", "tfkeras"])
def test_positional_npz_matches_keras_truth(api_dir: Path) -> None:
    truth = _truth_layers(api_dir / "mnist_cnn.truth.json")
    arrays = _mnist_arrays(api_dir)
    with open_model(api_dir / "mnist_cnn.npz") as model:
        assert model.architecture is False and model.source.format == "npz"
        layers = model.graph.layers
        assert [layer.name for layer in layers] == [f"layer_{i}" for i in range(len(truth))]
        assert [layer.type for layer in layers] == [t["class_name"] for t in truth]
        assert [layer.calls for layer in layers] == [[]] * len(truth)
        weights = list(model.weights())
        assert [list(w.shape) for w in weights] == [w["shape"] for t in truth for w in t["weights"]]
        roles = [w["name"].split("/")[-1].split(":")[0] for t in truth for w in t["weights"]]
        assert [w.role for w in weights] == roles
        for weight, array in zip(weights, arrays):
            np.testing.assert_array_equal(weight.read(()), array)
        assert any("positional" in note for note in model.notes)


@pytest.mark.parametrize("name", ["mnist_cnn", "convs"])
def test_named_npz_matches_keras_truth(name: str) -> None:
    truth = _truth_layers(KERAS3 / f"{name}.truth.json")
    with open_model(KERAS3 / f"{name}.named.npz") as model:
        layers = model.graph.layers
        assert [layer.name for layer in layers] == [t["weights"][0]["name"].rsplit("/", 1)[0] for t in truth]
        assert [layer.name.rsplit("/", 1)[-1] for layer in layers] == [t["name"] for t in truth]
        assert [layer.type for layer in layers] == [t["class_name"] for t in truth]
        for layer, t in zip(layers, truth):
            assert [w.name for w in layer.weights] == [w["name"] for w in t["weights"]]
            assert [w.role for w in layer.weights] == [w["name"].rsplit("/", 1)[-1] for w in t["weights"]]
            assert [list(w.shape) for w in layer.weights] == [w["shape"] for w in t["weights"]]
            guess = layer.attrs["layout_guess"]
            assert guess["layout"] == KERAS_CODES[t["class_name"]] == layer.weight("kernel").layout.code
            assert guess["confidence"] in ("high", "medium"), guess
        assert not any("positional" in note for note in model.notes)


@pytest.mark.parametrize("api_dir", [KERAS3, TFKERAS], ids=["keras3", "tfkeras"])
def test_keras_kernels_guessed_hwio_with_high_confidence(api_dir: Path) -> None:
    truth = _truth_layers(api_dir / "mnist_cnn.truth.json")
    with open_model(api_dir / "mnist_cnn.npz") as model:
        guesses = _guesses(model)
        assert [g["layout"] for g in guesses] == [KERAS_CODES[t["class_name"]] for t in truth]
        assert {g["confidence"] for g in guesses} == {"high"}
        first = model.graph.layers[0]
        assert "3x3 window" in guesses[0]["reason"] and "32 = dim 3" in guesses[0]["reason"]
        assert any(note.startswith("layout guessed HWIO (keras), high confidence") for note in first.notes)
        assert first.weight("kernel").axes == ("kh", "kw", "in", "out")


def test_guess_flips_to_oihw_for_transposed_kernels(tmp_path: Path) -> None:
    path = tmp_path / "torch_order.npz"
    np.savez(path, *_to_torch(_mnist_arrays(KERAS3)))
    with open_model(path) as model:
        guesses = _guesses(model)
        assert [g["layout"] for g in guesses] == ["OIHW", "OIHW", "OI", "OI"]
        assert {g["confidence"] for g in guesses} == {"high"}
        assert "32 = dim 0" in guesses[0]["reason"]
        assert model.graph.layers[0].weight("kernel").axes == ("out", "in", "kh", "kw")


@pytest.mark.parametrize(
    "layout, code, flipped",
    [("torch", "OIHW", False), ("pytorch", "OIHW", False), ("theano", "OIHW", True), ("keras", "HWIO", False)],
)
def test_layout_option_overrides_the_guess(layout: str, code: str, flipped: bool) -> None:
    with open_model(KERAS3 / "mnist_cnn.npz", OpenOptions(layout=layout)) as model:
        conv = model.graph.layers[0]
        assert "layout_guess" not in conv.attrs
        assert conv.weight("kernel").layout.code == code
        assert conv.weight("kernel").layout.flipped is flipped
        assert any(f"layout from --layout {layout}" in note for note in conv.notes)
    report = cli_json("shapes", KERAS3 / "mnist_cnn.npz", "--layout", layout)
    assert report["layers"][0]["weights"][0]["layout"] == code


# ---------------------------------------------------------------------------------------
# The commands on npz files


def test_shapes_json_on_npz() -> None:
    report = cli_json("shapes", KERAS3 / "mnist_cnn.npz")
    assert report["source"]["format"] == "npz" and report["source"]["library"] is None
    assert [layer["type"] for layer in report["layers"]] == ["Conv2D", "Conv2D", "Dense", "Dense"]
    assert report["totals"]["params"] == load_truth(KERAS3 / "mnist_cnn.truth.json")["totals"]["params"]
    assert "layout guessed HWIO" in report["layers"][0]["notes"][0]


@pytest.mark.parametrize("layer, out", [(0, 7), (1, 5), (1, 31)])
def test_filters_on_positional_npz_slice_hwio(layer: int, out: int) -> None:
    arrays = _mnist_arrays(KERAS3)
    kernel, bias = arrays[2 * layer], arrays[2 * layer + 1]
    report = cli_json("filters", KERAS3 / "mnist_cnn.npz", "--layer", str(layer), "--out", str(out))
    assert report["native_slice"] == f"kernel[:, :, :, {out}]"
    assert report["bias"] == pytest.approx(float(bias[out]))
    assert len(report["inputs"]) == kernel.shape[2]
    for i, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), kernel[:, :, i, out])


def test_filters_on_oihw_npz_slice_out_first(tmp_path: Path) -> None:
    path = tmp_path / "oihw.npz"
    arrays = _to_torch(_mnist_arrays(KERAS3))
    np.savez(path, *arrays)
    w = arrays[2]
    report = cli_json("filters", path, "--layer", "1", "--out", "9")
    assert report["native_slice"] == "kernel[9]"
    for i, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), w[9, i])


def test_filters_on_named_npz_against_get_weights() -> None:
    """convs.weights.npz holds each layer's get_weights(), which the fixture script
    took from Keras itself; slice Keras' (kh, kw, in, out) kernel here."""
    kernel = _arrays(KERAS3 / "convs.weights.npz")["conv2d_3::0"]
    report = cli_json("filters", KERAS3 / "convs.named.npz", "--layer", "conv2d_3", "--out", "2")
    assert report["weight"]["name"] == "conv2d_3/kernel"
    for i, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), kernel[:, :, i, 2])


def test_torch_named_npz(tmp_path: Path) -> None:
    keras = _mnist_arrays(KERAS3)
    conv, dense = _to_torch(keras)[2], _to_torch(keras)[6]
    path = tmp_path / "state_dict.npz"
    np.savez(
        path,
        **{
            "features.0.weight": conv, "features.0.bias": keras[3],
            "features.1.weight": np.ones(32, "f4"), "features.1.bias": np.zeros(32, "f4"),
            "features.1.running_mean": np.zeros(32, "f4"), "features.1.running_var": np.ones(32, "f4"),
            "features.1.num_batches_tracked": np.array(7),
            "classifier.weight": dense, "classifier.bias": keras[7],
        },
    )  # fmt: skip
    with open_model(path) as model:
        layers = model.graph.layers
        assert [(x.name, x.type) for x in layers] == [
            ("features.0", "Conv2D"), ("features.1", "BatchNormalization"), ("classifier", "Dense")
        ]  # fmt: skip
        assert [g["layout"] for g in _guesses(model)] == ["OIHW", "OI"]
        assert "named 'weight'" in layers[0].attrs["layout_guess"]["reason"]
        assert [w.trainable for w in layers[1].weights] == [True, True, False, False, False]
    report = cli_json("filters", path, "--layer", "features.0", "--out", "3")
    assert report["native_slice"] == "weight[3]"
    for i, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), conv[3, i])


# ---------------------------------------------------------------------------------------
# Grouping unnamed entries, and lone .npy files


def test_positional_grouping_of_bias_and_batchnorm(tmp_path: Path) -> None:
    path = tmp_path / "bn.npz"
    vec = lambda n, v: np.full(n, v, "f4")  # noqa: E731
    np.savez(
        path,
        vec(3, 1), vec(3, 2), vec(3, 3), vec(3, 4),  # BN on the input, before any kernel
        np.zeros((3, 3, 3, 16), "f4"), vec(16, 1), vec(16, 2), vec(16, 3), vec(16, 4),  # conv without bias, BN
        np.zeros((3, 3, 16, 8), "f4"), vec(8, 0), vec(8, 1), vec(8, 2), vec(8, 3), vec(8, 4),  # conv, bias, BN
        np.zeros((8, 10), "f4"), vec(10, 0),  # dense, bias
    )  # fmt: skip
    with open_model(path) as model:
        layers = model.graph.layers
        assert [x.type for x in layers] == ["BatchNormalization", "Conv2D", "BatchNormalization", "Conv2D",
                                            "BatchNormalization", "Dense"]  # fmt: skip
        assert [[w.role for w in x.weights] for x in layers] == [
            ["gamma", "beta", "moving_mean", "moving_variance"], ["kernel"],
            ["gamma", "beta", "moving_mean", "moving_variance"], ["kernel", "bias"],
            ["gamma", "beta", "moving_mean", "moving_variance"], ["kernel", "bias"],
        ]  # fmt: skip
        assert [w.name for w in layers[3].weights] == ["arr_9", "arr_10"]
        assert "BatchNormalization after it has 16 = dim 3" in layers[1].attrs["layout_guess"]["reason"]
        assert [w.trainable for w in layers[2].weights] == [True, True, False, False]


def test_positional_entries_sort_numerically(tmp_path: Path) -> None:
    arrays = [np.zeros((3, 3, 2, 2), "f4"), np.zeros(2, "f4")] * 6  # arr_10 sorts before arr_2 as text
    path = tmp_path / "twelve.npz"
    np.savez(path, *arrays)
    with open_model(path) as model:
        names = [[w.name for w in x.weights] for x in model.graph.layers]
        assert names == [[f"arr_{2 * i}", f"arr_{2 * i + 1}"] for i in range(6)]


@pytest.mark.parametrize(
    "shape, code, confidence, words",
    [
        ((3, 3, 64, 32), "HWIO", "medium", "3x3 window"),
        ((64, 32, 5, 5), "OIHW", "medium", "5x5 window"),
        ((3, 3, 3, 3), "HWIO", "low", "TensorFlow"),
        ((7, 16, 32), "WIO", "medium", "7-wide window"),
    ],
)
def test_lone_npy_kernel(tmp_path: Path, shape: tuple, code: str, confidence: str, words: str) -> None:
    path = tmp_path / "conv1_kernel.npy"
    np.save(path, np.arange(np.prod(shape), dtype="f4").reshape(shape))
    with open_model(path) as model:
        assert model.source.format == "npy"
        (layer,) = model.graph.layers
        assert layer.name == "conv1_kernel" and layer.weights[0].name == "conv1_kernel"
        guess = layer.attrs["layout_guess"]
        assert (guess["layout"], guess["confidence"]) == (code, confidence)
        assert words in guess["reason"]


def test_detected_by_content_not_extension(tmp_path: Path) -> None:
    npz = tmp_path / "weights.bin"
    shutil.copyfile(KERAS3 / "mnist_cnn.npz", npz)
    assert cli_json("shapes", npz)["source"]["format"] == "npz"
    npy = tmp_path / "kernel.txt"
    with npy.open("wb") as fh:  # np.save would add .npy to the name
        np.save(fh, np.zeros((3, 3, 1, 4), "f4"))
    assert cli_json("shapes", npy)["source"]["format"] == "npy"
    other = tmp_path / "notes.npz"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "not an array")
    _fails(cli("shapes", other), 4, "zip")


def test_fortran_order_and_big_endian_values(tmp_path: Path) -> None:
    kernel = np.asfortranarray(np.arange(3 * 3 * 2 * 4, dtype=">f4").reshape(3, 3, 2, 4))
    np.savez(tmp_path / "f.npz", kernel=kernel)
    np.save(tmp_path / "f.npy", kernel)
    for path in (tmp_path / "f.npz", tmp_path / "f.npy"):
        with open_model(path) as model:
            weight = next(model.weights())
            np.testing.assert_array_equal(weight.read((slice(None), slice(None), 1, 3)), kernel[:, :, 1, 3])
            np.testing.assert_array_equal(weight.read(()), kernel)


def test_zip64_members_are_located(tmp_path: Path) -> None:
    """np.savez writes each member with a zip64 extra field in its local header, longer
    than the central directory's: the data must be found past it."""
    path = tmp_path / "z64.npz"
    kernel = np.arange(3 * 3 * 2 * 4, dtype="f4").reshape(3, 3, 2, 4)
    np.savez(path, kernel=kernel)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("kernel.npy")
    with path.open("rb") as fh:
        fh.seek(info.header_offset + 28)
        (local_extra,) = struct.unpack("<H", fh.read(2))
    assert local_extra > len(info.extra)  # the zip64 field is there
    with open_model(path) as model:
        np.testing.assert_array_equal(next(model.weights()).read((2, 1)), kernel[2, 1])


# ---------------------------------------------------------------------------------------
# Lazy reading


def _big_kernel() -> np.ndarray:
    return np.arange(3 * 3 * 1536 * 1024, dtype="f4").reshape(3, 3, 1536, 1024)  # 56.6 MB


@pytest.mark.parametrize("kind", ["npz", "npy"])
def test_slice_of_a_big_stored_array_reads_only_the_slice(tmp_path: Path, kind: str) -> None:
    kernel = _big_kernel()
    path = tmp_path / f"big.{kind}"
    if kind == "npz":
        np.savez(path, kernel=kernel)
    else:
        np.save(path, kernel)
    expected = kernel[:, :, :, 5].copy()
    del kernel
    tracemalloc.start()
    try:
        with open_model(path) as model:
            weight = next(model.weights())
            values = weight.read((slice(None), slice(None), slice(None), 5))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(values, expected)
    assert peak < weight.nbytes / 4, f"peak {peak:,} bytes for a {weight.nbytes:,}-byte array"


def test_compressed_member_is_read_alone_and_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = _mnist_arrays(KERAS3)
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, *arrays)
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with open_model(path) as model:
        opened.clear()  # opening reads each member's header
        kernel = model.graph.layers[1].weight("kernel")
        np.testing.assert_array_equal(kernel.read((slice(None), slice(None), 4, 2)), arrays[2][:, :, 4, 2])
    assert opened == ["arr_2.npy"]


# ---------------------------------------------------------------------------------------
# Damaged files and lying headers: exit 5, one line


def _npy_bytes(shape: tuple, data: bytes, dtype: str = "<f4") -> bytes:
    """A .npy whose header says ``shape`` whatever ``data`` holds."""
    import io

    from numpy.lib import format as npformat

    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_lying_header_in_npz_is_refused(tmp_path: Path, compression: int) -> None:
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("good.npy", _npy_bytes((4,), b"\0" * 16))
        zf.writestr("huge.npy", _npy_bytes((100000, 100000), b"\0" * 64))
    _fails(cli("shapes", path), 5, "'huge'", "(100000, 100000)", "40,000,000,000 bytes")


def test_lying_header_in_npy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "liar.npy"
    path.write_bytes(_npy_bytes((1 << 20, 1 << 20), b"\0" * 64))
    _fails(cli("shapes", path), 5, "liar.npy", "truncated, or a lying header")


def test_damaged_member_header(tmp_path: Path) -> None:
    path = tmp_path / "damaged.npz"
    shutil.copyfile(KERAS3 / "mnist_cnn.npz", path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("arr_2.npy")
    data = bytearray(path.read_bytes())
    start = data.index(b"\x93NUMPY", info.header_offset)
    data[start : start + 6] = b"NOTNPY"
    path.write_bytes(bytes(data))
    _fails(cli("shapes", path), 5, "'arr_2'", "not a valid .npy array")


def test_damaged_compressed_data_fails_on_read(tmp_path: Path) -> None:
    path = tmp_path / "damaged.npz"
    rng = np.random.default_rng(0)
    np.savez_compressed(path, kernel=rng.standard_normal((3, 3, 64, 64)).astype("f4"), bias=np.zeros(64, "f4"))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("kernel.npy")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + info.compress_size * 3 // 4
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    assert cli("shapes", path).exit_code == 0  # opening reads headers only
    _fails(cli("filters", path, "--layer", "kernel", "--out", "3"), 5, "'kernel'", "cannot be decompressed")


def test_truncated_npz(tmp_path: Path) -> None:
    path = tmp_path / "truncated.npz"
    path.write_bytes((KERAS3 / "mnist_cnn.npz").read_bytes()[:200_000])
    _fails(cli("shapes", path), 5, "zip")


# ---------------------------------------------------------------------------------------
# Object arrays: listed, never unpickled


class _Payload:
    """Pickles to a call of ``open(marker, "w")``: unpickling it creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    kernel = np.arange(3 * 3 * 1 * 4, dtype="f4").reshape(3, 3, 1, 4)
    np.savez(path, payload=np.array([_Payload(marker)], dtype=object), kernel=kernel)
    assert not marker.exists()

    commands = (["shapes", path], ["weights", path, "--stats"], ["filters", path, "--layer", "kernel", "--out", "1"])
    for command in commands:
        result = run(*command)
        assert result.returncode == 0, result.stderr
    with open_model(path) as model:
        payload = model.graph.layer("payload").weights[0]
        assert payload.dtype == "object"
        with pytest.raises(BrokenFile, match="only by running pickle, which cnninspect never does"):
            payload.read(())
        np.testing.assert_array_equal(model.graph.layer("kernel").weights[0].read(()), kernel)
    assert not marker.exists()

    # The payload is live: NumPy with allow_pickle=True does create the marker.
    with np.load(path, allow_pickle=True) as z:
        z["payload"]
    assert marker.exists()


def test_npz_of_only_an_object_array(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, obj=np.array([{"a": 1}], dtype=object))
    report = cli_json("shapes", path)
    (layer,) = report["layers"]
    assert layer["weights"][0]["dtype"] == "object"
    assert any("unreadable" in note for note in layer["notes"])
    assert any("'obj' holds Python objects" in note and "pickle" in note for note in report["notes"])
    assert json.dumps(report)  # nothing unserialisable slipped in


def test_an_empty_npz_says_it_holds_no_arrays() -> None:
    """Keras' get_weights() of a model without weights, saved with np.savez: an empty zip."""
    path = FIXTURES / "keras3" / "merges.weights.npz"
    result = cli("shapes", path)
    assert result.exit_code == 4
    assert "empty zip archive" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_vector_that_does_not_fit_the_kernel_is_not_its_bias(tmp_path: Path) -> None:
    """A trailing vector as long as neither end axis of the kernel before it is kept apart:
    read as the kernel's bias, filters read past its end (an internal error)."""
    path = tmp_path / "r.npz"
    np.savez_compressed(path, **{"7": np.zeros((1, 4, 4, 24), "f4"), "8": np.ones(4, "f4")})
    report = cli_json("filters", path, "--layer", "#0", "--out", "23")
    assert report["bias"] is None and report["out_maps"] == 24
    tensors = cli_json("weights", path)["tensors"]
    assert [t["role"] for t in tensors if t["shape"] == [4]] == ["vector"]
