"""``filters --input``: the equation computed live (reports/filters.py ``live_filters_report``).

The truth is each library's own output of the layer on the same input
(tests/fixtures/forward/<family>/<model>.activations.{json,zip}, written by
scripts/make_forward_fixtures.py, and sample_models/digits/7.activations.json for the
bundled digits model): for every output map ``n``, the report's per-input-map
contributions, summed with the bias and put through the activation, must give the
library's map ``n`` (relative 1e-4, float32); the self-check, the same sum against the
executor's own output of the layer, must be at float32 round-off. The per-channel kernel
``conv_contributions`` itself is checked against Keras' conv of one input channel with the
kernel slice in tests/test_forward_kernels.py.

Worst relative differences seen, against the library (over the output's scale) and in the
self-check (over the terms' magnitude): conv 1.1e-7 / 2.9e-7 (keras3/mnist_cnn conv2d_1),
Dense after Flatten 5.3e-7 / 2.9e-6 (its 6272 terms), grouped conv 7.5e-8 / 6e-8 (torch
mixed), depthwise 0 / 9.5e-8, Linear after Flatten 1e-7 / 2.9e-8 (torch small_cnn).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cnninspect.cli import app
from cnninspect.loaders import open_model
from cnninspect.reports.activations import prepare_inputs
from cnninspect.reports.filters import live_filters_report

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "tests" / "fixtures" / "forward"
ROUND_OFF = 1e-5  # the self-check, relative to the output's scale
TOLERANCE = 1e-4  # against the library, relative


def _row(model: Any, path: str) -> Any:
    return next(r for r in model.rows() if r.path == path)


def _prepared(model: Any, xs: list[np.ndarray], tmp_path: Path) -> Any:
    """The arrays (sample 0 of each) as ``--input`` takes them: saved as .npy."""
    specs = []
    for k, x in enumerate(xs):
        specs.append(str(tmp_path / f"input{k}.npy"))
        np.save(specs[-1], x[:1])
    return prepare_inputs(model, specs, [(None, *x.shape[1:]) for x in xs], "unit", "float32")


def _live_layer(source: Path, path: str, xs: list[np.ndarray], tmp_path: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Every output map of layer ``path`` as the live equation computes it, stacked on
    the channel axis of the layer's output (last for channels-last layers), for sample 0."""
    maps, reports = [], []
    with open_model(source) as model:
        row = _row(model, path)
        prepared = _prepared(model, xs, tmp_path)
        last = bool(row.layer.attrs.get("channels_last", True)) or row.layer.op == "dense"
        n_out = live_filters_report(model, row, 0, prepared)[0]["out_maps"]
        for n in range(n_out):
            report, live = live_filters_report(model, row, n, prepared)
            reports.append(report)
            maps.append(live.output)
    return np.stack(maps, axis=-1 if last else 0), reports


def _library(family: str, name: str, path: str) -> tuple[Path, list[np.ndarray], dict[str, Any], Any]:
    doc = json.loads((TRUTH / family / f"{name}.activations.json").read_text())
    arrays = np.load(TRUTH / family / f"{name}.activations.zip")
    i, entry = next((i, e) for i, e in enumerate(doc["outputs"]) if e["path"] == path and e["call"] == 0)
    inputs = [arrays[f"input/{k}"] for k in range(len(doc["inputs"]))]
    return ROOT / doc["source"], inputs, entry, arrays[str(i)] if entry["full"] else None


def _check_against(ours: np.ndarray, entry: dict[str, Any], full: Any) -> float:
    """The largest difference from the library's sample-0 output over its scale."""
    scale = max(1.0, abs(entry["stats"]["min"]), abs(entry["stats"]["max"]))
    if full is not None:
        return float(np.abs(ours.astype(np.float64) - full[0]).max()) / scale
    shape = entry["shape"]
    per_sample = int(np.prod(shape[1:]))
    flat = np.asarray(entry["samples"]["flat_index"])
    first = flat < per_sample  # the samples that fall in sample 0
    assert first.any()
    want = np.asarray(entry["samples"]["value"], dtype=np.float64)[first]
    return float(np.abs(ours.reshape(-1)[flat[first]] - want).max()) / scale


CASES = [
    ("keras3", "mnist_cnn", "conv2d_1"),  # a conv with a ReLU
    ("keras3", "mnist_cnn", "dense"),  # a Dense after Flatten (channels-last units)
    ("keras3", "mnist_cnn", "dense_1"),  # softmax: the whole vector
    ("torch", "mixed", "3"),  # a grouped conv (6 groups, PyTorch)
    ("keras3", "depthwise_separable", "depthwise_conv2d_1"),  # a depthwise conv
    ("keras3", "depthwise_separable", "depthwise_conv1d"),  # a depthwise conv, 1-D
    ("torch", "small_cnn", "classifier/1"),  # a Linear after Flatten (channels-first units)
]


@pytest.mark.parametrize("family,name,path", CASES, ids=[f"{f}/{m}/{p}" for f, m, p in CASES])
def test_the_sum_of_contributions_is_the_library_output(family: str, name: str, path: str, tmp_path: Path) -> None:
    source, x, entry, full = _library(family, name, path)
    ours, reports = _live_layer(source, path, x, tmp_path)
    assert list(ours.shape) == entry["shape"][1:]
    assert _check_against(ours, entry, full) < TOLERANCE
    for report in reports:
        assert report["self_check"]["relative"] < ROUND_OFF
        sums = sorted(e["l2"] for e in report["contributions"])
        assert [e["l2"] for e in report["contributions"]] == sums[::-1]  # ranked by L2


def test_a_grouped_conv_takes_only_its_group_inputs(tmp_path: Path) -> None:
    source, x, _, _ = _library("torch", "mixed", "3")
    _, reports = _live_layer(source, "3", x, tmp_path)
    assert [[e["in"] for e in r["contributions"]] for r in reports] == [[n] for n in range(6)]


def test_a_dense_after_flatten_gives_one_contribution_per_map(tmp_path: Path) -> None:
    source, x, _, _ = _library("keras3", "mnist_cnn", "dense")
    with open_model(source) as model:
        prepared = _prepared(model, x, tmp_path)
        report, live = live_filters_report(model, _row(model, "dense"), 41, prepared)
    assert sorted(e["in"] for e in report["contributions"]) == list(range(32))
    assert all(c.shape == (14, 14) for c in live.contributions)
    pre = sum(e["sum"] for e in report["contributions"]) + report["bias"]
    assert pre == pytest.approx(report["pre_activation"]["stats"]["max"], rel=1e-5)


def test_the_digit_seven_gives_keras_conv2d_1_map_5() -> None:
    """The bundled trained model on the bundled "7": Keras' own conv2d_1 output, map 5, at
    the sampled pixels of that map (sample_models/digits/7.activations.json)."""
    truth = json.loads((ROOT / "sample_models" / "digits" / "7.activations.json").read_text())
    entry = next(e for e in truth["layers"] if e["name"] == "conv2d_1")
    with open_model(ROOT / "sample_models" / "mnist_cnn.h5") as model:
        prepared = prepare_inputs(model, [str(ROOT / "sample_models" / "digits" / "7.png")], [], "unit", "float32")
        maps = [live_filters_report(model, _row(model, "conv2d_1"), n, prepared)[1].output for n in range(32)]
    ours = np.stack(maps, axis=-1)
    for index, value in entry["samples"]:
        assert ours[tuple(index[1:])] == pytest.approx(value, rel=TOLERANCE, abs=TOLERANCE)
    assert ours.max() == pytest.approx(entry["stats"]["max"], rel=TOLERANCE)
    assert float(ours.mean(dtype=np.float64)) == pytest.approx(entry["stats"]["mean"], rel=TOLERANCE)


def test_cli_json_and_save(tmp_path: Path) -> None:
    model = str(ROOT / "sample_models" / "mnist_cnn.h5")
    digit = str(ROOT / "sample_models" / "digits" / "7.png")
    result = CliRunner().invoke(app, ["filters", model, "--layer", "2", "--out", "5", "--input", digit, "--save", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "cnninspect.filters/1"
    assert len(doc["contributions"]) == 32
    assert doc["self_check"]["max_abs_diff"] < 1e-5
    total = sum(np.load(e["saved"]) for e in doc["contributions"]) + doc["bias"]
    np.testing.assert_allclose(total, np.load(doc["pre_activation"]["saved"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.maximum(np.load(doc["pre_activation"]["saved"]), 0), np.load(doc["output"]["saved"]))


def test_cli_terminal_view_and_usage_errors() -> None:
    model = str(ROOT / "sample_models" / "mnist_cnn.h5")
    digit = str(ROOT / "sample_models" / "digits" / "7.png")
    result = CliRunner().invoke(app, ["filters", model, "--layer", "2", "--out", "5", "--input", digit, "--top", "4"])
    assert result.exit_code == 0, result.output
    assert "the 4 strongest of 32 by L2" in result.output
    assert "float32 round-off" in result.output
    for extra in (["--in", "3", "--input", digit], ["--out", "5", "--save", "x"]):
        bad = CliRunner().invoke(app, ["filters", model, "--layer", "2", *extra])
        assert bad.exit_code == 2



def test_a_transposed_conv_is_refused_as_a_usage_error(tmp_path: Path) -> None:
    _, xs, _, _ = _library("torch", "mixed", "4")
    np.save(tmp_path / "x.npy", xs[0])
    args = ["filters", str(ROOT / "tests" / "fixtures" / "torch" / "mixed_module.pt"), "--layer", "#5", "--out", "0",
            "--input", str(tmp_path / "x.npy"), "--input-shape", "3,8,8"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "ConvTranspose2d" in result.output


def test_png_draws_a_row_per_strongest_map_then_the_sum(tmp_path: Path) -> None:
    """--top 2: two rows in[i] → F[i,n] → contribution, then the sum and the output: three
    rows of framed tiles (their black frames the only pure-black pixels)."""
    from PIL import Image

    model = str(ROOT / "sample_models" / "mnist_cnn.h5")
    digit = str(ROOT / "sample_models" / "digits" / "7.png")
    target = tmp_path / "live.png"
    result = CliRunner().invoke(app, ["filters", model, "--layer", "2", "--out", "5", "--input", digit, "--top", "2", "--png", str(target)])
    assert result.exit_code == 0, result.output
    black = np.all(np.asarray(Image.open(target).convert("RGB")) == 0, axis=2)
    framed_rows = np.flatnonzero(black.sum(axis=1) > 50)  # the frames' top and bottom edges
    starts = [r for r in framed_rows if r - 1 not in framed_rows]
    assert len(starts) == 3 * 2  # each row of tiles: a top and a bottom edge
    columns = np.flatnonzero(black.sum(axis=0) > 50)
    assert len([c for c in columns if c - 1 not in columns]) == 3 * 2  # in, F, contribution: left and right edges
