"""The safetensors loader against files the safetensors library wrote.

Truth comes from outside cnninspect: ``scripts/make_safetensors_fixtures.py`` recorded
what ``safetensors.torch.load_file`` / ``safetensors.numpy.load_file`` returned for each
fixture (names, dtypes, shapes, first and last values). Hostile headers are written here
byte by byte, as the format describes them.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json, load_truth
from cnninspect.loaders import open_model

ST = FIXTURES / "safetensors"
NAMES = ["small_cnn", "small_cnn_bf16", "numpy_arrays", "small_cnn_f16", "small_cnn_f8_e4m3", "small_cnn_f8_e5m2"]


def _fails(result, status: int, *words: str) -> None:
    assert result.exit_code == status, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _write(path: Path, header: dict, data: bytes, length: int | None = None) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


@pytest.mark.parametrize("name", NAMES)
def test_names_dtypes_shapes_and_values_match_the_library(name: str) -> None:
    truth = load_truth(ST / f"{name}.truth.json")
    with open_model(ST / f"{name}.safetensors") as model:
        assert model.source.format == "safetensors" and model.architecture is False
        weights = {w.name: w for w in model.weights()}
        assert sorted(weights) == sorted(truth)
        for key, t in truth.items():
            w = weights[key]
            assert (w.dtype, list(w.shape)) == (t["dtype"], t["shape"]), key
            values = np.asarray(w.read(()), dtype=np.float64).reshape(-1)
            np.testing.assert_array_equal(values[:5], t["first"])
            np.testing.assert_array_equal(values[-5:] if values.size else values, t["last"])


def test_layers_from_dotted_prefixes_in_torch_layout() -> None:
    with open_model(ST / "small_cnn.safetensors") as model:
        layers = model.graph.layers
        assert [(x.name, x.type) for x in layers] == [
            ("0", "Conv2D"), ("1", "BatchNormalization"), ("3", "Conv2D"), ("6", "Dense")
        ]  # fmt: skip
        assert layers[0].weight("weight").layout.code == "OIHW"
        assert layers[3].weight("weight").layout.code == "OI"
        assert [w.trainable for w in layers[1].weights] == [True, False, False, False, True]
        assert model.source.library == "pytorch"
        assert "metadata: format=pt" in model.notes
    with open_model(ST / "numpy_arrays.safetensors") as model:
        assert [x.name for x in model.graph.layers] == ["empty", "encoder.conv", "head"]


def test_bf16_is_listed_as_bfloat16_and_widened_on_read() -> None:
    report = cli_json("shapes", ST / "small_cnn_bf16.safetensors")
    conv = report["layers"][0]["weights"]
    assert {w["dtype"] for w in conv} == {"bfloat16"}
    assert report["totals"]["bytes"] == sum(2 * np.prod(t["shape"]) if t["dtype"] == "bfloat16" else 8
                                            for t in load_truth(ST / "small_cnn_bf16.truth.json").values())
    with open_model(ST / "small_cnn_bf16.safetensors") as model:
        w = model.graph.layer("3").weight("weight")
        assert w.read((1, 2)).dtype == np.float32 and w.read((1, 2)).shape == (3, 3)
    stats = cli_json("weights", ST / "small_cnn_bf16.safetensors", "--stats")
    assert [t["stats"] for t in stats["tensors"] if "error" in t["stats"]] == []


@pytest.mark.parametrize("out", [0, 5, 15])
def test_filters_slice_the_oihw_weight(out: int) -> None:
    """Conv '3' (row 2: a digit names a row) has 16 outputs over 4 input maps (groups=2,
    which the file cannot tell)."""
    with open_model(ST / "small_cnn.safetensors") as model:
        full = model.graph.layer("3").weight("weight").read(())
    truth = load_truth(ST / "small_cnn.truth.json")["3.weight"]
    np.testing.assert_array_equal(full.reshape(-1)[:5].astype(np.float64), truth["first"])
    report = cli_json("filters", ST / "small_cnn.safetensors", "--layer", "2", "--out", str(out))
    assert report["layer"]["name"] == "3"
    assert report["native_slice"] == f"weight[{out}]"
    assert len(report["inputs"]) == 4
    for i, entry in enumerate(report["inputs"]):
        np.testing.assert_array_equal(np.array(entry["filter"], dtype=np.float32), full[out, i])


def test_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes((ST / "small_cnn.safetensors").read_bytes())
    assert cli_json("shapes", path)["source"]["format"] == "safetensors"


F32 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}


@pytest.mark.parametrize(
    "header, data, length, words",
    [
        ({"a": F32}, bytes(16), 10**9, ["header claims 1,000,000,000 bytes", "truncated"]),
        ({"a": F32, "b": {**F32, "data_offsets": [8, 24]}}, bytes(24), None, ["'a' and 'b' overlap"]),
        ({"a": {"dtype": "F32", "shape": [10**8, 10**8], "data_offsets": [0, 16]}}, bytes(16), None,
         ["'a'", "lying header"]),
        ({"a": {**F32, "shape": [2, 3]}}, bytes(16), None, ["'a'", "(2, 3)", "24 bytes"]),
        ({"a": {**F32, "dtype": "Q7"}}, bytes(16), None, ["unknown dtype 'Q7'"]),
        ({"a": {**F32, "shape": [2, -2]}}, bytes(16), None, ["invalid shape"]),
        ({"a": {**F32, "data_offsets": [0, 32]}}, bytes(16), None, ["16-byte data section"]),
    ],
    ids=["length-beyond-file", "overlap", "petabytes", "size-mismatch", "dtype", "negative", "past-end"],
)
def test_hostile_headers_exit_5_fast(tmp_path: Path, header: dict, data: bytes, length, words: list) -> None:
    path = _write(tmp_path / "hostile.safetensors", header, data, length)
    start = time.perf_counter()
    _fails(cli("shapes", path), 5, *words)
    assert time.perf_counter() - start < 2


def test_invalid_json_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 12) + b'{"a": [1, 2' + b"\0")
    _fails(cli("shapes", path), 5, "not valid JSON")


def test_empty_header_is_an_empty_model(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.safetensors", {"__metadata__": {"note": "nothing"}}, b"")
    report = cli_json("shapes", path)
    assert report["layers"] == [] and "metadata: note=nothing" in report["notes"]


def test_shapes_json_reads_the_header_without_numpy() -> None:
    """Listing shapes needs only the JSON header: NumPy (a large share of a small
    command's time) is imported only to read values."""
    import subprocess
    import sys

    path = ST / "small_cnn.safetensors"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnninspect", "shapes", str(path), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-500:]
    assert json.loads(result.stdout)["totals"]["bytes"] == sum(
        a.nbytes for a in _library_arrays("small_cnn").values()
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "numpy" not in imported


def _library_arrays(name: str) -> dict:
    """Each tensor as a NumPy array of the dtype and shape the library recorded."""
    return {k: np.empty(v["shape"], v["dtype"]) for k, v in load_truth(ST / f"{name}.truth.json").items()}
