"""``diff``: two models compared layer by layer in the neutral layout, checked against what
Keras, tf-keras, PyTorch and NumPy reported when scripts/make_diff_fixtures.py wrote the
files (tests/fixtures/diff/diff.truth.json)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from conftest import FIXTURES
from cnninspect.core.layouts import layout_for
from cnninspect.core.model import Graph, Layer, Model, Source, Weight
from cnninspect.loaders import open_model
from cnninspect.render.diff import diff_view
from cnninspect.reports import diff as diff_module
from cnninspect.reports.diff import DEFAULT_TOLERANCE, EXIT_DIFFERENT, SCHEMA, diff_report, exit_code

DIR = FIXTURES / "diff"
TRUTH = json.loads((DIR / "diff.truth.json").read_text())
KERAS = DIR / "keras3.h5"


def diff(a: Path, b: Path, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    with open_model(a) as model_a, open_model(b) as model_b:
        report = diff_report(model_a, model_b, tolerance)
    json.dumps(report, allow_nan=False)  # the JSON document as --json prints it
    return report


def pair(report: dict[str, Any], b: str) -> dict[str, Any]:
    return next(p for p in report["pairs"] if p["b"] == b)


def others_same(report: dict[str, Any], b: str) -> bool:
    return all(p["same"] for p in report["pairs"] if p["b"] != b)


def render(report: dict[str, Any]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=140, color_system=None, highlight=False)
    for item in diff_view(report):
        console.print(item)
    return out.getvalue()


SAME_AS_KERAS = ["keras3.keras", "tfkeras.h5", "port_correct.pt", "port_module.pt", "port.onnx"]


@pytest.mark.parametrize("name", SAME_AS_KERAS)
def test_one_network_in_every_library_is_the_same_network(name: str) -> None:
    report = diff(KERAS, DIR / name)
    assert report["schema"] == SCHEMA
    assert report["same_network"] and exit_code(report) == 0, [(p["a"], p["verdict"], p.get("hint")) for p in report["pairs"]]
    assert report["counts"] == {"pairs": 4, "identical": 4, "changed": 0, "only_in_a": 0, "only_in_b": 0}
    assert [p["a"] for p in report["pairs"]] == ["conv_a", "bn", "conv_b", "dense"]
    verdicts = {p["a"]: p["verdict"] for p in report["pairs"]}
    if name.endswith((".pt", ".onnx")):  # a port: kernels transposed, the Linear's rows reordered
        assert verdicts == {"conv_a": "equal_after_layout_change", "bn": "equal", "conv_b": "equal_after_layout_change",
                            "dense": "equal_after_flatten_reorder"}  # fmt: skip
        assert pair(report, report["pairs"][0]["b"])["layout_change"] == "A stores HWIO, B OIHW; equal after transpose"
    else:
        assert set(verdicts.values()) == {"equal"}


def test_the_libraries_agree_on_what_is_the_same() -> None:
    """The truth behind the verdicts: both libraries ran each port on one input."""
    ports = TRUTH["ports"]
    assert TRUTH["keras"]["max_abs_output_diff"] < 1e-5  # tf-keras against Keras 3
    for same in ("port_correct.pt", "port_module.pt"):
        assert ports[same]["max_abs_output_diff"] < 1e-5
    for broken in ("port_no_reorder.pt", "port_hwio.pt", "port_eps.pt"):
        assert ports[broken]["max_abs_output_diff"] > 1e-3


def test_a_linear_copied_without_the_flatten_reorder_is_caught() -> None:
    report = diff(KERAS, DIR / "port_no_reorder.pt")
    dense = pair(report, "7")
    assert dense["verdict"] == "different" and not report["same_network"] and exit_code(report) == EXIT_DIFFERENT
    assert "without the flatten reorder" in dense["hint"] and "did not reorder" in dense["hint"]
    assert others_same(report, "7")
    assert "equal only without the flatten reorder" in render(report)


def test_a_kernel_left_in_hwio_is_caught() -> None:
    report = diff(KERAS, DIR / "port_hwio.pt")
    conv_b = pair(report, "3")
    assert conv_b["verdict"] == "different" and not report["same_network"]
    assert "reshaped to (6, 4, 3, 3)" in conv_b["hint"] and "wrong axes" in conv_b["hint"]
    assert conv_b["a_layout"] == "HWIO" and conv_b["b_layout"] == "OIHW"
    assert others_same(report, "3")


def test_a_lost_batchnorm_epsilon_is_caught() -> None:
    truth = TRUTH["ports"]["port_eps.pt"]
    report = diff(KERAS, DIR / "port_eps.pt")
    bn = pair(report, "2")
    assert bn["verdict"] == "equal" and not bn["same"] and not report["same_network"]
    assert bn["facts_differ"] == [{"fact": "epsilon", "a": 0.001, "b": truth["eps"]}]
    assert others_same(report, "2")
    assert f"bn ↔ 2: epsilon 0.001 in A, {truth['eps']} in B" in render(report)
    # Momentum is compared in Keras' convention: PyTorch's 0.01 is Keras' 0.99.
    assert "momentum" not in [f["fact"] for f in bn["facts_differ"]] and "momentum" not in bn["facts_unknown"]


def test_facts_a_state_dict_does_not_store_are_not_compared() -> None:
    report = diff(KERAS, DIR / "port_correct.pt")
    assert set(pair(report, "2")["facts_unknown"]) == {"epsilon", "momentum"}
    assert {"strides", "padding", "activation"} <= set(pair(report, "0")["facts_unknown"])
    module = diff(KERAS, DIR / "port_module.pt")
    assert all(not p["facts_unknown"] for p in module["pairs"])  # a whole module states them all


def test_fine_tuned_layers_and_their_changes_as_numpy_computes_them() -> None:
    truth = TRUTH["fine_tune"]["changes"]
    report = diff(DIR / "tuned_before.pt", DIR / "tuned_after.pt", tolerance=0.0)
    assert all(p["paired_by"] == "name" for p in report["pairs"])
    changed = {p["a"]: p for p in report["pairs"] if not p["same"]}
    assert set(changed) == set(truth) == set(TRUTH["fine_tune"]["tuned_modules"])
    for name, expected in truth.items():
        got = changed[name]
        assert got["max_abs_diff"] == pytest.approx(expected["max_abs_diff"], rel=1e-9)
        assert got["rel_l2"] == pytest.approx(expected["rel_l2"], rel=1e-9)
        assert got["changed"] == expected["changed"] and got["size"] == expected["size"]
        assert got["changed_fraction"] == pytest.approx(expected["changed"] / expected["size"])
    by_change = sorted(truth, key=lambda n: -truth[n]["rel_l2"])
    assert [report["pairs"][i]["a"] for i in report["ranking"]] == by_change
    assert report["counts"] == {"pairs": 4, "identical": 2, "changed": 2, "only_in_a": 0, "only_in_b": 0}
    table = render(report)
    assert table.index(f" {by_change[0]} ") < table.index(f" {by_change[1]} ")  # the layer that moved most first


def test_reading_in_chunks_gives_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diff_module, "CHUNK_BYTES", 64)  # a few output maps at a time
    truth = TRUTH["fine_tune"]["changes"]
    report = diff(DIR / "tuned_before.pt", DIR / "tuned_after.pt", tolerance=0.0)
    for name, expected in truth.items():
        got = next(p for p in report["pairs"] if p["a"] == name)
        assert got["rel_l2"] == pytest.approx(expected["rel_l2"], rel=1e-9)
        assert got["changed"] == expected["changed"]


def test_one_weight_perturbed_is_found_and_within_a_looser_tolerance() -> None:
    truth = TRUTH["perturbed"]
    (module, expected), = truth["changes"].items()
    found = diff(DIR / "port_correct.pt", DIR / "perturbed.pt")
    moved = [p for p in found["pairs"] if not p["same"]]
    assert [p["a"] for p in moved] == [module] and moved[0]["changed"] == 1
    assert moved[0]["max_abs_diff"] == pytest.approx(expected["max_abs_diff"], rel=1e-9)
    assert moved[0]["max_abs_diff"] == pytest.approx(truth["delta"], rel=1e-4)
    loose = diff(DIR / "port_correct.pt", DIR / "perturbed.pt", tolerance=1e-2)
    assert loose["same_network"] and exit_code(loose) == 0
    assert pair(loose, module)["verdict"] == "equal_within_tolerance"
    assert pair(loose, module)["max_abs_diff"] == pytest.approx(expected["max_abs_diff"], rel=1e-9)


# ---------------------------------------------------------------------------------------
# Pairing and flips, on models built in memory


def _weight(name: str, role: str, values: np.ndarray, convention: str, op: str, flipped: bool = False) -> Weight:
    return Weight(name, role, values.shape, str(values.dtype), layout_for(convention, op, role, values.ndim, flipped),
                  reader=lambda index: values[index])  # fmt: skip


def _model(layers: list[Layer], fmt: str = "numpy") -> Model:
    return Model("m", Graph(layers, [], []), Source(f"{fmt}-file", fmt), architecture=False)


def _conv(name: str, kernel: np.ndarray, convention: str, flipped: bool = False) -> Layer:
    layer = Layer(name, "Conv2D", "conv", attrs={"guessed": True})
    role = "kernel" if convention.startswith("keras") else "weight"
    layer.weights = [_weight(f"{name}/{role}", role, kernel, convention, "conv", flipped)]
    return layer


RNG = np.random.default_rng(0)
K1 = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)  # HWIO
K2 = RNG.normal(size=(3, 3, 4, 6)).astype(np.float32)


def test_a_layer_only_one_model_has_is_listed_not_guessed() -> None:
    a = _model([_conv("c1", K1, "keras"), _conv("c2", K2, "keras")])
    b = _model([_conv("x", np.ascontiguousarray(K2.transpose(3, 2, 0, 1)), "torch")])
    report = diff_report(a, b)
    assert [(p["a"], p["b"], p["paired_by"], p["verdict"]) for p in report["pairs"]] == [("c2", "x", "order", "equal_after_layout_change")]
    assert [u["layer"] for u in report["unpaired_a"]] == ["c1"] and report["unpaired_b"] == []
    assert not report["same_network"]
    assert "only in A: c1" in render(report)


def test_a_theano_kernel_is_compared_after_its_flip() -> None:
    theano = np.ascontiguousarray(K1.transpose(3, 2, 0, 1))  # (out, in, kh, kw), for a true convolution
    as_correlation = np.ascontiguousarray(theano[:, :, ::-1, ::-1])
    a = _model([_conv("c", theano, "keras-th", flipped=True)])
    ported = diff_report(a, _model([_conv("c", as_correlation, "torch")]))
    assert pair(ported, "c")["verdict"] == "equal_after_theano_flip" and ported["same_network"]
    unflipped = diff_report(a, _model([_conv("c", theano, "torch")]))
    assert pair(unflipped, "c")["verdict"] == "different"
    assert "not flipped back" in pair(unflipped, "c")["hint"]


def test_a_keras_depthwise_kernel_is_a_grouped_convolution() -> None:
    """Keras (kh, kw, in, mult) against PyTorch's (in * mult, 1, kh, kw): out = i * mult + m."""
    kernel = RNG.normal(size=(3, 3, 4, 2)).astype(np.float32)
    a = Layer("dw", "DepthwiseConv2D", "depthwise_conv", attrs={"guessed": True})
    a.weights = [_weight("dw/depthwise_kernel", "depthwise_kernel", kernel, "keras", "depthwise_conv")]
    torch_weight = np.ascontiguousarray(kernel.transpose(2, 3, 0, 1).reshape(8, 1, 3, 3))
    b = _conv("dw", torch_weight, "torch")
    report = diff_report(_model([a]), _model([b]))
    assert pair(report, "dw")["verdict"] == "equal_after_layout_change" and report["same_network"]
    shuffled = diff_report(_model([a]), _model([_conv("dw", torch_weight[::-1].copy(), "torch")]))
    assert pair(shuffled, "dw")["verdict"] == "different"


def test_same_padding_follows_tensorflow_where_the_stride_makes_it_depend_on_the_size() -> None:
    """TensorFlow's rule: total = max((ceil(n / s) - 1) * s + k - n, 0), the odd pixel after."""
    conv = {"padding": "same", "kernel_size": (3, 3), "strides": (2, 2)}
    assert diff_module._padding(conv, [6, 6]) == [[0, 1], [0, 1]]  # not PyTorch's padding=1
    assert diff_module._padding(conv, [7, 7]) == [[1, 1], [1, 1]]
    assert diff_module._padding(conv, None) == "same"  # the input size unknown: as the file says
    assert diff_module._padding({"padding": "same", "kernel_size": (5,), "dilation": (2,)}, None) == [[4, 4]]


def test_the_readme_documents_every_field_and_the_exit_code() -> None:
    readme = (FIXTURES.parent.parent / "README.md").read_text()
    schema = readme[readme.index('"schema": "cnninspect.diff/1"') :]
    schema = schema[: schema.index("```")]
    report = diff(KERAS, DIR / "port_hwio.pt")
    conv_b = pair(report, "3")
    fields = set(report) | set(conv_b) | {k for t in conv_b["tensors"] for k in t} | set(report["counts"])
    assert [f for f in sorted(fields) if f'"{f}"' not in schema] == []
    assert f"**{EXIT_DIFFERENT}** when they\ndiffer" in readme


def test_a_bias_on_one_side_only_still_pairs_and_is_a_difference() -> None:
    b = _conv("x", np.ascontiguousarray(K2.transpose(3, 2, 0, 1)), "torch")
    b.weights = [*b.weights, _weight("x/bias", "bias", np.zeros(6, np.float32), "torch", "conv")]
    report = diff_report(_model([_conv("c", K2, "keras")]), _model([b]))
    (only,) = report["pairs"]
    assert only["verdict"] == "different" and only["facts_differ"] == [{"fact": "use_bias", "a": False, "b": True}]
    assert [t["verdict"] for t in only["tensors"]] == ["equal_after_layout_change", "only_in_b"]
    assert only["size"] == K2.size and only["max_abs_diff"] == 0.0  # the numbers cover the kernel alone


def test_tensorflow_same_padding_ported_as_padding_1_is_caught() -> None:
    """Stride 2 on a 6x6 input: TensorFlow pads (0, 1), PyTorch's padding=1 (1, 1); the
    weights match, the outputs do not (both libraries ran it)."""
    truth = TRUTH["ports"]["strided_port.pt"]
    assert truth["max_abs_output_diff"] > 1e-3
    report = diff(DIR / "strided.h5", DIR / "strided_port.pt")
    (conv,) = report["pairs"]
    assert conv["verdict"] == "equal_after_layout_change" and not report["same_network"]
    assert conv["facts_differ"] == [{"fact": "padding", "a": truth["tensorflow_pads"], "b": truth["torch_pads"]}]


def test_a_tensor_without_data_is_not_compared_and_not_called_the_same() -> None:
    declared = _conv("c", K1, "keras")
    declared.weights[0].reader = None  # an ONNX weight declared as a graph input, with no initializer
    report = diff_report(_model([_conv("c", K1, "keras")]), _model([declared]))
    assert pair(report, "c")["verdict"] == "not_compared" and "no data" in pair(report, "c")["hint"]
    assert not report["same_network"] and pair(report, "c")["max_abs_diff"] is None


@pytest.mark.parametrize("tolerance", [-1.0, float("nan"), float("inf")])
def test_a_tolerance_that_is_not_a_finite_non_negative_number_is_a_usage_error(tolerance: float) -> None:
    from cnninspect.errors import UsageError

    with pytest.raises(UsageError, match="--tolerance"):
        diff_report(_model([]), _model([]), tolerance)
