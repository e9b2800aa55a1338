"""``weights``: exactly the stored tensors, and statistics checked against NumPy on the
library's own arrays; ``filters --as-correlation`` against np.flip of the stored data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from cnninspect.loaders import open_model
from cnninspect.reports import weights as weights_module
from cnninspect.reports.weights import weights_report

from conftest import FIXTURES, SAMPLES, TRUTH_FILES, cli, cli_json, load_truth, truth_id
from conftest import run as run_cli

FULL_MODELS = [p.with_name(load_truth(p)["file"]) for p in TRUTH_FILES] + sorted((FIXTURES / "legacy").glob("keras*.h5"))


def _stored(path: Path) -> dict[str, tuple]:
    """Every weight dataset the file's own attributes list, walked with h5py."""
    out = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        names = [n for key in root.attrs if key.startswith("layer_names") for n in np.atleast_1d(root.attrs[key])]
        for layer in names:
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            group = root[layer] if layer in root else None
            if group is None:
                continue
            listed = [n for key in group.attrs if key.startswith("weight_names") for n in np.atleast_1d(group.attrs[key])]
            for name in listed:
                if isinstance(name, (bytes, str)):
                    name = name.decode() if isinstance(name, bytes) else name
                    out[group[name].name.lstrip("/")] = group[name].shape
    return out


@pytest.mark.parametrize("path", FULL_MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lists_exactly_the_stored_tensors(path: Path) -> None:
    report = cli_json("weights", path)
    assert report["schema"] == "cnninspect.weights/1"
    assert {t["path"]: tuple(t["shape"]) for t in report["tensors"]} == _stored(path)
    for t in report["tensors"]:
        assert set(t) >= {"path", "layer", "role", "shape", "axes", "layout", "dtype", "bytes"}
        assert t["bytes"] == int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize


@pytest.mark.parametrize("truth_path", [p for p in TRUTH_FILES if p.parent.name == "keras3"], ids=truth_id)
def test_stats_match_numpy_on_the_library_arrays(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    arrays = np.load(truth_path.with_name(truth_path.name.replace(".truth.json", ".weights.npz")))
    report = cli_json("weights", truth_path.with_name(truth["file"]), "--stats")
    by_layer: dict[str, list] = {}
    for t in report["tensors"]:
        by_layer.setdefault(t["layer"], []).append(t)
    for layer in truth["layers"]:
        if any(o["path"].startswith(layer["path"] + "/") for o in truth["layers"]):
            continue
        for i, w in enumerate(layer["weights"]):
            values = arrays[f"{layer['path']}::{i}"].astype(np.float64)
            ours = next(t for t in by_layer[layer["path"]] if t["path"].endswith(w["name"]))["stats"]
            assert ours["min"] == pytest.approx(values.min()) and ours["max"] == pytest.approx(values.max())
            assert ours["mean"] == pytest.approx(values.mean(), abs=1e-9)
            assert ours["std"] == pytest.approx(values.std(), rel=1e-6, abs=1e-9)
            assert ours["zero_fraction"] == pytest.approx((values == 0).mean())
            assert ours["nan"] == 0 and ours["inf"] == 0


def test_dead_filters_nan_and_inf(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    shutil.copy(SAMPLES / "mnist_cnn.h5", path)
    with h5py.File(path, "r+") as f:
        kernel = f["model_weights/conv2d_1/sequential/conv2d_1/kernel"]
        data = kernel[()]
        data[..., 3] = 0
        data[..., 17] = 0
        data[0, 0, 0, 5] = np.nan
        data[0, 0, 1, 5] = np.inf
        kernel[...] = data
    report = cli_json("weights", path, "--stats")
    stats = next(t for t in report["tensors"] if t["path"].endswith("conv2d_1/kernel"))["stats"]
    assert stats["dead_filters"] == [3, 17]
    assert stats["nan"] == 1 and stats["inf"] == 1
    assert stats["zero_fraction"] == pytest.approx(2 * 3 * 3 * 32 / data.size)
    table = cli("weights", path, "--stats")
    assert "dead filters" in table.stdout and "[3, 17]" in table.stdout


def test_stats_stream_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny chunks must give the same numbers as one pass, and never read more at once."""
    with open_model(SAMPLES / "mnist_cnn.h5") as model:
        whole = weights_report(model, model.rows(), stats=True)
        reads: list[int] = []
        monkeypatch.setattr(weights_module, "CHUNK_BYTES", 4096)
        chunked = weights_report(model, model.rows(), stats=True, progress=reads.append)
    for a, b in zip(whole["tensors"], chunked["tensors"]):
        for key in ("min", "max", "zero_fraction", "nan", "inf", "dead_filters"):
            assert a["stats"][key] == b["stats"][key]
        assert a["stats"]["mean"] == pytest.approx(b["stats"]["mean"], abs=1e-12)
        assert a["stats"]["std"] == pytest.approx(b["stats"]["std"], rel=1e-9)
    widest_row = max(t["bytes"] // t["shape"][0] for t in whole["tensors"])
    assert max(reads) <= max(4096, widest_row)  # a chunk is whole rows, at most 4096 bytes of them
    assert sum(reads) == sum(t["bytes"] for t in whole["tensors"])


def test_layer_filter() -> None:
    report = cli_json("weights", FIXTURES / "keras3" / "nested.h5", "--layer", "block_fn")
    assert {t["layer"] for t in report["tensors"]} == {"block_fn/conv2d_1", "block_fn/sequential/dense"}


def test_as_correlation_flips_the_stored_kernel() -> None:
    path = FIXTURES / "legacy" / "keras2_theano.h5"
    stored = cli_json("filters", path, "--layer", "conv2d_2", "--out", "1")
    flipped = cli_json("filters", path, "--layer", "conv2d_2", "--out", "1", "--as-correlation")
    with h5py.File(path, "r") as f:
        kernel = f["model_weights/conv2d_2/conv2d_2/conv2d_2/kernel"][()]
    for a, b in zip(stored["inputs"], flipped["inputs"]):
        assert a["filter"] == kernel[:, :, a["in"], 1].tolist()
        assert b["filter"] == np.flip(kernel[:, :, a["in"], 1]).tolist()
    assert "⋆" in flipped["equation"] and flipped["as_correlation"] is True
    plain = cli_json("filters", SAMPLES / "mnist_cnn.h5", "--layer", "1", "--out", "0", "--as-correlation")
    assert plain["as_correlation"] is False and any("already" in n for n in plain["notes"])


def test_dataset_claiming_terabytes_is_refused_not_read(tmp_path: Path) -> None:
    """A hostile header: the dense kernel claims 4 TB (chunked, nothing stored)."""
    path = tmp_path / "bomb.h5"
    shutil.copy(SAMPLES / "mnist_cnn.h5", path)
    with h5py.File(path, "r+") as f:
        name = "model_weights/dense/sequential/dense/kernel"
        del f[name]
        f.create_dataset(name, shape=(6272, 160_000_000), dtype="float32", chunks=(64, 1024), compression="gzip")
    shown = cli("shapes", path, "--json")  # metadata only: shown whole, and the kernel contradicts units=64
    assert shown.exit_code == 5 and json.loads(shown.stdout)["totals"]["params"] > 10**12
    result = run_cli("filters", path, "--layer", "dense", "--out", "3", timeout=20)
    assert result.returncode == 5 and "refused" in result.stderr, result.stderr
    # --stats reports the tensor it refused and reads every other one.
    result = run_cli("weights", path, "--stats", "--json", timeout=20)
    assert result.returncode == 0 and result.stderr == ""
    stats = {t["path"]: t["stats"] for t in json.loads(result.stdout)["tensors"]}
    assert "refused" in stats["model_weights/dense/sequential/dense/kernel"]["error"]
    assert sum("error" in s for s in stats.values()) == 1


def test_contiguous_dataset_shorter_than_its_header(tmp_path: Path) -> None:
    path = tmp_path / "short.h5"
    shutil.copy(SAMPLES / "mnist_cnn.h5", path)
    with h5py.File(path, "r+") as f:
        ds = f["model_weights/dense_1/sequential/dense_1/kernel"]
        offset, size = ds.id.get_offset(), ds.id.get_storage_size()
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: offset + size // 2]))  # cut the file inside the kernel
    result = run_cli("weights", path, "--stats")
    assert result.returncode in (0, 5) and "Traceback" not in result.stderr, result.stderr
    result = run_cli("filters", path, "--layer", "dense_1", "--out", "0")
    assert result.returncode == 5 and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("columns", ["80", "100", "120"])
def test_stats_table_never_cuts_a_number(columns: str) -> None:
    """Too narrow for one table, the statistics get their own: no cell is cut short."""
    path = FIXTURES / "torch" / "mixed_module.pt"
    report = cli_json("weights", path, "--stats")
    text = cli("weights", path, "--stats", env={"COLUMNS": columns}).stdout
    assert "…" not in text
    for t in report["tensors"]:
        assert t["role"] in text and f"{t['stats']['std']:.3g}" in text
    assert max(len(line) for line in text.splitlines()) <= int(columns)
