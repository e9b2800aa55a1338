"""``filters --in I``: the output maps one input map feeds, against the arrays Keras itself
returned (``get_weights()``, in ``M.weights.npz``) and PyTorch's own slices, and against
the forward view: ``F[i, N]`` from ``--out N`` is the entry ``N`` of ``--in i``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, SAMPLES, TRUTH_FILES, cli, cli_json, load_truth, truth_id
from test_filters_truth import FILTER_CLASSES, _arrays, _groups

from cnninspect.core.connections import filter_weight, out_maps
from cnninspect.loaders import open_model
from cnninspect.reports.filters import feeds_report, filters_report


def _cases() -> list:
    cases = []
    for path in TRUTH_FILES:
        for layer in load_truth(path)["layers"]:
            if layer["class_name"] in FILTER_CLASSES and layer["weights"]:
                cases.append(pytest.param(path, layer, id=f"{truth_id(path)}:{layer['path']}"))
    return cases


def _expected(cls: str, arrays: dict[str, np.ndarray], groups: int, i: int) -> list[tuple[int, np.ndarray]]:
    """(output map, filter) pairs input map ``i`` feeds, by Keras' documented layouts:
    conv (*k, in/groups, out); transposed (*k, out, in); depthwise (*k, in, mult);
    dense (in, out). Separable is checked apart (its entries go through D[j])."""
    kernel = arrays["kernel"]
    if cls.startswith("Depthwise"):
        m = kernel.shape[-1]
        return [(i * m + k, kernel[..., i, k]) for k in range(m)]
    if cls.endswith("Transpose"):
        return [(n, kernel[..., n, i]) for n in range(kernel.shape[-2])]
    per_group_in, n_out = kernel.shape[-2], kernel.shape[-1]
    group, k = divmod(i, per_group_in)
    per_group_out = n_out // groups
    return [(n, kernel[..., k, n]) for n in range(group * per_group_out, (group + 1) * per_group_out)]


def _in_maps(cls: str, arrays: dict[str, np.ndarray], groups: int) -> int:
    if cls.startswith("Separable"):
        return arrays["depthwise_kernel"].shape[-2]
    kernel = arrays["kernel"]
    if cls.startswith("Depthwise"):
        return kernel.shape[-2]
    if cls.endswith("Transpose"):
        return kernel.shape[-1]
    return kernel.shape[-2] * groups


@pytest.mark.parametrize("path,layer", _cases())
def test_feeds_match_keras_arrays(path: Path, layer: dict) -> None:
    truth = load_truth(path)
    arrays = _arrays(path, layer)
    cls = layer["class_name"]
    groups = _groups(path, layer)
    n_in = _in_maps(cls, arrays, groups)
    for i in sorted({0, n_in // 2, n_in - 1}):
        report = cli_json("filters", path.with_name(truth["file"]), "--layer", layer["path"], "--in", str(i))
        assert report["schema"] == "cnninspect.feeds/1"
        assert (report["in"], report["in_maps"]) == (i, n_in)
        if cls.startswith("Separable"):
            dw = arrays["depthwise_kernel"]
            m = dw.shape[-1]
            pointwise = arrays["pointwise_kernel"].reshape(dw.shape[-2] * m, -1)
            expected = [(n, i * m + k, dw[..., i, k], pointwise[i * m + k, n]) for k in range(m) for n in range(pointwise.shape[1])]
            assert [(e["out"], e["via"]) for e in report["outputs"]] == [(n, j) for n, j, _, _ in expected]
            for entry, (_, _, values, p) in zip(report["outputs"], expected):
                np.testing.assert_array_equal(np.asarray(entry["filter"], dtype=values.dtype), values)
                assert entry["pointwise"] == pytest.approx(float(p))
            continue
        expected_pairs = _expected(cls, arrays, groups, i)
        assert [e["out"] for e in report["outputs"]] == [n for n, _ in expected_pairs]
        for entry, (_, values) in zip(report["outputs"], expected_pairs):
            np.testing.assert_array_equal(np.asarray(entry["filter"], dtype=values.dtype), values)
            assert entry["l1"] == pytest.approx(float(np.abs(values.astype(np.float64)).sum()))
        assert [e["out"] for e in report["ranking"]] == [e["out"] for e in sorted(report["outputs"], key=lambda e: -e["l1"])]


def test_native_slice_in_keras_layout() -> None:
    report = cli_json("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", "--in", "3")
    assert report["native_slice"] == "kernel[:, :, 3, :]"
    assert [e["out"] for e in report["outputs"]] == list(range(32))


TORCH = FIXTURES / "torch"


@pytest.mark.parametrize("name", ["small_cnn", "mixed", "grouped_transpose"])
def test_feeds_give_pytorchs_own_slices(name: str) -> None:
    """PyTorch's truth holds ``F[:, N]`` for one N: entry N of ``--in i`` is its row i."""
    truth = load_truth(TORCH / f"{name}.truth.json")
    file = TORCH / f"{name}_module.pt"
    rows = {row["path"]: row["index"] for row in cli_json("shapes", file)["layers"]}
    for path, s in truth["slices"].items():
        shape = truth["state_dict"][path.replace("/", ".") + ".weight"]["shape"]
        transposed = truth["modules"][path].startswith("ConvTranspose")
        linear = truth["modules"][path] == "Linear"
        n, groups = s["out"], s["groups"]
        if transposed:  # (in, out/groups, ...)
            first = (n // shape[1]) * (shape[0] // groups)
            values = np.asarray(s["values"])
        else:  # (out, in/groups, ...)
            first = (n // (shape[0] // groups)) * shape[1]
            values = np.asarray(s["values"])
        for k in sorted({0, len(values) - 1}):
            report = cli_json("filters", file, "--layer", f"#{rows[path]}", "--in", str(first + k))
            entry = next(e for e in report["outputs"] if e["out"] == n)
            np.testing.assert_allclose(np.asarray(entry["filter"]), values[k], rtol=1e-6)
            if groups > 1:
                assert f"({groups} groups)" in " ".join(report["notes"])
            if linear:
                assert report["native_slice"] == f"weight[:, {first + k}]"


def _filter_layer_files() -> list[Path]:
    files = [SAMPLES / "mnist_cnn.h5", TORCH / "mixed_module.pt", TORCH / "grouped_transpose_module.pt"]
    files += [TORCH / "small_cnn_module.pt", FIXTURES / "keras3" / "depthwise_separable.keras"]
    files += [FIXTURES / "tfkeras" / "convs.h5", FIXTURES / "keras3" / "convs.h5"]
    files += [FIXTURES / "onnx" / f"{n}.onnx" for n in ("blocks_latest", "cnn_opset9", "nhwc_opset11", "old_ir3")] + sorted((FIXTURES / "tflite").glob("small_*.tflite"))
    files += [FIXTURES / "legacy" / "keras1_2_seq_th.h5", FIXTURES / "legacy" / "keras2_theano.h5"]
    return files


@pytest.mark.parametrize("file", _filter_layer_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_forward_and_reverse_views_agree(file: Path) -> None:
    """Every connection the forward view lists is in the reverse view, with the same
    filter and norms, and nothing else is: the two views are one relation."""
    with open_model(file) as model:
        rows = [r for r in model.rows() if filter_weight(r.layer) is not None]
        assert rows
        for row in rows:
            n_out = out_maps(row.layer)
            forward = set()
            for n in sorted({0, n_out // 2, n_out - 1}):
                inputs = filters_report(model, row, n)["inputs"]
                forward |= {(e["in"], n, e.get("via")) for e in inputs}
                for e in [inputs[k] for k in sorted({0, 1, len(inputs) // 2, len(inputs) - 1}) if k < len(inputs)]:
                    reverse = feeds_report(model, row, e["in"])
                    match = [x for x in reverse["outputs"] if x["out"] == n and x.get("via") == e.get("via")]
                    assert len(match) == 1, (file, row.path, e["in"], n)
                    assert match[0]["filter"] == e["filter"]
                    assert match[0]["l1"] == pytest.approx(e["l1"])
            ins = sorted({i for i, _, _ in forward})
            for i in sorted({ins[0], ins[len(ins) // 2], ins[-1]}):
                back = {(i, x["out"], x.get("via")) for x in feeds_report(model, row, i)["outputs"] if x["out"] < n_out}
                assert {c for c in back if c[1] in {0, n_out // 2, n_out - 1}} == {c for c in forward if c[0] == i}


def test_exactly_one_of_out_and_in() -> None:
    for extra in ([], ["--out", "1", "--in", "1"]):
        result = cli("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", *extra)
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and "--in" in result.stderr and "--out" in result.stderr


def test_bad_input_map_lists_the_range() -> None:
    result = cli("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", "--in", "32")
    assert result.exit_code == 6
    assert "32 input maps (0-31)" in result.stderr


def test_reverse_view_renders_the_outputs() -> None:
    result = cli("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", "--in", "3", "--top", "2", env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    report = json.loads(cli("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", "--in", "3", "--json").stdout)
    assert report["equation"] in result.stdout
    best = report["ranking"][0]["out"]
    assert f"out[{best}]" in result.stdout
    strongest = next(e for e in report["outputs"] if e["out"] == best)
    assert f"{strongest['filter'][0][0]:+.3f}" in result.stdout


def test_png_draws_the_forward_view_only(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    result = cli("filters", SAMPLES / "mnist_cnn.h5", "--layer", "2", "--in", "3", "--png", target)
    assert result.exit_code == 2 and "--png" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_dequantize_in_the_reverse_view_agrees_with_the_forward_view() -> None:
    """Input map i's entry N equals output map N's entry i, both as real values."""
    path = FIXTURES / "tflite" / "small_int8.tflite"
    feeds = cli_json("filters", path, "--layer", "2", "--in", "1", "--dequantize")
    assert any("--dequantize" in note for note in feeds["notes"])
    for entry in feeds["outputs"]:
        forward = cli_json("filters", path, "--layer", "2", "--out", str(entry["out"]), "--dequantize")
        mine = next(e for e in forward["inputs"] if e["in"] == 1)
        np.testing.assert_allclose(np.asarray(entry["filter"]), np.asarray(mine["filter"]), rtol=1e-6)
        real = np.asarray(mine["filter"])
        assert np.abs(real - np.round(real)).max() > 0  # real values, not the stored integers
