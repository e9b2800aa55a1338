"""``shapes --explain``: every explanation's left-hand side is the number the shapes report
gives (params, MACs, output lengths), its terms multiply and add up to it, and its text
evaluates to it; the writing library's own numbers agree; the lines wrap at any width
without cutting a number."""

from __future__ import annotations

import ast
import math
import operator
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import SAMPLES, TRUTH_FILES, load_truth, truth_id
from test_every_fixture import FILES

from cnninspect.core.infer import infer_shapes
from cnninspect.core.model import Call, Layer, Model
from cnninspect.loaders import OpenOptions, open_model
from cnninspect.render.explain import explain_lines, explain_view, wrap
from cnninspect.reports.explain import AXIS_NAMES, explain_graph, explain_layer
from cnninspect.reports.shapes import shapes_report

# ---------------------------------------------------------------------------------------
# A tiny evaluator of the explanations' arithmetic: + − · × / ⌊ ⌋ max( , ), integers


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def evaluate(text: str) -> float:
    """The value of an explanation's right-hand side (after ``=``)."""
    source = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # thousands separators
    source = source.replace("⌊", "math_floor(").replace("⌋", ")").replace("·", "*").replace("×", "*").replace("−", "-")
    return _eval(ast.parse(source, mode="eval").body)


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("math_floor", "max"):
        args = [_eval(a) for a in node.args]
        return math.floor(args[0]) if node.func.id == "math_floor" else max(args)
    raise AssertionError(f"unexpected arithmetic: {ast.dump(node)}")


def test_evaluator_reads_the_notation() -> None:
    assert evaluate("⌊(28 + 2·1 − 3) / 1⌋ + 1") == 28
    assert evaluate("⌊(7 + 0 + 1 − 3) / 2⌋ + 1") == 3
    assert evaluate("28·28·32 · 3·3·32") == 7_225_344
    assert evaluate("4·2 + max(3 − 2, 0)") == 9
    assert evaluate("4·32 + 1") == 129


def check(item: dict[str, Any], expected: int | None) -> None:
    """``item`` states ``expected`` on its left, and its right-hand side (and terms) make it."""
    value = item["value"]
    left, _, right = item["text"].partition(" = ")
    assert int(left.replace(",", "")) == value == expected, item
    assert evaluate(right) == value, item
    if "terms" in item:
        assert sum(math.prod(t) for t in item["terms"]) == value, item


# ---------------------------------------------------------------------------------------
# The report, as `shapes --explain --json` gives it


def explained(model: Model) -> dict[str, Any]:
    report = shapes_report(model)
    found = explain_graph(model.graph, infer_shapes(model.graph))
    rows = model.rows()
    for layer in report["layers"]:
        layer["explain"] = found[id(rows[layer["index"]].layer)]
    return report


def spatial_dims(layer: Layer, shape: list) -> list:
    rank = layer.attrs["rank"]
    return shape[1 : 1 + rank] if layer.attrs["channels_last"] else shape[2:]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_explained_number_is_the_reported_number(path: Path) -> None:
    with open_model(path, OpenOptions()) as model:
        report = explained(model)
        rows = model.rows()
        for layer in report["layers"]:
            found = layer["explain"]
            if "params" in found:
                check(found["params"], layer["params"])
            if "macs" in found:
                check(found["macs"], layer["macs"])
            for item in found.get("output", []):
                shape = layer["output_shapes"][0]
                if item["axis"] == "flat":
                    check(item, shape[-1])
                    continue
                dims = spatial_dims(rows[layer["index"]].layer, shape)
                check(item, dims[AXIS_NAMES[len(dims)].index(item["axis"])])


def test_the_fixtures_explain_every_kind() -> None:
    """The sweep above meets every explained kind: a test of a kind it never reaches
    would pass by having nothing to check."""
    seen: set[tuple[str, str]] = set()
    for path in FILES:
        with open_model(path, OpenOptions()) as model:
            for layer in explained(model)["layers"]:
                seen |= {(layer["op"], part) for part in layer["explain"]}
    for op in ("conv", "depthwise_conv", "separable_conv", "conv_transpose"):
        assert {(op, "output"), (op, "params"), (op, "macs"), (op, "maps")} <= seen, op
    assert {
        ("dense", "params"),
        ("dense", "macs"),
        ("flatten", "output"),
        ("pool", "output"),
        ("batch_norm", "params"),
    } <= seen


@pytest.mark.parametrize("truth_path", TRUTH_FILES, ids=truth_id)
def test_explained_params_and_lengths_are_the_writing_librarys(truth_path: Path) -> None:
    """Against Keras' own count_params() and output shapes, stored when the fixture was written."""
    truth = load_truth(truth_path)
    model_file = truth_path.parent / truth["file"]
    by_path = {t["path"]: t for t in truth["layers"]}
    with open_model(model_file, OpenOptions()) as model:
        report = explained(model)
        rows = model.rows()
        for layer in report["layers"]:
            theirs, found = by_path.get(layer["path"]), layer["explain"]
            if theirs is None:
                continue
            if "params" in found:
                assert found["params"]["value"] == theirs["params"], layer["path"]
            outputs = [item for item in found.get("output", []) if item["axis"] != "flat"]
            if outputs and theirs["nodes"]:
                library = spatial_dims(rows[layer["index"]].layer, theirs["nodes"][0]["output_shapes"][0])
                assert [item["value"] for item in outputs] == [d for d in library if d is not None], layer["path"]


def test_mnist_reads_as_the_issue_asks() -> None:
    with open_model(SAMPLES / "mnist_cnn.h5", OpenOptions()) as model:
        layers = {layer["name"]: layer["explain"] for layer in explained(model)["layers"]}
    conv = layers["conv2d_1"]
    assert conv["output"][0]["text"] == "28 = ⌊(28 + 2·1 − 3) / 1⌋ + 1"
    assert conv["output"][0]["padding"] == [1, 1]
    assert conv["params"]["text"] == "9,248 = 3·3·32·32 + 32"
    assert conv["params"]["terms"] == [[3, 3, 32, 32], [32]]
    assert conv["params"]["why"] == "32 output maps, each the sum of 32 filtered input maps, plus a bias"
    assert conv["macs"]["text"] == "7,225,344 = 28·28·32 · 3·3·32"
    assert (
        conv["maps"]
        == "each of the 32 output maps is the sum of 32 filtered input maps: 32·32 filters of 3×3, not 32 × 32 maps"
    )
    assert layers["flatten"]["output"][0]["text"] == "6272 = 14·14·32"
    assert "(h, w, c) order" in layers["flatten"]["output"][0]["note"]
    assert layers["input_layer"] == {}


def conv_layer(**attrs: Any) -> Layer:
    base = {"rank": 2, "kernel_size": (3, 3), "strides": (1, 1), "padding": "same", "channels_last": True, "filters": 8}
    return Layer("c", "Conv2D", "conv", attrs={**base, **attrs}, calls=[Call()])


def test_same_padding_puts_the_odd_one_at_the_end() -> None:
    """TensorFlow's 'same' (tf.nn.conv2d docs): pad_total = max((⌈n/s⌉ − 1)·s + k − n, 0),
    pad_before = pad_total // 2: 28 with a 3-window at stride 2 pads 0 before, 1 after."""
    layer = conv_layer(strides=(2, 2))
    found = explain_layer(layer, [(None, 28, 28, 3)], [(None, 14, 14, 8)])
    first = found["output"][0]
    assert first["padding"] == [0, 1] and first["value"] == 14
    assert first["text"] == "14 = ⌊(28 + 0 + 1 − 3) / 2⌋ + 1"
    assert "extra one at the end" in first["note"]


def test_dilation_writes_the_effective_window() -> None:
    found = explain_layer(conv_layer(padding="valid", dilation=(2, 2)), [(None, 28, 28, 3)], [(None, 24, 24, 8)])
    assert found["output"][0]["text"] == "24 = ⌊(28 − (2·(3 − 1) + 1)) / 1⌋ + 1"
    assert evaluate(found["output"][0]["text"].partition(" = ")[2]) == 24


# ---------------------------------------------------------------------------------------
# Rendering


@pytest.fixture(scope="module")
def mnist_report() -> dict[str, Any]:
    with open_model(SAMPLES / "mnist_cnn.h5", OpenOptions()) as model:
        return explained(model)


NUMBER = re.compile(r"\d[\d,]*")


@pytest.mark.parametrize("width", [24, 40, 60, 80, 200])
def test_lines_wrap_without_cutting_a_number(mnist_report: dict[str, Any], width: int) -> None:
    lines = [style_line[1] for style_line in explain_lines(mnist_report)]
    shown = [t.plain for t in explain_view(mnist_report, width)]
    longest = max(len(n) for line in lines for n in NUMBER.findall(line))
    assert all(len(line) <= max(width, longest + 8) for line in shown)
    numbers = [n for line in lines for n in NUMBER.findall(line)]
    assert [n for line in shown for n in NUMBER.findall(line)] == numbers


def test_wrap_breaks_at_spaces_before_dots() -> None:
    assert wrap("a 28·28·32 · 3·3·32", 14, "", "  ") == ["a 28·28·32 ·", "  3·3·32"]
    assert wrap("123456789·123456789", 12, "", "") == ["123456789·", "123456789"]
    assert wrap("1234567890123", 5, "", "") == ["1234567890123"]  # a number is never cut


def test_the_default_view_stays_clean(mnist_report: dict[str, Any]) -> None:
    """Without --explain the layers carry no ``explain`` and nothing is drawn."""
    plain = {
        **mnist_report,
        "layers": [{k: v for k, v in layer.items() if k != "explain"} for layer in mnist_report["layers"]],
    }
    assert list(explain_view(plain, 80)) == []
    shown = "\n".join(t.plain for t in explain_view(mnist_report, 120))
    assert "h, w: 28 = ⌊(28 + 2·1 − 3) / 1⌋ + 1" in shown  # equal axes share a line
    assert "#4 flatten (Flatten)" in shown


def test_keras_flatten_channels_first_reads_channels_last() -> None:
    """Keras' Flatten(data_format='channels_first') moves axis 1 to the end before
    flattening (keras.layers.Flatten.call), so (32, 14, 14) flattens as 14·14·32."""
    conv = conv_layer(channels_last=False)
    flatten = Layer("f", "Flatten", "flatten", config={"data_format": "channels_first"}, calls=[Call()])
    item = explain_layer(flatten, [(None, 32, 14, 14)], [(None, 6272)], producer=conv)["output"][0]
    assert item["text"] == "6272 = 14·14·32" and "(h, w, c) order" in item["note"]
    stored = explain_layer(
        Layer("f", "Flatten", "flatten", calls=[Call()]), [(None, 32, 14, 14)], [(None, 6272)], producer=conv
    )
    assert stored["output"][0]["text"] == "6272 = 32·14·14" and "(c, h, w) order" in stored["output"][0]["note"]


def test_a_given_batch_is_a_factor_of_the_macs() -> None:
    with open_model(SAMPLES / "mnist_cnn.h5", OpenOptions()) as model:
        report = shapes_report(model, batch=4)
        found = explain_graph(model.graph, infer_shapes(model.graph, batch=4))
        conv = next(r.layer for r in model.rows() if r.layer.name == "conv2d_1")
    macs = found[id(conv)]["macs"]
    assert macs["text"] == "28,901,376 = 4·28·28·32 · 3·3·32"
    check(macs, next(x["macs"] for x in report["layers"] if x["name"] == "conv2d_1"))


def _wired() -> bool:
    """The command layer knows --explain (cli.py/commands.py, applied by the lead)."""
    from dataclasses import fields

    from cnninspect.commands import ShapesRequest

    return any(f.name == "explain" for f in fields(ShapesRequest))


@pytest.mark.skipif(not _wired(), reason="shapes --explain is not wired into the command layer yet")
def test_shapes_explain_through_the_command_line() -> None:
    from conftest import cli, cli_json

    mnist = SAMPLES / "mnist_cnn.h5"
    shown = cli("shapes", mnist, "--explain", env={"COLUMNS": "40"})
    assert shown.exit_code == 0, shown.stderr
    assert "9,248 = 3·3·32·32 + 32" in shown.stdout and "7,225,344 = 28·28·32 ·" in shown.stdout
    assert "--explain" not in cli("shapes", mnist).stdout
    layers = cli_json("shapes", mnist, "--explain")["layers"]
    assert layers[2]["explain"]["params"]["terms"] == [[3, 3, 32, 32], [32]]
    assert all("explain" not in layer for layer in cli_json("shapes", mnist)["layers"])
