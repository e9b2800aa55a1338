"""Checkpoints stored in bfloat16, float16, int8 and float8, in every PyTorch container and
in safetensors, against what PyTorch reads back from them.

Truth comes from ``scripts/make_dtype_fixtures.py``: for each tensor torch's dtype, shape,
``nbytes``, min, max and values as ``tensor.float()``, which these dtypes reach exactly, so
the comparisons are exact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, cli, cli_json, load_truth, run
from cnninspect.core import dtypes
from cnninspect.loaders import open_model

DT = FIXTURES / "torch" / "dtypes"
ST = FIXTURES / "safetensors"
FAMILIES = ["bfloat16", "float16", "int8", "float8"]
TORCH_FILES = [
    pytest.param(family, file, id=file)
    for family in FAMILIES
    for file in load_truth(DT / f"{family}.truth.json")["files"]
]
ST_FILES = ["small_cnn_f16", "small_cnn_f8_e4m3", "small_cnn_f8_e5m2", "small_cnn_bf16", "every_bit_pattern"]


def _values(w, index: tuple = ()) -> np.ndarray:  # noqa: ANN001
    return np.asarray(w.read(index), dtype=np.float64)


@pytest.mark.parametrize("family, file", TORCH_FILES)
def test_torch_tensors_read_as_torch_reads_them(family: str, file: str) -> None:
    truth = load_truth(DT / f"{family}.truth.json")["tensors"]
    with open_model(DT / file) as model:
        weights = {w.name: w for w in model.weights()}
        assert sorted(weights) == sorted(truth)
        for name, t in truth.items():
            w = weights[name]
            assert (w.dtype, list(w.shape), w.nbytes) == (t["dtype"], t["shape"], t["nbytes"]), name
            flat = _values(w).reshape(-1)
            np.testing.assert_array_equal(flat[:8], t["first"], err_msg=name)
            np.testing.assert_array_equal(flat[-8:], t["last"], err_msg=name)
            if "slice" in t:
                np.testing.assert_array_equal(_values(w, (t["slice"]["out"],)), t["slice"]["values"], err_msg=name)


@pytest.mark.parametrize("family, file", TORCH_FILES)
def test_every_command_opens_torch_files(family: str, file: str) -> None:
    truth = load_truth(DT / f"{family}.truth.json")["tensors"]
    path = DT / file
    shapes = cli_json("shapes", path)
    assert shapes["totals"]["bytes"] == sum(t["nbytes"] for t in truth.values())
    assert cli("shapes", path).exit_code == 0 and cli("weights", path).exit_code == 0
    report = cli_json("weights", path, "--stats")
    for entry in report["tensors"]:
        t, stats = truth[entry["path"]], entry["stats"]
        assert (entry["dtype"], entry["bytes"]) == (t["dtype"], t["nbytes"])
        assert (stats["min"], stats["max"]) == (t["min"], t["max"]), entry["path"]
    _filters_match(path, "features.3.weight", truth["features.3.weight"]["slice"])


@pytest.mark.parametrize("family, file", [p for p in TORCH_FILES if p.values[1].endswith("_state.pt")])
def test_a_user_opens_them(family: str, file: str) -> None:
    """As a command in its own process, where no library has taught NumPy other dtypes."""
    result = run("weights", DT / file, "--stats", "--json")
    assert result.returncode == 0, result.stderr
    truth = load_truth(DT / f"{family}.truth.json")["tensors"]
    for entry in json.loads(result.stdout)["tensors"]:
        t = truth[entry["path"]]
        assert (entry["dtype"], entry["bytes"], entry["stats"]["min"], entry["stats"]["max"]) == (
            t["dtype"], t["nbytes"], t["min"], t["max"]
        )  # fmt: skip


def _filters_match(path: Path, weight: str, truth: dict) -> None:
    """``filters`` on the layer holding ``weight``, for torch's last output map."""
    rows = cli_json("shapes", path)["layers"]
    index = next(row["index"] for row in rows if weight in [w["name"] for w in row["weights"]])
    report = cli_json("filters", path, "--layer", str(index), "--out", str(truth["out"]))
    assert cli("filters", path, "--layer", str(index), "--out", str(truth["out"])).exit_code == 0
    got = [entry["filter"] for entry in report["inputs"]]
    np.testing.assert_array_equal(np.array(got, dtype=np.float64), truth["values"])


@pytest.mark.parametrize("name", ST_FILES)
def test_every_command_opens_safetensors_files(name: str) -> None:
    path = ST / f"{name}.safetensors"
    truth = load_truth(ST / f"{name}.truth.json")
    for command in (["shapes"], ["weights"], ["weights", "--stats"]):
        result = cli(*command, path)
        assert result.exit_code == 0, result.stderr
    report = cli_json("weights", path, "--stats")
    assert [t["stats"] for t in report["tensors"] if "error" in t["stats"]] == []
    if "nbytes" in next(iter(truth.values())):
        assert {t["path"]: t["bytes"] for t in report["tensors"]} == {k: v["nbytes"] for k, v in truth.items()}
    if name.startswith("small_cnn"):  # the last conv's last output map (test_safetensors checks reads)
        conv = "features.3.weight" if "features.3.weight" in truth else "3.weight"
        with open_model(path) as model:
            full = _values(next(w for w in model.weights() if w.name == conv))
        _filters_match(path, conv, {"out": full.shape[0] - 1, "values": full[-1].tolist()})


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "bfloat16"])
def test_every_bit_pattern_widens_as_torch_widens_it(name: str) -> None:
    """Each float8 variant's 256 bytes, and every 64th of bfloat16's 65,536 patterns
    (infinities and NaNs among them), against torch's ``.float()``."""
    truth = load_truth(ST / "every_bit_pattern.truth.json")[name]
    with open_model(ST / "every_bit_pattern.safetensors") as model:
        w = next(w for w in model.weights() if w.name == name)
        assert (w.dtype, list(w.shape)) == (truth["dtype"], truth["shape"])
        values = w.read((slice(None, None, truth["step"]),))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.array(truth["values"], dtype=np.float32))


def test_every_spelling_names_one_dtype() -> None:
    """Each library's spelling of bfloat16, float16 and int8 reaches the same DType."""
    spellings = {
        "bfloat16": [dtypes.from_torch("BFloat16Storage"), dtypes.from_torch("bfloat16"), dtypes.from_safetensors("BF16"),
                     dtypes.from_tflite(18), dtypes.from_onnx(16), dtypes.lookup("bfloat16")],
        "float16": [dtypes.from_torch("HalfStorage"), dtypes.from_torch("half"), dtypes.from_safetensors("F16"),
                    dtypes.from_tflite(1), dtypes.from_onnx(10), dtypes.from_numpy("<f2"), dtypes.from_numpy(np.float16)],
        "int8": [dtypes.from_torch("CharStorage"), dtypes.from_torch("int8"), dtypes.from_safetensors("I8"),
                 dtypes.from_tflite(9), dtypes.from_onnx(3), dtypes.from_numpy("|i1")],
    }  # fmt: skip
    for name, found in spellings.items():
        assert {d.name for d in found} == {name}
        assert len({d for d in found}) == 1
    for bad in (lambda: dtypes.from_safetensors("Q7"), lambda: dtypes.from_onnx(0), lambda: dtypes.lookup("nonsense")):
        with pytest.raises(KeyError):
            bad()


@pytest.mark.parametrize("name", ["float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
                                  "uint32", "int64", "uint64", "complex64", "complex128", "bool", "<f4", ">i2",
                                  "object", "<U5"])  # fmt: skip
def test_item_sizes_agree_with_numpy(name: str) -> None:
    assert dtypes.itemsize(name) == np.dtype(name).itemsize


def test_sizes_of_dtypes_numpy_lacks_without_importing_it() -> None:
    code = (
        "import sys; from cnninspect.core import dtypes as d; "
        "print([d.itemsize(n) for n in ('bfloat16', 'float8_e4m3fn', 'float16', 'int8')], d.nbytes('int4', 3)); "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["[2, 1, 2, 1] 2", "False"]
    assert json.loads(json.dumps(dtypes.lookup("bfloat16").read_as)) == "float32"
