"""``cnninspect activations`` through the command line: the trained sample's real "7"
against Keras' own per-layer numbers, the saved arrays, the drawings, and the stops
and usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, SAMPLES, cli

from cnninspect.errors import ExitStatus

SEVEN = SAMPLES / "digits" / "7.png"
MNIST = SAMPLES / "mnist_cnn.h5"


def _relative(got: float, want: float, scale: float) -> float:
    return abs(got - want) / max(1.0, abs(scale))


@pytest.fixture(scope="module")
def seven() -> dict[str, Any]:
    result = cli("activations", MNIST, "--input", SEVEN, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_sample_seven_is_a_seven_with_keras_layer_stats(seven: dict[str, Any]) -> None:
    """Every layer's stats and dead maps as Keras computed them (scripts/train_sample_mnist.py
    stored them in sample_models/digits/7.activations.json), to a relative 1e-4."""
    truth = json.loads((SAMPLES / "digits" / "7.activations.json").read_text())
    assert seven["schema"] == "cnninspect.activations/1"
    given = seven["inputs"][0]
    assert given["shape"] == truth["input"]["shape"] and given["preprocess"] == "unit" and given["from"] == str(SEVEN)
    ours = {layer["name"]: layer for layer in seven["layers"]}
    assert ours["input_layer"]["stats"] == pytest.approx(truth["input"]["stats"], rel=1e-6)
    for want in truth["layers"]:
        got = ours[want["name"]]
        assert got["index"] == want["index"] and got["shape"] == want["shape"] and got["type"] == want["class_name"]
        scale = max(abs(want["stats"]["min"]), abs(want["stats"]["max"]))
        for stat in ("min", "max", "mean", "std"):
            assert _relative(got["stats"][stat], want["stats"][stat], scale) < 1e-4, (want["name"], stat)
        assert abs(got["stats"]["zeros"] - want["stats"]["zeros"]) <= 1 / np.prod(want["shape"]), want["name"]
        if "dead_maps" in want:
            assert got["dead_maps"] == want["dead_maps"], want["name"]
    top = seven["top"]["samples"][0]
    assert top[0]["class"] == 7 == int(np.argmax(truth["softmax"]))
    assert [c["class"] for c in top] == [int(i) for i in np.argsort(truth["softmax"])[::-1][:5]]
    assert top[0]["probability"] == pytest.approx(truth["softmax"][7], abs=1e-6)


def test_the_table_names_the_prediction() -> None:
    result = cli("activations", MNIST, "--input", SEVEN)
    assert result.exit_code == 0, result.stderr
    assert "conv2d_1" in result.stdout and "(1, 28, 28, 32)" in result.stdout
    assert "top-5 of 'dense_1': 7 (1)" in result.stdout


def test_saved_arrays_are_the_reported_outputs(tmp_path: Path) -> None:
    out = tmp_path / "maps"
    result = cli("activations", MNIST, "--input", SEVEN, "--layer", "conv2d", "--layer", "dense_1", "--save", out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [layer["name"] for layer in doc["layers"]] == ["conv2d", "dense_1"]
    for layer in doc["layers"]:
        saved = np.load(layer["saved"])
        assert Path(layer["saved"]).parent == out
        assert list(saved.shape) == layer["shape"] and saved.dtype == np.float32
        assert float(saved.min()) == layer["stats"]["min"] and float(saved.max()) == layer["stats"]["max"]
        assert float(saved.mean(dtype=np.float64)) == pytest.approx(layer["stats"]["mean"], rel=1e-12)
        assert float(np.mean(saved == 0)) == pytest.approx(layer["stats"]["zeros"])
    assert sorted(p.name for p in out.iterdir()) == ["001_conv2d_call0.npy", "006_dense_1_call0.npy"]


def test_a_npy_input_gives_the_numbers_of_the_same_image(tmp_path: Path, seven: dict[str, Any]) -> None:
    from PIL import Image

    pixels = np.asarray(Image.open(SEVEN).convert("L"), dtype=np.float32) / np.float32(255)
    array = tmp_path / "seven.npy"
    np.save(array, pixels[:, :, None])  # no batch dim: the command adds it
    result = cli("activations", MNIST, "--input", array, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["preprocess"] is None
    assert doc["layers"][-1]["stats"] == seven["layers"][-1]["stats"]


def test_float64_agrees_with_float32(seven: dict[str, Any]) -> None:
    doc = json.loads(cli("activations", MNIST, "--input", SEVEN, "--float64", "--json").stdout)
    assert doc["dtype"] == "float64" and doc["layers"][1]["dtype"] == "float64"
    for single, double in zip(seven["layers"], doc["layers"]):
        scale = max(abs(double["stats"]["min"]), abs(double["stats"]["max"]))
        assert _relative(single["stats"]["mean"], double["stats"]["mean"], scale) < 1e-5


def test_maps_drawn_as_blocks_and_png(tmp_path: Path) -> None:
    png = tmp_path / "maps.png"
    result = cli("activations", MNIST, "--input", SEVEN, "--layer", "conv2d_1", "--view", "blocks", "--png", png)
    assert result.exit_code == 0, result.stderr
    assert "the 8 strongest of 32 maps of 'conv2d_1'" in result.stdout
    assert f"wrote {png}" in result.stderr
    from PIL import Image

    with Image.open(png) as image:
        assert image.width > 200 and image.height > 200


def test_one_layer_at_most_is_drawn() -> None:
    result = cli("activations", MNIST, "--input", SEVEN, "--layer", "conv2d", "--layer", "conv2d_1", "--view", "blocks")
    assert result.exit_code == ExitStatus.USAGE
    assert "one --layer" in result.stderr


def test_an_input_of_the_wrong_shape_is_a_usage_error_naming_both(tmp_path: Path) -> None:
    array = tmp_path / "wrong.npy"
    np.save(array, np.zeros((32, 32, 3), np.float32))
    result = cli("activations", MNIST, "--input", array)
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.count("\n") == 1 and "(32, 32, 3)" in result.stderr and "(None, 28, 28, 1)" in result.stderr


def test_one_input_per_model_input() -> None:
    result = cli("activations", FIXTURES / "keras3" / "merges.h5", "--input", "random:0")
    assert result.exit_code == ExitStatus.USAGE
    assert "takes 2 input(s)" in result.stderr


def test_a_layer_without_forward_stops_there_and_shows_what_ran() -> None:
    """An op cnninspect cannot compute is neither the user's mistake nor a damaged file;
    until ExitStatus has a code of its own it is exit 5, with one line naming the layer."""
    result = cli("activations", FIXTURES / "keras3" / "lambda.h5", "--input", "random:0", "--json")
    assert result.exit_code == ExitStatus.UNSUPPORTED
    assert result.stderr.count("\n") == 1
    assert "layer 'lambda' (Lambda" in result.stderr and "no forward computation" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["stopped"]["reason"] in result.stderr
    ran = [layer["name"] for layer in doc["layers"]]
    assert ran and "lambda" not in ran
    assert "top" not in doc


def test_quantized_runs_are_labelled_approximate() -> None:
    result = cli("activations", FIXTURES / "tflite" / "small_int8.tflite", "--input", "random:0", "--json")
    doc = json.loads(result.stdout)
    assert any("approximate" in note for note in doc["notes"])


def test_dead_maps_of_a_channels_first_activation_are_counted_on_channels() -> None:
    """A ReLU has no layout of its own: its maps are on the axis its input's conv says
    (channels first here), whatever the format's usual layout (Keras: channels last)."""
    from cnninspect.core.layouts import Layout
    from cnninspect.core.model import Call, Graph, Layer, Model, Source, TensorRef, Weight
    from cnninspect.loaders.inputs import Prepared
    from cnninspect.reports.activations import activations_report

    kernel = np.zeros((3, 2, 1, 1), np.float32)  # (out, in, kh, kw): map 1 gets nothing
    kernel[0, :, 0, 0], kernel[2, :, 0, 0] = 1.0, -1.0
    weight = Weight("k", "kernel", kernel.shape, "float32", Layout("keras-th", ("out", "in", "kh", "kw")), reader=lambda index: kernel[index])
    conv = Layer("conv", "Conv2D", "conv", attrs={"rank": 2, "filters": 3, "kernel_size": (1, 1), "strides": (1, 1), "dilation": (1, 1),
                                                  "padding": "valid", "groups": 1, "channels_last": False, "activation": "linear"},
                 calls=[Call([TensorRef("x")])])  # fmt: skip
    conv.weights = [weight]
    relu = Layer("relu", "Activation", "activation", attrs={"function": "relu"}, calls=[Call([TensorRef("conv")])])
    source = Layer("x", "InputLayer", "input", attrs={"shape": [None, 2, 4, 5]}, calls=[Call()])
    model = Model("m", Graph([source, conv, relu], [TensorRef("x")], [TensorRef("relu")]), Source("m.h5", "keras-h5", "keras", "2.1.2"))
    x = np.abs(np.random.default_rng(0).standard_normal((1, 2, 4, 5))).astype(np.float32) + 0.1
    report, _ = activations_report(model, [Prepared(x, "test", None)])
    dead = {layer["name"]: layer["dead_maps"] for layer in report["layers"]}
    assert dead["conv"] == [1] and dead["relu"] == [1, 2]  # not the width axis (5 columns, none zero)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_table_never_cuts_a_number(width: int) -> None:
    """At any width every layer keeps its # and name, and each statistic of the JSON
    document is printed whole (the table splits into parts instead)."""
    from cnninspect.render.numbers import significant

    args = ["activations", str(SAMPLES / "mnist_cnn.h5"), "--input", str(SAMPLES / "digits" / "7.png")]
    doc = json.loads(cli(*args, "--json").stdout)
    text = cli(*args, env={"COLUMNS": str(width)}).stdout
    assert "…" not in text
    words = set(text.split())
    for layer in doc["layers"]:
        assert layer["path"] in words
        for key in ("min", "max", "mean", "std"):
            assert significant(layer["stats"][key]) in words, (width, layer["path"], key)
